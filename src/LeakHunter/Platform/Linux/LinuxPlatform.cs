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

    // Where glibc writes its report, a few kilobytes per arena: a managed buffer made with the platform, before any
    // census, so that reading the count allocates nothing from the allocator it counts and touches no new page of it
    // (a stream of the allocator's own would leave its pages resident after the first census, as if they had leaked).
    private static readonly byte[] s_mallocInfoText = new byte[1 << 20];

    private static unsafe string MallocInfo()
    {
        lock (s_mallocInfoText)
        {
            fixed (byte* buffer = s_mallocInfoText)
            {
                nint stream = fmemopen(buffer, (nuint)s_mallocInfoText.Length, "w");
                if (stream == 0)
                    throw new FormatException("fmemopen failed");
                int failed;
                long written;
                try
                {
                    failed = malloc_info(0, stream);
                    written = ftell(stream);
                }
                finally
                {
                    _ = fclose(stream);
                }
                if (failed != 0 || written <= 0 || written >= s_mallocInfoText.Length)
                    throw new FormatException("malloc_info wrote nothing, or more than its buffer holds");
                return System.Text.Encoding.ASCII.GetString(s_mallocInfoText, 0, (int)written);
            }
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

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial nint fmemopen(byte* buffer, nuint size, string mode);

    [LibraryImport("libc")]
    private static partial long ftell(nint stream);

    [LibraryImport("libc")]
    private static partial int fclose(nint stream);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int prctl(int option, nuint arg2, nuint arg3, nuint arg4, nuint arg5);
}
