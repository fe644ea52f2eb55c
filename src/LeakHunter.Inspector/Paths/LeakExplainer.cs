using System.Diagnostics;
using LeakHunter.Census;
using LeakHunter.Inspector.Census;
using Microsoft.Diagnostics.Runtime;

namespace LeakHunter.Inspector.Paths;

/// <summary>
/// Explains the new instances of growing types: one breadth-first search from all roots at once gives every object
/// its shortest strong path; the paths of the new instances are then named, grouped into signatures, and their
/// accumulation point marked. No search runs per instance, so 1,000 instances cost about what one does.
/// </summary>
internal static class LeakExplainer
{
    private const int NoParent = -1;

    // Naming a referrer's field reads the referrer; past this many, the counts stop and the report says so.
    private const int MaxReferrersNamed = 100_000;

    /// <summary>
    /// Counts only the objects some root reaches: a census of a process whose garbage has not been collected, where
    /// LeakHunter cannot force a GC (the command-line tool's view of another process). What only the finalizer queue
    /// holds is garbage too, waiting for its finalizer: a server that closes a connection per request has hundreds of
    /// sockets there at any time, and they are not the server's to keep.
    /// </summary>
    public static ScanTotals ReachableCensus(ClrRuntime runtime, HeapScanner scanner, Histogram histogram)
    {
        using HeapGraph graph = BuildWhileHeld(scanner, runtime);
        // A root that cannot be read lowers the counts, so the reply says how many could not, and why.
        var failures = new FailureTally();
        List<NamedRoot> roots = RootFinder.Find(runtime, graph, failures).Where(r => r.Kind != RootKindCode.FinalizerQueue).ToList();
        (int[] parent, _, _) = Search(graph, roots, Stopwatch.StartNew(), TimeSpan.MaxValue, finalizable: [], existed: null);
        histogram.EnsureCapacity(scanner.TypeCount);
        for (int node = 0; node < graph.Count; node++)
        {
            if (parent[node] != NoParent)
                histogram.Add(graph.Types[node], graph.Sizes[node]);
        }
        return new ScanTotals { Objects = histogram.TotalObjects, Bytes = histogram.TotalBytes, UnreadableBytes = graph.UnreadableBytes, Warnings = failures.Warnings() };
    }

    /// <summary>
    /// Explains the instances of the marked types that are not at a marked address: the new ones. A type that grows
    /// in bytes only (a collection's array, replaced only when it doubles) may have none; it is then told by the cause
    /// whose path it lies on, never by a guess such as its largest instance.
    /// </summary>
    public static Explanation Explain(ClrRuntime runtime, HeapScanner scanner, TypeTable types, HeapMark mark,
        int maxInstancesPerType, TimeSpan timeLimit) =>
        Explain(runtime, scanner, types, graph => mark.RoutesThroughExisting ? NotAtMarkedAddresses(graph, mark) : FindNewInstances(graph, mark.ByType), mark, maxInstancesPerType, timeLimit);

    /// <summary>The instances of the marked types at an address no object had at the mark: made since, or moved since.</summary>
    private static Dictionary<int, List<int>> NotAtMarkedAddresses(HeapGraph graph, HeapMark mark)
    {
        bool[]? existed = mark.ExistedIn(graph);
        var result = mark.ByType.Keys.ToDictionary(t => t, _ => new List<int>());
        for (int node = 0; node < graph.Count; node++)
        {
            if (result.TryGetValue(graph.Types[node], out List<int>? nodes) && existed?[node] != true)
                nodes.Add(node);
        }
        return result;
    }

    /// <summary>
    /// Explains the objects that weak GC handles still point at: objects a test expected to be collected. A weak
    /// handle is never followed as a root, so it does not hold what it watches.
    /// </summary>
    public static Explanation ExplainWatched(ClrRuntime runtime, HeapScanner scanner, TypeTable types, IReadOnlyList<ulong> weakHandles, TimeSpan timeLimit) =>
        Explain(runtime, scanner, types, graph => WatchedObjects(runtime, graph, weakHandles), HeapMark.None, weakHandles.Count, timeLimit);

