using System.Diagnostics;
using LeakHunter.Analysis;
using LeakHunter.Census;

namespace LeakHunter.Running;

/// <summary>
/// The one engine behind every front door: censuses, growth, marks and paths of one heap, read through one
/// inspector. A leak check, <see cref="LeakAssert"/>'s object and instance assertions, and
/// <see cref="HeapInspector"/>'s census, paths and watch of another process or a dump all run here.
/// </summary>
internal sealed class InspectionSession : IDisposable
{
    private readonly CensusTaker _censuses;
    private readonly InspectorClient? _ownInspector;
    private readonly TimeSpan _explanationLimit;

    private InspectionSession(CensusTaker censuses, InspectorClient? ownInspector, string target, TimeSpan explanationLimit)
    {
        _censuses = censuses;
        _ownInspector = ownInspector;
        _explanationLimit = explanationLimit;
        Target = target;
    }

    /// <summary>What this session reads, as reports name it.</summary>
    public string Target { get; }

    public CensusRoute Route => _censuses.Route;

    public CensusStrategy Strategy => _censuses.Strategy;

    /// <summary>A session on this process, through the shared inspector, on the route <paramref name="options"/> asks for.</summary>
    /// <remarks>On a system where live processes cannot be read, starting the inspector fails with the one clear error.</remarks>
    public static InspectionSession OfThisProcess(LeakOptions options) =>
        new(new CensusTaker(options), null, "this process", options.ExplanationTimeLimit);

    /// <summary>A session on another process or a dump, through an inspector of its own that <see cref="Dispose"/> stops.</summary>
    public static InspectionSession Of(InspectionTarget target, TimeSpan heapWalkTimeout)
    {
        InspectorClient inspector = InspectorClient.StartFor(target.IsDump ? 0 : target.ProcessId);
        try
        {
            inspector.DumpFile = target.DumpPath;
            var options = new LeakOptions { Strategy = CensusStrategy.Attach, CensusTimeout = heapWalkTimeout, ExplanationTimeLimit = heapWalkTimeout };
            var censuses = new CensusTaker(options, inspector, target.IsDump ? CensusRoute.DumpFile : CensusRoute.Attach);
            return new InspectionSession(censuses, inspector, target.Description, heapWalkTimeout);
        }
        catch
        {
            inspector.Dispose();
            throw;
        }
    }

    /// <summary>Takes a census; in this process, the caller has just settled the GC.</summary>
    public (int Id, CensusReply Reply) Take(bool reachableOnly = false) => _censuses.Take(reachableOnly);

    /// <summary>Counts and bytes per type for the given censuses, in the order given.</summary>
    public IReadOnlyList<TypeSeries> Histograms(IReadOnlyList<int> censusIds) => _censuses.GetHistograms(censusIds);

    /// <summary>
    /// The histograms of objects alone: a census, a watch and a type's paths count and trace objects, every type's count
    /// adding up to the heap's, and leave out the items of collections of value types that a check also counts.
    /// </summary>
    private IReadOnlyList<TypeSeries> ObjectHistograms(IReadOnlyList<int> censusIds) =>
        Histograms(censusIds).Where(s => !ItemCounts.Are(s.Type)).ToArray();

    /// <summary>Notes where the instances of <paramref name="types"/> are now; <see cref="Explain"/> traces those that are new since.</summary>
    public void Mark(IReadOnlyCollection<string> types, bool everyInstanceIsNew = false) => _censuses.Mark(types, everyInstanceIsNew);

    /// <summary>
    /// Traces every instance of <paramref name="types"/>, keeping the addresses of the last <see cref="Mark"/>: paths then
    /// run through the objects that existed at that mark where they can, not through what is in flight.
    /// </summary>
    private void MarkEveryInstanceSinceMark(IReadOnlyCollection<string> types) => _censuses.Mark(types, everyInstanceIsNew: true, keepAddresses: true);

    /// <summary>Paths to the instances of <paramref name="types"/> (every marked type when empty) that are new since <see cref="Mark"/>.</summary>
    public LeakExplanation Explain(int maxInstancesPerType, IReadOnlyCollection<string> types) =>
        LeakExplanations.FromInspector(_censuses.Explain(maxInstancesPerType, _explanationLimit, types));

