using System.Buffers.Binary;

namespace LeakHunter.Census;

/// <summary>
/// Tells a truncated core dump before anything tries to read it: an ELF core file's program headers say where each
/// memory segment lies in the file, so a file shorter than its last segment's end lost its tail (a copy cut short,
/// a disk that filled up). ClrMD would otherwise fail with an error that does not say so, or read on with no warning.
/// </summary>
internal static class DumpFileCheck
{
    private const int ElfHeaderBytes = 64;
    private const int ProgramHeaderBytes = 56;

    /// <summary>Throws a <see cref="LeakHunterException"/> naming the missing bytes when <paramref name="path"/> is an ELF core file cut short.</summary>
    public static void ThrowIfTruncated(string path)
    {
        using FileStream file = File.OpenRead(path);
        long length = file.Length;
        Span<byte> header = stackalloc byte[ElfHeaderBytes];
        if (file.ReadAtLeast(header, ElfHeaderBytes, throwOnEndOfStream: false) < ElfHeaderBytes || !IsElf64LittleEndian(header))
            return; // not an ELF core file: the dump reader judges it
        long programHeaders = (long)BinaryPrimitives.ReadUInt64LittleEndian(header[0x20..]);
        int entrySize = BinaryPrimitives.ReadUInt16LittleEndian(header[0x36..]);
        int entries = BinaryPrimitives.ReadUInt16LittleEndian(header[0x38..]);
        if (entrySize < ProgramHeaderBytes || programHeaders <= 0)
            throw Truncated(path, $"its ELF header is damaged (program headers of {entrySize} bytes at {programHeaders})");
        long tableEnd = programHeaders + (long)entrySize * entries;
        if (tableEnd > length)
            throw Truncated(path, $"its program headers end at byte {tableEnd:N0} but the file has {length:N0}");

        var entry = new byte[entrySize];
        long contentEnd = tableEnd;
        for (int i = 0; i < entries; i++)
        {
            file.Position = programHeaders + (long)i * entrySize;
            file.ReadExactly(entry);
            ulong offset = BinaryPrimitives.ReadUInt64LittleEndian(entry.AsSpan(0x08));
            ulong sizeInFile = BinaryPrimitives.ReadUInt64LittleEndian(entry.AsSpan(0x20));
            if (offset > long.MaxValue || sizeInFile > long.MaxValue - offset)
                throw Truncated(path, $"segment {i} claims an impossible place in the file");
            contentEnd = Math.Max(contentEnd, (long)(offset + sizeInFile));
        }
        if (contentEnd > length)
            throw Truncated(path, $"its segments end at byte {contentEnd:N0} but the file has only {length:N0} ({contentEnd - length:N0} bytes missing)");
    }

    private static bool IsElf64LittleEndian(ReadOnlySpan<byte> header) =>
        header[0] == 0x7f && header[1] == (byte)'E' && header[2] == (byte)'L' && header[3] == (byte)'F' && header[4] == 2 && header[5] == 1;

    private static LeakHunterException Truncated(string path, string why) =>
        new(LeakHunterFailure.InvalidTarget, $"'{path}' is a truncated dump: {why}. Copy it again in full, or write a new one with `dotnet-dump collect --type Heap`.");
}
