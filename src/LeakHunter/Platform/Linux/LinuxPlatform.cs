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
    /// glibc's own count, from malloc_info: every arena's bytes from the system less those free in its bins, and the
    /// blocks it mapped on their own. (mallinfo2 counts the main arena alone, so it misses what threads other than the
    /// first allocate from arenas of their own.) Another C library (musl) has no such count: -1, and resident memory
    /// alone is read.
    /// </summary>
    public long NativeAllocatorInUseBytes()
    {
        if (s_noMallocInfo)
            return -1;
        try
        {
            return MallocInUse(MallocInfo());
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            s_noMallocInfo = true;
            return -1;
        }
        catch (Exception e) when (e is FormatException or OverflowException)
        {
            return -1;
        }
    }

    private static volatile bool s_noMallocInfo;

    /// <summary>
    /// glibc's report, written to a stream in memory that grows as it needs: a process with many threads has many
    /// arenas, each a few kilobytes of the report. The stream's buffer is the allocator's own, freed at once; it is
    /// the same size at every census, so it moves the count by nothing a growth rule sees.
    /// </summary>
    private static unsafe string MallocInfo()
    {
        nint buffer = 0;
        nuint length = 0;
        nint stream = open_memstream(&buffer, &length);
        if (stream == 0)
            throw new FormatException("open_memstream failed");
        int failed;
        try
        {
            failed = malloc_info(0, stream);
        }
        finally
        {
            _ = fclose(stream);
        }
        try
        {
            if (failed != 0 || buffer == 0 || length == 0)
                throw new FormatException("malloc_info wrote nothing");
            return Marshal.PtrToStringAnsi(buffer, checked((int)length));
        }
        finally
        {
            free(buffer);
        }
    }

    /// <summary>The bytes in use from malloc_info's totals, which close its report after every arena's own.</summary>
    private static long MallocInUse(string report)
    {
        long Last(string element) => report.LastIndexOf(element, StringComparison.Ordinal) is int at and >= 0
            ? long.Parse(ValueOf(report, report.IndexOf("size=\"", at, StringComparison.Ordinal) + 6), CultureInfo.InvariantCulture)
            : throw new FormatException($"malloc_info has no {element}");
        return checked(Last("<system type=\"current\"") - Last("<total type=\"fast\"") - Last("<total type=\"rest\"") + Last("<total type=\"mmap\""));
    }

    private static string ValueOf(string report, int start) => report[start..report.IndexOf('"', start)];

    [LibraryImport("libc")]
    private static partial int malloc_info(int options, nint stream);

    [LibraryImport("libc")]
    private static unsafe partial nint open_memstream(nint* buffer, nuint* length);

    [LibraryImport("libc")]
    private static partial void free(nint pointer);

    [LibraryImport("libc")]
    private static partial int fclose(nint stream);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int prctl(int option, nuint arg2, nuint arg3, nuint arg4, nuint arg5);
}
