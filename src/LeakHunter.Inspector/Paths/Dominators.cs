namespace LeakHunter.Inspector.Paths;

/// <summary>
/// The dominator tree of a heap graph seen from its roots, and the bytes each object retains: what would be freed if
/// that object alone were dropped. Computed with Cooper, Harvey and Kennedy's iterative algorithm ("A Simple, Fast
/// Dominance Algorithm", 2001) over the graph's flat arrays: a virtual root stands above every GC root, nodes are
/// numbered in reverse postorder, and each node's immediate dominator is the meeting point of its predecessors'
/// until nothing changes.
/// </summary>
internal sealed class Dominators
{
    /// <summary>The immediate dominator of each node; <see cref="VirtualRoot"/> for a node only the virtual root dominates, and -2 for an unreachable node.</summary>
    public int[] ImmediateDominator { get; }

    /// <summary>The bytes each node retains: its own size and that of every node it dominates; 0 for an unreachable node.</summary>
    public long[] Retained { get; }

    /// <summary>The node above every GC root.</summary>
    public const int VirtualRoot = -1;

    private const int Unreachable = -2;

    private Dominators(int[] immediateDominator, long[] retained, long memoryBytes)
    {
        ImmediateDominator = immediateDominator;
        Retained = retained;
        MemoryBytes = memoryBytes;
    }

    /// <summary>The arrays the computation held at its peak, in bytes: its cost per heap object, for the benchmark.</summary>
    public long MemoryBytes { get; }

