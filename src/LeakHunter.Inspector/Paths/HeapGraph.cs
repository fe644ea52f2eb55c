using LeakHunter.Inspector.Census;
using Microsoft.Diagnostics.Runtime;

namespace LeakHunter.Inspector.Paths;

/// <summary>
/// Every object on the heap and the references between them, as flat arrays sized from a first pass: node i is the
/// i-th object in address order (<see cref="IndexOf"/>, <see cref="AddressOf"/>), its type index is
/// <see cref="Types"/>[i], and its references are <see cref="ReferencesOf"/>(i). About 15 bytes per object and 4 per
/// reference, where a dictionary of boxed objects would take hundreds; the references live in native memory, freed
/// when the graph is disposed.
/// </summary>
internal sealed class HeapGraph : IDisposable
{
    private readonly ObjectIndex _index;
    private readonly GcLayouts _layouts;

    private HeapGraph(ObjectIndex index, GcLayouts layouts, int[] types, ObjectSizes sizes, long referenceSlots, ulong unreadableBytes)
    {
        _index = index;
        _layouts = layouts;
        UnreadableBytes = unreadableBytes;
        Types = types;
        Sizes = sizes;
        Count = types.Length;
        ReferenceSlots = referenceSlots;
    }

    public int[] Types { get; }

    /// <summary>Each object's size in bytes.</summary>
    public ObjectSizes Sizes { get; }

    public int Count { get; }

    /// <summary>The references the objects hold, null ones left out: at most this many edges, once linked.</summary>
    public long ReferenceSlots { get; }

    /// <summary>Every node's references; none until <see cref="Link"/>.</summary>
    public References References { get; private set; } = new(0, 0, growable: false);

    /// <summary>The nodes <paramref name="node"/> refers to through its fields.</summary>
    public ReadOnlySpan<int> ReferencesOf(int node) => References.Of(node);

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

    public long MemoryBytes => _index.MemoryBytes + Types.Length * 4L + Sizes.MemoryBytes + References.MemoryBytes;

    /// <summary>The node of the object at <paramref name="address"/>, or -1 when no object starts there.</summary>
    public int IndexOf(ulong address) => _index.IndexOf(address);

    /// <summary>The address of the object of node <paramref name="node"/>.</summary>
    public ulong AddressOf(int node) => _index.AddressOf(node);

    /// <summary>Every object's address, in node order.</summary>
    public IEnumerable<ulong> Addresses() => _index.Addresses();

    /// <summary>
    /// Two walks of the heap, for a process held while they run: where the objects are, then what they are and their
    /// references at once. One walk fewer than <see cref="Nodes"/> and <see cref="Link"/> is worth more there than
    /// the references' array sized in advance, which grows by doubling instead.
    /// </summary>
    public static HeapGraph BuildWhileHeld(HeapScanner scanner, ClrRuntime runtime)
    {
        (ObjectIndex index, ulong unreadable) = Starts(scanner, runtime);
        var graph = new HeapGraph(index, new GcLayouts(runtime), new int[index.Count], new ObjectSizes(index.Count), referenceSlots: 0, unreadable);
        graph.LinkInto(scanner, runtime, new References(index.Count, index.Count, growable: true), fillNodes: true);
        return graph;
    }

    /// <summary>
    /// The first two walks: where every object starts, then each one's type and size and how many references it
    /// holds, into arrays of the size the first walk found. No references yet.
    /// </summary>
    public static HeapGraph Nodes(HeapScanner scanner, ClrRuntime runtime)
    {
        (ObjectIndex index, ulong unreadable) = Starts(scanner, runtime);
        var layouts = new GcLayouts(runtime);
        var nodes = new NodeCollector(layouts, index.Count);
        unreadable = Math.Max(unreadable, scanner.Walk(runtime, ref nodes));
        return new HeapGraph(index, layouts, nodes.Types, nodes.Sizes, nodes.ReferenceSlots.Count, unreadable);
    }

    /// <summary>The first walk: where every object starts.</summary>
    private static (ObjectIndex Index, ulong UnreadableBytes) Starts(HeapScanner scanner, ClrRuntime runtime)
    {
        ObjectIndex index = ObjectIndex.ForHeap(runtime);
        var starts = new StartCollector(index);
        ulong unreadable = scanner.Walk(runtime, ref starts);
        // A node's number is an int, as are the arrays of one entry per node: about 48 GB of the smallest objects.
        if (index.Objects > Array.MaxLength)
            throw new TooManyObjectsException(index.Objects);
        index.Seal();
        return (index, unreadable);
    }

    /// <summary>
    /// About what linking the nodes and searching the graph will take on top of the nodes: the references' starts,
    /// the references, and the search's parents, queue and marks.
    /// </summary>
    public long BytesToLinkAndSearch => Count * (sizeof(int) + 2L * sizeof(int) + 4L) + ReferenceSlots * sizeof(int);

