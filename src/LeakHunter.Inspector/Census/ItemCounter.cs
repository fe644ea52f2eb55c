using System.Buffers.Binary;
using LeakHunter.Census;
using Microsoft.Diagnostics.Runtime;

namespace LeakHunter.Inspector.Census;

/// <summary>
/// How many items a collection of value types holds, read from its own fields. Such a collection's items are no objects
/// of their own: a <c>Channel&lt;int&gt;</c> nobody reads, or a <c>List&lt;Guid&gt;</c> that gains an item per call, keeps
/// its object counts flat while its array doubles now and then. Its items, counted as a type of their own (named by
/// <see cref="ItemCounts"/>), grow by one a call like any leak's objects.
/// </summary>
/// <remarks>
/// Only collections whose storage holds no references are counted: the items of any other are objects the census
/// counts already, or hold some.
/// </remarks>
/// <param name="CountAt">Where the count is, from the object's start.</param>
/// <param name="MinusAt">Where a count to take from it is (free entries), or -1.</param>
/// <param name="HeadAt">Where a queue segment's head position is, to take from its tail (the count), or -1.</param>
/// <param name="FrozenAt">Where a queue segment's flag that it is full and frozen is, or -1.</param>
/// <param name="MaskAt">Where a queue segment's slot mask (its length less one) is, or -1.</param>
internal readonly record struct ItemCounter(int CountAt, int MinusAt, int HeadAt, int FrozenAt, int MaskAt)
{
    /// <summary>The bytes from the object's start that hold every field read.</summary>
    public int Span => Math.Max(Math.Max(CountAt, MinusAt), Math.Max(HeadAt, Math.Max(FrozenAt, MaskAt))) + sizeof(int);

    /// <summary>The items in the object whose first <see cref="Span"/> bytes are <paramref name="bytes"/>.</summary>
    public long Items(ReadOnlySpan<byte> bytes)
    {
        long items = Int(bytes, CountAt);
        if (MinusAt >= 0)
            items -= Int(bytes, MinusAt);
        if (HeadAt >= 0)
        {
            items -= Int(bytes, HeadAt);
            // A full segment is frozen by moving its tail on by twice its length.
            if (FrozenAt >= 0 && bytes[FrozenAt] != 0)
                items -= 2L * (Int(bytes, MaskAt) + 1);
        }
        return Math.Max(0, items);
    }

    private static int Int(ReadOnlySpan<byte> bytes, int at) => BinaryPrimitives.ReadInt32LittleEndian(bytes[at..]);

    // The collections of the base class library, by their generic definitions' names: where each keeps its count, and
    // the array its items live in.
    private static readonly (string Prefix, string Count, string? Minus, string Storage)[] s_collections =
    [
        ("System.Collections.Generic.List<", "_size", null, "_items"),
        ("System.Collections.Generic.Queue<", "_size", null, "_array"),
        ("System.Collections.Generic.Stack<", "_size", null, "_array"),
        ("System.Collections.Generic.Deque<", "_size", null, "_array"),
        ("System.Collections.Generic.PriorityQueue<", "_size", null, "_nodes"),
        ("System.Collections.Generic.HashSet<", "_count", "_freeCount", "_entries"),
        ("System.Collections.Generic.Dictionary<", "_count", "_freeCount", "_entries"),
    ];

    private const string QueueSegment = "System.Collections.Concurrent.ConcurrentQueueSegment<";

    /// <summary>How to count the items of <paramref name="type"/>, or null where it is no collection of value types counted here.</summary>
    public static ItemCounter? For(ClrType type)
    {
        string? name = type.Name;
        if (name is null || type.IsArray || !name.EndsWith('>'))
            return null;
        const int ObjectHeader = sizeof(ulong);
        if (name.StartsWith(QueueSegment, StringComparison.Ordinal))
        {
            // Head and tail are positions that only grow, kept apart on cache lines of their own.
            if (!HoldsNoReferences(type, "_slots") || type.GetFieldByName("_headAndTail") is not { } positions || positions.Type is not { } padded
                || padded.GetFieldByName("Head") is not { } head || padded.GetFieldByName("Tail") is not { } tail
                || type.GetFieldByName("_frozenForEnqueues") is not { } frozen || type.GetFieldByName("_slotsMask") is not { } mask)
                return null;
            return new ItemCounter(ObjectHeader + positions.Offset + tail.Offset, -1, ObjectHeader + positions.Offset + head.Offset, ObjectHeader + frozen.Offset, ObjectHeader + mask.Offset);
        }
        foreach ((string prefix, string count, string? minus, string storage) in s_collections)
        {
            if (!name.StartsWith(prefix, StringComparison.Ordinal))
                continue;
            if (!HoldsNoReferences(type, storage) || type.GetFieldByName(count) is not { } counted)
                return null;
            ClrInstanceField? free = minus is null ? null : type.GetFieldByName(minus);
            if (minus is not null && free is null)
                return null;
            return new ItemCounter(ObjectHeader + counted.Offset, free is null ? -1 : ObjectHeader + free.Offset, -1, -1, -1);
        }
        return null;
    }

    // A field type ClrMD could not resolve (a shared generic's T[], an array type not loaded) has no MethodTable and
    // reads as holding no references: only an array type the runtime has, of elements with no references, counts.
    private static bool HoldsNoReferences(ClrType type, string storage) =>
        type.GetFieldByName(storage)?.Type is { IsArray: true, ContainsPointers: false, ComponentSize: > 0 } array && array.MethodTable != 0;
}
