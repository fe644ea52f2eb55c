using System.Buffers.Binary;
using System.Buffers.Text;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using LeakHunter.Inspector.Census;

namespace LeakHunter.Inspector.Platform.Linux;

/// <summary>
/// A held process's writable memory, from <c>/proc/PID/maps</c> and <c>/proc/PID/pagemap</c>: what must be copied for
/// an image of the process that stays true after it runs on. Read-only mappings (code, the files it maps) do not
/// change and are read from the process itself later.
/// </summary>
[SupportedOSPlatform("linux")]
internal static partial class ProcMemory
{
    private const int PageSize = 4096;
    private const ulong Present = 1UL << 63;
    private const ulong Swapped = 1UL << 62;

    /// <summary>
    /// Copies <paramref name="length"/> bytes at <paramref name="address"/> in <paramref name="processId"/> to
    /// <paramref name="into"/> with one process_vm_readv: no page-sized pieces, no check of the mapping first.
    /// </summary>
    /// <returns>The bytes copied: fewer where the range meets an unmapped page.</returns>
    /// <exception cref="InvalidOperationException">The process has exited.</exception>
    public static unsafe long Copy(int processId, ulong address, nint into, long length)
    {
        var local = new IoVector { Base = into, Length = (nuint)length };
        var remote = new IoVector { Base = (nint)address, Length = (nuint)length };
        nint copied = process_vm_readv(processId, &local, 1, &remote, 1, 0);
        if (copied >= 0)
            return copied;
        int error = Marshal.GetLastPInvokeError();
        return error switch
        {
            NoSuchProcess => throw new InvalidOperationException($"Process {processId} has exited."),
            // The range begins in a page unmapped since it was listed: it reads as nothing.
            BadAddress => 0,
            NotPermitted => throw new UnauthorizedAccessException($"Reading the memory of process {processId} was denied (process_vm_readv: EPERM)."),
            _ => throw new IOException($"process_vm_readv failed for process {processId} with errno {error}."),
        };
    }

    private const int NotPermitted = 1; // EPERM
    private const int NoSuchProcess = 3; // ESRCH
    private const int BadAddress = 14; // EFAULT

    private struct IoVector
    {
        public nint Base;
        public nuint Length;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial nint process_vm_readv(int pid, IoVector* local, ulong localCount, IoVector* remote, ulong remoteCount, ulong flags);

    /// <summary>MemAvailable from /proc/meminfo, in bytes, or null when it is not there.</summary>
    public static long? Available()
    {
        foreach (string line in File.ReadLines("/proc/meminfo"))
        {
            if (line.StartsWith("MemAvailable:", StringComparison.Ordinal)
                && long.TryParse(line["MemAvailable:".Length..].Trim().Split(' ')[0], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long kib))
                return kib * 1024;
        }
        return null;
    }

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
        // The kernel's own pages ([vvar], [vsyscall]) are no part of the process's state.
        foreach (Mapping mapping in Mappings(processId).Where(m => m.Readable && m.Writable && !m.KernelPages))
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

    /// <summary>One line of <c>/proc/PID/maps</c>: a mapping's range, its protection, and whether it is private and backed by a file.</summary>
    internal readonly record struct Mapping(ulong Start, ulong End, bool Readable, bool Writable, bool Private, ulong Inode, bool KernelPages);

    /// <summary>Every mapping of the process, in address order.</summary>
    public static List<Mapping> Mappings(int processId)
    {
        var mappings = new List<Mapping>();
        // One read of the whole file, parsed in place: a runtime maps hundreds of ranges.
        ReadOnlySpan<byte> maps = File.ReadAllBytes($"/proc/{processId}/maps");
        while (!maps.IsEmpty)
        {
            int end = maps.IndexOf((byte)'\n');
            ReadOnlySpan<byte> line = end < 0 ? maps : maps[..end];
            maps = end < 0 ? default : maps[(end + 1)..];
            if (Parse(line) is Mapping mapping)
                mappings.Add(mapping);
        }
        return mappings;
    }

    /// <summary>7f3c2a000000-7f3c2a400000 rw-p 00000000 00:00 0          [anon:...]</summary>
    private static Mapping? Parse(ReadOnlySpan<byte> line)
    {
        ReadOnlySpan<byte> range = NextField(ref line), permissions = NextField(ref line);
        NextField(ref line); // offset
        NextField(ref line); // device
        ReadOnlySpan<byte> inodeField = NextField(ref line);
        ReadOnlySpan<byte> path = line.TrimStart((byte)' ');
        int dash = range.IndexOf((byte)'-');
        if (dash <= 0 || permissions.Length < 4
            || !Utf8Parser.TryParse(range[..dash], out ulong start, out int startLength, 'x') || startLength != dash
            || !Utf8Parser.TryParse(range[(dash + 1)..], out ulong stop, out int stopLength, 'x') || stopLength != range.Length - dash - 1
            || !Utf8Parser.TryParse(inodeField, out ulong inode, out int inodeLength) || inodeLength != inodeField.Length)
            return null;
        return new Mapping(start, stop, permissions[0] == 'r', permissions[1] == 'w', permissions[3] == 'p', inode, path.StartsWith("[v"u8));
    }

    /// <summary>The next field of <paramref name="line"/>, spaces before it skipped; the line keeps what follows.</summary>
    private static ReadOnlySpan<byte> NextField(ref ReadOnlySpan<byte> line)
    {
        line = line.TrimStart((byte)' ');
        int space = line.IndexOf((byte)' ');
        ReadOnlySpan<byte> field = space < 0 ? line : line[..space];
        line = space < 0 ? default : line[space..];
        return field;
    }
}
