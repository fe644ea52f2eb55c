using LeakHunter.Inspector.Census;
using Microsoft.Diagnostics.Runtime;

namespace LeakHunter.Inspector.Paths;

/// <summary>
/// Every object on the heap and the references between them, as flat arrays: node i is the object at
/// <see cref="Addresses"/>[i], its type index is <see cref="Types"/>[i], and its references are
/// <see cref="Edges"/>[<see cref="EdgeStart"/>[i] .. <see cref="EdgeStart"/>[i + 1]]. About 30 bytes per object
/// where a dictionary of boxed objects would take hundreds.
/// </summary>
internal sealed class HeapGraph
{
    private HeapGraph(ulong[] addresses, int[] types, uint[] sizes, int count, ulong unreadableBytes)
    {
        UnreadableBytes = unreadableBytes;
        Addresses = addresses;
        Types = types;
        Sizes = sizes;
        Count = count;
    }

    public ulong[] Addresses { get; }

    public int[] Types { get; }

    /// <summary>Each object's size in bytes.</summary>
    public uint[] Sizes { get; }

    public int Count { get; }

    /// <summary>Where each node's references start in <see cref="Edges"/>; empty until <see cref="Link"/>.</summary>
    public int[] EdgeStart { get; private set; } = [];

    public int[] Edges { get; private set; } = [];

    /// <summary>Bytes of the heap the walks could not parse: objects there are missing from the graph.</summary>
    public ulong UnreadableBytes { get; private set; }

    /// <summary>
    /// References the GC follows that no field holds, each with what it is: a dependent handle's key to its value
    /// (<c>ConditionalWeakTable</c>), an object of a collectible type to its type's <c>LoaderAllocator</c>, and a
    /// <c>LoaderAllocator</c> to the <c>AssemblyLoadContext</c> the runtime keeps alive with it.
    /// </summary>
    public Dictionary<int, List<HiddenEdge>> HiddenEdges { get; } = new();

    /// <summary>Adds a reference no field holds; the first label given for a pair is kept.</summary>
    public void AddHiddenEdge(int from, int to, string field)
    {
        if (from < 0 || to < 0)
            return;
        if (!HiddenEdges.TryGetValue(from, out List<HiddenEdge>? edges))
            HiddenEdges[from] = edges = new List<HiddenEdge>();
        if (!edges.Exists(e => e.Target == to))
            edges.Add(new HiddenEdge(to, field));
    }

    /// <summary>The label of the hidden reference from <paramref name="from"/> to <paramref name="to"/>, or null when there is none.</summary>
    public string? HiddenField(int from, int to) =>
        HiddenEdges.TryGetValue(from, out List<HiddenEdge>? edges) ? edges.Find(e => e.Target == to).Field : null;

    public long MemoryBytes => Addresses.Length * 8L + Types.Length * 4L + Sizes.Length * 4L + EdgeStart.Length * 4L + Edges.Length * 4L;

    /// <summary>The node of the object at <paramref name="address"/>, or -1 when no object starts there.</summary>
    public int IndexOf(ulong address)
    {
        int index = Array.BinarySearch(Addresses, 0, Count, address);
        return index >= 0 ? index : -1;
    }

    /// <summary>Two walks of the heap: the first lists the objects, the second their references as node indices.</summary>
    public static HeapGraph Build(HeapScanner scanner, ClrRuntime runtime)
    {
        HeapGraph graph = Nodes(scanner, runtime);
        graph.Link(scanner, runtime);
        return graph;
    }

    /// <summary>The first walk: every object, its type and size; no references yet.</summary>
    public static HeapGraph Nodes(HeapScanner scanner, ClrRuntime runtime)
    {
        var nodes = new NodeCollector(new GrowableArray<ulong>(1 << 16), new GrowableArray<int>(1 << 16), new GrowableArray<uint>(1 << 16));
        ulong unreadable = scanner.Walk(runtime, ref nodes);
        return new HeapGraph(nodes.Addresses.Items, nodes.Types.Items, nodes.Sizes.Items, nodes.Addresses.Count, unreadable);
    }

    /// <summary>
    /// About what linking the nodes and searching the graph will take on top of the nodes: the references' starts,
    /// the references (three an object, more than most heaps have), and the search's parents, queue and marks.
    /// </summary>
    public long BytesToLinkAndSearch => Count * (sizeof(int) + 3L * sizeof(int) + 2L * sizeof(int) + 4L);

