namespace LeakHunter.Inspector.Paths;

/// <summary>
/// The dominator tree of a heap graph seen from its roots, and the bytes each object retains: what would be freed if
/// that object alone were dropped. Computed with Lengauer and Tarjan's algorithm ("A Fast Algorithm for Finding
/// Dominators in a Flowgraph", 1979, the simple version with path compression) over the graph's flat arrays: a
/// virtual root stands above every GC root, and nodes are numbered in depth-first preorder. It is O(E log N) on any
/// heap; an iterative algorithm (Cooper, Harvey and Kennedy's) turned quadratic on heaps where one array and a
/// long linked chain both hold the same objects, as a timer queue does.
/// </summary>
internal sealed class Dominators
{
    /// <summary>The immediate dominator of each node; <see cref="VirtualRoot"/> for a node only the virtual root dominates, and -2 for an unreachable node.</summary>
    public int[] ImmediateDominator { get; }

    /// <summary>The bytes each node retains: its own size and that of every node it dominates; 0 for an unreachable node.</summary>
    public long[] Retained { get; }

    /// <summary>The arrays the computation held at its peak, in bytes: its cost per heap object, for the benchmark.</summary>
    public long MemoryBytes { get; }

    /// <summary>The node above every GC root.</summary>
    public const int VirtualRoot = -1;

    private const int Unreachable = -2;

    private Dominators(int[] immediateDominator, long[] retained, long memoryBytes)
    {
        ImmediateDominator = immediateDominator;
        Retained = retained;
        MemoryBytes = memoryBytes;
    }

    /// <summary>
    /// About what <see cref="Compute"/> holds at its peak for a graph of <paramref name="count"/> nodes and
    /// <paramref name="edges"/> references: its per-node arrays, and the predecessors and merged references, one per reference each.
    /// </summary>
    public static long BytesFor(long count, long edges) => count * (13L * sizeof(int) + 2L * sizeof(long)) + edges * 2L * sizeof(int);

    /// <param name="count">Nodes in the graph.</param>
    /// <param name="edgeStart">Node i's references are <paramref name="edges"/>[<paramref name="edgeStart"/>[i] .. <paramref name="edgeStart"/>[i + 1]].</param>
    /// <param name="edges">The referenced nodes.</param>
    /// <param name="sizes">Each node's size in bytes.</param>
    /// <param name="roots">The nodes the GC roots hold.</param>
    /// <param name="cancelled">Asked now and then; true stops the computation with <see cref="OperationCanceledException"/>.</param>
    /// <param name="extraEdges">References no field holds, by node (a dependent handle's key to its value), or null.</param>
    public static Dominators Compute(int count, int[] edgeStart, int[] edges, ObjectSizes sizes, IEnumerable<int> roots, Func<bool>? cancelled = null,
        IReadOnlyDictionary<int, int[]>? extraEdges = null)
    {
        bool merged = extraEdges is { Count: > 0 };
        if (merged)
            (edgeStart, edges) = WithExtraEdges(count, edgeStart, edges, extraEdges!);
        int[] rootNodes = roots.Where(r => r >= 0 && r < count).Distinct().ToArray();

        // Preorder numbers from 1; the virtual root is 1, the graph's nodes follow as 2..reached.
        int[] vertex = new int[count + 2];     // number -> node (the virtual root: -1)
        int[] number = new int[count];         // node -> number, or 0 when unreachable
        int[] parent = new int[count + 2];     // number -> its parent's number in the depth-first tree
        int reached = Preorder(count, edgeStart, edges, rootNodes, vertex, number, parent);
        Check(cancelled);

        // Predecessors by number, in the flat form of the graph itself; each GC root's predecessor is the virtual root.
        int[] predecessorStart = new int[reached + 2];
        foreach (int root in rootNodes)
            predecessorStart[number[root] + 1]++;
        for (int node = 0; node < count; node++)
        {
            if (number[node] == 0)
                continue;
            for (int e = edgeStart[node]; e < edgeStart[node + 1]; e++)
            {
                if (number[edges[e]] != 0)
                    predecessorStart[number[edges[e]] + 1]++;
            }
        }
        for (int v = 1; v <= reached; v++)
            predecessorStart[v + 1] += predecessorStart[v];
        int[] predecessors = new int[predecessorStart[reached + 1]];
        int[] filled = new int[reached + 1];
        foreach (int root in rootNodes)
            predecessors[predecessorStart[number[root]] + filled[number[root]]++] = 1;
        for (int node = 0; node < count; node++)
        {
            int from = number[node];
            if (from == 0)
                continue;
            for (int e = edgeStart[node]; e < edgeStart[node + 1]; e++)
            {
                int to = number[edges[e]];
                if (to != 0)
                    predecessors[predecessorStart[to] + filled[to]++] = from;
            }
        }
        filled = [];
        Check(cancelled);

        // Semidominators from the last number up, with a forest linked as it goes and evaluated with path compression.
        int[] semi = new int[reached + 1];
        int[] label = new int[reached + 1];
        int[] ancestor = new int[reached + 1];
        int[] idom = new int[reached + 1];
        int[] bucketHead = new int[reached + 1];
        int[] bucketNext = new int[reached + 1];
        for (int v = 1; v <= reached; v++)
        {
            semi[v] = v;
            label[v] = v;
        }
        var compressing = new Stack<int>();
        for (int w = reached; w >= 2; w--)
        {
            if ((w & 0xFFFF) == 0)
                Check(cancelled);
            for (int i = predecessorStart[w]; i < predecessorStart[w + 1]; i++)
            {
                int u = Eval(predecessors[i], ancestor, label, semi, compressing);
                if (semi[u] < semi[w])
                    semi[w] = semi[u];
            }
            bucketNext[w] = bucketHead[semi[w]];
            bucketHead[semi[w]] = w;
            int p = parent[w];
            ancestor[w] = p;
            for (int v = bucketHead[p]; v != 0; v = bucketNext[v])
            {
                int u = Eval(v, ancestor, label, semi, compressing);
                idom[v] = semi[u] < semi[v] ? u : p;
            }
            bucketHead[p] = 0;
        }
        for (int w = 2; w <= reached; w++)
        {
            if (idom[w] != semi[w])
                idom[w] = idom[idom[w]];
        }
        idom[1] = 1;

        // Each node's retained bytes: its own, plus its dominator subtree's, summed from the last number up (a
        // dominator is an ancestor in the depth-first tree, so its number is smaller).
        long[] retainedByNumber = new long[reached + 1];
        for (int w = reached; w >= 2; w--)
        {
            retainedByNumber[w] += sizes[vertex[w]];
            retainedByNumber[idom[w]] += retainedByNumber[w];
        }
        int[] immediateDominator = new int[count];
        long[] retained = new long[count];
        for (int node = 0; node < count; node++)
        {
            int w = number[node];
            immediateDominator[node] = w == 0 ? Unreachable : idom[w] == 1 ? VirtualRoot : vertex[idom[w]];
            retained[node] = w == 0 ? 0 : retainedByNumber[w];
        }
        // Per node: vertex, number, parent, semi, label, ancestor, idom, two buckets and the result's dominator (4 bytes
        // each), the two retained sums (8 each); per edge, a predecessor; and the merged edges, if any.
        long memoryBytes = count * (10L * sizeof(int) + 2L * sizeof(long)) + (long)predecessors.Length * sizeof(int)
            + (merged ? (edges.LongLength + count + 1) * sizeof(int) : 0);
        return new Dominators(immediateDominator, retained, memoryBytes);
    }

