using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using LeakHunter.Inspector.Census;

namespace LeakHunter.Inspector.Platform.Linux;

/// <summary>A process's threads, file descriptors and private memory, from <c>/proc</c>. Only names and counts are read, never contents.</summary>
[SupportedOSPlatform("linux")]
internal static partial class ProcResources
{
    /// <summary>
    /// The process's threads, descriptors, memory mappings and resident memory now, or null when it is gone or
    /// <c>/proc</c> does not show it. Each source is one the kernel answers without walking the page tables
    /// (<c>maps</c>, <c>status</c>): <c>smaps</c> would walk them all, at a cost above half a census on a
    /// million-object heap.
    /// </summary>
    public static SystemSnapshot? Read(int processId)
    {
        string proc = $"/proc/{processId}";
        try
        {
            (long anonymous, long fileBacked) = ResidentBytes(proc);
            return new SystemSnapshot(TasksOf(proc), DescriptorsOf(proc), MappingsOf(processId), anonymous, fileBacked);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>What <paramref name="snapshot"/> holds, with the GC's pages told apart from native memory.</summary>
    /// <param name="snapshot">What <see cref="Read"/> found.</param>
    /// <param name="processId">The process, whose <c>pagemap</c> tells which of the GC's pages are in RAM.</param>
    /// <param name="gcHeap">The GC's address ranges, sorted and merged: memory there is the GC's, not native memory.</param>
    public static SystemResources Summarize(SystemSnapshot snapshot, int processId, IReadOnlyList<(ulong Start, ulong End)> gcHeap)
    {
        var byKind = LeakHunter.Census.ResourceNames.KindsOf(LeakHunter.Census.ResourceNames.FileDescriptors).ToDictionary(kind => kind, _ => 0L);
        foreach (string? target in snapshot.Descriptors.Values)
            byKind[KindOf(target)]++;
        long inGcHeap = GcResidentBytes(snapshot.Mappings, $"/proc/{processId}", gcHeap);
        return new SystemResources(snapshot.Tasks, snapshot.Descriptors, byKind, snapshot.AnonymousBytes, snapshot.FileBackedBytes,
            Math.Max(0, snapshot.AnonymousBytes - inGcHeap));
    }

    /// <summary>The process's resident anonymous memory and resident pages of files, from the kernel's own counters in <c>status</c>.</summary>
    private static (long Anonymous, long FileBacked) ResidentBytes(string proc)
    {
        long anonymous = 0, fileBacked = 0;
        foreach (string line in File.ReadLines($"{proc}/status"))
        {
            if (line.StartsWith("RssAnon:", StringComparison.Ordinal))
                anonymous = Kilobytes(line);
            else if (line.StartsWith("RssFile:", StringComparison.Ordinal))
                fileBacked = Kilobytes(line);
        }
        return (anonymous, fileBacked);
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
        // Each link is read relative to the folder, opened once: a path from the root would be looked up afresh
        // through /proc for every descriptor, and a server has thousands.
        int folder = open($"{proc}/fd", OpenReadOnly | OpenDirectory | OpenCloseOnExec);
        if (folder < 0)
            throw new IOException($"{proc}/fd could not be opened (errno {Marshal.GetLastPInvokeError()}).");
        try
        {
            Span<byte> target = stackalloc byte[PathMax];
            foreach (string descriptor in Directory.EnumerateFileSystemEntries($"{proc}/fd"))
            {
                string name = Path.GetFileName(descriptor);
                if (int.TryParse(name, out int number))
                    descriptors[number] = LinkTarget(folder, name, target);
            }
        }
        finally
        {
            // A descriptor of /proc that fails to close leaves nothing to retry: the listing is already read.
            _ = close(folder);
        }
        return descriptors;
    }

    private const int PathMax = 4096;
    private const int OpenReadOnly = 0;
    private const int OpenDirectory = 0x10000;
    private const int OpenCloseOnExec = 0x80000;

    /// <summary>
    /// What a descriptor points to (<c>/var/log/app.log</c>, <c>socket:[4242]</c>, <c>pipe:[17]</c>), or null when it
    /// closed meanwhile.
    /// </summary>
    private static unsafe string? LinkTarget(int folder, string name, Span<byte> buffer)
    {
        fixed (byte* bytes = buffer)
        {
            nint length = readlinkat(folder, name, bytes, buffer.Length);
            return length < 0 ? null : System.Text.Encoding.UTF8.GetString(bytes, (int)length);
        }
    }

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int open(string path, int flags);

    [LibraryImport("libc")]
    private static partial int close(int descriptor);

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static unsafe partial nint readlinkat(int folder, string path, byte* buffer, nint size);

    /// <summary>A descriptor's kind by what it points to: <c>file</c>, <c>socket</c>, <c>pipe</c> or <c>other</c>.</summary>
    public static string KindOf(string? target) => target switch
    {
        null => "other",
        _ when target.StartsWith("socket:", StringComparison.Ordinal) => "socket",
        _ when target.StartsWith("pipe:", StringComparison.Ordinal) => "pipe",
        _ when target.StartsWith('/') => "file",
        _ => "other",
    };

    /// <summary>The process's mappings that can hold pages (readable or writable), from <c>maps</c>: a reserve the GC has not committed cannot.</summary>
    private static List<MemoryMapping> MappingsOf(int processId) =>
        ProcMemory.Mappings(processId).Where(m => m.Readable || m.Writable).Select(m => new MemoryMapping(m.Start, m.End)).ToList();

    /// <summary>
    /// The bytes of the GC's pages in RAM: native memory is the anonymous memory outside them, what malloc, mmap, the
    /// JIT and the runtime's own heaps hold. The GC commits memory ahead of use and touches it as it allocates, so
    /// subtracting its committed bytes would make native memory rise and fall with every GC; subtracting its pages
    /// in RAM does not.
    /// </summary>
    /// <remarks>
    /// Counted page by page (<c>/proc/PID/pagemap</c>), within the GC's ranges only: the kernel merges neighbouring
    /// anonymous mappings with the same protection, so malloc's memory can share a mapping with the GC's tables, and
    /// counted a mapping at a time, a megabyte allocated beside them would come and go from native memory.
    /// </remarks>
    private static long GcResidentBytes(IReadOnlyList<MemoryMapping> mappings, string proc, IReadOnlyList<(ulong Start, ulong End)> gcHeap)
    {
        long resident = 0;
        using var pagemap = new PresentPages($"{proc}/pagemap");
        foreach (MemoryMapping mapping in mappings)
        {
            if (OverlapBytes(gcHeap, mapping.Start, mapping.End) > 0)
                resident += pagemap.PresentBytes(gcHeap, mapping.Start, mapping.End, whenUnreadable: 0);
        }
        return resident;
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
    /// when the page is in RAM, bit 56 when only this process maps it. Reading it needs the same right as reading the process's memory, which the inspector has.
    /// </summary>
    private sealed class PresentPages : IDisposable
    {
        private const int PageSize = 4096;
        // Present and mapped by this process alone: a page the GC handed out but nobody wrote yet reads as the shared
        // zero page once anything reads it (the census does), present too, but in no one's anonymous memory.
        private const ulong PresentAndOwn = 1UL << 63 | 1UL << 56;
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
                            if ((System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(entries.AsSpan(i * sizeof(ulong))) & PresentAndOwn) == PresentAndOwn)
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