    /// <summary>The managed frames of the finalizer thread's stack, innermost first.</summary>
    public IReadOnlyList<string> FinalizerStack() => _censuses.FinalizerStack();

    /// <summary>What the new items of <paramref name="resources"/> are since census <paramref name="sinceCensusId"/>, grouped.</summary>
    public IReadOnlyList<ResourceFindingMessage> ExplainResources(int sinceCensusId, IReadOnlyCollection<string> resources) =>
        _censuses.ExplainResources(sinceCensusId, resources);

    /// <summary>Paths to the objects that the given weak GC handles of this process still point at.</summary>
    public LeakExplanation ExplainWatched(IReadOnlyList<IntPtr> weakHandles) =>
        LeakExplanations.FromInspector(_censuses.ExplainWatched(weakHandles, _explanationLimit));

    /// <summary>One census: every type with live instances, most bytes first.</summary>
    public CensusReport Census(bool reachableOnly)
    {
        (int id, CensusReply reply) = Take(reachableOnly);
        TypeCount[] types = CensusReport.Ordered(
            ObjectHistograms([id]).Where(s => s.Counts[0] > 0).Select(s => new TypeCount(s.Type, s.Counts[0], s.Bytes[0])),
            CensusOrder.Bytes).ToArray();
        return new CensusReport(Target, reply.Objects, reply.Bytes, types, CensusWarnings(reply, "The census"))
        {
            Resources = ResourceCount.From(reply.Resources),
        };
    }

    /// <summary>
    /// Paths to every live instance of the types matching <paramref name="typePattern"/>.
    /// </summary>
    /// <exception cref="LeakHunterException">No live type matches (<see cref="LeakHunterFailure.TypeNotFound"/>); the message suggests close names.</exception>
    public PathsReport Paths(string typePattern, int maxInstancesPerType)
    {
        (int id, _) = Take();
        string[] present = ObjectHistograms([id]).Where(s => s.Counts[0] > 0).Select(s => s.Type).ToArray();
        var pattern = Wildcard.ToRegex(typePattern);
        string[] matched = present.Where(t => pattern.IsMatch(t)).ToArray();
        if (matched.Length == 0)
            throw new LeakHunterException(LeakHunterFailure.TypeNotFound, TypeSuggestions.NoMatch(typePattern, present, Target));
        return TraceEveryInstance(matched, typePattern, maxInstancesPerType, alive => $"{Target}: {alive:N0} live instance(s) of {typePattern}");
    }

    /// <summary>Paths to every live instance of <paramref name="types"/>, under <paramref name="headline"/> (given the instances traced).</summary>
    public PathsReport TraceEveryInstance(IReadOnlyList<string> types, string typePattern, int maxInstancesPerType, Func<int, string> headline)
    {
        Mark(types.ToArray(), everyInstanceIsNew: true);
        Explanation explanation = _censuses.Explain(maxInstancesPerType, _explanationLimit, []);
        return new PathsReport(headline(explanation.NewInstances), Target, typePattern, types, explanation.NewInstances, LeakExplanations.FromInspector(explanation),
            explanation.TargetPauseMs);
    }