    /// <summary>The bytes that would be freed if every reference to <paramref name="nodes"/> from <paramref name="holder"/> were dropped.</summary>
    /// <remarks>
    /// The new entries of an accumulation point are usually each dominated by it alone, and then they retain their
    /// own subtrees; an entry also reachable another way retains nothing, which is right: dropping it frees nothing.
    /// </remarks>
    public long RetainedBy(int holder, IEnumerable<int> nodes) =>
        nodes.Distinct().Where(n => ImmediateDominator[n] == holder).Sum(n => Retained[n]);

    private static void Check(Func<bool>? cancelled)
    {
        if (cancelled?.Invoke() == true)
            throw new OperationCanceledException("The dominator computation was stopped at its time limit.");
    }

    /// <summary>
    /// The vertex of least semidominator on the forest path from <paramref name="v"/>'s root (excluded) to
    /// <paramref name="v"/>, compressing the path on the way, without recursion.
    /// </summary>
    private static int Eval(int v, int[] ancestor, int[] label, int[] semi, Stack<int> compressing)
    {
        if (ancestor[v] == 0)
            return v;
        // The nodes whose ancestor is not a forest root, from v up; then compressed from the top down.
        for (int x = v; ancestor[ancestor[x]] != 0; x = ancestor[x])
            compressing.Push(x);
        while (compressing.Count > 0)
        {
            int x = compressing.Pop();
            int a = ancestor[x];
            if (semi[label[a]] < semi[label[x]])
                label[x] = label[a];
            ancestor[x] = ancestor[a];
        }
        return label[v];
    }

    /// <summary>The flat edge arrays with the extra edges merged in, each node's after its own.</summary>
    private static (int[] EdgeStart, int[] Edges) WithExtraEdges(int count, int[] edgeStart, int[] edges, IReadOnlyDictionary<int, int[]> extraEdges)
    {
        int extra = extraEdges.Values.Sum(targets => targets.Length);
        int[] mergedStart = new int[count + 1];
        int[] merged = new int[edgeStart[count] + extra];
        int at = 0;
        for (int node = 0; node < count; node++)
        {
            mergedStart[node] = at;
            int own = edgeStart[node + 1] - edgeStart[node];
            Array.Copy(edges, edgeStart[node], merged, at, own);
            at += own;
            if (extraEdges.TryGetValue(node, out int[]? targets))
            {
                targets.CopyTo(merged, at);
                at += targets.Length;
            }
        }
        mergedStart[count] = at;
        return (mergedStart, merged);
    }

    /// <summary>
    /// Numbers the nodes reachable from <paramref name="roots"/> in depth-first preorder, the virtual root first (1),
    /// without recursion (a linked list of a million nodes would overflow any stack), and notes each one's parent in
    /// the depth-first tree. Returns the highest number given.
    /// </summary>
    private static int Preorder(int count, int[] edgeStart, int[] edges, int[] roots, int[] vertex, int[] number, int[] parent)
    {
        int next = 1;
        vertex[1] = VirtualRoot;
        var stack = new Stack<(int Node, int NextEdge)>();
        foreach (int root in roots)
        {
            if (number[root] != 0)
                continue;
            number[root] = ++next;
            vertex[next] = root;
            parent[next] = 1;
            stack.Push((root, edgeStart[root]));
            while (stack.Count > 0)
            {
                (int node, int edge) = stack.Pop();
                if (edge >= edgeStart[node + 1])
                    continue;
                stack.Push((node, edge + 1));
                int child = edges[edge];
                if (number[child] != 0)
                    continue;
                number[child] = ++next;
                vertex[next] = child;
                parent[next] = number[node];
                stack.Push((child, edgeStart[child]));
            }
        }
        return next;
    }
}
