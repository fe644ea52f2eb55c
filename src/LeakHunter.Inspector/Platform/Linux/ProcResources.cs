using System.Runtime.Versioning;
using LeakHunter.Inspector.Census;

namespace LeakHunter.Inspector.Platform.Linux;

/// <summary>A process's threads, file descriptors and private memory, from <c>/proc</c>. Only names and counts are read, never contents.</summary>
[SupportedOSPlatform("linux")]
internal static class ProcResources
{
    /// <summary>
    /// The process's threads, descriptors and memory mappings now, or null when it is gone or <c>/proc</c> does not show
    /// it. This is the slow part (the kernel walks the page tables for <c>smaps</c>), and needs nothing of the runtime,
    /// so it runs beside the heap walk.
    /// </summary>
    public static SystemSnapshot? Read(int processId)
    {
        string proc = $"/proc/{processId}";
        try
        {
            return new SystemSnapshot(TasksOf(proc), DescriptorsOf(proc), MappingsOf(proc));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>What <paramref name="snapshot"/> holds, with the GC's pages told apart from native memory.</summary>
    /// <param name="snapshot">What <see cref="Read"/> found.</param>
    /// <param name="processId">The process, whose <c>pagemap</c> splits a mapping the GC shares with malloc.</param>
    /// <param name="gcHeap">The GC's address ranges, sorted and merged: memory there is the GC's, not native memory.</param>
    public static SystemResources Summarize(SystemSnapshot snapshot, int processId, IReadOnlyList<(ulong Start, ulong End)> gcHeap)
    {
        var byKind = LeakHunter.Census.ResourceNames.KindsOf(LeakHunter.Census.ResourceNames.FileDescriptors).ToDictionary(kind => kind, _ => 0L);
        foreach (string? target in snapshot.Descriptors.Values)
            byKind[KindOf(target)]++;
        (long privateResident, long fileBacked, long native) = PrivateResidentBytes(snapshot.Mappings, $"/proc/{processId}", gcHeap);
        return new SystemResources(snapshot.Tasks, snapshot.Descriptors, byKind, privateResident, fileBacked, native);
    }

    /// <summary>The ids of the process's threads now; none when it is gone.</summary>
    public static IReadOnlySet<int> Tasks(int processId) => UnlessGone(() => TasksOf($"/proc/{processId}"), new HashSet<int>());

    /// <summary>The process's open descriptors now, each with what it points to; none when it is gone.</summary>
    public static IReadOnlyDictionary<int, string?> Descriptors(int processId) => UnlessGone(() => DescriptorsOf($"/proc/{processId}"), new Dictionary<int, string?>());

    /// <summary>The thread's name as the system keeps it (<c>comm</c>), or null when it is gone.</summary>
    public static string? TaskName(int processId, int taskId) => UnlessGone(() => File.ReadAllText($"/proc/{processId}/task/{taskId}/comm").TrimEnd('\n'), null);

    /// <summary>What <paramref name="read"/> returns, or <paramref name="gone"/> when the process or the thread is gone.</summary>
    private static T UnlessGone<T>(Func<T> read, T gone)
    {
        try
        {
            return read();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return gone;
        }
    }

    private static HashSet<int> TasksOf(string proc)
    {
        var tasks = new HashSet<int>();
        foreach (string task in Directory.EnumerateDirectories($"{proc}/task"))
        {
            if (int.TryParse(Path.GetFileName(task), out int id))
                tasks.Add(id);
        }
        return tasks;
    }

    private static Dictionary<int, string?> DescriptorsOf(string proc)
    {
        var descriptors = new Dictionary<int, string?>();
        foreach (string descriptor in Directory.EnumerateFileSystemEntries($"{proc}/fd"))
        {
            if (int.TryParse(Path.GetFileName(descriptor), out int number))
                descriptors[number] = LinkTarget(descriptor);
        }
        return descriptors;
    }

    /// <summary>What a descriptor points to (<c>/var/log/app.log</c>, <c>socket:[4242]</c>, <c>pipe:[17]</c>), or null when it closed meanwhile.</summary>
    private static string? LinkTarget(string descriptor)
    {
        try
        {
            return new FileInfo(descriptor).LinkTarget;
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>A descriptor's kind by what it points to: <c>file</c>, <c>socket</c>, <c>pipe</c> or <c>other</c>.</summary>
    public static string KindOf(string? target) => target switch
    {
        null => "other",
        _ when target.StartsWith("socket:", StringComparison.Ordinal) => "socket",
        _ when target.StartsWith("pipe:", StringComparison.Ordinal) => "pipe",
        _ when target.StartsWith('/') => "file",
        _ => "other",
    };

    /// <summary>
    /// Each mapping's range, its resident memory no other process shares (<c>Private_Clean</c> and <c>Private_Dirty</c>
    /// in <c>smaps</c>), and of that, its anonymous memory: what is private and not anonymous is a file's pages.
    /// </summary>
    private static List<MemoryMapping> MappingsOf(string proc)
    {
        var mappings = new List<MemoryMapping>();
        (ulong Start, ulong End) range = default;
        long privateBytes = 0;
        foreach (string line in File.ReadLines($"{proc}/smaps"))
        {
            if (line.Length > 0 && char.IsAsciiHexDigit(line[0]) && line.IndexOf('-') is int dash and > 0 && line.IndexOf(' ') > dash)
            {
                range = (ulong.Parse(line.AsSpan(0, dash), System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture),
                    ulong.Parse(line.AsSpan(dash + 1, line.IndexOf(' ') - dash - 1), System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture));
                privateBytes = 0;
            }
            else if (line.StartsWith("Private_Clean:", StringComparison.Ordinal) || line.StartsWith("Private_Dirty:", StringComparison.Ordinal))
            {
                privateBytes += Kilobytes(line);
            }
            else if (line.StartsWith("Anonymous:", StringComparison.Ordinal))
            {
                // Smaps lists Private_* before Anonymous.
                mappings.Add(new MemoryMapping(range.Start, range.End, privateBytes, Kilobytes(line)));
            }
        }
        return mappings;
    }

    /// <summary>
    /// Resident memory no other process shares in all; of it, the pages of mapped files (code and read-only data
    /// faulted in as it runs, which the kernel may drop and read again); and the anonymous memory outside the GC's
    /// ranges, which is native memory: what malloc, mmap, the JIT and the runtime's own heaps hold. The GC commits memory
    /// ahead of use and touches it as it allocates, so subtracting its committed bytes from the total would make native
    /// memory rise and fall with every GC; leaving out its pages does not. A file's pages come and go with what code
    /// runs, so they are no allocation either.
    /// </summary>
    /// <remarks>
    /// The kernel merges neighbouring anonymous mappings with the same protection into one, so malloc's memory can share
    /// a mapping with the GC's. Such a mapping is split page by page, from which of its pages are present
    /// (<c>/proc/PID/pagemap</c>): counted whole on either side, a megabyte allocated next to the GC's tables would come
    /// and go from native memory as the mappings merge and split.
    /// </remarks>
    private static (long All, long FileBacked, long NativeOutsideGcHeap) PrivateResidentBytes(IReadOnlyList<MemoryMapping> mappings, string proc,
        IReadOnlyList<(ulong Start, ulong End)> gcHeap)
    {
        long all = 0, fileBacked = 0, native = 0;
        using var pagemap = new PresentPages($"{proc}/pagemap");
        foreach (MemoryMapping mapping in mappings)
        {
            all += mapping.PrivateBytes;
            fileBacked += Math.Max(0, mapping.PrivateBytes - mapping.AnonymousBytes);
            if (mapping.AnonymousBytes == 0)
                continue;
            ulong inGcHeap = OverlapBytes(gcHeap, mapping.Start, mapping.End);
            if (inGcHeap == 0)
                native += mapping.AnonymousBytes;
            else if (inGcHeap < mapping.End - mapping.Start)
                native += Math.Max(0, mapping.AnonymousBytes - pagemap.PresentBytes(gcHeap, mapping.Start, mapping.End, whenUnreadable: mapping.AnonymousBytes));
        }
        return (all, fileBacked, native);
    }

    private static long Kilobytes(string line) =>
        1024 * long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>How many bytes of [<paramref name="start"/>, <paramref name="end"/>) the sorted, merged <paramref name="ranges"/> cover.</summary>
    internal static ulong OverlapBytes(IReadOnlyList<(ulong Start, ulong End)> ranges, ulong start, ulong end)
    {
        ulong covered = 0;
        foreach ((ulong Start, ulong End) range in Within(ranges, start, end))
            covered += range.End - range.Start;
        return covered;
    }

    /// <summary>The parts of <paramref name="ranges"/> (sorted, merged) inside [<paramref name="start"/>, <paramref name="end"/>).</summary>
    internal static IEnumerable<(ulong Start, ulong End)> Within(IReadOnlyList<(ulong Start, ulong End)> ranges, ulong start, ulong end)
    {
        // The first range that ends after start, by binary search: a mapping meets few of them.
        int low = 0, high = ranges.Count;
        while (low < high)
        {
            int mid = (low + high) / 2;
            if (ranges[mid].End <= start)
                low = mid + 1;
            else
                high = mid;
        }
        for (int i = low; i < ranges.Count && ranges[i].Start < end; i++)
            yield return (Math.Max(start, ranges[i].Start), Math.Min(end, ranges[i].End));
    }

    /// <summary>
    /// Which pages of a process are present in memory, from its <c>pagemap</c>: one 64-bit entry a page, bit 63 set
    /// when the page is in RAM. Reading it needs the same right as reading the process's memory, which the inspector has.
    /// </summary>
    private sealed class PresentPages : IDisposable
    {
        private const int PageSize = 4096;
        private const ulong Present = 1UL << 63;
        private readonly string _path;
        private FileStream? _file;
        private bool _unreadable;

        public PresentPages(string path) => _path = path;

        /// <summary>The bytes of the pages present in RAM within <paramref name="ranges"/>'s part of the mapping, or <paramref name="whenUnreadable"/>.</summary>
        public long PresentBytes(IReadOnlyList<(ulong Start, ulong End)> ranges, ulong start, ulong end, long whenUnreadable)
        {
            try
            {
                if (_unreadable)
                    return whenUnreadable;
                _file ??= new FileStream(_path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 0);
                long present = 0;
                var entries = new byte[64 * 1024];
                foreach ((ulong from, ulong to) in Within(ranges, start, end))
                {
                    for (ulong page = from / PageSize; page < (to + PageSize - 1) / PageSize;)
                    {
                        int count = (int)Math.Min((ulong)(entries.Length / sizeof(ulong)), (to + PageSize - 1) / PageSize - page);
                        _file.Position = (long)(page * sizeof(ulong));
                        _file.ReadExactly(entries, 0, count * sizeof(ulong));
                        for (int i = 0; i < count; i++)
                        {
                            if ((System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(entries.AsSpan(i * sizeof(ulong))) & Present) != 0)
                                present += PageSize;
                        }
                        page += (ulong)count;
                    }
                }
                return present;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Counted wholly as the GC's, as before pages could be told apart.
                _unreadable = true;
                return whenUnreadable;
            }
        }

        public void Dispose() => _file?.Dispose();
    }
}