    /// <param name="count">Nodes in the graph.</param>
    /// <param name="edgeStart">Node i's references are <paramref name="edges"/>[<paramref name="edgeStart"/>[i] .. <paramref name="edgeStart"/>[i + 1]].</param>
    /// <param name="edges">The referenced nodes.</param>
    /// <param name="sizes">Each node's size in bytes.</param>
    /// <param name="roots">The nodes the GC roots hold.</param>
    /// <param name="cancelled">Asked now and then; true stops the computation with <see cref="OperationCanceledException"/>.</param>
    /// <param name="extraEdges">References no field holds, by node (a dependent handle's key to its value), or null.</param>
    public static Dominators Compute(int count, int[] edgeStart, int[] edges, uint[] sizes, IEnumerable<int> roots, Func<bool>? cancelled = null,
        IReadOnlyDictionary<int, int[]>? extraEdges = null)
    {
        bool merged = extraEdges is { Count: > 0 };
        if (merged)
            (edgeStart, edges) = WithExtraEdges(count, edgeStart, edges, extraEdges!);

        // Reverse postorder from the virtual root (position 0); the graph's nodes follow as 1..reached.
        int[] order = new int[count + 1];          // position -> node (+1, so the virtual root is 0)
        int[] position = new int[count];           // node -> position, or 0 when unreachable
        int reached = Postorder(count, edgeStart, edges, roots.Where(r => r >= 0 && r < count).Distinct().ToArray(), order, position);

        // Predecessors by position, in the flat form of the graph itself.
        int[] predecessorStart = new int[reached + 2];
        for (int node = 0; node < count; node++)
        {
            if (position[node] == 0)
                continue;
            for (int e = edgeStart[node]; e < edgeStart[node + 1]; e++)
            {
                if (position[edges[e]] != 0)
                    predecessorStart[position[edges[e]] + 1]++;
            }
        }
        bool[] isRoot = new bool[reached + 1];
        foreach (int root in roots)
        {
            if (root >= 0 && root < count && position[root] != 0)
                isRoot[position[root]] = true;
        }
        for (int p = 1; p <= reached; p++)
            predecessorStart[p + 1] += predecessorStart[p] + (isRoot[p] ? 1 : 0);
        int[] predecessors = new int[predecessorStart[reached + 1]];
        int[] filled = new int[reached + 1];
        for (int p = 1; p <= reached; p++)
        {
            if (isRoot[p])
                predecessors[predecessorStart[p] + filled[p]++] = 0;
        }
        for (int node = 0; node < count; node++)
        {
            int from = position[node];
            if (from == 0)
                continue;
            for (int e = edgeStart[node]; e < edgeStart[node + 1]; e++)
            {
                int to = position[edges[e]];
                if (to != 0)
                    predecessors[predecessorStart[to] + filled[to]++] = from;
            }
        }

        // Positions are reverse postorder: a dominator always has a smaller position than the nodes it dominates.
        int[] idom = new int[reached + 1];
        Array.Fill(idom, -1);
        idom[0] = 0;
        for (bool changed = true; changed;)
        {
            changed = false;
            if (cancelled?.Invoke() == true)
                throw new OperationCanceledException("The dominator computation was stopped at its time limit.");
            for (int p = 1; p <= reached; p++)
            {
                int best = -1;
                for (int i = predecessorStart[p]; i < predecessorStart[p + 1]; i++)
                {
                    int predecessor = predecessors[i];
                    if (idom[predecessor] < 0)
                        continue;
                    best = best < 0 ? predecessor : Intersect(idom, best, predecessor);
                }
                if (best >= 0 && idom[p] != best)
                {
                    idom[p] = best;
                    changed = true;
                }
            }
        }

        // Each node's retained bytes: its own, plus its dominator subtree's, summed from the last position up.
        long[] retainedByPosition = new long[reached + 1];
        for (int p = reached; p >= 1; p--)
        {
            retainedByPosition[p] += sizes[order[p] - 1];
            retainedByPosition[idom[p]] += retainedByPosition[p];
        }
        int[] immediateDominator = new int[count];
        long[] retained = new long[count];
        for (int node = 0; node < count; node++)
        {
            int p = position[node];
            immediateDominator[node] = p == 0 ? Unreachable : idom[p] == 0 ? VirtualRoot : order[idom[p]] - 1;
            retained[node] = p == 0 ? 0 : retainedByPosition[p];
        }
        // Per node: order, position, postorder, idom, filled, predecessor starts and the result's dominator (4 bytes
        // each), the two retained sums (8 each) and a visited flag; per edge, a predecessor; and the merged edges, if any.
        long memoryBytes = count * (7L * sizeof(int) + 2L * sizeof(long) + 1) + (long)predecessors.Length * sizeof(int)
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

    private static int Intersect(int[] idom, int a, int b)
    {
        while (a != b)
        {
            while (a > b)
                a = idom[a];
            while (b > a)
                b = idom[b];
        }
        return a;
    }

    /// <summary>
    /// Numbers the nodes reachable from <paramref name="roots"/> in reverse postorder, from 1, without recursion (a
    /// linked list of a million nodes would overflow any stack). Returns how many were reached.
    /// </summary>
    private static int Postorder(int count, int[] edgeStart, int[] edges, int[] roots, int[] order, int[] position)
    {
        var postorder = new int[count];
        int finished = 0;
        var visited = new bool[count];
        var stack = new Stack<(int Node, int NextEdge)>();
        // Roots in reverse, so the first root's subtree gets the smallest positions.
        for (int r = roots.Length - 1; r >= 0; r--)
        {
            if (visited[roots[r]])
                continue;
            visited[roots[r]] = true;
            stack.Push((roots[r], edgeStart[roots[r]]));
            while (stack.Count > 0)
            {
                (int node, int next) = stack.Pop();
                if (next < edgeStart[node + 1])
                {
                    stack.Push((node, next + 1));
                    int child = edges[next];
                    if (!visited[child])
                    {
                        visited[child] = true;
                        stack.Push((child, edgeStart[child]));
                    }
                }
                else
                {
                    postorder[finished++] = node;
                }
            }
        }
        for (int i = 0; i < finished; i++)
        {
            int node = postorder[finished - 1 - i];
            order[i + 1] = node + 1;
            position[node] = i + 1;
        }
        return finished;
    }
}
