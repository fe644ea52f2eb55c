using System.Runtime.Versioning;
using LeakHunter.Inspector.Census;

namespace LeakHunter.Inspector.Platform.Linux;

/// <summary>A process's threads, file descriptors and private memory, from <c>/proc</c>. Only names and counts are read, never contents.</summary>
[SupportedOSPlatform("linux")]
internal static class ProcResources
{
    /// <summary>The process's resources now, or null when it is gone or <c>/proc</c> does not show it.</summary>
    public static SystemResources? Read(int processId)
    {
        string proc = $"/proc/{processId}";
        try
        {
            long threads = Directory.EnumerateDirectories($"{proc}/task").LongCount();
            var descriptors = new Dictionary<string, long> { ["file"] = 0, ["socket"] = 0, ["pipe"] = 0, ["other"] = 0 };
            foreach (string descriptor in Directory.EnumerateFileSystemEntries($"{proc}/fd"))
                descriptors[KindOf(LinkTarget(descriptor))]++;
            return new SystemResources(threads, descriptors, PrivateResidentBytes(proc));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>What a descriptor points to (<c>/var/log/app.log</c>, <c>socket:[4242]</c>, <c>pipe:[17]</c>), or null when it closed meanwhile.</summary>
    public static string? LinkTarget(string descriptor)
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

    private static string KindOf(string? target) => target switch
    {
        null => "other",
        _ when target.StartsWith("socket:", StringComparison.Ordinal) => "socket",
        _ when target.StartsWith("pipe:", StringComparison.Ordinal) => "pipe",
        _ when target.StartsWith('/') => "file",
        _ => "other",
    };

    /// <summary>Resident memory no other process shares: <c>Private_Clean</c> and <c>Private_Dirty</c> of <c>smaps_rollup</c>.</summary>
    private static long PrivateResidentBytes(string proc)
    {
        long kilobytes = 0;
        foreach (string line in File.ReadLines($"{proc}/smaps_rollup"))
        {
            if (line.StartsWith("Private_Clean:", StringComparison.Ordinal) || line.StartsWith("Private_Dirty:", StringComparison.Ordinal))
                kilobytes += long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture);
        }
        return kilobytes * 1024;
    }
}
