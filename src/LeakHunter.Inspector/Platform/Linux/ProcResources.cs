using System.Runtime.Versioning;
using LeakHunter.Inspector.Census;

namespace LeakHunter.Inspector.Platform.Linux;

/// <summary>A process's threads, file descriptors and private memory, from <c>/proc</c>. Only names and counts are read, never contents.</summary>
[SupportedOSPlatform("linux")]
internal static class ProcResources
{
    /// <summary>The process's resources now, or null when it is gone or <c>/proc</c> does not show it.</summary>
    /// <param name="processId">The process.</param>
    /// <param name="gcHeap">The GC heap's address ranges, sorted: memory mapped there is the GC's, not native memory.</param>
    public static SystemResources? Read(int processId, IReadOnlyList<(ulong Start, ulong End)> gcHeap)
    {
        string proc = $"/proc/{processId}";
        try
        {
            IReadOnlySet<int> tasks = TasksOf(proc);
            IReadOnlyDictionary<int, string?> descriptors = DescriptorsOf(proc);
            var byKind = LeakHunter.Census.ResourceNames.KindsOf(LeakHunter.Census.ResourceNames.FileDescriptors).ToDictionary(kind => kind, _ => 0L);
            foreach (string? target in descriptors.Values)
                byKind[KindOf(target)]++;
            (long privateResident, long outsideGcHeap) = PrivateResidentBytes(proc, gcHeap);
            return new SystemResources(tasks, descriptors, byKind, privateResident, outsideGcHeap);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
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
    /// Resident memory no other process shares (<c>Private_Clean</c> and <c>Private_Dirty</c> of each mapping in
    /// <c>smaps</c>), in all and outside the mappings that hold the GC heap. The GC commits memory ahead of use and
    /// touches it as it allocates, so subtracting its committed bytes from the total would make native memory rise and
    /// fall with every GC; leaving out its mappings does not.
    /// </summary>
    private static (long All, long OutsideGcHeap) PrivateResidentBytes(string proc, IReadOnlyList<(ulong Start, ulong End)> gcHeap)
    {
        long all = 0, outside = 0;
        bool inGcHeap = false;
        foreach (string line in File.ReadLines($"{proc}/smaps"))
        {
            if (line.Length > 0 && char.IsAsciiHexDigit(line[0]) && line.IndexOf('-') is int dash and > 0 && line.IndexOf(' ') > dash)
            {
                ulong start = ulong.Parse(line.AsSpan(0, dash), System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture);
                ulong end = ulong.Parse(line.AsSpan(dash + 1, line.IndexOf(' ') - dash - 1), System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture);
                inGcHeap = Overlaps(gcHeap, start, end);
                continue;
            }
            if (line.StartsWith("Private_Clean:", StringComparison.Ordinal) || line.StartsWith("Private_Dirty:", StringComparison.Ordinal))
            {
                long bytes = 1024 * long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture);
                all += bytes;
                if (!inGcHeap)
                    outside += bytes;
            }
        }
        return (all, outside);
    }

    private static bool Overlaps(IReadOnlyList<(ulong Start, ulong End)> sorted, ulong start, ulong end)
    {
        int low = 0, high = sorted.Count - 1;
        while (low <= high)
        {
            int mid = (low + high) / 2;
            if (sorted[mid].End <= start)
                low = mid + 1;
            else if (sorted[mid].Start >= end)
                high = mid - 1;
            else
                return true;
        }
        return false;
    }
}
