using LeakHunter.Reports;
namespace LeakHunter.Analysis;

/// <summary>
/// Builds the report's causes from the signatures the inspector grouped (each signature's <see cref="LeakSignature.Cause"/>
/// is its group's number when it arrives), and ties every growing type to a cause or says why none explains it.
/// </summary>
internal static class LeakCauses
{
    /// <summary>A growing type's rate, per iteration for a check and per second for a watch.</summary>
    internal readonly record struct Growth(string Type, double Instances, double Bytes);

    internal sealed record Result(IReadOnlyList<LeakCause> Causes, IReadOnlyList<LeakSignature> Signatures, IReadOnlyList<UnexplainedGrowth> Unexplained);

    /// <param name="explanation">The signatures, numbered by the inspector's groups.</param>
    /// <param name="growth">The growing types' rates.</param>
    /// <param name="explainedSpan">
    /// Iterations (a check) or seconds (a watch) between the mark and the explanation, the unit the rates are in: each
    /// type's growth over that span is shared out among the causes that hold its new instances, and a cause that holds
    /// under a quarter of every type's measured rate is another thread's work, or objects a compacting GC moved, not
    /// the leak. Null when the span is not known: shares then follow the traced instances.
    /// </param>
    /// <param name="fragmentCalls">The calls the check's fragment makes, which the last resort's fix names; null where not known.</param>
    public static Result Build(LeakExplanation? explanation, IReadOnlyList<Growth> growth, double? explainedSpan = null, IReadOnlyList<FragmentCall>? fragmentCalls = null)
    {
        if (explanation is null)
            return new Result([], [], []);
        IReadOnlyList<LeakSignature> signatures = explanation.Leaks;
        LeakSignature[][] groups = signatures.Where(s => s.Cause is not null)
            .GroupBy(s => s.Cause!.Value)
            .Select(g => g.OrderByDescending(s => s.Instances).ToArray())
            .ToArray();

        var instancesByType = groups.SelectMany(g => g).GroupBy(s => s.Type, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Sum(s => (double)s.Instances), StringComparer.Ordinal);
        // A referrer type speaks for one cause only when its new instances are that cause's alone: an Object[] may be one
        // cause's invocation list and another's unrelated array.
        var causesPerType = groups.SelectMany(g => g.Select(s => s.Type).Distinct()).GroupBy(t => t, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        int[][] heldByGroup = groups.Select(members => HeldPerType(members, growth, explanation, causesPerType)).ToArray();
        // What a type grew by over the traced calls is shared out to the causes that hold most of it first: instances a
        // compacting GC moved since the mark look new too, and another cause's share of them is only what is left over.
        double[][] grownByGroup = explainedSpan is double tracedSpan
            ? ShareOut(heldByGroup, (g, t) => heldByGroup[g][t], growth.Select(type => type.Instances * tracedSpan).ToArray())
            : [];
        // The same for the bytes of a type that grows in bytes only: a list's array that a compacting GC moved looks as
        // new as one replaced by a bigger one, and only the bytes left after the cause that holds more come to it.
        long[][] heldBytesByGroup = groups.Select(members => growth.Select(type => members.Where(s => s.Type == type.Type).Sum(s => s.Bytes)).ToArray()).ToArray();
        double[][] bytesByGroup = explainedSpan is double bytesSpan
            ? ShareOut(heldByGroup, (g, t) => heldBytesByGroup[g][t], growth.Select(type => type.Bytes * bytesSpan).ToArray())
            : [];
        var kept = new List<(LeakSignature[] Members, List<CausedGrowth> Types)>();
        for (int g = 0; g < groups.Length; g++)
        {
            LeakSignature[] members = groups[g];
            var types = new List<CausedGrowth>();
            bool holdsItsShare = explainedSpan is null;
            for (int t = 0; t < growth.Count; t++)
            {
                Growth type = growth[t];
                int held = heldByGroup[g][t];
                if (held == 0)
                    continue;
                double instances = explainedSpan is double span
                    ? grownByGroup[g][t] / span
                    : type.Instances * Math.Min(1, held / instancesByType.GetValueOrDefault(type.Type, held));
                double bytes = type.Instances > 0 ? type.Bytes * instances / type.Instances : type.Bytes;
                // A type that grows in bytes only grows by replacing an instance: the cause holds its share when the new
                // instances it is given are as big as a share of the bytes the type gained over the same calls.
                holdsItsShare |= type.Instances > 0
                    ? instances >= MinShareOfGrowth * type.Instances
                    : explainedSpan is double traced && type.Bytes > 0 && bytesByGroup[g][t] >= MinShareOfGrowth * type.Bytes * traced;
                types.Add(new CausedGrowth(type.Type, held, instances, bytes));
            }
            if (holdsItsShare)
                kept.Add((members, types));
        }

        // A type that grew in bytes only and got no new instance (its array was not replaced while traced) is told by
        // the cause whose path it lies on: the accumulation point first, then anywhere on the way.
        var keptTypes = kept.SelectMany(k => k.Types).Select(t => t.Type).ToHashSet(StringComparer.Ordinal);
        foreach (Growth type in growth.Where(t => !keptTypes.Contains(t.Type)))
        {
            int carrier = kept.FindIndex(k => k.Members.Any(s => s.AccumulationPoint is int p && s.Path[p].Type == type.Type));
            if (carrier < 0)
                carrier = kept.FindIndex(k => k.Members.Any(s => s.Path.Take(s.Path.Count - 1).Any(step => step.Type == type.Type)));
            if (carrier >= 0)
                kept[carrier].Types.Add(new CausedGrowth(type.Type, 0, type.Instances, type.Bytes));
        }

        var built = new List<(LeakCause Cause, LeakSignature[] Members)>();
        foreach ((LeakSignature[] members, List<CausedGrowth> types) in kept)
        {
            types.Sort((a, b) => b.BytesPerIteration.CompareTo(a.BytesPerIteration));
            LeakSignature owner = Owner(members);
            // The idiom most of its new instances show, the more specific one on a tie: a System.Timers.Timer's own
            // objects name it where its cookie only reads as a timer, and a chain of timers whose traced sample began at
            // another test's Task.Delay does not outvote the timers, callbacks and owners that say what they are.
            // Within the idiom, the longest path words the fix best: it names the async method its state machine runs.
            // A context that cannot unload is the story whenever a path shows it, however few objects it has next to the
            // plugin's own: what the user must release is the reference into the context, and the fix names it.
            var decoded = members.Select(s => (Idiom: LeakIdioms.Decode(s.Root, s.Path, fragmentCalls), s.Instances, Length: s.Path.Count)).Where(d => d.Idiom.Name is not null).ToArray();
            // The last resort is what a path says when it says nothing more: a member whose path tells more (the keys its
            // dictionary gains) speaks for the cause, however many of its objects the others are.
            if (decoded.Any(d => d.Idiom.Name != LeakIdioms.Collection))
                decoded = decoded.Where(d => d.Idiom.Name != LeakIdioms.Collection).ToArray();
            LeakIdiom idiom = decoded.Where(d => d.Idiom.Name == LeakIdioms.UnloadableContext).OrderByDescending(d => d.Instances).Select(d => d.Idiom).FirstOrDefault()
                ?? decoded
                .GroupBy(d => d.Idiom.Name!, StringComparer.Ordinal)
                .OrderByDescending(g => g.Sum(d => (long)d.Instances)).ThenBy(g => LeakIdioms.Specificity(g.Key))
                .Select(g => g.OrderByDescending(d => d.Length).ThenByDescending(d => d.Instances).First().Idiom).FirstOrDefault()
                ?? LeakIdioms.Decode(owner.Root, owner.Path, fragmentCalls);
            int ownerLength = owner.AccumulationPoint is int point ? point + 1 : owner.Path.Count;
            LeakStep[] path = owner.Path.Take(ownerLength).ToArray();
            if (idiom.Name == LeakIdioms.Collection && LeakIdioms.FilledBy(owner.Root, path, fragmentCalls) is { } filledBy)
                idiom = idiom with { Hint = idiom.Hint + filledBy };
            built.Add((new LeakCause(owner.Root, path, owner.AccumulationPoint, types,
                types.Sum(t => t.InstancesPerIteration), types.Sum(t => t.BytesPerIteration), idiom.Hint, idiom.Name)
            {
                Id = CauseIds.Of(owner.Root, path),
                RetainedBytes = RetainedAtPoint(members, owner.Root, path),
            }, members));
        }
        built.Sort((a, b) => b.Cause.BytesPerIteration.CompareTo(a.Cause.BytesPerIteration));
        built = MergeLastResorts(MergeTypeCaches(MergeSameStory(MergeWeakReferences(MergeOneOwnerPerCall(MergeSplitChains(MergeSameOwner(built)))))));

        var numberOf = new Dictionary<LeakSignature, int>(ReferenceEqualityComparer.Instance);
        for (int i = 0; i < built.Count; i++)
        {
            foreach (LeakSignature member in built[i].Members)
                numberOf[member] = i;
        }
        // One story per leak: every signature of a cause carries the cause's fix, not the one its own path alone suggests.
        LeakSignature[] numbered = signatures
            .Select(s => numberOf.TryGetValue(s, out int n) ? s with { Cause = n, Hint = built[n].Cause.Hint } : s with { Cause = null })
            .ToArray();

        var causedTypes = built.SelectMany(b => b.Cause.Types).Select(t => t.Type).ToHashSet(StringComparer.Ordinal);
        UnexplainedGrowth[] unexplained = growth.Where(t => !causedTypes.Contains(t.Type))
            .Select(t => new UnexplainedGrowth(t.Type, WhyUnexplained(t, signatures, explanation)))
            .ToArray();
        return new Result(built.Select(b => b.Cause).ToArray(), numbered, unexplained);
    }

    /// <summary>
    /// One forgotten object, one cause. A host, a server or a cache made per call and never disposed registers several
    /// things with the process (a Meter, an ActivitySource, a DiagnosticListener, a signal handler), each in a registry
    /// of its own, so each is a cause of its own, though the user made one mistake. Such causes are told as one when each
    /// keeps a new object per call that has a Dispose (or Close, Stop, ...), all at the same rate: the same call made
    /// them. Objects without such a method (a user's own lists of orders and sessions) stay causes of their own.
    /// </summary>
    private static List<(LeakCause Cause, LeakSignature[] Members)> MergeOneOwnerPerCall(List<(LeakCause Cause, LeakSignature[] Members)> built)
    {
        var perCall = built.Select((b, i) => (Index: i, Object: LeakIdioms.ReleasablePerCallObject(Owner(b.Members).Path)))
            .Where(c => c.Object is not null)
            .Select(c => (c.Index, Type: c.Object!, Rate: built[c.Index].Cause.Types.FirstOrDefault(t => t.Type == c.Object)?.InstancesPerIteration ?? 0))
            .Where(c => c.Rate >= MinPerCallRate && built[c.Index].Cause.Root.Kind != LeakRootKind.Thread)
            .ToList();
        // The largest group of such causes whose objects come at one rate, within a tenth.
        var group = perCall.Select(c => perCall.Where(o => Math.Abs(o.Rate - c.Rate) <= SameRate * Math.Max(o.Rate, c.Rate)).ToList())
            .OrderByDescending(g => g.Count).FirstOrDefault();
        if (group is null || group.Count < 2 || group.Select(c => built[c.Index].Cause.Root).Distinct().Count() < 2)
            return built;

        int[] merged = group.Select(c => c.Index).Order().ToArray();
        string through = string.Join("; ", group.Select(c => $"{Article(TypeNames.Short(c.Type))} in {RootText(built[c.Index].Cause.Root)}"));
        string hint = $"One object your code creates on every call and never disposes (a host, a server, a client, a cache or a container) registers {group.Count} things with the process, " +
            $"each held until that object is disposed: {through}. Dispose it when the work is done (a using block), or create it once and share it; disposing it releases them all.";
        LeakCause cause = Combine(merged.Select(i => built[i].Cause).ToList(), hint, LeakIdioms.OwnerPerCall);
        var result = built.Where((_, i) => !merged.Contains(i)).ToList();
        result.Add((cause, merged.SelectMany(i => built[i].Members).ToArray()));
        result.Sort((a, b) => b.Cause.BytesPerIteration.CompareTo(a.Cause.BytesPerIteration));
        return result;
    }

    /// <summary>
    /// One chain, one cause. The search gives each new object its cheapest path, so a chain of new objects linked one to
    /// the next (the runtime's timer queue) that a second root also reaches, through a node of its own in the same chain
    /// (a library's own timer in that queue), is split between the two roots, each taking the nodes nearer its way in:
    /// often half each, though it is one set of objects and one mistake. Causes that pile up in the same chain type,
    /// whose new instances both hold, are one cause, told from the root nearest the chain: the other reached it through
    /// a neighbour. Arrays and collections are not chains: two lists of one element type are two owners. Causes of the
    /// nearest one's own root stay apart, told apart by their stories.
    /// </summary>
    private static List<(LeakCause Cause, LeakSignature[] Members)> MergeSplitChains(List<(LeakCause Cause, LeakSignature[] Members)> built)
    {
        string? ChainType(LeakCause cause) =>
            cause.AccumulationPoint is int point && point < cause.Path.Count && cause.Path[point].Type is var type && !LeakIdioms.IsCollection(type)
            && cause.Types.Any(t => t.Type == type && t.NewInstances > 0) ? type : null;

        var result = built.Where(b => ChainType(b.Cause) is null).ToList();
        foreach (var chain in built.Where(b => ChainType(b.Cause) is not null).GroupBy(b => ChainType(b.Cause)!, StringComparer.Ordinal))
        {
            var causes = chain.OrderBy(c => c.Cause.AccumulationPoint).ThenByDescending(c => c.Cause.BytesPerIteration).ToList();
            var ways = causes.Where(c => c.Cause.Root != causes[0].Cause.Root).ToList();
            result.AddRange(causes.Skip(1).Where(c => c.Cause.Root == causes[0].Cause.Root));
            result.Add(ways.Count == 0
                ? causes[0]
                : (Combine([causes[0].Cause, .. ways.Select(c => c.Cause)], causes[0].Cause.Hint, causes[0].Cause.Idiom), [.. causes[0].Members, .. ways.SelectMany(c => c.Members)]));
        }
        result.Sort((a, b) => b.Cause.BytesPerIteration.CompareTo(a.Cause.BytesPerIteration));
        return result;
    }

    /// <summary>
    /// One owner, one cause: paths from the same root told as the same idiom are one mistake, however the search
    /// reached the new instances (an unread channel's items through its queue's head segment and through its tail, a
    /// token's callbacks through the head of their list and through a node's next).
    /// </summary>
    private static List<(LeakCause Cause, LeakSignature[] Members)> MergeSameOwner(List<(LeakCause Cause, LeakSignature[] Members)> built)
    {
        // A cause whose idiom is not known has only its root to go by: two lists of one static are two mistakes.
        var result = built.Where(b => b.Cause.Idiom is null).ToList();
        foreach (var group in built.Where(b => b.Cause.Idiom is not null).GroupBy(b => (b.Cause.Root, b.Cause.Idiom)))
        {
            var causes = group.ToList();
            result.Add(causes.Count == 1
                ? causes[0]
                : (Combine(causes.Select(c => c.Cause).ToList(), causes[0].Cause.Hint, causes[0].Cause.Idiom), causes.SelectMany(c => c.Members).ToArray()));
        }
        result.Sort((a, b) => b.Cause.BytesPerIteration.CompareTo(a.Cause.BytesPerIteration));
        return result;
    }

    /// <summary>
    /// One fix, one cause: causes from different roots whose stories are word for word the same (a timer's callback
    /// reached through the timer queue and through the clock's change handlers) are the same mistake, told once with
    /// the other roots under it.
    /// </summary>
    private static List<(LeakCause Cause, LeakSignature[] Members)> MergeSameStory(List<(LeakCause Cause, LeakSignature[] Members)> built)
    {
        var result = new List<(LeakCause Cause, LeakSignature[] Members)>();
        foreach (var group in built.GroupBy(b => b.Cause.Idiom is null ? $"{b.Cause.Id}" : $"{b.Cause.Idiom}\n{b.Cause.Hint}", StringComparer.Ordinal))
        {
            var causes = group.ToList();
            // The same words are the same mistake only where they name one object both paths reach: two events told by
            // the generic "-=" are two events.
            bool oneObject = causes.Count > 1 && causes
                .Select(c => c.Members.SelectMany(m => m.Path).Where(step => step.IsNew).Select(step => step.Type).ToHashSet(StringComparer.Ordinal))
                .Aggregate((a, b) => { a.IntersectWith(b); return a; })
                .Any(type => causes[0].Cause.Hint.Contains(TypeNames.Short(type), StringComparison.Ordinal));
            if (!oneObject)
            {
                result.AddRange(causes);
                continue;
            }
            result.Add((Combine(causes.Select(c => c.Cause).ToList(), causes[0].Cause.Hint, causes[0].Cause.Idiom), causes.SelectMany(c => c.Members).ToArray()));
        }
        result.Sort((a, b) => b.Cause.BytesPerIteration.CompareTo(a.Cause.BytesPerIteration));
        return result;
    }

    /// <summary>
    /// A list of weak references that grows is no owner: it grows because what the references point at lives on, held
    /// by another cause (a registry of every service provider made, which drops each as it dies). Such a cause is told
    /// under the cause that comes at its rate, or that has its root, and the largest cause otherwise.
    /// </summary>
    private static List<(LeakCause Cause, LeakSignature[] Members)> MergeWeakReferences(List<(LeakCause Cause, LeakSignature[] Members)> built)
    {
        bool IsWeak(LeakCause cause) => cause.Types.Any(t => t.Type.StartsWith("System.WeakReference", StringComparison.Ordinal))
            && cause.Types.All(t => t.Type.StartsWith("System.WeakReference", StringComparison.Ordinal) || t.Type.EndsWith("[]", StringComparison.Ordinal) || t.Type.StartsWith("System.Collections.", StringComparison.Ordinal));
        var owners = built.Where(b => !IsWeak(b.Cause)).ToList();
        if (owners.Count == 0 || owners.Count == built.Count)
            return built;
        var taken = new Dictionary<LeakCause, List<(LeakCause Cause, LeakSignature[] Members)>>(ReferenceEqualityComparer.Instance);
        foreach (var owner in owners)
            taken[owner.Cause] = [];
        foreach (var weak in built.Where(b => IsWeak(b.Cause)))
        {
            double rate = weak.Cause.InstancesPerIteration;
            var owner = owners.FirstOrDefault(o => o.Cause.Root == weak.Cause.Root);
            if (owner.Cause is null)
                owner = owners.Where(o => Math.Abs(o.Cause.Types.Max(t => t.InstancesPerIteration) - rate) <= SameRate * Math.Max(rate, 1e-9)).FirstOrDefault();
            if (owner.Cause is null)
                owner = owners[0];
            taken[owner.Cause].Add(weak);
        }
        var result = owners.Select(o => taken[o.Cause].Count == 0 ? o
            : (Combine([o.Cause, .. taken[o.Cause].Select(w => w.Cause)], o.Cause.Hint, o.Cause.Idiom), [.. o.Members, .. taken[o.Cause].SelectMany(w => w.Members)])).ToList();
        result.Sort((a, b) => b.Cause.BytesPerIteration.CompareTo(a.Cause.BytesPerIteration));
        return result;
    }

    /// <summary>
    /// A root whose growth one rule tells (a key per call, a forgotten object) and whose other collections only the
    /// last resort tells (a job storage's hash per job id and its set of ids) is one owner with one story: the last
    /// resort's collections are listed under the cause the rule tells.
    /// </summary>
    private static List<(LeakCause Cause, LeakSignature[] Members)> MergeLastResorts(List<(LeakCause Cause, LeakSignature[] Members)> built)
    {
        var told = built.Where(b => b.Cause.Idiom is not null and not LeakIdioms.Collection).ToList();
        var result = new List<(LeakCause Cause, LeakSignature[] Members)>();
        var under = new Dictionary<LeakCause, List<(LeakCause Cause, LeakSignature[] Members)>>(ReferenceEqualityComparer.Instance);
        foreach (var b in built)
        {
            var owner = b.Cause.Idiom == LeakIdioms.Collection ? told.FirstOrDefault(t => t.Cause.Root == b.Cause.Root) : default;
            if (owner.Cause is null)
                result.Add(b);
            else
                (under.TryGetValue(owner.Cause, out var list) ? list : under[owner.Cause] = []).Add(b);
        }
        result = result.Select(r => under.TryGetValue(r.Cause, out var merged)
            ? (Combine([r.Cause, .. merged.Select(m => m.Cause)], r.Cause.Hint, r.Cause.Idiom), [.. r.Members, .. merged.SelectMany(m => m.Members)])
            : r).ToList();
        result.Sort((a, b) => b.Cause.BytesPerIteration.CompareTo(a.Cause.BytesPerIteration));
        return result;
    }

    // The idioms of a type, or an assembly of types, made per call.
    private static readonly string[] s_typesPerCall = ["dynamic assembly", "assembly loaded per call", "XmlSerializer assembly"];

    /// <summary>
    /// The runtime's own caches keyed by type (its dispatch and cast caches) gain an entry for each new type: where a
    /// cause makes types per call, a cause held in such a cache is its echo, told under it.
    /// </summary>
    private static List<(LeakCause Cause, LeakSignature[] Members)> MergeTypeCaches(List<(LeakCause Cause, LeakSignature[] Members)> built)
    {
        int maker = built.FindIndex(b => s_typesPerCall.Contains(b.Cause.Idiom));
        if (maker < 0)
            return built;
        int[] echoes = Enumerable.Range(0, built.Count)
            .Where(i => i != maker && built[i].Cause.Path.Any(s => s.Type.StartsWith("System.Runtime.CompilerServices.GenericCache<", StringComparison.Ordinal)))
            .ToArray();
        if (echoes.Length == 0)
            return built;
        LeakCause cause = Combine([built[maker].Cause, .. echoes.Select(i => built[i].Cause)], built[maker].Cause.Hint, built[maker].Cause.Idiom);
        var result = built.Where((_, i) => i != maker && !echoes.Contains(i)).ToList();
        result.Add((cause, [.. built[maker].Members, .. echoes.SelectMany(i => built[i].Members)]));
        result.Sort((a, b) => b.Cause.BytesPerIteration.CompareTo(a.Cause.BytesPerIteration));
        return result;
    }

    /// <summary>The causes told as one: the first's owner and path, every type's rate summed, the others' paths under it.</summary>
    private static LeakCause Combine(List<LeakCause> causes, string hint, string? idiom)
    {
        CausedGrowth[] types = causes.SelectMany(c => c.Types)
            .GroupBy(t => t.Type, StringComparer.Ordinal)
            .Select(g => new CausedGrowth(g.Key, g.Sum(t => t.NewInstances), g.Sum(t => t.InstancesPerIteration), g.Sum(t => t.BytesPerIteration)))
            .OrderByDescending(t => t.BytesPerIteration).ToArray();
        return causes[0] with
        {
            Types = types,
            InstancesPerIteration = types.Sum(t => t.InstancesPerIteration),
            BytesPerIteration = types.Sum(t => t.BytesPerIteration),
            Hint = hint,
            Idiom = idiom,
            RetainedBytes = causes.All(c => c.RetainedBytes is null) ? null : causes.Sum(c => c.RetainedBytes ?? 0),
            HeldThrough = [.. causes[0].HeldThrough, .. causes.Skip(1)],
        };
    }

    // A per-call object comes at least every other call; its siblings from the same call come at its rate, within this share.
    private const double MinPerCallRate = 0.5;
    private const double SameRate = 0.1;

    private static string RootText(LeakRoot root) => LeakIdioms.StaticFieldName(root) ?? root.Name;

    private static string Article(string noun) => ("AEIOU".Contains(char.ToUpperInvariant(noun[0])) ? "an " : "a ") + noun;

    /// <summary>
    /// What the entries the cause's accumulation point gained retain: the inspector gives it to one signature of those
    /// that pile up there. Other members pile up elsewhere (a second list that also holds the same entries) and are
    /// not what dropping this point's entries would free. Null when the inspector did not measure it.
    /// </summary>
    private static long? RetainedAtPoint(LeakSignature[] members, LeakRoot root, LeakStep[] ownerPath)
    {
        LeakSignature[] atPoint = members.Where(s => s.Root == root && s.Path.Count >= ownerPath.Length
            && s.Path.Take(ownerPath.Length).Select(step => (step.Type, step.Field)).SequenceEqual(ownerPath.Select(step => (step.Type, step.Field)))).ToArray();
        return atPoint.Any(s => s.RetainedBytes is not null) ? atPoint.Sum(s => s.RetainedBytes ?? 0) : null;
    }

    /// <summary>
    /// How many new instances of each growing type a cause holds: those its signatures traced, or more, when the
    /// referrer counts show this cause's own objects referring to more of them. Every new instance is counted by who
    /// refers to it, not only the traced sample: a buffer whose referrers are this cause's own objects is kept by it,
    /// however many other new buffers other threads made.
    /// </summary>
    private static int[] HeldPerType(LeakSignature[] members, IReadOnlyList<Growth> growth, LeakExplanation explanation, Dictionary<string, int> causesPerType)
    {
        var memberTypes = members.Select(s => s.Type).Where(t => causesPerType[t] == 1).ToHashSet(StringComparer.Ordinal);
        return growth.Select(type =>
        {
            int traced = members.Where(s => s.Type == type.Type).Sum(s => s.Instances);
            int referred = explanation.Referrers.Where(r => r.Type == type.Type)
                .SelectMany(r => r.From).Where(f => f.Type != type.Type && memberTypes.Contains(f.Type)).Sum(f => f.Count);
            return Math.Max(traced, referred);
        }).ToArray();
    }

    /// <summary>
    /// Each type's <paramref name="grown"/> amount (its instances, or its bytes, over the traced calls or seconds),
    /// shared out among the causes that hold new instances of it: no cause is given more than it holds, and all of them
    /// together no more than grew. A cause that holds more of the growing types comes first (a leak keeps the subscriber
    /// it grew with; another event's handlers that a compacting GC moved keep nothing new), then the one that holds more
    /// of this type.
    /// </summary>
    private static double[][] ShareOut(int[][] heldByGroup, Func<int, int, double> held, double[] grown)
    {
        double[][] shares = heldByGroup.Select(h => new double[h.Length]).ToArray();
        int[] typesHeld = heldByGroup.Select(h => h.Count(count => count > 0)).ToArray();
        for (int t = 0; t < grown.Length; t++)
        {
            double left = Math.Max(0, grown[t]);
            foreach (int g in Enumerable.Range(0, heldByGroup.Length).OrderByDescending(g => typesHeld[g]).ThenByDescending(g => held(g, t)))
            {
                shares[g][t] = Math.Min(held(g, t), left);
                left -= shares[g][t];
            }
        }
        return shares;
    }

    // A cause that keeps less than this share of every type's measured growth did not make the growth.
    private const double MinShareOfGrowth = 0.25;

    /// <summary>
    /// The signature whose path stands for the cause: held by the longest-lived kind of root, with an accumulation
    /// point where many instances' paths part, and the shortest way from the root to it.
    /// </summary>
    private static LeakSignature Owner(LeakSignature[] members)
    {
        // Each signature weighed against its own type's new instances: types grow at their own rates (an EventListener
        // leaves one dispatcher in each of sixteen EventSources), and sixteen shards of dispatchers each outnumber the
        // one signature that holds every listener.
        var ofType = members.GroupBy(s => s.Type, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Sum(s => (long)s.Instances), StringComparer.Ordinal);
        return members
        .OrderBy(s => RootRank(s.Root.Kind))
        .ThenBy(s => s.AccumulationPoint is null ? 1 : 0)
        // Where many paths part is seen; a lone instance's point (a replaced array's holder) is only its last
        // collection, and a few instances' point (an event's current delegate, replaced at every subscription and
        // met on the way by a few of them) is where those few part, not where the leak piles up.
        .ThenBy(s => s.Instances > 1 && s.Instances >= MinShareOfGrowth * ofType[s.Type] ? 0 : 1)
        .ThenBy(s => s.AccumulationPoint ?? s.Path.Count)
        .ThenByDescending(s => s.Instances)
        .First();
    }

    private static int RootRank(LeakRootKind kind) => kind switch
    {
        LeakRootKind.StaticField => 0,
        LeakRootKind.ThreadStatic => 1,
        LeakRootKind.StrongHandle or LeakRootKind.PinnedHandle or LeakRootKind.RefCountedHandle or LeakRootKind.LoadedAssembly or LeakRootKind.Thread => 2,
        LeakRootKind.Stack => 3,
        _ => 4,
    };

    /// <summary>
    /// Held by the finalizer queue, or by the frame of a finalizer that is running: the one object a blocked finalizer
    /// is finalizing is its <c>this</c>, a local of the finalizer thread, while the rest wait in the queue behind it.
    /// </summary>
    private static bool WaitsForFinalization(LeakRoot root) =>
        root.Kind == LeakRootKind.FinalizerQueue || (root.Kind == LeakRootKind.Stack && root.Name.Contains(".Finalize (thread ", StringComparison.Ordinal));

    private static string WhyUnexplained(Growth type, IReadOnlyList<LeakSignature> signatures, LeakExplanation explanation)
    {
        LeakSignature[] own = signatures.Where(s => s.Type == type.Type).ToArray();
        if (own.Length > 0 && own.All(s => WaitsForFinalization(s.Root)) && explanation.FinalizerThreadBlocked)
            return "its new instances wait for finalization, and the finalizer thread is blocked (see the warning for its stack): they stay until it returns.";
        if (own.Length > 0 && own.All(s => WaitsForFinalization(s.Root)))
            return "its new instances were only waiting for finalization: garbage whose finalizers had not run yet, which holds nothing.";
        if (own.Length > 0 && own.All(s => s.Root.Kind is LeakRootKind.Unknown or LeakRootKind.FinalizerQueue))
            return "no root LeakHunter enumerates reaches its new instances: they were garbage the last GC had not collected yet, or only native code holds them.";
        if (own.Length > 0 && own.All(s => s.Root.Kind is LeakRootKind.Stack or LeakRootKind.Unknown or LeakRootKind.FinalizerQueue))
            return $"only a local of a method still running holds its new instances ({own.First(s => s.Root.Kind == LeakRootKind.Stack).Root.Name}), " +
                "through objects made since the growth was measured: work in flight, which lets go when the method returns.";
        if (explanation.PartialReason is not null)
            return $"the explanation stopped before reaching it ({explanation.PartialReason}).";
        if (type.Instances == 0)
            return "it grew in bytes only, and none of its instances was replaced while LeakHunter traced it (a collection's array is replaced only when it " +
                "outgrows itself), so which instance grows could not be seen. Run more iterations, or look with HeapInspector.FindPaths.";
        return "no new instance of it was found while LeakHunter traced the growing types.";
    }
}
