using LeakHunter.Census;

namespace LeakHunter.Inspector.Paths;

/// <summary>
/// What each cause keeps alive: the bytes that would be freed if its accumulation point dropped its new entries,
/// from the dominator tree of the whole heap seen from the same roots the paths were searched from.
/// </summary>
internal static class RetainedSizes
{
    /// <summary>
    /// Gives each cause the bytes its new entries retain, on one of its signatures. An entry is the object a traced
    /// path reaches just past the accumulation point (a list's array slot, an event's handler); it counts when the
    /// accumulation point's object dominates it, so an entry something else also holds frees nothing and counts
    /// nothing, and an entry inside another entry's subtree (a linked chain's later nodes) is counted once, in the
    /// subtree it lies in. The objects up to the accumulation point are the structure entries pile up in, never an
    /// entry, even when one is new (a list's array replaced by a bigger one). Each signature's sample estimates the whole: its entries' bytes, scaled up as its instances
    /// are. Signatures that pile up at the same accumulation point (an event's handlers, their targets, the targets'
    /// buffers) reach the same entries, so only one estimate among them counts, the entries' own signature's when
    /// there is one; the rest carry 0.
    /// </summary>
    /// <param name="graph">The heap graph the paths were traced on.</param>
    /// <param name="roots">The roots the paths were searched from.</param>
    /// <param name="signatures">The signatures and their traced paths, as the kept nodes of each.</param>
    /// <param name="numbered">The same signatures with their causes' numbers, in the same order.</param>
    /// <param name="cancelled">True once the explanation's time limit has passed.</param>
    /// <param name="fits">Whether the inspector may take this many more bytes; when not, <see cref="RegionTooLargeException"/>.</param>
    /// <returns>
    /// The signatures with <see cref="LeakPath.RetainedBytes"/> set for those in a cause, or null when the time limit
    /// stopped the computation; and the memory the dominator tree took.
    /// </returns>
    public static (List<LeakPath>? Leaks, long MemoryBytes) Measure(HeapGraph graph, List<NamedRoot> roots, List<(LeakPath Leak, List<int[]> Paths)> signatures, List<LeakPath> numbered,
        Func<bool> cancelled, Func<long, bool> fits)
    {
        if (numbered.All(l => l.Cause == CauseNumber.None))
            return (numbered, 0);
        var entriesOf = numbered.Select((leak, i) => leak.Cause == CauseNumber.None ? [] : Entries(signatures[i].Paths, leak.AccumulationPoint)).ToArray();
        // Only the entries and the accumulation points holding them are asked about: the dominators of what they alone hold.
        var chosen = entriesOf.SelectMany(e => e.Keys.Concat(e.Values)).Where(n => n >= 0).ToHashSet();
        RetainedRegion dominators;
        try
        {
            var hidden = graph.HiddenEdges.ToDictionary(e => e.Key, e => e.Value.Select(edge => edge.Target).ToArray());
            dominators = RetainedRegion.Compute(graph.References, graph.Sizes, hidden, roots.Select(r => r.Node), chosen, cancelled, fits);
        }
        catch (OperationCanceledException)
        {
            return (null, 0);
        }

        var retained = new long[numbered.Count];
        foreach (IGrouping<int, int> cause in Enumerable.Range(0, numbered.Count).Where(i => numbered[i].Cause != CauseNumber.None).GroupBy(i => numbered[i].Cause))
        {
            var allEntries = cause.SelectMany(i => entriesOf[i].Keys).ToHashSet();
            // The accumulation point's own objects are no entries: a list's array that was replaced by a bigger one
            // is a signature of its own, ending where the others pile up, and it dominates the old entries too.
            var structure = cause.SelectMany(i => signatures[i].Paths.SelectMany(p => p.Take(numbered[i].AccumulationPoint + 1))).ToHashSet();
            var ancestors = new FirstMarkedAncestor(dominators, allEntries.Concat(cause.SelectMany(i => entriesOf[i].Values)).Where(n => n >= 0).ToHashSet());
            var estimate = cause.ToDictionary(i => i, i =>
            {
                long traced = entriesOf[i].Where(e => !structure.Contains(e.Key) && HeldOnlyThrough(ancestors, allEntries, e.Key, e.Value))
                    .Sum(e => dominators.Retained(e.Key));
                return (long)Math.Round(traced * (double)numbered[i].Instances / Math.Max(1, signatures[i].Paths.Count));
            });
            foreach (IGrouping<string, int> samePoint in cause.GroupBy(i => PointKey(numbered[i])))
            {
                // The entries' own signature counts them exactly; a signature of what hangs deeper (a handler's target)
                // shares its instances with siblings (a document's two pages) by a sample's split, which errs.
                int[] ofEntries = samePoint.Where(i => signatures[i].Paths.All(p => p.Length == numbered[i].AccumulationPoint + 2)).ToArray();
                int best = ofEntries.Length > 0 ? ofEntries.MaxBy(i => estimate[i]) : samePoint.MaxBy(i => signatures[i].Paths.Count);
                retained[best] = estimate[best];
            }
        }
        return (numbered.Select((leak, i) => leak.Cause == CauseNumber.None ? leak : leak with { RetainedBytes = retained[i] }).ToList(), dominators.MemoryBytes);
    }

