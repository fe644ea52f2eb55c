using System.Runtime.InteropServices;
using LeakHunter.Census;
using LeakHunter.Inspector.Census;

[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]

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

        WatchParent(parentPid);

        using Stream input = Console.OpenStandardInput();
        using Stream output = Console.OpenStandardOutput();
        int targetPid = int.TryParse(Environment.GetEnvironmentVariable(InspectorProtocol.TargetPidVariable), out int target) ? target : parentPid;
        var server = new InspectorServer(targetPid);

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
        var watcher = new Thread(() =>
        {
            while (true)
            {
                Thread.Sleep(250);
                if (getppid() != parentPid)
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

    [DllImport("libc", SetLastError = false)]
    private static extern int getppid();
}

internal static class NativeMethods
{
    /// <summary>Ends the process at once, without waiting for threads that may be stuck reading the target.</summary>
    public static void ExitNow(int code) => _exit(code);

    /// <summary>Sends SIGCONT to <paramref name="processId"/>: resumes it if stopped, and discards any stop signal still pending.</summary>
    public static void Continue(int processId) => _ = kill(processId, SignalContinue);

    private const int SignalContinue = 18;

    [DllImport("libc", SetLastError = false)]
    private static extern void _exit(int code);

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);
}
