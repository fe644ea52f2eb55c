using System.Buffers.Binary;
using System.Buffers.Text;
using System.Runtime.Versioning;
using LeakHunter.Inspector.Census;

namespace LeakHunter.Inspector.Platform.Linux;

/// <summary>
/// A held process's writable memory, from <c>/proc/PID/maps</c> and <c>/proc/PID/pagemap</c>: what must be copied for
/// an image of the process that stays true after it runs on. Read-only mappings (code, the files it maps) do not
/// change and are read from the process itself later.
/// </summary>
[SupportedOSPlatform("linux")]
internal static class ProcMemory
{
    private const int PageSize = 4096;
    private const ulong Present = 1UL << 63;
    private const ulong Swapped = 1UL << 62;

    /// <summary>
    /// The writable memory of <paramref name="processId"/>, in address order: the pages in RAM or swap, to copy, and
    /// the pages of private anonymous memory never touched, which read as zeros. Pages of a writable file mapping that
    /// are not in RAM hold the file's bytes and are left out (read from the process).
    /// </summary>
    public static List<ImageRange> Writable(int processId)
    {
        var ranges = new List<ImageRange>();
        using var pagemap = new FileStream($"/proc/{processId}/pagemap", FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 0);
        var entries = new byte[64 * 1024];
        foreach (Mapping mapping in Mappings(processId))
        {
            bool anonymous = mapping.Private && mapping.Inode == 0;
            ulong runStart = mapping.Start;
            bool runPresent = true;
            bool first = true;
            for (ulong page = mapping.Start; page < mapping.End;)
            {
                int count = (int)Math.Min((ulong)(entries.Length / sizeof(ulong)), (mapping.End - page) / PageSize);
                pagemap.Position = (long)(page / PageSize * sizeof(ulong));
                pagemap.ReadExactly(entries, 0, count * sizeof(ulong));
                for (int i = 0; i < count; i++, page += PageSize)
                {
                    bool present = (BinaryPrimitives.ReadUInt64LittleEndian(entries.AsSpan(i * sizeof(ulong))) & (Present | Swapped)) != 0;
                    if (first)
                    {
                        (runPresent, first) = (present, false);
                    }
                    else if (present != runPresent)
                    {
                        Add(ranges, runStart, page, runPresent, anonymous);
                        (runStart, runPresent) = (page, present);
                    }
                }
            }
            Add(ranges, runStart, mapping.End, runPresent, anonymous);
        }
        return ranges;
    }

    private static void Add(List<ImageRange> ranges, ulong start, ulong end, bool present, bool anonymous)
    {
        if (end <= start)
            return;
        if (present)
            ranges.Add(new ImageRange(start, end, ImageRangeKind.Copied));
        else if (anonymous)
            ranges.Add(new ImageRange(start, end, ImageRangeKind.Zeros));
    }

    private readonly record struct Mapping(ulong Start, ulong End, bool Private, ulong Inode);

    /// <summary>The readable, writable mappings, the kernel's own pages (<c>[vvar]</c>, <c>[vsyscall]</c>) left out.</summary>
    private static IEnumerable<Mapping> Mappings(int processId)
    {
        // 7f3c2a000000-7f3c2a400000 rw-p 00000000 00:00 0          [anon:...]
        foreach (string line in File.ReadAllLines($"/proc/{processId}/maps"))
        {
            string[] fields = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length < 5 || fields[1].Length < 4 || fields[1][0] != 'r' || fields[1][1] != 'w')
                continue;
            string path = fields.Length > 5 ? fields[5].Trim() : "";
            if (path.StartsWith("[v", StringComparison.Ordinal))
                continue;
            int dash = fields[0].IndexOf('-');
            if (dash <= 0
                || !Utf8Parser.TryParse(System.Text.Encoding.ASCII.GetBytes(fields[0][..dash]), out ulong start, out _, 'x')
                || !Utf8Parser.TryParse(System.Text.Encoding.ASCII.GetBytes(fields[0][(dash + 1)..]), out ulong end, out _, 'x')
                || !ulong.TryParse(fields[4], out ulong inode))
                continue;
            yield return new Mapping(start, end, fields[1][3] == 'p', inode);
        }
    }
}
