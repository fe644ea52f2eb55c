using System.Diagnostics;
using System.Globalization;
using LeakHunter.Census;

namespace LeakHunter.Cli;

/// <summary>What a command inspects: a live process, by id, or a dump file.</summary>
internal sealed record Target(int ProcessId, string? DumpPath)
{
    public bool IsDump => DumpPath is not null;

    public string Describe() => IsDump ? $"dump {DumpPath}" : $"process {ProcessId} ({ProcessName(ProcessId)})";

    /// <summary>Reads <paramref name="argument"/> as a process id or a dump path, and fails with the fix when it is neither.</summary>
    public static Target Parse(string argument, bool liveOnly = false)
    {
        if (int.TryParse(argument, NumberStyles.None, CultureInfo.InvariantCulture, out int pid))
        {
            if (!ProcessExists(pid))
                throw new CliException($"There is no process with id {pid}. Run `leakhunter ps` to list the .NET processes you can inspect.");
            if (!DotnetProcesses().Contains(pid))
                throw new CliException(
                    $"Process {pid} ({ProcessName(pid)}) is not a .NET process, or its diagnostics are disabled (DOTNET_EnableDiagnostics=0), " +
                    "or it runs as another user. Run `leakhunter ps` to list the ones you can inspect; restart the process without DOTNET_EnableDiagnostics=0.");
            return new Target(pid, null);
        }
        if (liveOnly)
            throw new CliException($"'{argument}' is not a process id. This command watches a live process: give its id (see `leakhunter ps`).");
        if (!File.Exists(argument))
            throw new CliException($"'{argument}' is neither a process id nor a dump file. Give a process id (see `leakhunter ps`) or the path of a dump.");
        DumpFileCheck.ThrowIfTruncated(argument);
        return new Target(0, Path.GetFullPath(argument));
    }

    /// <summary>A census taker for this target, through an inspector of its own that the caller disposes.</summary>
    public (CensusTaker Censuses, InspectorClient Inspector) Open(TimeSpan timeout)
    {
        InspectorClient inspector = InspectorClient.StartFor(IsDump ? 0 : ProcessId);
        inspector.DumpFile = DumpPath;
        var options = new LeakOptions { Strategy = CensusStrategy.Attach, CensusTimeout = timeout, ExplanationTimeLimit = timeout };
        return (new CensusTaker(options, inspector, IsDump ? CensusRoute.DumpFile : CensusRoute.Attach), inspector);
    }

    /// <summary>
    /// The processes whose .NET runtime listens for diagnostics: each has a socket dotnet-diagnostic-{pid}-* in the
    /// temporary folder. Read directly, since a process that exits during the look must not fail the whole list.
    /// </summary>
    public static IReadOnlyList<int> DotnetProcesses()
    {
        var pids = new SortedSet<int>();
        foreach (string socket in Directory.EnumerateFiles(Path.GetTempPath(), "dotnet-diagnostic-*-socket"))
        {
            string[] parts = Path.GetFileName(socket).Split('-');
            if (parts.Length > 3 && int.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out int pid) && ProcessExists(pid) && IsProcessNotThread(pid))
                pids.Add(pid);
        }
        return pids.ToArray();
    }

    public static string ProcessName(int pid)
    {
        try
        {
            return Process.GetProcessById(pid).ProcessName;
        }
        catch (ArgumentException)
        {
            return "exited";
        }
    }

    public static string CommandLine(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ').Trim();
        }
        catch (IOException)
        {
            return "";
        }
        catch (UnauthorizedAccessException)
        {
            return "";
        }
    }

    // A stale socket's number may since have gone to a thread, which /proc also lists.
    private static bool IsProcessNotThread(int pid)
    {
        try
        {
            string? tgid = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("Tgid:", StringComparison.Ordinal));
            return tgid is not null && tgid[5..].Trim() == pid.ToString(CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static bool ProcessExists(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }
}

/// <summary>Bad input or a failure the user can fix; the message says how. Exit code 2.</summary>
internal sealed class CliException(string message) : Exception(message);
