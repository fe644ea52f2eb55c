namespace LeakHunter.Census;

/// <summary>
/// Takes censuses of this process through the shared inspector, choosing the route (live attach, or a dump when
/// ptrace is denied) and turning the inspector's failures into exceptions that name the fix.
/// </summary>
internal sealed class CensusTaker
{
    // Once ptrace has been denied in this process it stays denied; later checks go straight to the dump route.
    private static volatile bool s_attachDenied;

    private readonly LeakOptions _options;
    private readonly InspectorClient _inspector;
    private int _nextCensusId;

    /// <summary>A taker for another process or a dump file, through an inspector of its own (the command-line tool's).</summary>
    public CensusTaker(LeakOptions options, InspectorClient inspector, CensusRoute route)
    {
        _options = options;
        _inspector = inspector;
        _inspector.Reset();
        Route = route;
    }

    public CensusTaker(LeakOptions options)
    {
        _options = options;
        _inspector = InspectorClient.GetShared();
        _inspector.Reset();
        Route = options.Strategy switch
        {
            CensusStrategy.Attach => CensusRoute.Attach,
            CensusStrategy.Dump => CensusRoute.Dump,
            _ => s_attachDenied ? CensusRoute.Dump : CensusRoute.Attach,
        };
    }

    public CensusRoute Route { get; private set; }

    public CensusStrategy Strategy => Route == CensusRoute.Attach ? CensusStrategy.Attach : CensusStrategy.Dump;

    /// <summary>Takes a census; the caller has just settled the GC.</summary>
    public (int Id, CensusReply Reply) Take() => Take(reachableOnly: false);

    /// <summary>A census; <paramref name="reachableOnly"/> counts only what a root reaches, for a process whose GC LeakHunter does not control.</summary>
    public (int Id, CensusReply Reply) Take(bool reachableOnly)
    {
        int id = _nextCensusId++;
        CensusReply reply = TakeBy(Route, id, reachableOnly);
        if (reply.Status == InspectorStatus.PtraceDenied && _options.Strategy == CensusStrategy.Auto && Route == CensusRoute.Attach)
        {
            s_attachDenied = true;
            Route = CensusRoute.Dump;
            reply = TakeBy(Route, id, reachableOnly);
        }

        return reply.Status == InspectorStatus.Ok ? (id, reply) : throw Failure(reply.Status, reply.Message!);
    }

    /// <summary>Notes where the instances of <paramref name="types"/> are now, on the route the censuses took.</summary>
    public void Mark(IReadOnlyCollection<string> types, bool everyInstanceIsNew = false, bool keepAddresses = false)
    {
        (InspectorStatus status, string? message, _) = _inspector.Mark(types, everyInstanceIsNew, _nextCensusId++, Route, _options.CensusTimeout, keepAddresses);
        if (status != InspectorStatus.Ok)
            throw Failure(status, message!);
    }

    /// <summary>Paths to the instances of <paramref name="types"/> (every marked type when empty) that are new since <see cref="Mark"/>.</summary>
    public Explanation Explain(int maxInstancesPerType, TimeSpan timeLimit, IReadOnlyCollection<string> types)
    {
        (InspectorStatus status, string? message, Explanation? explanation, double pauseMs) =
            _inspector.Explain(_nextCensusId++, Route, _options.CensusTimeout + timeLimit, maxInstancesPerType, timeLimit, types);
        return status == InspectorStatus.Ok ? explanation! with { TargetPauseMs = pauseMs } : throw Failure(status, message!);
    }

    /// <summary>The managed frames of the finalizer thread's stack, innermost first.</summary>
    public IReadOnlyList<string> FinalizerStack()
    {
        (InspectorStatus status, string? message, IReadOnlyList<string>? frames) = _inspector.FinalizerStack(_nextCensusId++, Route, _options.CensusTimeout);
        return status == InspectorStatus.Ok ? frames! : throw Failure(status, message!);
    }

    /// <summary>The new items of <paramref name="resources"/> since census <paramref name="sinceCensusId"/>, grouped by what they are.</summary>
    public IReadOnlyList<ResourceFindingMessage> ExplainResources(int sinceCensusId, IReadOnlyCollection<string> resources)
    {
        (InspectorStatus status, string? message, IReadOnlyList<ResourceFindingMessage>? findings) =
            _inspector.ExplainResources(sinceCensusId, resources, _nextCensusId++, Route, _options.CensusTimeout);
        return status == InspectorStatus.Ok ? findings! : throw Failure(status, message!);
    }

    /// <summary>Paths to the objects that the given weak GC handles still point at.</summary>
    public Explanation ExplainWatched(IReadOnlyList<IntPtr> weakHandles, TimeSpan timeLimit)
    {
        (InspectorStatus status, string? message, Explanation? explanation) =
            _inspector.ExplainWatched(weakHandles, _nextCensusId++, Route, _options.CensusTimeout + timeLimit, timeLimit);
        return status == InspectorStatus.Ok ? explanation! : throw Failure(status, message!);
    }

    private LeakHunterException Failure(InspectorStatus status, string message) => status switch
    {
        InspectorStatus.PtraceDenied when Route == CensusRoute.Dump => new LeakHunterException(LeakHunterFailure.PtraceDenied,
            $"ptrace was denied, and the runtime's dump writer (createdump) was denied too, so no route to this process's heap is left: {message} " +
            "This happens when the process is not dumpable (PR_SET_DUMPABLE 0, or a setuid program), when a container lacks CAP_SYS_PTRACE, or under kernel.yama.ptrace_scope=2 or 3. " +
            "Run the check as an ordinary dumpable process, add CAP_SYS_PTRACE to the container, or lower ptrace_scope to 1 or 0."),
        InspectorStatus.PtraceDenied => new LeakHunterException(LeakHunterFailure.PtraceDenied,
            $"ptrace was denied: {message} Allow it (kernel.yama.ptrace_scope=0 or 1, or CAP_SYS_PTRACE in a container), or use CensusStrategy.Auto or Dump, which fall back to a dump of this process."),
        InspectorStatus.DumpFailed => new LeakHunterException(LeakHunterFailure.CensusFailed,
            $"{message} Check that the temporary folder ({Path.GetTempPath()}) has room for a dump of this process, or use CensusStrategy.Attach where ptrace is allowed."),
        InspectorStatus.HeapNotWalkable => new LeakHunterException(LeakHunterFailure.CensusFailed,
            $"{message} This happens when another thread starts a GC while the census is taken; run the check again without parallel work."),
        _ => new LeakHunterException(LeakHunterFailure.CensusFailed, $"The census failed: {message}"),
    };

    private CensusReply TakeBy(CensusRoute route, int id, bool reachableOnly) =>
        _inspector.TakeCensus(id, route, _options.CensusTimeout, reachableOnly, countResources: _options.Resources != LeakResources.None);

    public IReadOnlyList<TypeSeries> GetHistograms(IReadOnlyList<int> censusIds) => _inspector.GetHistograms(censusIds);
}
