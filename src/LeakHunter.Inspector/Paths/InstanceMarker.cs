using LeakHunter.Inspector.Census;
using Microsoft.Diagnostics.Runtime;

namespace LeakHunter.Inspector.Paths;

/// <summary>
/// Where the heap's objects are at the mark: the growing types' instances by type, and every object's address. The
/// process under test settles its heap without compacting before it asks for the explanation, so an object that was
/// here at the mark is at the same address then, and an address not marked is a new object.
/// </summary>
/// <param name="ByType">The marked types' instances, sorted by address.</param>
/// <param name="Everything">Where every object started, about a byte per object; null when the mark only names types (every instance counts as new).</param>
internal sealed record HeapMark(Dictionary<int, ulong[]> ByType, ObjectIndex? Everything)
{
    /// <summary>
    /// Whether paths go through objects that existed at the mark where they can (a watch of a live server, whose
    /// in-flight requests and sockets also lead to long-lived owners). A leak check takes the plain shortest route.
    /// </summary>
    public bool RoutesThroughExisting { get; init; }

    /// <summary>
    /// The items each collection held at the mark, where a marked type counts a collection's items: those whose items
    /// grew since are the ones to explain. Null when the mark only names types (every collection's items count as new).
    /// </summary>
    public IReadOnlyDictionary<ulong, long>? ItemsAtMark { get; init; }

    /// <summary>The stack slots at the mark, and the types of what they held; null when the mark only names types.</summary>
    public IReadOnlySet<StackSlot>? StackSlots { get; init; }

    public static HeapMark None { get; } = new(new Dictionary<int, ulong[]>(), null);

    /// <summary>This mark narrowed to <paramref name="typeIndices"/>, the marked types to explain; all of them when none are given.</summary>
    public HeapMark Only(IEnumerable<int> typeIndices)
    {
        var wanted = typeIndices.ToHashSet();
        return wanted.Count == 0 ? this : this with { ByType = ByType.Where(p => wanted.Contains(p.Key)).ToDictionary(p => p.Key, p => p.Value) };
    }

    /// <summary>For each node of <paramref name="graph"/>, whether its object existed at the mark; null when that is not known.</summary>
    public bool[]? ExistedIn(HeapGraph graph)
    {
        if (Everything is not { } everything)
            return null;
        var existed = new bool[graph.Count];
        int node = 0;
        foreach (ulong address in graph.Addresses())
            existed[node++] = everything.Contains(address);
        return existed;
    }
}

internal static class InstanceMarker
{
    public static HeapMark Mark(HeapScanner scanner, ClrRuntime runtime, IReadOnlyCollection<int> typeIndices)
    {
        var collections = new Dictionary<int, int>();
        foreach (int type in typeIndices)
        {
            if (scanner.CountsItemsOf(type, out int collection))
                collections[collection] = type;
        }
        var visitor = new Marker(typeIndices.ToDictionary(t => t, _ => new GrowableArray<ulong>(256)), ObjectIndex.ForHeap(runtime),
            new CollectionItems(scanner, runtime.DataTarget.DataReader, collections));
        scanner.Walk(runtime, ref visitor);
        visitor.Everything.Seal();
        return new HeapMark(visitor.ByType.ToDictionary(p => p.Key, p => Sorted(p.Value)), visitor.Everything)
        {
            StackSlots = RootFinder.StackSlots(runtime),
            ItemsAtMark = visitor.Items.AtMark,
        };
    }

    // The walk visits each segment in ascending order; segments themselves need not be, and the lookups search.
    private static ulong[] Sorted(GrowableArray<ulong> addresses)
    {
        ulong[] sorted = addresses.Items.AsSpan(0, addresses.Count).ToArray();
        for (int i = 1; i < sorted.Length; i++)
        {
            if (sorted[i] < sorted[i - 1])
            {
                Array.Sort(sorted);
                break;
            }
        }
        return sorted;
    }

    /// <summary>The collections whose items a mark counts, by their type index, and what each held.</summary>
    private sealed class CollectionItems(HeapScanner scanner, IDataReader reader, Dictionary<int, int> collections)
    {
        public Dictionary<ulong, long> AtMark { get; } = new();

        // Nearly every mark counts no items: its walk then pays one test per object, not a lookup.
        private readonly bool _any = collections.Count > 0;

        public void Visit(ulong address, int typeIndex)
        {
            if (_any && collections.ContainsKey(typeIndex))
                AtMark[address] = scanner.ItemsIn(reader, address) ?? 0;
        }
    }

    private readonly struct Marker(Dictionary<int, GrowableArray<ulong>> byType, ObjectIndex everything, CollectionItems items) : IObjectVisitor
    {
        public readonly Dictionary<int, GrowableArray<ulong>> ByType = byType;
        public readonly ObjectIndex Everything = everything;
        public readonly CollectionItems Items = items;

        public static bool NeedsWholeObject => false;

        public void Visit(ulong address, ulong methodTable, int typeIndex, ulong size, ReadOnlySpan<byte> objectBytes)
        {
            Everything.Add(address);
            if (ByType.TryGetValue(typeIndex, out GrowableArray<ulong>? addresses))
                addresses.Add(address);
            Items.Visit(address, typeIndex);
        }
    }
}