    /// <summary>Each path's entry, and the accumulation point's object that holds it (the virtual root for a path without one).</summary>
    private static Dictionary<int, int> Entries(List<int[]> paths, int point)
    {
        var entries = new Dictionary<int, int>();
        foreach (int[] path in paths)
        {
            bool hasPoint = point >= 0 && point + 1 < path.Length;
            entries.TryAdd(hasPoint ? path[point + 1] : path[^1], hasPoint ? path[point] : Dominators.VirtualRoot);
        }
        return entries;
    }

    /// <summary>The root and steps up to the accumulation point: signatures that share it pile up in the same place.</summary>
    private static string PointKey(LeakPath leak)
    {
        int upTo = leak.AccumulationPoint >= 0 ? leak.AccumulationPoint + 1 : leak.Steps.Count;
        return $"{leak.RootKind}|{leak.RootName}|{string.Join("|", leak.Steps.Take(upTo).Select(s => s.Type + "." + s.Field))}";
    }

    /// <summary>
    /// Whether <paramref name="holder"/> dominates <paramref name="entry"/> before any other entry does: dropping
    /// the holder's new entries then frees it, and it is not inside another entry's subtree, which counts it already.
    /// </summary>
    private static bool HeldOnlyThrough(FirstMarkedAncestor ancestors, HashSet<int> entries, int entry, int holder)
    {
        for (int above = ancestors.Above(entry); above >= 0; above = ancestors.Above(above))
        {
            if (above == holder)
                return true;
            if (entries.Contains(above))
                return false;
            // Another accumulation point of the same cause: this entry's own may be further up.
        }
        return holder == Dominators.VirtualRoot;
    }

    /// <summary>
    /// The nearest marked node strictly above a node in the dominator tree, remembered for every node passed on the
    /// way: a timer queue's chain makes the tree thousands of nodes deep, and a walk per entry would cross it each time.
    /// </summary>
    private sealed class FirstMarkedAncestor(RetainedRegion dominators, HashSet<int> marked)
    {
        private readonly Dictionary<int, int> _known = new();

        /// <returns>The marked node, or a negative value when none is above <paramref name="node"/>.</returns>
        public int Above(int node)
        {
            var passed = new List<int>();
            int above = dominators.ImmediateDominator(node);
            int found;
            while (true)
            {
                if (above < 0)
                {
                    found = above;
                    break;
                }
                if (marked.Contains(above))
                {
                    found = above;
                    break;
                }
                if (_known.TryGetValue(above, out found))
                    break;
                passed.Add(above);
                above = dominators.ImmediateDominator(above);
            }
            // Every node passed has the same nearest marked node above it.
            foreach (int n in passed)
                _known[n] = found;
            return found;
        }
    }
}