    private static Dictionary<int, List<int>> WatchedObjects(ClrRuntime runtime, HeapGraph graph, IReadOnlyList<ulong> weakHandles)
    {
        var byType = new Dictionary<int, List<int>>();
        Span<byte> slot = stackalloc byte[sizeof(ulong)];
        foreach (ulong handle in weakHandles)
        {
            if (runtime.DataTarget.DataReader.Read(handle, slot) != slot.Length)
                continue;
            int node = graph.IndexOf(System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(slot));
            if (node < 0)
                continue;
            if (!byType.TryGetValue(graph.Types[node], out List<int>? nodes))
                byType[graph.Types[node]] = nodes = new List<int>();
            nodes.Add(node);
        }
        return byType;
    }

    private static Explanation Explain(ClrRuntime runtime, HeapScanner scanner, TypeTable types, Func<HeapGraph, Dictionary<int, List<int>>> selectTargets,
        HeapMark mark, int maxInstancesPerType, TimeSpan timeLimit)
    {
        var clock = Stopwatch.StartNew();
        var failures = new FailureTally();
        (int objects, int newInstances) = (0, 0);
        try
        {
            // The graph's arrays come in steps of hundreds of megabytes on a big heap: what the walks before them left
            // (the census's and the mark's buffers, the reader's caches) is given back first, so the peak is the graph and
            // the image, not those plus the garbage the GC has not yet decommitted.
            ReleaseGarbage();
            using HeapGraph graph = HeapGraph.Nodes(scanner, runtime);
            objects = graph.Count;
            Dictionary<int, List<int>> newByType = selectTargets(graph);
            Dictionary<int, long> itemsGained = AddGrowingCollections(runtime, scanner, graph, newByType, mark);
            newInstances = newByType.Values.Sum(nodes => nodes.Count);
            long available = MemoryBudget.AvailableBytes(graph.BytesToLinkAndSearch);
            if (graph.BytesToLinkAndSearch > available)
            {
                return Unexplained(objects, newInstances, failures,
                    $"no paths were traced: the heap's {objects:N0} objects need {MemoryBudget.Describe(graph.BytesToLinkAndSearch)} more memory for the graph of their " +
                    $"references and its search, and the inspector has {MemoryBudget.Describe(available)} to spare; the counts stand, and a machine with more free memory can trace the paths");
            }
            graph.Link(scanner, runtime);
            ReleaseGarbage();
            return Explain(runtime, types, graph, newByType, itemsGained, newInstances, mark, maxInstancesPerType, timeLimit, clock, failures);
        }
        catch (TooManyObjectsException e)
        {
            return Unexplained(objects, newInstances, failures, $"no paths were traced: {e.Message}; the counts stand");
        }
        catch (OutOfMemoryException)
        {
            return Unexplained(objects, newInstances, failures,
                $"no paths were traced: the inspector ran out of memory for the graph of the heap's {(objects > 0 ? $"{objects:N0} " : "")}objects; the counts stand, and a machine with more free memory can trace the paths");
        }
    }

    /// <summary>
    /// For each type to explain that counts a collection's items: the collections whose items grew since the mark (or
    /// that hold any, where the mark did not count them), most grown first, leaving out those that gained a tenth of
    /// the most grown one's or less: the runtime's own lists that took an item meanwhile are not the leak's.
    /// </summary>
    /// <returns>The items each of those types gained in the collections chosen.</returns>
    private static Dictionary<int, long> AddGrowingCollections(ClrRuntime runtime, HeapScanner scanner, HeapGraph graph, Dictionary<int, List<int>> newByType, HeapMark mark)
    {
        var itemsOf = new Dictionary<int, int>();
        foreach (int type in newByType.Keys)
        {
            if (scanner.CountsItemsOf(type, out int collection))
                itemsOf[collection] = type;
        }
        var gainedByType = new Dictionary<int, long>();
        if (itemsOf.Count == 0)
            return gainedByType;
        var grown = itemsOf.Values.ToDictionary(t => t, _ => new List<(int Node, long Items)>());
        IDataReader reader = runtime.DataTarget.DataReader;
        for (int node = 0; node < graph.Count; node++)
        {
            if (!itemsOf.TryGetValue(graph.Types[node], out int items))
                continue;
            ulong address = graph.AddressOf(node);
            long gained = (scanner.ItemsIn(reader, address) ?? 0) - (mark.ItemsAtMark?.GetValueOrDefault(address) ?? 0);
            if (gained > 0)
                grown[items].Add((node, gained));
        }
        foreach ((int items, List<(int Node, long Items)> collections) in grown)
        {
            long most = collections.Count == 0 ? 0 : collections.Max(c => c.Items);
            var chosen = collections.Where(c => c.Items * 10 > most).OrderByDescending(c => c.Items).ToList();
            newByType[items] = chosen.Select(c => c.Node).ToList();
            gainedByType[items] = chosen.Sum(c => c.Items);
        }
        return gainedByType;
    }