    /// <summary>
    /// The causes of the growth <paramref name="diff"/> shows between <paramref name="before"/>'s heap and this one: the
    /// paths to every reachable instance of the <paramref name="maxTypes"/> types that gained the most bytes, traced in
    /// both heaps, and what each path holds here beyond what it held there. Only a type that gained at least a tenth
    /// of its reachable instances, and at least 10 of them or a large object's bytes, is traced: a few strings more
    /// among thousands are held like the thousands, and a sample of their paths tells nothing.
    /// </summary>
    public CensusDiffReport ExplainGrowth(CensusDiffReport diff, InspectionSession before, int maxTypes, int maxInstancesPerType, LeakBaseline? baseline)
    {
        // A dump holds the garbage its process had not collected yet, and a census counts it: what a root reaches is
        // the most of a gain that can be kept.
        IReadOnlyDictionary<string, long> reachable = ReachableCounts();
        TypeChange[] traced = diff.Changes
            .Where(c => c.CountChange > 0 && reachable.ContainsKey(c.Type))
            .Where(c => Math.Min(c.CountChange, reachable[c.Type]) is long kept && kept >= MinShareOfLiveGained * reachable[c.Type]
                && (kept >= MinInstancesGained || c.BytesChange >= LargeObjectBytes))
            .OrderByDescending(c => c.BytesChange).ThenBy(c => c.Type, StringComparer.Ordinal)
            .Take(maxTypes)
            .ToArray();
        LeakExplanation? explanation = null;
        if (traced.Length > 0)
        {
            LeakExplanation now = ExplainEveryReachableInstance(traced.Select(c => c.Type).ToArray(), maxInstancesPerType);
            string[] tracedBefore = traced.Select(c => c.Type).Where(before.ReachableCounts().ContainsKey).ToArray();
            explanation = tracedBefore.Length == 0 ? now : LeakExplanations.GainedSince(now, before.ExplainEveryReachableInstance(tracedBefore, maxInstancesPerType));
        }
        CensusDiffReport Report(string? update) => diff.Explained(traced, explanation, baseline, update);
        return baseline?.Reported(Report, r => r.Causes) ?? Report(null);
    }

    private IReadOnlyDictionary<string, long> ReachableCounts()
    {
        (int id, _) = Take(reachableOnly: true);
        return ObjectHistograms([id]).Where(s => s.Counts[0] > 0).ToDictionary(s => s.Type, s => s.Counts[0], StringComparer.Ordinal);
    }

    private LeakExplanation ExplainEveryReachableInstance(IReadOnlyCollection<string> types, int maxInstancesPerType)
    {
        Mark(types, everyInstanceIsNew: true);
        return Explain(maxInstancesPerType, []);
    }

    // The part of a type's live instances a diff's gain must be for its paths to tell the gain's story.
    private const double MinShareOfLiveGained = 0.1;

    // A diff's gain that is traced: a few instances more is the process's ordinary churn (a boxed value replaced in a
    // table), unless they are large objects, the size at which the runtime puts one on its large object heap.
    private const int MinInstancesGained = 10;
    private const long LargeObjectBytes = 85_000;

    /// <summary>
    /// Censuses of what the roots reach, <paramref name="interval"/> apart; the types that grew in every interval,
    /// with their rates per second, and the paths to their instances.
    /// </summary>
    public WatchReport Watch(TimeSpan interval, int sampleCount, IProgress<string>? progress, LeakBaseline? baseline, CancellationToken cancellationToken)
    {
        long started = Stopwatch.GetTimestamp();
        var ids = new List<int>(sampleCount);
        var samples = new List<WatchSample>(sampleCount);
        var warnings = new List<string>();
        var resourceSeries = new long[sampleCount * ResourceNames.Slots.Length];
        double markedAt = 0;
        for (int sample = 0; sample < sampleCount; sample++)
        {
            if (sample > 0)
            {
                progress?.Report($"waiting {interval.TotalSeconds:0.#} s for census {sample + 1} of {sampleCount}...");
                if (cancellationToken.WaitHandle.WaitOne(interval))
                    cancellationToken.ThrowIfCancellationRequested();
            }
            progress?.Report($"census {sample + 1} of {sampleCount}: walking what the roots reach...");
            double elapsed = Stopwatch.GetElapsedTime(started).TotalSeconds;
            (int id, CensusReply reply) = Take(reachableOnly: true);
            // The objects alive one interval before the end are the long-lived ones: the paths are routed through them,
            // not through requests in flight. Not the first census: a server that just started still moves its young
            // singletons as the GC promotes them, and a moved object looks new.
            if (sample == Math.Max(0, sampleCount - 2))
            {
                Mark([]);
                markedAt = Stopwatch.GetElapsedTime(started).TotalSeconds;
            }
            ResourceNames.Record(resourceSeries, ids.Count, reply.Resources);
            ids.Add(id);
            samples.Add(new WatchSample(elapsed, reply.Objects, reply.Bytes, reply.PauseMs));
            warnings.AddRange(CensusWarnings(reply, $"Census {sample + 1}"));
        }

        IReadOnlyList<TypeSeries> series = ObjectHistograms(ids);
        List<TypeSeries> growing = GrowthAnalyzer.FindSteadyGrowth(series, 0, ids.Count - 1);
        double span = samples[^1].ElapsedSeconds - samples[0].ElapsedSeconds;
        TypeRate[] rates = growing
            .Select(s => new TypeRate(s.Type, s.Counts, s.Bytes, GrowthAnalyzer.Rate(s.Counts, span), GrowthAnalyzer.Rate(s.Bytes, span)))
            .OrderByDescending(r => r.BytesPerSecond).ThenBy(r => r.Type, StringComparer.Ordinal).ToArray();
        // Right after the last census: a resource's items are told as near the counts as can be, before the paths take their time.
        IReadOnlyList<ResourceUsage> resources = WatchedResources(resourceSeries, samples, ids[0], rates, warnings);
        LeakExplanation? explanation = null;
        double? explainedSeconds = null;
        if (growing.Count > 0)
        {
            cancellationToken.ThrowIfCancellationRequested();
            progress?.Report($"{growing.Count} type(s) grew in every interval; finding what holds them...");
            MarkEveryInstanceSinceMark(growing.Select(g => g.Type).ToArray());
            explainedSeconds = Stopwatch.GetElapsedTime(started).TotalSeconds - markedAt;
            explanation = Explain(maxInstancesPerType: 100, []);
        }
        WatchReport Report() => new(Target, interval, samples, rates, explanation, warnings, Stopwatch.GetElapsedTime(started), explainedSeconds, baseline)
        {
            Resources = resources,
        };
        return baseline?.Reported(update =>
        {
            if (update is not null)
                warnings.Add(update);
            return Report();
        }, r => r.Causes) ?? Report();
    }

