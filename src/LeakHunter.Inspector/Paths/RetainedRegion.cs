namespace LeakHunter.Inspector.Paths;

/// <summary>
/// The dominators of the one part of a heap graph that retained sizes need: the objects every path from the roots to
/// which passes through one of a few chosen nodes (a cause's entries and the accumulation points holding them).
/// The chosen nodes' dominators and retained bytes are the same as in the dominator tree of the whole heap, at the
/// cost of two bits per heap object and the dominator arrays of that part alone, where the whole tree takes about
/// 68 bytes per heap object.
/// </summary>
/// <remarks>
/// <para>
/// The outside is what the roots reach without passing a chosen node. What lies past the chosen nodes and outside
/// the outside (the region) is entered only through chosen nodes, and those a reference from the outside (or a root)
/// points to are entered first. The region's graph, with a virtual root above the chosen nodes entered first, has
/// the same dominators for each of its nodes as the whole heap: a path from a root to a region node is a path in the
/// outside, then a path in the region from a node entered first; so a region node lies on every path of the one
/// exactly when it lies on every path of the other. A node the region's virtual root dominates is dominated in the
/// whole heap by outside nodes only, none of them chosen.
/// </para>
/// <para>
/// A leak whose accumulation point is reached by much of the heap makes a large region; the region is counted first
/// and measured against the inspector's budget before its arrays are made.
/// </para>
/// </remarks>
internal sealed class RetainedRegion
{
    private readonly Dictionary<int, int> _localOf;
    private readonly int[] _nodeOf;
    private readonly Dominators _dominators;

    private RetainedRegion(Dictionary<int, int> localOf, int[] nodeOf, Dominators dominators, long memoryBytes)
    {
        _localOf = localOf;
        _nodeOf = nodeOf;
        _dominators = dominators;
        MemoryBytes = memoryBytes;
    }

    /// <summary>The memory the computation held at its peak, in bytes.</summary>
    public long MemoryBytes { get; }

    /// <summary>Objects in the region, the chosen nodes included.</summary>
    public int Count => _nodeOf.Length;

    /// <summary>
    /// The immediate dominator of <paramref name="node"/>, a node of the region: another region node, or
    /// <see cref="Dominators.VirtualRoot"/> when only objects outside the region dominate it (or -2 when no root reaches it).
    /// </summary>
    public int ImmediateDominator(int node)
    {
        int above = _dominators.ImmediateDominator[_localOf[node]];
        return above < 0 ? above : _nodeOf[above];
    }

    /// <summary>The bytes <paramref name="node"/>, a node of the region, retains: its own and those of every object it dominates.</summary>
    public long Retained(int node) => _dominators.Retained[_localOf[node]];

