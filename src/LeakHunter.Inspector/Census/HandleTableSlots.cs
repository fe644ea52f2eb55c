using System.Buffers.Binary;
using System.Numerics;
using Microsoft.Diagnostics.Runtime;

namespace LeakHunter.Inspector.Census;

/// <summary>
/// Every GC handle the runtime has handed out and not freed, read from its handle table itself: the ones whose object
/// is alive, and the ones whose object died. The debugging interface lists only handles whose object is alive, so a
/// weak handle allocated per call and never freed, whose target the GC collected, is invisible to it; in the table it
/// is a slot still marked in use.
/// </summary>
/// <remarks>
/// The table is the runtime's: 64 KiB segments, aligned to their size, each a 4 KiB header and then the handles, in
/// blocks of 64 of one kind. The header says each block's kind and, one bit per handle, which are free. The layout is
/// checked against every handle the debugging interface lists (its slot must be in use, in a block of its kind): a
/// runtime whose table is laid out otherwise gets <c>null</c>, and the census counts the listed handles alone.
/// Handles freed into the table's per-kind cache stay marked in use, and the cache takes them 63 at a time: they are
/// told apart by the cache's own list of them, so a handle per call counts as one per call, not 63 every 63rd call.
/// </remarks>
internal static class HandleTableSlots
{
    private const ulong SegmentSize = 0x10000;
    private const int HeaderSize = 0x1000;
    private const int HandlesPerSegment = (int)(SegmentSize - HeaderSize) / sizeof(ulong);
    private const int HandlesPerBlock = 64;
    private const int BlocksPerSegment = HandlesPerSegment / HandlesPerBlock;
    private const int MasksPerSegment = HandlesPerSegment / 32;
    private const byte FreeBlock = 0xFF;

    // The header's fields, packed as the runtime declares them: per-block write-barrier generations (four bytes each),
    // the allocation chains, the free masks, the blocks' kinds, user data, locks, then per-kind tails, hints and free
    // counts, then the next segment and the owning table.
    private const int FreeMaskOffset = BlocksPerSegment * 4 + BlocksPerSegment;
    private const int BlockTypeOffset = FreeMaskOffset + MasksPerSegment * 4;
    private const int PerKindOffset = BlockTypeOffset + 3 * BlocksPerSegment;

    // How many internal kinds the per-kind arrays have: 12 up to .NET 9, 13 since. Which one a runtime has is read from
    // its header: only the right one puts two user-space pointers where the next segment and the table are.
    private static readonly int[] s_kindCounts = [13, 12, 14];

    private static int NextSegmentOffset(int kinds) => PerKindOffset + 6 * kinds;

    // A bound on the segments followed, far past any real process's (each holds 7,680 handles).
    private const int MaxSegments = 100_000;

    /// <summary>One handle in use (not freed, nor in the table's cache of freed ones): its address, its kind, and whether its object died.</summary>
    public readonly record struct Slot(ulong Address, ClrHandleKind Kind, bool Emptied);