    /// <summary>
    /// A watch's resources, judged by the rules a check's are (each rose in every interval, native memory by more than
    /// allocator noise), with rates per second; a grown one is told by its items made since the first census.
    /// </summary>
    private IReadOnlyList<ResourceUsage> WatchedResources(long[] series, IReadOnlyList<WatchSample> samples, int firstCensus, IReadOnlyList<TypeRate> growingTypes,
        List<string> warnings)
    {
        IReadOnlyList<ResourceUsage> resources = ResourceGrowth.Judge(series, samples.Select(s => s.ElapsedSeconds).ToArray(), samples.Count - 1, idle: null, confirmations: [],
            LeakResources.All, LeakOptions.Default.NativeMemoryNoiseBytes, rules: [], confirmationDecides: false);
        string[] grown = resources.Where(r => r.Growing).Select(r => r.Name).ToArray();
        if (grown.Length == 0)
            return resources;
        IReadOnlyList<ResourceFindingMessage> found = [];
        try
        {
            found = ExplainResources(firstCensus, grown);
        }
        catch (LeakHunterException e) when (e.Failure is LeakHunterFailure.CensusFailed)
        {
            warnings.Add($"The resources that grew could not be explained: {e.Message}");
        }
        return ResourceFindings.Explained(resources, found, growingTypes.Select(t => (t.Type, t.BytesPerSecond)).ToArray(), "second");
    }

    /// <summary>
    /// Stops the inspector now, whatever it is doing, so a request in flight ends at once: how a cancelled
    /// inspection of another process stops. A session on this process shares its inspector and is not aborted.
    /// </summary>
    public void Abort() => _ownInspector?.Abort();

    /// <summary>Why a census's counts may be low: heap it could not parse, roots it could not read.</summary>
    internal static IReadOnlyList<string> CensusWarnings(CensusReply reply, string census)
    {
        var warnings = new List<string>();
        if (reply.UnreadableBytes > 0)
            warnings.Add($"{census} could not parse {reply.UnreadableBytes:N0} bytes of the heap, so its counts may be low. " +
                "If this repeats, report it with the runtime version: the heap's layout was not what LeakHunter expects.");
        warnings.AddRange(reply.Warnings.Select(w => $"{census}: {w}"));
        return warnings;
    }

    public void Dispose() => _ownInspector?.Dispose();
}
