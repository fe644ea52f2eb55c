using LeakHunter.Census;
using LeakHunter.Inspector.Census;
using LeakHunter.Inspector.Platform;

namespace LeakHunter.Inspector;

/// <summary>
/// The inspector: a child of the process under test that takes censuses of its parent's heap on request.
/// It must never outlive that parent, so it exits as soon as its request pipe closes or its parent changes.
/// </summary>
internal static class Program
{
    private static int Main()
    {
        if (!int.TryParse(Environment.GetEnvironmentVariable(InspectorProtocol.ParentPidVariable), out int parentPid))
        {
            Console.Error.WriteLine($"leakhunter inspector: {InspectorProtocol.ParentPidVariable} is not set; this process is started by LeakHunter itself.");
            return 2;
        }

        long imageInFileFrom;
        try
        {
            imageInFileFrom = InspectorProtocol.ImageInFileFrom(Environment.GetEnvironmentVariable(InspectorProtocol.ImageInFileFromVariable));
        }
        catch (FormatException e)
        {
            Console.Error.WriteLine($"leakhunter inspector: {e.Message}");
            return 2;
        }

        WatchParent(parentPid);

        using Stream input = Console.OpenStandardInput();
        using Stream output = Console.OpenStandardOutput();
        int targetPid = int.TryParse(Environment.GetEnvironmentVariable(InspectorProtocol.TargetPidVariable), out int target) ? target : parentPid;
        var server = new InspectorServer(targetPid, imageInFileFrom);

        try
        {
            server.Run(input, output);
        }
        catch (EndOfStreamException)
        {
            // The parent closed the pipe: its check is over or it has exited.
        }
        catch (IOException)
        {
        }
        return 0;
    }

    private static void WatchParent(int parentPid)
    {
        // Where the system cannot tell the parent, the closed pipe alone ends the inspector.
        if (InspectorPlatform.Current.ParentProcessId() is null)
            return;
        var watcher = new Thread(() =>
        {
            while (true)
            {
                Thread.Sleep(250);
                if (InspectorPlatform.Current.ParentProcessId() != parentPid)
                {
                    DumpWriter.StopRunning();
                    Environment.Exit(3);
                }
            }
        })
        {
            IsBackground = true,
            Name = "parent watch",
        };
        watcher.Start();
    }
}