    /// <summary>
    /// The handles in use in every segment of the tables that <paramref name="listed"/> (the debugging interface's
    /// handles) live in, or null where the runtime's table does not read as laid out here, or is not 64-bit.
    /// </summary>
    /// <param name="runtime">The runtime, held still.</param>
    /// <param name="listed">The handles the debugging interface lists, which the layout is checked against.</param>
    /// <param name="unread">Why the table was not read, where it was not.</param>
    public static List<Slot>? Read(ClrRuntime runtime, IReadOnlyList<ClrHandle> listed, out string? unread)
    {
        IDataReader reader = runtime.DataTarget.DataReader;
        unread = reader.PointerSize != sizeof(ulong) ? "the runtime's handle table is read in 64-bit processes only" : null;
        if (unread is not null || listed.Count == 0)
            return null;
        var segments = new Dictionary<ulong, (byte[] Bytes, int Read)>();
        int? kinds = null;
        var tables = new HashSet<ulong>();
        var pending = new Stack<ulong>(listed.Select(h => h.Address & ~(SegmentSize - 1)).Distinct());
        while (pending.Count > 0)
        {
            ulong segment = pending.Pop();
            if (segments.ContainsKey(segment))
                continue;
            if (segments.Count >= MaxSegments)
            {
                unread = $"the runtime's handle table has more than {MaxSegments:N0} segments";
                return null;
            }
            // The segment is reserved whole and committed as it fills: what is read past the header are the handles
            // the runtime has pages for, and a handle in use is always on one.
            byte[] bytes = new byte[SegmentSize];
            int read = reader.Read(segment, bytes);
            if (read < HeaderSize)
            {
                unread = $"a segment of the runtime's handle table (0x{segment:x}) could not be read";
                return null;
            }
            kinds ??= s_kindCounts.Cast<int?>().FirstOrDefault(k => IsLaidOut(bytes, k!.Value));
            if (kinds is not int kindCount || !IsLaidOut(bytes, kindCount))
            {
                unread = $"a segment of the runtime's handle table (0x{segment:x}) is not laid out as LeakHunter reads it";
                return null;
            }
            segments.Add(segment, (bytes, read));
            if (Pointer(bytes, NextSegmentOffset(kindCount)) is ulong next and not 0)
                pending.Push(next);
            // A table's segments are a list from its first: one whose handles in use all died, or wait in the cache, is
            // reached from there only, since the debugging interface lists none of its handles.
            ulong table = Pointer(bytes, NextSegmentOffset(kindCount) + sizeof(ulong));
            if (tables.Add(table) && FirstSegment(reader, table, kindCount) is ulong first)
                pending.Push(first);
        }
        foreach (ClrHandle handle in listed)
        {
            byte[] segment = segments[handle.Address & ~(SegmentSize - 1)].Bytes;
            long offset = (long)(handle.Address & (SegmentSize - 1)) - HeaderSize;
            int index = (int)(offset / sizeof(ulong));
            if (offset < 0 || offset % sizeof(ulong) != 0 || IsFree(segment, index) || segment[BlockTypeOffset + index / HandlesPerBlock] != (byte)handle.HandleKind)
            {
                unread = $"the {handle.HandleKind} handle 0x{handle.Address:x} the debugging interface lists is not in use in the runtime's handle table as LeakHunter reads it";
                return null;
            }
        }
        var slots = new List<Slot>();
        foreach ((ulong segment, (byte[] bytes, int read)) in segments)
        {
            for (int block = 0; block < BlocksPerSegment; block++)
            {
                byte kind = bytes[BlockTypeOffset + block];
                if (kind == FreeBlock)
                    continue;
                for (int mask = block * 2; mask < block * 2 + 2; mask++)
                {
                    uint inUse = ~BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(FreeMaskOffset + mask * 4));
                    while (inUse != 0)
                    {
                        int index = mask * 32 + BitOperations.TrailingZeroCount(inUse);
                        inUse &= inUse - 1;
                        int at = HeaderSize + index * sizeof(ulong);
                        if (at + sizeof(ulong) > read)
                        {
                            unread = $"a handle in use in the runtime's handle table (0x{segment + (ulong)at:x}) could not be read";
                            return null;
                        }
                        slots.Add(new Slot(segment + (ulong)at, (ClrHandleKind)kind, Pointer(bytes, at) == 0));
                    }
                }
            }
        }
        HashSet<ulong> cached = Cached(reader, segments.Values.Select(s => Pointer(s.Bytes, NextSegmentOffset(kinds!.Value) + sizeof(ulong))).Distinct(),
            slots.Where(s => s.Emptied).Select(s => s.Address).ToHashSet());
        slots.RemoveAll(s => cached.Contains(s.Address));
        return slots;
    }

    // The table and its per-kind caches: a few hundred bytes of fields, then two banks of 63 handles and their
    // indexes for each kind.
    private const int TableBytes = 32 << 10;

    /// <summary>
    /// The handles among <paramref name="emptied"/> that sit in a table's cache: freed, kept marked in use for the
    /// next allocation. The cache banks hold the handles' addresses; a handle given out is cleared from its bank, and
    /// nothing else in the table points at a handle.
    /// </summary>
    private static HashSet<ulong> Cached(IDataReader reader, IEnumerable<ulong> tables, HashSet<ulong> emptied)
    {
        var cached = new HashSet<ulong>();
        byte[] bytes = new byte[TableBytes];
        foreach (ulong table in tables)
        {
            int read = reader.Read(table, bytes);
            for (int at = 0; at + sizeof(ulong) <= read; at += sizeof(ulong))
            {
                if (emptied.Contains(Pointer(bytes, at)))
                    cached.Add(Pointer(bytes, at));
            }
        }
        return cached;
    }

    /// <summary>
    /// The first segment of the table at <paramref name="table"/>: the table begins with a flags word per kind, then the
    /// pointer to its list of segments. Null where that is no segment's address.
    /// </summary>
    private static ulong? FirstSegment(IDataReader reader, ulong table, int kinds)
    {
        Span<byte> pointer = stackalloc byte[sizeof(ulong)];
        int at = (4 * kinds + sizeof(ulong) - 1) & ~(sizeof(ulong) - 1);
        if (reader.Read(table + (ulong)at, pointer) != pointer.Length)
            return null;
        ulong first = BinaryPrimitives.ReadUInt64LittleEndian(pointer);
        return first != 0 && IsUserSpace(first) && (first & (SegmentSize - 1)) == 0 ? first : null;
    }

    /// <summary>Whether a header with <paramref name="kinds"/> internal kinds holds a segment's pointer (or none) and a table's where they belong.</summary>
    private static bool IsLaidOut(byte[] header, int kinds)
    {
        ulong next = Pointer(header, NextSegmentOffset(kinds));
        ulong table = Pointer(header, NextSegmentOffset(kinds) + sizeof(ulong));
        return (next == 0 || (IsUserSpace(next) && (next & (SegmentSize - 1)) == 0)) && table != 0 && IsUserSpace(table) && table % sizeof(ulong) == 0;
    }

    // Addresses a 64-bit process's own memory can have: the lower half of the space.
    private static bool IsUserSpace(ulong address) => address < 1UL << 47;

    private static bool IsFree(byte[] segment, int index) =>
        (BinaryPrimitives.ReadUInt32LittleEndian(segment.AsSpan(FreeMaskOffset + index / 32 * 4)) & (1u << (index % 32))) != 0;

    private static ulong Pointer(byte[] bytes, int offset) => BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(offset));
}