    /// <summary>The third walk: every object's references, as node indices, and those no field holds.</summary>
    public void Link(HeapScanner scanner, ClrRuntime runtime) =>
        LinkInto(scanner, runtime, new References(Count, ReferenceSlots, growable: false), fillNodes: false);

    private void LinkInto(HeapScanner scanner, ClrRuntime runtime, References references, bool fillNodes)
    {
        References.Dispose();
        References = references;
        var edges = new EdgeCollector(_layouts, Count, _index, references, fillNodes ? Types : null, fillNodes ? Sizes : null);
        // The same heap, walked again: it can lose no more than the first walk did, unless it was read differently.
        UnreadableBytes = Math.Max(UnreadableBytes, scanner.Walk(runtime, ref edges));
        references.Finish();

        foreach (ClrHandle handle in runtime.EnumerateHandles())
        {
            if (handle.HandleKind == ClrHandleKind.Dependent)
                AddHiddenEdge(IndexOf(handle.Object.Address), IndexOf(handle.Dependent.Address), DependentHandleValue);
        }
        foreach ((int node, ulong methodTable) in edges.CollectibleObjects)
        {
            CollectibleOwner owner = _layouts.OwnerOf(methodTable);
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

    private readonly struct StartCollector(ObjectIndex index) : IObjectVisitor
    {
        public static bool NeedsWholeObject => false;

        public void Visit(ulong address, ulong methodTable, int typeIndex, ulong size, ReadOnlySpan<byte> objectBytes) => index.Add(address);
    }

    private struct NodeCollector(GcLayouts layouts, int count) : IObjectVisitor
    {
        public readonly int[] Types = new int[count];
        public readonly ObjectSizes Sizes = new(count);
        public readonly ReferenceCounter ReferenceSlots = new();
        private int _node;

        public static bool NeedsWholeObject => true;

        public void Visit(ulong address, ulong methodTable, int typeIndex, ulong size, ReadOnlySpan<byte> objectBytes)
        {
            // The walks read the same image, so they see the same objects; a walk that saw more than the first is cut short.
            if (_node == Types.Length)
                return;
            Types[_node] = typeIndex;
            Sizes[_node] = (uint)Math.Min(size, uint.MaxValue);
            _node++;
            if (layouts.Get(methodTable, out _) is GcLayout layout)
                layout.Walk(objectBytes, (int)size, ref ReferenceSlots.Sink);
        }
    }

    /// <summary>Counts the references a walk finds that are not null.</summary>
    private sealed class ReferenceCounter
    {
        public Counter Sink;

        public long Count => Sink.Count;

        public struct Counter : IReferenceSink
        {
            public long Count;

            public void Add(ulong target, int offset)
            {
                if (target != 0)
                    Count++;
            }
        }
    }

    private struct EdgeCollector(GcLayouts layouts, int count, ObjectIndex index, References references, int[]? types, ObjectSizes? sizes) : IObjectVisitor
    {
        /// <summary>The objects of collectible types, which also keep their type's loader allocator alive.</summary>
        public readonly List<(int Node, ulong MethodTable)> CollectibleObjects = new();
        private int _node;

        public static bool NeedsWholeObject => true;

        public void Visit(ulong address, ulong methodTable, int typeIndex, ulong size, ReadOnlySpan<byte> objectBytes)
        {
            if (_node == count)
                return;
            references.StartNode(_node);
            types?[_node] = typeIndex;
            sizes?[_node] = (uint)Math.Min(size, uint.MaxValue);
            GcLayout? layout = layouts.Get(methodTable, out bool collectible);
            if (collectible)
                CollectibleObjects.Add((_node, methodTable));
            _node++;
            if (layout is null)
                return;
            var sink = new ReferenceSink(index, references);
            layout.Walk(objectBytes, (int)size, ref sink);
        }
    }

    /// <summary>A reference's node, into the references; references to no object of the heap are left out.</summary>
    private readonly struct ReferenceSink(ObjectIndex index, References references) : IReferenceSink
    {
        public void Add(ulong target, int offset)
        {
            int node = index.IndexOf(target);
            if (node >= 0)
                references.Add(node);
        }
    }

    public void Dispose() => References.Dispose();
}

/// <summary>A heap with more objects than a graph can number (<see cref="Array.MaxLength"/>).</summary>
internal sealed class TooManyObjectsException(long objects)
    : Exception($"the heap's {objects:N0} objects are more than one graph can number ({Array.MaxLength:N0})")
{
    /// <summary>Objects on the heap.</summary>
    public long Objects { get; } = objects;
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
