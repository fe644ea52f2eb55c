using System.Globalization;
using LeakHunter.Census;
using LeakHunter.Platform;

namespace LeakHunter;

/// <summary>A .NET process LeakHunter can inspect.</summary>
/// <param name="ProcessId">Its id.</param>
/// <param name="Name">Its name.</param>
/// <param name="CommandLine">The command line it was started with; empty when it cannot be read.</param>
public sealed record DotnetProcess(int ProcessId, string Name, string CommandLine);

/// <summary>
/// What <see cref="HeapInspector"/> reads: a live .NET process, by id, or a dump file. Each is checked when it is
/// made, so a wrong id or a truncated dump fails at once with what to give instead.
/// </summary>
public sealed class InspectionTarget
{
    private InspectionTarget(int processId, string? dumpPath)
    {
        ProcessId = processId;
        DumpPath = dumpPath;
        Description = dumpPath is not null ? $"dump {dumpPath}" : $"process {processId} ({ProcessName(processId)})";
    }

    /// <summary>The live process's id; 0 for a dump.</summary>
    public int ProcessId { get; }

    /// <summary>The dump file's full path; null for a live process.</summary>
    public string? DumpPath { get; }

    /// <summary>Whether this is a dump file rather than a live process.</summary>
    public bool IsDump => DumpPath is not null;

    /// <summary>How reports name it: <c>process 42 (OrderService)</c> or <c>dump /tmp/core.42</c>.</summary>
    public string Description { get; }

    /// <inheritdoc/>
    public override string ToString() => Description;

    /// <summary>A live .NET process.</summary>
    /// <exception cref="LeakHunterException">
    /// There is no such process, or it is not a .NET process whose diagnostics are on (<see cref="LeakHunterFailure.InvalidTarget"/>);
    /// or live processes cannot be read on this system (<see cref="LeakHunterFailure.PlatformNotSupported"/>).
    /// </exception>
    public static InspectionTarget Process(int processId)
    {
        HostPlatform.ThrowIfLiveProcessesUnsupported($"Inspecting process {processId}");
        if (processId <= 0 || !ProcessExists(processId))
            throw new LeakHunterException(LeakHunterFailure.InvalidTarget,
                $"There is no process with id {processId}. Run `leakhunter ps` (or InspectionTarget.DotnetProcesses()) to list the .NET processes you can inspect.");
        if (!HostPlatform.Current.DotnetProcesses().Contains(processId))
            throw new LeakHunterException(LeakHunterFailure.InvalidTarget,
                $"Process {processId} ({ProcessName(processId)}) is not a .NET process, or its diagnostics are disabled (DOTNET_EnableDiagnostics=0), " +
                "or it runs as another user. Run `leakhunter ps` to list the ones you can inspect; restart the process without DOTNET_EnableDiagnostics=0.");
        return new InspectionTarget(processId, null);
    }

    /// <summary>A dump file, as written by <c>dotnet-dump collect --type Heap</c> or <c>createdump</c>.</summary>
    /// <exception cref="LeakHunterException">The file does not exist, or is a core file cut short (<see cref="LeakHunterFailure.InvalidTarget"/>).</exception>
    public static InspectionTarget Dump(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path))
            throw new LeakHunterException(LeakHunterFailure.InvalidTarget,
                Directory.Exists(path) ? $"'{path}' is a folder. Give the path of a dump file." : $"There is no dump file '{path}'. Give the path of a dump written by dotnet-dump or createdump.");
        DumpFileCheck.ThrowIfTruncated(path);
        return new InspectionTarget(0, Path.GetFullPath(path));
    }

    /// <summary>Reads <paramref name="processIdOrDumpPath"/> the way the command-line tool does: a number is a process id, anything else a dump's path.</summary>
    /// <exception cref="LeakHunterException">It is neither a process LeakHunter can inspect nor a dump file.</exception>
    public static InspectionTarget Parse(string processIdOrDumpPath)
    {
        ArgumentNullException.ThrowIfNull(processIdOrDumpPath);
        if (int.TryParse(processIdOrDumpPath, NumberStyles.None, CultureInfo.InvariantCulture, out int pid))
            return Process(pid);
        if (!File.Exists(processIdOrDumpPath) && !Directory.Exists(processIdOrDumpPath))
            throw new LeakHunterException(LeakHunterFailure.InvalidTarget,
                $"'{processIdOrDumpPath}' is neither a process id nor a dump file. Give a process id (see `leakhunter ps`) or the path of a dump.");
        return Dump(processIdOrDumpPath);
    }

    /// <summary>The .NET processes of this user that accept diagnostics, this one left out.</summary>
    /// <exception cref="LeakHunterException">Live processes cannot be read on this system (<see cref="LeakHunterFailure.PlatformNotSupported"/>).</exception>
    public static IReadOnlyList<DotnetProcess> DotnetProcesses() =>
        HostPlatform.Current.DotnetProcesses()
            .Where(pid => pid != Environment.ProcessId && ProcessExists(pid))
            .Select(pid => new DotnetProcess(pid, ProcessName(pid), HostPlatform.Current.CommandLine(pid)))
            .ToArray();

    private static string ProcessName(int pid)
    {
        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            return process.ProcessName;
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            return "exited";
        }
    }

    private static bool ProcessExists(int pid)
    {
        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            return false;
        }
    }
}
