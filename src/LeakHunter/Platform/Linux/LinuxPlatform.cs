using System.Globalization;
using System.Runtime.InteropServices;

namespace LeakHunter.Platform.Linux;

/// <summary>Linux: Yama's tracer declaration, and the diagnostics sockets and /proc for the list of .NET processes.</summary>
internal sealed partial class LinuxPlatform : IHostPlatform
{
    // Yama (ptrace_scope=1) lets only a declared tracer (and its descendants) attach; declaring costs nothing elsewhere.
    private const int PrSetPtracer = 0x59616d61;

    public bool ReadsLiveProcesses => true;

    public void DeclareTracer(int tracerPid) => _ = prctl(PrSetPtracer, (nuint)tracerPid, 0, 0, 0);

    /// <summary>
    /// The processes whose runtime listens for diagnostics: each has a socket dotnet-diagnostic-{pid}-* in the
    /// temporary folder. Read directly, since a process that exits during the look must not fail the whole list.
    /// </summary>
    public IReadOnlyList<int> DotnetProcesses()
    {
        var pids = new SortedSet<int>();
        foreach (string socket in Directory.EnumerateFiles(Path.GetTempPath(), "dotnet-diagnostic-*-socket"))
        {
            string[] parts = Path.GetFileName(socket).Split('-');
            if (parts.Length > 3 && int.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out int pid) && IsProcessNotThread(pid))
                pids.Add(pid);
        }
        return pids.ToArray();
    }

    public string CommandLine(int processId)
    {
        try
        {
            return File.ReadAllText($"/proc/{processId}/cmdline").Replace('\0', ' ').Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return string.Empty;
        }
    }

    // A stale socket's number may since have gone to a thread, which /proc also lists, or to nothing at all.
    private static bool IsProcessNotThread(int pid)
    {
        try
        {
            string? tgid = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("Tgid:", StringComparison.Ordinal));
            return tgid is not null && tgid[5..].Trim() == pid.ToString(CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>
    /// glibc's own count, from mallinfo2 (glibc 2.33 and later): the arenas' bytes in use and the blocks it mapped on
    /// their own. Another C library (musl) has no such count: -1, and resident memory alone is read.
    /// </summary>
    public long NativeAllocatorInUseBytes()
    {
        if (s_noMallinfo)
            return -1;
        try
        {
            MallInfo2 info = mallinfo2();
            return checked((long)(info.uordblks + info.hblkhd));
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException or OverflowException)
        {
            s_noMallinfo = true;
            return -1;
        }
    }

    private static volatile bool s_noMallinfo;

    [StructLayout(LayoutKind.Sequential)]
    private struct MallInfo2
    {
        public nuint arena;
        public nuint ordblks;
        public nuint smblks;
        public nuint hblks;
        public nuint hblkhd;
        public nuint usmblks;
        public nuint fsmblks;
        public nuint uordblks;
        public nuint fordblks;
        public nuint keepcost;
    }

    [LibraryImport("libc")]
    private static partial MallInfo2 mallinfo2();

    [LibraryImport("libc", SetLastError = true)]
    private static partial int prctl(int option, nuint arg2, nuint arg3, nuint arg4, nuint arg5);
}