    /// <summary>
    /// The region past <paramref name="chosen"/> in a heap graph, seen from <paramref name="roots"/>, and its dominators.
    /// </summary>
    /// <param name="references">The graph's nodes and the references of each.</param>
    /// <param name="sizes">Each node's size in bytes.</param>
    /// <param name="extraEdges">References no field holds, by node (a dependent handle's key to its value), or null.</param>
    /// <param name="roots">The nodes the GC roots hold.</param>
    /// <param name="chosen">The nodes whose dominators and retained bytes are wanted.</param>
    /// <param name="cancelled">Asked now and then; true stops the computation with <see cref="OperationCanceledException"/>.</param>
    /// <param name="fits">Whether the bytes the region's dominators need may be taken; false stops the computation with <see cref="RegionTooLargeException"/>.</param>
    public static RetainedRegion Compute(References references, ObjectSizes sizes, IReadOnlyDictionary<int, int[]>? extraEdges,
        IEnumerable<int> roots, IReadOnlyCollection<int> chosen, Func<bool> cancelled, Func<long, bool> fits)
    {
        int count = references.Nodes;
        var graph = new Graph(references, extraEdges is { Count: > 0 } ? extraEdges : null);
        var isChosen = new NodeBits(count);
        foreach (int node in chosen)
            isChosen.Add(node);

        // The outside: reached from the roots without passing a chosen node. The chosen nodes it points to are entered first.
        var outside = new NodeBits(count);
        var enteredFirst = new HashSet<int>();
        var pending = new Stack<int>();
        foreach (int root in roots.Where(r => r >= 0 && r < count))
        {
            if (isChosen.Contains(root))
                enteredFirst.Add(root);
            else if (!outside.Contains(root))
            {
                outside.Add(root);
                pending.Push(root);
            }
        }
        long steps = 0;
        while (pending.Count > 0)
        {
            CheckNow(ref steps, cancelled);
            int node = pending.Pop();
            ReadOnlySpan<int> fields = graph.Fields(node);
            int[]? hidden = graph.Extra(node);
            for (int i = 0; i < fields.Length + (hidden?.Length ?? 0); i++)
            {
                int target = Graph.TargetAt(fields, hidden, i);
                if (isChosen.Contains(target))
                    enteredFirst.Add(target);
                else if (!outside.Contains(target))
                {
                    outside.Add(target);
                    pending.Push(target);
                }
            }
        }

        // The region: the chosen nodes and what they reach outside the outside, counted before anything is made for it.
        NodeBits inRegion = isChosen;
        var order = new List<int>(chosen.Count);
        foreach (int node in chosen.Distinct())
            pending.Push(node);
        long regionEdges = 0;
        while (pending.Count > 0)
        {
            CheckNow(ref steps, cancelled);
            int node = pending.Pop();
            order.Add(node);
            ReadOnlySpan<int> fields = graph.Fields(node);
            int[]? hidden = graph.Extra(node);
            for (int i = 0; i < fields.Length + (hidden?.Length ?? 0); i++)
            {
                int target = Graph.TargetAt(fields, hidden, i);
                if (outside.Contains(target))
                    continue;
                regionEdges++;
                if (!inRegion.Contains(target))
                {
                    inRegion.Add(target);
                    pending.Push(target);
                }
            }
        }
        long bytes = Dominators.BytesFor(order.Count, regionEdges) + order.Count * (long)(sizeof(int) + 24) + isChosen.MemoryBytes + outside.MemoryBytes;
        if (!fits(bytes))
            throw new RegionTooLargeException(order.Count, bytes);
        // The region's own graph is indexed as one array: past that, its dominators are left out as for want of memory.
        if (regionEdges > Array.MaxLength)
            throw new RegionTooLargeException(order.Count, (ulong)regionEdges);

        var localOf = new Dictionary<int, int>(order.Count);
        int[] nodeOf = order.ToArray();
        for (int local = 0; local < nodeOf.Length; local++)
            localOf[nodeOf[local]] = local;
        int[] localEdgeStart = new int[nodeOf.Length + 1];
        int[] localEdges = new int[checked((int)regionEdges)];
        var localSizes = new ObjectSizes(nodeOf.Length);
        int at = 0;
        for (int local = 0; local < nodeOf.Length; local++)
        {
            localEdgeStart[local] = at;
            localSizes[local] = sizes[nodeOf[local]];
            ReadOnlySpan<int> fields = graph.Fields(nodeOf[local]);
            int[]? hidden = graph.Extra(nodeOf[local]);
            for (int i = 0; i < fields.Length + (hidden?.Length ?? 0); i++)
            {
                int target = Graph.TargetAt(fields, hidden, i);
                if (!outside.Contains(target))
                    localEdges[at++] = localOf[target];
            }
        }
        localEdgeStart[nodeOf.Length] = at;
        Dominators dominators = Dominators.Compute(nodeOf.Length, localEdgeStart, localEdges, localSizes, enteredFirst.Select(n => localOf[n]), cancelled);
        return new RetainedRegion(localOf, nodeOf, dominators, bytes);
    }

    /// <summary>Asks <paramref name="cancelled"/> once every million steps.</summary>
    private static void CheckNow(ref long steps, Func<bool> cancelled)
    {
        if ((++steps & 0xFFFFF) == 0 && cancelled())
            throw new OperationCanceledException("The retained sizes were stopped at their time limit.");
    }

    /// <summary>The nodes a node refers to: its fields, then the references no field holds.</summary>
    private readonly record struct Graph(References References, IReadOnlyDictionary<int, int[]>? ExtraEdges)
    {
        public ReadOnlySpan<int> Fields(int node) => References.Of(node);

        public int[]? Extra(int node) => ExtraEdges?.GetValueOrDefault(node);

        public static int TargetAt(ReadOnlySpan<int> fields, int[]? extra, int i) => i < fields.Length ? fields[i] : extra![i - fields.Length];
    }
}

/// <summary>The region whose dominators retained sizes need is larger than the inspector may take for it, or than one array can index.</summary>
internal sealed class RegionTooLargeException : Exception
{
    /// <summary>A region whose dominators need more memory than the inspector may take.</summary>
    public RegionTooLargeException(int objects, long bytes)
        : base($"the dominators of the {objects:N0} objects the causes' entries hold need {MemoryBudget.Describe(bytes)}")
    {
        Objects = objects;
        Bytes = bytes;
    }

    /// <summary>A region with more references than one array can index.</summary>
    public RegionTooLargeException(int objects, ulong references)
        : base($"the {objects:N0} objects the causes' entries hold have {references:N0} references among them, more than the dominators' arrays can index ({Array.MaxLength:N0})")
    {
        Objects = objects;
        TooManyReferences = true;
    }

    /// <summary>Objects in the region.</summary>
    public int Objects { get; }

    /// <summary>The bytes its dominators need; 0 when <see cref="TooManyReferences"/>.</summary>
    public long Bytes { get; }

    /// <summary>Whether the region has more references than one array can index, whatever the memory.</summary>
    public bool TooManyReferences { get; }
}