    /// <summary>The second walk: every object's references, as node indices, and those no field holds.</summary>
    public void Link(HeapScanner scanner, ClrRuntime runtime)
    {
        var layouts = new GcLayouts(runtime);
        var edges = new EdgeCollector(layouts, Addresses, Count);
        // The same heap, walked again: it can lose no more than the first walk did, unless it was read differently.
        UnreadableBytes = Math.Max(UnreadableBytes, scanner.Walk(runtime, ref edges));
        edges.Finish();
        EdgeStart = edges.EdgeStart;
        Edges = edges.Edges.Items;

        foreach (ClrHandle handle in runtime.EnumerateHandles())
        {
            if (handle.HandleKind == ClrHandleKind.Dependent)
                AddHiddenEdge(IndexOf(handle.Object.Address), IndexOf(handle.Dependent.Address), DependentHandleValue);
        }
        foreach ((int node, ulong methodTable) in edges.CollectibleObjects)
        {
            CollectibleOwner owner = layouts.OwnerOf(methodTable);
            int loaderAllocator = IndexOf(owner.LoaderAllocator);
            AddHiddenEdge(node, loaderAllocator, TypesLoaderAllocator);
            AddHiddenEdge(loaderAllocator, IndexOf(owner.Context), LoaderAllocatorsContext);
        }
    }

    /// <summary>The label of a reference a dependent handle holds.</summary>
    public const string DependentHandleValue = "(ConditionalWeakTable value)";

    /// <summary>The label of the reference an object of a collectible type holds to the loader allocator of its assembly.</summary>
    public const string TypesLoaderAllocator = "(its type's loader allocator)";

    /// <summary>The label of the reference a loader allocator holds to its AssemblyLoadContext, which cannot unload while it lives.</summary>
    public const string LoaderAllocatorsContext = "(its AssemblyLoadContext)";

    private struct NodeCollector(GrowableArray<ulong> addresses, GrowableArray<int> types, GrowableArray<uint> sizes) : IObjectVisitor
    {
        public readonly GrowableArray<ulong> Addresses = addresses;
        public readonly GrowableArray<int> Types = types;
        public readonly GrowableArray<uint> Sizes = sizes;

        public static bool NeedsWholeObject => false;

        public void Visit(ulong address, ulong methodTable, int typeIndex, ulong size, ReadOnlySpan<byte> objectBytes)
        {
            Addresses.Add(address);
            Types.Add(typeIndex);
            Sizes.Add((uint)Math.Min(size, uint.MaxValue));
        }
    }

    private struct EdgeCollector(GcLayouts layouts, ulong[] addresses, int count) : IObjectVisitor
    {
        public readonly GrowableArray<int> Edges = new(1 << 16);
        public readonly int[] EdgeStart = new int[count + 1];

        /// <summary>The objects of collectible types, which also keep their type's loader allocator alive.</summary>
        public readonly List<(int Node, ulong MethodTable)> CollectibleObjects = new();
        private int _node;

        public static bool NeedsWholeObject => true;

        public void Visit(ulong address, ulong methodTable, int typeIndex, ulong size, ReadOnlySpan<byte> objectBytes)
        {
            EdgeStart[_node] = Edges.Count;
            GcLayout? layout = layouts.Get(methodTable, out bool collectible);
            if (collectible)
                CollectibleObjects.Add((_node, methodTable));
            _node++;
            if (layout is null)
                return;
            var references = new ReferenceSink(Edges, addresses, count);
            layout.Walk(objectBytes, (int)size, ref references);
        }

        public void Finish()
        {
            for (int i = _node; i <= count; i++)
                EdgeStart[i] = Edges.Count;
        }
    }

    private readonly struct ReferenceSink(GrowableArray<int> edges, ulong[] addresses, int count) : IReferenceSink
    {
        public void Add(ulong target, int offset)
        {
            int index = Array.BinarySearch(addresses, 0, count, target);
            if (index >= 0)
                edges.Add(index);
        }
    }
}

/// <summary>An array that doubles as it fills; its <see cref="Items"/> beyond <see cref="Count"/> are unused.</summary>
internal sealed class GrowableArray<T>(int capacity)
{
    public T[] Items { get; private set; } = new T[capacity];

    public int Count { get; private set; }

    public void Add(T item)
    {
        if (Count == Items.Length)
        {
            T[] grown = GC.AllocateUninitializedArray<T>(Items.Length * 2);
            Array.Copy(Items, grown, Count);
            Items = grown;
        }
        Items[Count++] = item;
    }
}
