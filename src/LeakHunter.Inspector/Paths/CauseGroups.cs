using LeakHunter.Census;

namespace LeakHunter.Inspector.Paths;

/// <summary>
/// Groups signatures into causes, on the objects themselves rather than their type names: one missing <c>-=</c>
/// keeps a delegate, its target and the target's buffers, each a signature of its own, but one owner holds them all.
/// </summary>
internal static class CauseGroups
{
    /// <summary>
    /// Two signatures are one cause when one's owner path (root to accumulation point) is where the other's path
    /// runs, when one's path passes through the other's new instances, or when one's new instance refers to the
    /// other's (an event source's dispatcher holding a listener that registered it). Paths no root holds, or only the
    /// finalizer queue, are part of no cause; nor are those a stack local holds through an object made since the mark
    /// (<paramref name="existed"/>): work in flight on some thread, which lets go when its method returns.
    /// </summary>
    /// <returns>
    /// The signatures, each with its cause's number (0 for the cause holding the most instances), or
    /// <see cref="CauseNumber.None"/>.
    /// </returns>
    public static List<LeakPath> Assign(HeapGraph graph, List<(LeakPath Leak, List<int[]> Paths)> signatures, bool[]? existed)
    {
        int count = signatures.Count;
        var set = new int[count];
        for (int i = 0; i < count; i++)
            set[i] = i;
        bool[] explainable = signatures.Select(s => s.Leak.RootKind switch
        {
            RootKindCode.Unknown or RootKindCode.FinalizerQueue => false,
            RootKindCode.Stack => existed is null || existed[s.Paths[0][0]],
            _ => true,
        }).ToArray();

        // A thread started per call and never ended is one owner, whatever its stack holds: the same code's threads are one cause.
        foreach (IGrouping<string, int> threads in Enumerable.Range(0, count).Where(i => signatures[i].Leak.RootKind == RootKindCode.Thread)
            .GroupBy(i => signatures[i].Leak.RootName, StringComparer.Ordinal))
        {
            foreach (int i in threads)
                Union(set, i, threads.First());
        }

        var signatureOfInstance = new Dictionary<int, int>();
        for (int i = 0; i < count; i++)
        {
            if (explainable[i])
            {
                foreach (int[] path in signatures[i].Paths)
                    signatureOfInstance.TryAdd(path[^1], i);
            }
        }

        for (int a = 0; a < count; a++)
        {
            if (!explainable[a])
                continue;
            int[] ownerA = Owner(signatures[a]);
            for (int b = a + 1; b < count; b++)
            {
                if (explainable[b] && (StartsWith(signatures[b].Paths[0], ownerA) || StartsWith(signatures[a].Paths[0], Owner(signatures[b]))))
                    Union(set, a, b);
            }
            foreach (int[] path in signatures[a].Paths)
            {
                for (int i = 0; i < path.Length - 1; i++)
                {
                    if (signatureOfInstance.TryGetValue(path[i], out int holder))
                        Union(set, a, holder);
                }
                int leaf = path[^1];
                foreach (int target in graph.ReferencesOf(leaf))
                {
                    if (signatureOfInstance.TryGetValue(target, out int referred))
                        Union(set, a, referred);
                }
            }
        }

        // Numbered by the instances each cause holds, most first, so the numbers read in the report's order.
        var numbers = Enumerable.Range(0, count).Where(i => explainable[i])
            .GroupBy(i => Find(set, i))
            .OrderByDescending(g => g.Sum(i => signatures[i].Leak.Instances)).ThenBy(g => g.Key)
            .Select((g, number) => (g.Key, number))
            .ToDictionary(p => p.Key, p => p.number);
        return signatures.Select((s, i) => s.Leak with { Cause = explainable[i] ? numbers[Find(set, i)] : CauseNumber.None }).ToList();
    }

    /// <summary>The nodes from the root to the accumulation point, or the whole path when there is none.</summary>
    private static int[] Owner((LeakPath Leak, List<int[]> Paths) signature)
    {
        int[] path = signature.Paths[0];
        int point = signature.Leak.AccumulationPoint;
        return point >= 0 && point < path.Length ? path[..(point + 1)] : path;
    }

    private static bool StartsWith(int[] path, int[] prefix) =>
        prefix.Length <= path.Length && path.AsSpan(0, prefix.Length).SequenceEqual(prefix);

    private static int Find(int[] set, int i)
    {
        while (set[i] != i)
            i = set[i] = set[set[i]];
        return i;
    }

    private static void Union(int[] set, int a, int b) => set[Find(set, a)] = Find(set, b);
}
