using LeakHunter.Analysis;
using LeakHunter.Running;

namespace LeakHunter;

/// <summary>How <see cref="HeapInspector"/> reads another process or a dump.</summary>
public sealed class InspectionOptions
{
    /// <summary>The options used when none are given.</summary>
    public static InspectionOptions Default { get; } = new();

    /// <summary>How long one walk of the heap (a census, or tracing paths) may take before it is stopped.</summary>
    public TimeSpan HeapWalkTimeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>
    /// Known leaks, as <see cref="LeakOptions.BaselinePath"/> takes them: a watch whose causes are all in this file
    /// reports no new leak and lists them as known, and <c>LEAKHUNTER_UPDATE_BASELINE=1</c> adds its new causes to
    /// it. Default null: no baseline.
    /// </summary>
    public string? BaselinePath { get; init; }

    internal void Validate()
    {
        if (HeapWalkTimeout <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(HeapWalkTimeout), HeapWalkTimeout, "HeapWalkTimeout must be positive.");
        LeakBaseline.ThrowIfNotAFile(BaselinePath, nameof(BaselinePath));
    }
}

/// <summary>
/// The front door for another process or a dump: a census of its live objects by type, a watch of what grows over
/// time, and the paths from the GC roots to the instances of a type. The command-line tool is a thin layer over
/// this class, so a tool that wraps LeakHunter has the same power. It starts an inspector process of its own, which
/// <see cref="Dispose"/> stops; ask it one thing at a time.
/// </summary>
/// <example>
/// <code>
/// using HeapInspector inspector = HeapInspector.Open(InspectionTarget.Process(pid));
/// WatchReport watch = inspector.Watch(TimeSpan.FromSeconds(5), samples: 5);
/// Console.WriteLine(watch);
/// </code>
/// </example>
public sealed class HeapInspector : IDisposable
{
    private readonly InspectionSession _session;
    private readonly LeakBaseline? _baseline;

    private HeapInspector(InspectionTarget target, InspectionSession session, LeakBaseline? baseline)
    {
        Target = target;
        _session = session;
        _baseline = baseline;
    }

    /// <summary>What this inspector reads.</summary>
    public InspectionTarget Target { get; }

    /// <summary>Starts an inspector for <paramref name="target"/>.</summary>
    /// <exception cref="LeakHunterException">The inspector could not start, or live processes cannot be read on this system.</exception>
    public static HeapInspector Open(InspectionTarget target, InspectionOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(target);
        options ??= InspectionOptions.Default;
        options.Validate();
        if (!target.IsDump && target.ProcessId == Environment.ProcessId)
            throw new LeakHunterException(LeakHunterFailure.InvalidTarget,
                "A HeapInspector reads another process or a dump, not the process it runs in: check this process with LeakDetector or LeakAssert.");
        // Read first: a file that is not a baseline fails before an inspector starts.
        LeakBaseline? baseline = options.BaselinePath is null ? null : LeakBaseline.Load(options.BaselinePath);
        return new HeapInspector(target, InspectionSession.Of(target, options.HeapWalkTimeout), baseline);
    }

    /// <summary>Live objects by type, every type with an instance, most bytes first.</summary>
    /// <param name="reachableOnly">
    /// Count only what a GC root reaches. Another process's garbage stays on its heap until its next GC, so a census of
    /// a live process counts it unless told; a dump's census is exact either way. Objects only the finalizer queue
    /// holds are garbage waiting for their finalizers, and are not counted either.
    /// </param>
    /// <param name="cancellationToken">Stops the census, even in the middle of a heap walk.</param>
    /// <exception cref="LeakHunterException">The heap could not be read; the message says why and what to do.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public CensusReport TakeCensus(bool reachableOnly = false, CancellationToken cancellationToken = default) =>
        Cancellable(() => _session.Census(reachableOnly), cancellationToken);

