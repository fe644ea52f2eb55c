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
    public IReadOnlyList<TypeSeries> ObjectHistograms(IReadOnlyList<int> censusIds) =>
        Histograms(censusIds).Where(s => !ItemCounts.Are(s.Type)).ToArray();

    /// <summary>Notes where the instances of <paramref name="types"/> are now; <see cref="Explain"/> traces those that are new since.</summary>
    public void Mark(IReadOnlyCollection<string> types, bool everyInstanceIsNew = false) => _censuses.Mark(types, everyInstanceIsNew);

    /// <summary>
    /// Traces every instance of <paramref name="types"/>, keeping the addresses of the last <see cref="Mark"/>: paths then
    /// run through the objects that existed at that mark where they can, not through what is in flight.
    /// </summary>
    public void MarkEveryInstanceSinceMark(IReadOnlyCollection<string> types) => _censuses.Mark(types, everyInstanceIsNew: true, keepAddresses: true);

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
        return ReportAssembler.Paths(headline(explanation.NewInstances), Target, typePattern, types, explanation.NewInstances, LeakExplanations.FromInspector(explanation),
            explanation.TargetPauseMs);
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