    private static HeapGraph BuildWhileHeld(HeapScanner scanner, ClrRuntime runtime)
    {
        try
        {
            return HeapGraph.BuildWhileHeld(scanner, runtime);
        }
        catch (TooManyObjectsException e)
        {
            throw new InspectorException(InspectorStatus.Failed, $"Only the objects roots reach cannot be counted: {e.Message}. Count every object instead: a census that is not reachable-only (`census` without `--reachable`).");
        }
    }

    /// <summary>A full collection of the inspector's own heap that decommits what it frees; a few milliseconds, as its heap is a few large arrays.</summary>
    private static void ReleaseGarbage() => GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);

    /// <summary>An explanation with no paths, that says why: the counts of new instances stand.</summary>
    private static Explanation Unexplained(int objects, int newInstances, FailureTally failures, string reason) =>
        new([], [], newInstances, reason, objects, 0, failures.Warnings());

    private static Explanation Explain(ClrRuntime runtime, TypeTable types, HeapGraph graph, Dictionary<int, List<int>> newByType, Dictionary<int, long> itemsGained, int newInstances,
        HeapMark mark, int maxInstancesPerType, TimeSpan timeLimit, Stopwatch clock, FailureTally failures)
    {
        if (graph.UnreadableBytes > 0)
            failures.Note($"{graph.UnreadableBytes:N0} bytes of the heap could not be parsed, so the objects there are missing from the paths and referrer counts.");
        List<NamedRoot> roots = RootFinder.Find(runtime, graph, failures, mark.StackSlots);
        // Not the root of one node: the search gives it the finalizable objects that nothing else reaches.
        roots.Add(new NamedRoot(RootKindCode.FinalizerQueue, "registered for finalization: the next GC queues it for its finalizer (one that resurrects it keeps it forever)", -1));
        LoadedAssemblies.AddRoots(runtime, graph, types, roots, newByType.Values.SelectMany(nodes => nodes));
        bool[]? existed = mark.ExistedIn(graph);
        // A frame that has run since the mark holds what it held then, wherever a compacting GC has moved it since.
        foreach (NamedRoot root in roots.Where(r => r.HeldSinceMark))
            existed?[root.Node] = true;
        // A check's paths take the plain shortest route: preferring objects that existed at the mark sent a new timer's
        // path the long way round its queue's doubly linked chain, through whatever old object reached the chain's tail.
        // A watch's paths prefer them: a live server's in-flight connections lead to its singletons too.
        (int[] parent, bool complete, long searchBytes) = Search(graph, roots, clock, timeLimit, FinalizableNodes(runtime, graph), mark.RoutesThroughExisting ? existed : null);
        string? partial = complete ? null : $"the search from the roots stopped at its time limit ({timeLimit.TotalSeconds:0.#} s); paths not reached show as unknown";
        OwnThreads(runtime, graph, roots, existed);

        var namer = new StepNamer(runtime, graph, failures);
        var signatures = new List<(LeakPath Leak, List<int[]> Paths)>();
        var referrers = new List<TypeReferrerCounts>();
        foreach ((int type, List<int> instances) in newByType)
        {
            List<int> sample = Sample(instances, maxInstancesPerType);
            // A collection's items are told by the collections that gained them: as many as they gained, and no bytes of their own.
            bool items = itemsGained.TryGetValue(type, out long gained);
            signatures.AddRange(Signatures(graph, types, roots, parent, namer, types[type], sample, items ? gained : instances.Count, existed, bytesOfInstances: !items));
            (List<ReferrerCount> from, bool capped) = CountReferrers(graph, namer, types, instances, complete ? parent : null);
            referrers.Add(new TypeReferrerCounts(types[type], from));
            if (capped)
                failures.Note($"Referrers of {types[type]} were counted for its first {MaxReferrersNamed:N0} references only, of its {instances.Count:N0} new instances: the counts are a sample, not totals.");
            if (clock.Elapsed > timeLimit)
            {
                partial ??= $"naming the paths stopped at the time limit ({timeLimit.TotalSeconds:0.#} s); some growing types are not explained";
                break;
            }
        }
        // The search's arrays and queues come on top of the graph itself.
        long graphBytes = graph.MemoryBytes + searchBytes;
        if (failures.UnreadDynamicStatics.Unread > 0 && signatures.Any(s => s.Leak.RootName == RootNames.RuntimeHandleTable))
        {
            failures.Note($"The statics of {failures.UnreadDynamicStatics.Unread:N0} of {failures.UnreadDynamicStatics.Of:N0} dynamic assemblies were not read " +
                "(one assembly generated per call makes reading them all too slow), so a path that ends at the runtime's own handle table may be one of their statics.");
        }
        List<LeakPath> leaks = CauseGroups.Assign(graph, signatures, existed);
        // What each cause keeps alive, from the dominators of the same graph and roots; not past the time limit.
        var retainedClock = Stopwatch.StartNew();
        (List<LeakPath>? measured, long retainedSizesBytes) = (null, 0);
        try
        {
            (measured, retainedSizesBytes) = RetainedSizes.Measure(graph, roots, signatures, leaks, () => clock.Elapsed > timeLimit,
                bytes => bytes <= MemoryBudget.AvailableBytes(bytes));
            if (measured is null)
                partial ??= $"the retained sizes were not measured: the time limit ({timeLimit.TotalSeconds:0.#} s) passed while computing them";
        }
        catch (RegionTooLargeException e)
        {
            partial ??= e.TooManyReferences
                ? $"the retained sizes were not measured: {e.Message}"
                : $"the retained sizes were not measured: {e.Message}, and the inspector has {MemoryBudget.Describe(MemoryBudget.AvailableBytes(e.Bytes))} to spare";
        }
        catch (OutOfMemoryException)
        {
            partial ??= $"the retained sizes were not measured: the inspector ran out of memory for the dominators of what the causes' entries hold";
        }
        double retainedSizesMs = retainedClock.Elapsed.TotalMilliseconds;
        leaks = measured ?? leaks;
        return new Explanation(leaks.OrderByDescending(l => l.Instances).ToList(), referrers, newInstances, partial, graph.Count, graphBytes, failures.Warnings())
        {
            RetainedSizesMs = retainedSizesMs,
            RetainedSizesBytes = retainedSizesBytes,
        };
    }

    /// <summary>
    /// The roots of threads started since the mark that still run, and are not the thread pool's: such a thread is
    /// the owner of what its stack and thread statics hold, not work in flight. Each becomes a <see cref="RootKindCode.Thread"/>
    /// root named by the code it runs, so the threads one call after another started are one owner. Only known when the
    /// mark saw every object: a thread whose <c>Thread</c> object was not there then was started since.
    /// </summary>
    private static void OwnThreads(ClrRuntime runtime, HeapGraph graph, List<NamedRoot> roots, bool[]? existed)
    {
        if (existed is null || !roots.Any(r => r.ThreadAddress != 0))
            return;
        Dictionary<ulong, ClrObject> threadObjects = ThreadStacks.ThreadObjects(runtime);
        var owners = new Dictionary<ulong, PathThread?>();
        foreach (ClrThread thread in runtime.Threads.Where(t => t.IsAlive))
        {
            PathThread? owner = null;
            if (threadObjects.TryGetValue(thread.Address, out ClrObject obj) && graph.IndexOf(obj.Address) is int node and >= 0 && !existed[node])
                owner = ThreadStacks.Owner(thread, ThreadStacks.ThreadName(obj));
            owners[thread.Address] = owner;
        }
        for (int i = 0; i < roots.Count; i++)
        {
            if (roots[i].ThreadAddress != 0 && owners.GetValueOrDefault(roots[i].ThreadAddress) is { } owner)
            {
                string name = (owner.Name is null ? "thread" : $"thread \"{owner.Name}\"") + $" started at {owner.StartMethod}";
                roots[i] = roots[i] with { Kind = RootKindCode.Thread, Name = name, Thread = owner };
            }
        }
    }

    private static Dictionary<int, List<int>> FindNewInstances(HeapGraph graph, IReadOnlyDictionary<int, ulong[]> markedByType)
    {
        var result = markedByType.Keys.ToDictionary(t => t, _ => new List<int>());
        int node = 0;
        foreach (ulong address in graph.Addresses())
        {
            if (markedByType.TryGetValue(graph.Types[node], out ulong[]? marked) && Array.BinarySearch(marked, address) < 0)
                result[graph.Types[node]].Add(node);
            node++;
        }
        return result;
    }

    /// <summary>Evenly spread over the address range, so one burst of allocations does not stand for all of them.</summary>
    private static List<int> Sample(List<int> instances, int max)
    {
        if (instances.Count <= max)
            return instances;
        var sample = new List<int>(max);
        for (int i = 0; i < max; i++)
            sample.Add(instances[(int)((long)i * instances.Count / max)]);
        return sample;
    }

    /// <summary>
    /// Objects registered for finalization. One that no root reaches is still kept: the next GC queues it for its
    /// finalizer, so the finalizer queue is what holds it (a finalizer that resurrects its object holds it forever).
    /// </summary>
    private static List<int> FinalizableNodes(ClrRuntime runtime, HeapGraph graph)
    {
        var nodes = new List<int>();
        foreach (ClrObject obj in runtime.Heap.EnumerateFinalizableObjects())
        {
            int node = graph.IndexOf(obj.Address);
            if (node >= 0)
                nodes.Add(node);
        }
        return nodes;
    }

    /// <summary>
    /// Searches from every root at once, in the roots' order; a root's own node gets parent -2 - rootIndex. When it is
    /// known which objects existed at the mark, a path runs through as few objects made since as it can, and is the
    /// shortest among those: the owner a user can act on is the long-lived one, not an in-flight request or socket
    /// that happens to lead to it sooner. Otherwise it is a plain breadth-first search.
    /// </summary>
    private static (int[] Parent, bool Complete, long MemoryBytes) Search(HeapGraph graph, List<NamedRoot> roots, Stopwatch clock, TimeSpan timeLimit, List<int> finalizable,
        bool[]? existed)
    {
        var parent = new int[graph.Count];
        Array.Fill(parent, NoParent);
        // Objects made since the mark on the best path found so far, kept only when it is known which existed then
        // (otherwise every path costs nothing, and the search is a plain breadth-first one). A node is settled, one
        // bit of its own, when taken from its level's queue.
        int[]? madeSince = existed is null ? null : new int[graph.Count];
        var settled = new NodeBits(graph.Count);
        // A plain breadth-first search queues each node once, all in its one level; a search that counts the objects
        // made since queues the dearer ones in the next level, and may queue a node again when a cheaper path reaches it.
        var level = new NodeQueue(graph.Count);
        var nextLevel = new NodeQueue(madeSince is null ? 0 : graph.Count / 4);
        int visited = 0;

        // Waves, each searched to the end before the next is seeded: what statics reach is theirs; then what thread
        // statics and handles reach, even when a stack local (a test's own variable) also holds it; then what only
        // stacks reach; then what nothing reaches but the finalization list.
        // When it is known which objects existed at the mark, statics and stacks are one wave: a server's long-lived
        // owner may be reachable only from its main thread's stack, and a static's way to it through a request in
        // flight must not win just for being a static.
        // A static outlives every thread: what it reaches is its own even when a thread's current task reaches it
        // sooner (a running task's timer sits in the same doubly linked timer chain as every leaked timer).
        int finalizerRoot = roots.Count - 1;
        // The runtime's immortal objects come with the statics, ahead of them: a static that points at one merely shares it.
        IEnumerable<(int Node, int Root)> Seeds(Func<NamedRoot, bool> wanted) => roots.Select((r, i) => (r.Node, i)).Where(s => s.Node >= 0 && wanted(roots[s.i]));
        IEnumerable<(int Node, int Root)> statics = Seeds(r => r.Immortal || r.Kind == RootKindCode.StaticField);
        IEnumerable<(int Node, int Root)> threadsAndHandles = Seeds(r => !r.Immortal && r.Kind is not (RootKindCode.StaticField or RootKindCode.Stack));
        IEnumerable<(int Node, int Root)> stacks = Seeds(r => r.Kind == RootKindCode.Stack);
        var waves = existed is null
            ? new List<IEnumerable<(int Node, int Root)>> { statics, threadsAndHandles, stacks, finalizable.Select(node => (node, finalizerRoot)) }
            : new List<IEnumerable<(int Node, int Root)>> { statics.Concat(threadsAndHandles).Concat(stacks), finalizable.Select(node => (node, finalizerRoot)) };
        foreach (IEnumerable<(int Node, int Root)> wave in waves)
        {
            var seeded = new List<(int Node, int Root)>();
            foreach ((int node, int root) in wave)
            {
                if (parent[node] != NoParent)
                    continue;
                parent[node] = -2 - root;
                madeSince?[node] = IsNew(node) ? 1 : 0;
                seeded.Add((node, root));
            }
            // Roots whose object existed at the mark are searched first, in the roots' order.
            foreach ((int node, _) in seeded.Where(s => MadeSince(s.Node) == 0))
                level.Enqueue(node);
            foreach ((int node, _) in seeded.Where(s => MadeSince(s.Node) != 0))
                nextLevel.Enqueue(node);
            while (level.Count > 0 || nextLevel.Count > 0)
            {
                if (level.Count == 0)
                    (level, nextLevel) = (nextLevel, level);
                int node = level.Dequeue();
                if (Settled(node))
                    continue;
                settled.Add(node);
                if ((++visited & 0xFFFF) == 0 && clock.Elapsed > timeLimit)
                    return (parent, false, MemoryBytes());
                foreach (int target in graph.ReferencesOf(node))
                    Reach(node, target);
                if (graph.HiddenEdges.TryGetValue(node, out List<HiddenEdge>? hidden))
                {
                    foreach (HiddenEdge edge in hidden)
                        Reach(node, edge.Target);
                }
            }
        }
        return (parent, true, MemoryBytes());

        bool IsNew(int node) => existed is not null && !existed[node];

        int MadeSince(int node) => madeSince?[node] ?? 0;

        bool Settled(int node) => settled.Contains(node);

        // The search's own arrays, and its two queues.
        long MemoryBytes() => parent.LongLength * sizeof(int) + (madeSince?.LongLength ?? 0) * sizeof(int) + settled.MemoryBytes +
            (existed?.LongLength ?? 0) + level.MemoryBytes + nextLevel.MemoryBytes;

        void Reach(int from, int target)
        {
            if (Settled(target))
                return;
            int cost = MadeSince(from) + (IsNew(target) ? 1 : 0);
            if (parent[target] != NoParent && cost >= MadeSince(target))
                return;
            parent[target] = from;
            madeSince?[target] = cost;
            (cost == MadeSince(from) ? level : nextLevel).Enqueue(target);
        }
    }

    private static IEnumerable<(LeakPath Leak, List<int[]> Paths)> Signatures(HeapGraph graph, TypeTable types, List<NamedRoot> roots, int[] parent, StepNamer namer, string typeName,
        List<int> sample, long totalInstances, bool[]? existed, bool bytesOfInstances = true)
    {
        var groups = new Dictionary<string, (RootKindCode Kind, string Root, List<PathStep> Steps, List<int[]> Paths)>();
        var threads = new Dictionary<string, HashSet<ulong>>(StringComparer.Ordinal);
        var threadOf = new Dictionary<string, PathThread>(StringComparer.Ordinal);
        foreach (int instance in sample)
        {
            var nodes = new List<int>();
            int node = instance;
            while (node >= 0)
            {
                nodes.Add(node);
                node = parent[node];
            }
            nodes.Reverse();
            (RootKindCode kind, string rootName) = node == NoParent
                ? (RootKindCode.Unknown, "unknown: no enumerated root reaches it (native code, or a runtime-internal reference)")
                : (roots[-2 - node].Kind, roots[-2 - node].Name);
            if (kind == RootKindCode.Unknown)
                nodes = [instance];

            List<PathStep> steps = CollapseRepeats(nodes.Select((n, i) => new PathStep(
                types[graph.Types[n]],
                i == 0 ? null : namer.FieldBetween(nodes[i - 1], n),
                namer.NoteFor(n))
            {
                Closer = namer.CloserOf(n),
                IsNew = existed is not null && !existed[n],
                OneShotDelayMs = namer.OneShotDelayOf(n),
            }).ToList(), nodes, out int[] keptNodes);
            string key = $"{kind}|{rootName}|{string.Join("|", steps.Select(s => s.Type + "." + s.Field))}";
            if (node != NoParent && roots[-2 - node].Thread is { } thread)
            {
                // Threads that run the same code are one owner: each call started one, and each holds its share.
                threadOf.TryAdd(key, thread);
                if (!threads.TryGetValue(key, out HashSet<ulong>? seen))
                    threads[key] = seen = new HashSet<ulong>();
                seen.Add(roots[-2 - node].ThreadAddress);
            }
            if (!groups.TryGetValue(key, out var group))
                groups[key] = group = (kind, rootName, steps, new List<int[]>());
            group.Paths.Add(keptNodes);
        }

        // The sample stands for all the new instances: scale each signature's share up to the whole.
        foreach ((string key, (RootKindCode kind, string root, List<PathStep> steps, List<int[]> paths)) in groups)
        {
            double scale = (double)totalInstances / sample.Count;
            int instances = (int)Math.Min(int.MaxValue, Math.Round(paths.Count * scale));
            long bytes = bytesOfInstances ? (long)Math.Round(paths.Sum(p => (double)graph.Sizes[p[^1]]) * scale) : 0;
            PathThread? thread = threadOf.TryGetValue(key, out PathThread? owner) ? owner with { Threads = threads[key].Count } : null;
            int point = AccumulationPoint(graph, types, paths);
            List<PathStep> named = steps;
            // Where the new instances pile up in a dictionary, the shapes of its newest keys say whether each call adds a key.
            if (point >= 0 && point < steps.Count && (steps[point].Type.EndsWith("[]", StringComparison.Ordinal) || steps[point].Type.EndsWith("+Node", StringComparison.Ordinal)) && point < paths[0].Length
                && namer.KeyShapesOf(paths[0][point]) is { Count: > 0 } shapes)
            {
                named = [.. steps];
                named[point] = steps[point] with { KeyShapes = shapes };
            }
            yield return (new LeakPath(typeName, Math.Max(1, instances), kind, root, named, point) { Bytes = bytes, Thread = thread }, paths);
        }
    }

    /// <summary>
    /// A chain of objects of one type (a linked list's <c>_next</c>, a tree's children) collapses to its first
    /// object, so lists of any length, and the list's head itself, share one signature.
    /// </summary>
    private static List<PathStep> CollapseRepeats(List<PathStep> steps, List<int> nodes, out int[] keptNodes)
    {
        var kept = new List<PathStep>();
        var keptNodeList = new List<int>();
        for (int i = 0; i < steps.Count; i++)
        {
            bool continuesChain = kept.Count > 0 && i < steps.Count - 1 && steps[i].Type == kept[^1].Type;
            if (continuesChain)
            {
                // The next step hangs off the chain's last object, so that object's own note is the one that tells
                // what it is (a timer queue's entry for this timer, not for whichever timer heads the queue), and when it fires.
                string chain = $"a chain of these, linked by {steps[i].Field}";
                kept[^1] = kept[^1] with { Note = steps[i].Note is null ? chain : $"{steps[i].Note}; {chain}", OneShotDelayMs = steps[i].OneShotDelayMs };
                continue;
            }
            kept.Add(steps[i]);
            keptNodeList.Add(nodes[i]);
        }
        keptNodes = keptNodeList.ToArray();
        return kept;
    }

    /// <summary>
    /// The deepest object every path of a signature passes through: where the paths part, the references grow.
    /// A lone path has nothing to compare with; its last collection on the way (an array) stands in. When the paths
    /// part into a few shards that each gather many of them (the runtime's per-processor timer queues), the point is
    /// where each shard's paths part, if that is the same step in every shard that holds more than a few.
    /// </summary>
    private static int AccumulationPoint(HeapGraph graph, TypeTable types, List<int[]> paths)
    {
        int[] first = paths[0];
        if (paths.Count == 1)
        {
            for (int i = first.Length - 2; i >= 0; i--)
            {
                if (types[graph.Types[first[i]]].EndsWith(']'))
                    return i;
            }
            return first.Length >= 2 ? first.Length - 2 : -1;
        }

        int deepest = CommonPrefixEnd(graph, paths);
        int next = deepest + 1;
        if (deepest >= 0 && paths.All(p => p.Length > next + 1))
        {
            List<List<int[]>> groups = paths.GroupBy(p => p[next]).Select(g => g.ToList()).ToList();
            // A shard is many paths through one object; one group per path is plain parting, not sharding. A few
            // paths on their own (a timer made while the thread ran on another processor) do not outvote the shards.
            const int MinPathsPerShard = 4;
            List<List<int[]>> shards = groups.Where(g => g.Count >= MinPathsPerShard).ToList();
            if (groups.Count > 1 && shards.Count > 0 && 2 * shards.Sum(g => g.Count) >= paths.Count)
            {
                int[] points = shards.Select(g => CommonPrefixEnd(graph, g)).Distinct().ToArray();
                if (points.Length == 1 && points[0] > next)
                    return points[0];
            }
        }
        return deepest;
    }

    /// <summary>The deepest index every path shares, moved back to the first object of a chain of one type it lies in.</summary>
    private static int CommonPrefixEnd(HeapGraph graph, List<int[]> paths)
    {
        int[] first = paths[0];
        int deepest = -1;
        for (int i = 0; i < first.Length - 1; i++)
        {
            if (paths.All(p => p.Length > i + 1 && p[i] == first[i]))
                deepest = i;
            else
                break;
        }
        // Inside a chain of one type (a linked list), the new instances pile up on the whole chain: its first node is the point.
        while (deepest > 0 && graph.Types[first[deepest]] == graph.Types[first[deepest - 1]])
            deepest--;
        return deepest;
    }

    /// <summary>
    /// Who refers to the instances, by type and field. Only referrers some root reaches count, when the search
    /// finished: garbage not yet collected (an old array a list has outgrown) refers to them too, but holds nothing.
    /// </summary>
    /// <returns>The counts, and whether they stopped at <see cref="MaxReferrersNamed"/> with references left uncounted.</returns>
    private static (List<ReferrerCount> From, bool Capped) CountReferrers(HeapGraph graph, StepNamer namer, TypeTable types, List<int> instances, int[]? reached)
    {
        var wanted = new HashSet<int>(instances);
        var counts = new Dictionary<(string, string), int>();
        int named = 0;
        bool capped = false;
        for (int node = 0; node < graph.Count && !capped; node++)
        {
            if (reached is not null && reached[node] == NoParent)
                continue;
            foreach (int target in graph.ReferencesOf(node))
            {
                if (!wanted.Contains(target))
                    continue;
                if (named == MaxReferrersNamed)
                {
                    capped = true;
                    break;
                }
                var key = (types[graph.Types[node]], namer.FieldBetween(node, target));
                counts[key] = counts.GetValueOrDefault(key) + 1;
                named++;
            }
        }
        return (counts.OrderByDescending(c => c.Value).Select(c => new ReferrerCount(c.Key.Item1, c.Key.Item2, c.Value)).ToList(), capped);
    }
}