    /// <summary>The shortest paths from the GC roots to the live instances of the types whose name matches <paramref name="typePattern"/>, and who refers to them.</summary>
    /// <param name="typePattern">A full type name as a census shows it; <c>*</c> matches any run of characters.</param>
    /// <param name="maxInstancesPerType">How many instances of each type to trace; the rest are counted.</param>
    /// <param name="cancellationToken">Stops the tracing, even in the middle of a heap walk.</param>
    /// <exception cref="LeakHunterException">No live type matches (<see cref="LeakHunterFailure.TypeNotFound"/>, with close names), or the heap could not be read.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public PathsReport FindPaths(string typePattern, int maxInstancesPerType = 100, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(typePattern);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxInstancesPerType);
        return Cancellable(() => _session.Paths(typePattern, maxInstancesPerType), cancellationToken);
    }

    /// <summary>
    /// <see cref="TakeCensus"/> without holding the caller's thread: the census runs on a thread-pool thread while the
    /// inspector walks the heap.
    /// </summary>
    /// <inheritdoc cref="TakeCensus" path="/param"/>
    /// <inheritdoc cref="TakeCensus" path="/exception"/>
    public Task<CensusReport> TakeCensusAsync(bool reachableOnly = false, CancellationToken cancellationToken = default) =>
        OffTheCallersThread(() => TakeCensus(reachableOnly, cancellationToken), cancellationToken);

    /// <summary>
    /// <see cref="FindPaths"/> without holding the caller's thread: the tracing runs on a thread-pool thread while the
    /// inspector walks the heap.
    /// </summary>
    /// <inheritdoc cref="FindPaths" path="/param"/>
    /// <inheritdoc cref="FindPaths" path="/exception"/>
    public Task<PathsReport> FindPathsAsync(string typePattern, int maxInstancesPerType = 100, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(typePattern);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxInstancesPerType);
        return OffTheCallersThread(() => FindPaths(typePattern, maxInstancesPerType, cancellationToken), cancellationToken);
    }

    /// <summary>
    /// What holds the growth a diff shows: the paths from the GC roots to the instances of the types that gained the
    /// most, traced in both heaps and grouped into causes, each given what its paths hold in this heap (the diff's
    /// after side) beyond what they held in <paramref name="before"/>'s. With <see cref="InspectionOptions.BaselinePath"/>,
    /// the causes are matched against the known leaks, and <see cref="CensusDiffReport.HasNewGrowth"/> is false when
    /// they are all known.
    /// </summary>
    /// <param name="diff">Two censuses compared (<see cref="CensusDiffReport.Compare"/>): the first of <paramref name="before"/>'s target, the second of this one's.</param>
    /// <param name="before">An inspector of the heap the diff's first census was taken of.</param>
    /// <param name="maxTypes">
    /// How many types to trace, most bytes gained first, of those that gained at least a tenth of their reachable
    /// instances and at least 10 of them or 85,000 bytes: a few more of a type with thousands tell nothing.
    /// </param>
    /// <param name="maxInstancesPerType">How many instances of each type to trace in each heap; the rest are counted by scaling the sample.</param>
    /// <param name="cancellationToken">Stops the tracing, even in the middle of a heap walk.</param>
    /// <returns>The diff, with its causes, signatures, referrers and baseline matches.</returns>
    /// <exception cref="ArgumentException">The diff's sides are not the two inspectors' targets.</exception>
    /// <exception cref="LeakHunterException">A heap could not be read; the message says why and what to do.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public CensusDiffReport ExplainGrowth(CensusDiffReport diff, HeapInspector before, int maxTypes = 10, int maxInstancesPerType = 1000, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(diff);
        ArgumentNullException.ThrowIfNull(before);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxTypes);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxInstancesPerType);
        if (diff.After != Target.Description || diff.Before != before.Target.Description)
        {
            throw new ArgumentException($"The diff compares {diff.Before} with {diff.After}, but the inspectors read {before.Target.Description} and {Target.Description}: " +
                "open this inspector on the heap of the diff's second census, and pass one on the heap of its first.", nameof(diff));
        }
        using CancellationTokenRegistration abortBefore = cancellationToken.Register(before._session.Abort);
        return Cancellable(() => GrowthDiff.Explain(diff, before._session, _session, maxTypes, maxInstancesPerType, _baseline), cancellationToken);
    }

    /// <summary>
    /// <see cref="ExplainGrowth"/> without holding the caller's thread: the tracing runs on a thread-pool thread while
    /// the inspectors walk both heaps.
    /// </summary>
    /// <inheritdoc cref="ExplainGrowth" path="/param"/>
    /// <inheritdoc cref="ExplainGrowth" path="/returns"/>
    /// <inheritdoc cref="ExplainGrowth" path="/exception"/>
    public Task<CensusDiffReport> ExplainGrowthAsync(CensusDiffReport diff, HeapInspector before, int maxTypes = 10, int maxInstancesPerType = 1000,
        CancellationToken cancellationToken = default) =>
        OffTheCallersThread(() => ExplainGrowth(diff, before, maxTypes, maxInstancesPerType, cancellationToken), cancellationToken);

    /// <summary>
    /// Two heaps compared in one call, as <c>leakhunter diff</c> does: a census of each, every type's change, and, when
    /// asked or when <see cref="InspectionOptions.BaselinePath"/> is set, what holds the types that gained the most
    /// (<see cref="ExplainGrowth"/>), matched against the known leaks.
    /// </summary>
    /// <param name="before">The earlier heap: a dump, or a live process.</param>
    /// <param name="after">The later heap.</param>
    /// <param name="options">How both are read, and the baseline of known leaks.</param>
    /// <param name="order">How the changes are sorted.</param>
    /// <param name="explainGrowth">Trace what holds the growth even without a baseline.</param>
    /// <param name="cancellationToken">Stops the censuses and the tracing, even in the middle of a heap walk.</param>
    /// <returns>The changes, most growth first, with their causes when the growth was explained.</returns>
    /// <exception cref="LeakHunterException">An inspector could not start, or a heap could not be read; the message says why and what to do.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static CensusDiffReport Diff(InspectionTarget before, InspectionTarget after, InspectionOptions? options = null, CensusOrder order = CensusOrder.Bytes,
        bool explainGrowth = false, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(before);
        ArgumentNullException.ThrowIfNull(after);
        options ??= InspectionOptions.Default;
        // Only the later side is matched against the known leaks; the earlier one is read without them.
        using HeapInspector first = Open(before, new InspectionOptions { HeapWalkTimeout = options.HeapWalkTimeout });
        using HeapInspector second = Open(after, options);
        CensusDiffReport compared = CensusDiffReport.Compare(first.TakeCensus(cancellationToken: cancellationToken),
            second.TakeCensus(cancellationToken: cancellationToken), order);
        return explainGrowth || options.BaselinePath is not null ? second.ExplainGrowth(compared, first, cancellationToken: cancellationToken) : compared;
    }

    /// <summary><see cref="Diff"/> without holding the caller's thread.</summary>
    /// <inheritdoc cref="Diff" path="/param"/>
    /// <inheritdoc cref="Diff" path="/returns"/>
    /// <inheritdoc cref="Diff" path="/exception"/>
    public static Task<CensusDiffReport> DiffAsync(InspectionTarget before, InspectionTarget after, InspectionOptions? options = null,
        CensusOrder order = CensusOrder.Bytes, bool explainGrowth = false, CancellationToken cancellationToken = default) =>
        OffTheCallersThread(() => Diff(before, after, options, order, explainGrowth, cancellationToken), cancellationToken);

    /// <summary>
    /// Censuses of what a live process's roots reach, <paramref name="interval"/> apart: the types that grew in
    /// every interval, their rates per second, and what holds their instances.
    /// </summary>
    /// <param name="interval">The pause between two censuses.</param>
    /// <param name="samples">Censuses to take, at least 3: growth must show in two intervals to tell it from a one-off.</param>
    /// <param name="progress">Told what the watch is doing, a line at a time; the library itself prints nothing.</param>
    /// <param name="cancellationToken">Stops the watch, even in the middle of a heap walk.</param>
    /// <exception cref="InvalidOperationException">The target is a dump, which cannot change over time.</exception>
    /// <exception cref="LeakHunterException">The heap could not be read; the message says why and what to do.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public WatchReport Watch(TimeSpan interval, int samples = 5, IProgress<string>? progress = null, CancellationToken cancellationToken = default)
    {
        ThrowIfNotWatchable(interval, samples);
        return Cancellable(() => WatchRun.Run(_session, interval, samples, progress, _baseline, cancellationToken), cancellationToken);
    }

    /// <summary>
    /// <see cref="Watch"/> without holding a thread while the process runs between censuses: the pauses are awaited,
    /// and each census runs on a thread-pool thread.
    /// </summary>
    /// <inheritdoc cref="Watch" path="/param"/>
    /// <inheritdoc cref="Watch" path="/exception"/>
    public async Task<WatchReport> WatchAsync(TimeSpan interval, int samples = 5, IProgress<string>? progress = null, CancellationToken cancellationToken = default)
    {
        ThrowIfNotWatchable(interval, samples);
        cancellationToken.ThrowIfCancellationRequested();
        using CancellationTokenRegistration abort = cancellationToken.Register(_session.Abort);
        try
        {
            return await Task.Run(() => WatchRun.RunAsync(_session, interval, samples, progress, _baseline, cancellationToken), cancellationToken).ConfigureAwait(false);
        }
        catch (LeakHunterException e) when (cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException("The inspection was cancelled; its inspector was stopped.", e, cancellationToken);
        }
    }

    /// <summary>Stops the inspector.</summary>
    public void Dispose() => _session.Dispose();

    private void ThrowIfNotWatchable(TimeSpan interval, int samples)
    {
        if (Target.IsDump)
            throw new InvalidOperationException($"A dump cannot be watched: it never changes. Watch the live process, or compare two dumps with HeapInspector.Diff.");
        if (interval <= TimeSpan.Zero || interval > TimeSpan.FromDays(1))
            throw new ArgumentOutOfRangeException(nameof(interval), interval, "The interval must be above 0 and at most a day.");
        if (samples < 3)
            throw new ArgumentOutOfRangeException(nameof(samples), samples, "A watch takes at least 3 censuses: growth must show in at least two intervals to tell it from a one-off.");
    }

    // The inspector answers one blocking request at a time over its pipe; a thread-pool thread waits for it instead of
    // the caller's.
    private static Task<T> OffTheCallersThread<T>(Func<T> request, CancellationToken cancellationToken) =>
        cancellationToken.IsCancellationRequested ? Task.FromCanceled<T>(cancellationToken) : Task.Run(request, cancellationToken);

    // A request in flight cannot be interrupted politely, so cancellation stops the inspector; its failure then
    // reads as the cancellation it is.
    private T Cancellable<T>(Func<T> request, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        using CancellationTokenRegistration abort = cancellationToken.Register(_session.Abort);
        try
        {
            return request();
        }
        catch (LeakHunterException e) when (cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException("The inspection was cancelled; its inspector was stopped.", e, cancellationToken);
        }
    }
}
