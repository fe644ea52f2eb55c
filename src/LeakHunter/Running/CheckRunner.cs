using System.Diagnostics;
using System.Runtime.CompilerServices;
using LeakHunter.Analysis;
using LeakHunter.Census;
using LeakHunter.Platform;

namespace LeakHunter.Running;

/// <summary>
/// Warm-up, counted censuses, then confirmation of what grew. Everything the check itself keeps is allocated
/// before the first counted census and never grows, so LeakHunter never shows up in its own counts.
/// </summary>
internal sealed class CheckRunner
{
    // One check at a time per process: two checks would count each other's objects.
    private static readonly SemaphoreSlim s_oneCheckAtATime = new(1, 1);
    private static readonly int s_mallocSlot = ResourceNames.SlotOf(ResourceNames.NativeMemory, ResourceNames.MallocInUse);

    // Set for the code a check runs (its fragment included, and whatever that fragment starts or awaits): a check
    // started there would wait for the semaphore its own caller holds.
    private static readonly AsyncLocal<bool> s_insideCheck = new();

    // Routes whose code has run once in this process; guarded by s_oneCheckAtATime.
    private static readonly HashSet<CensusRoute> s_primedRoutes = new();

    private readonly Fragment _fragment;
    private readonly LeakOptions _options;
    private readonly LeakBaseline? _baseline;
    private readonly CancellationToken _cancellationToken;
    private readonly CensusRecord[] _records;
    // Each census's resource readings, one per ResourceNames.Slots entry: sized with the records, so keeping them adds
    // no object while the check counts.
    private readonly long[] _resources;
    // The confirmation censuses' indices: allocated with the check, since a list made during confirmation would be counted by it.
    private readonly int[] _confirmations;
    private GrowthConfirmation? _confirmation;
    // The iteration the growing types' instances were marked at, when they were.
    private int? _markedAt;
    // The last full blocking GC LeakHunter itself made after the mark, and whether another one (the runtime's own, which
    // may compact) ran since, or one of LeakHunter's compacted: then marked objects may have moved and look new, and
    // the mark is taken again.
    private long _ownFullGc;
    private bool _markMayHaveMoved;
    // Iterations the last confirmation round ran; an interval the explanation runs on its own is as long.
    private int _lastRoundIterations;
    private bool _finalizerBlocked;
    private readonly List<string> _warnings = new();
    private int _recordCount;
    private bool _watchOtherThreads;
    private long _otherThreadsBytes;
    private int _iterations;
    // Iterations run between the mark and the explanation: the calls whose new instances the explanation traces.
    private int _explainedIterations;

    private CheckRunner(Fragment fragment, LeakOptions options, CancellationToken cancellationToken)
    {
        _fragment = fragment;
        _options = options;
        // Read before the first iteration: a file that is not a baseline fails the check at once, not after it ran.
        _baseline = options.BaselinePath is null ? null : LeakBaseline.Load(options.BaselinePath);
        _cancellationToken = cancellationToken;
        _confirmations = new int[MaxConfirmationRounds(options)];
        _records = new CensusRecord[options.Censuses + 1 + _confirmations.Length];
        _resources = new long[_records.Length * ResourceNames.Slots.Length];
    }

    /// <summary>Runs <paramref name="work"/> with no check running alongside: the two would count each other's objects.</summary>
    public static T Exclusive<T>(Func<T> work)
    {
        ThrowIfNested();
        s_oneCheckAtATime.Wait();
        try
        {
            s_insideCheck.Value = true;
            return work();
        }
        finally
        {
            s_insideCheck.Value = false;
            s_oneCheckAtATime.Release();
        }
    }

    private static void ThrowIfNested()
    {
        if (s_insideCheck.Value)
            throw new LeakHunterException(LeakHunterFailure.NestedCheck,
                "A leak check was started inside another one (from the code under test, or from its fragment). " +
                "Checks cannot nest: the inner one would count the outer one's objects and wait for it forever. " +
                "Start each check from the test itself, one after the other.");
    }

    public static LeakReport Run(Fragment fragment, LeakOptions? options, CancellationToken cancellationToken)
    {
        options ??= LeakOptions.Default;
        options.Validate();
        ThrowIfNested();
        s_oneCheckAtATime.Wait(cancellationToken);
        try
        {
            s_insideCheck.Value = true;
            // A synchronous fragment never yields, so this completes on the calling thread.
            ValueTask<LeakReport> check = new CheckRunner(fragment, options, cancellationToken).RunAsync();
            Debug.Assert(check.IsCompleted);
            return check.GetAwaiter().GetResult();
        }
        finally
        {
            s_insideCheck.Value = false;
            s_oneCheckAtATime.Release();
        }
    }

    public static async Task<LeakReport> RunAsync(Fragment fragment, LeakOptions? options, CancellationToken cancellationToken)
    {
        options ??= LeakOptions.Default;
        options.Validate();
        ThrowIfNested();
        await s_oneCheckAtATime.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // Set inside this async method, so it flows into the fragment and is gone for the caller when it returns.
            s_insideCheck.Value = true;
            return await new CheckRunner(fragment, options, cancellationToken).RunAsync().ConfigureAwait(false);
        }
        finally
        {
            s_oneCheckAtATime.Release();
        }
    }

    private async ValueTask<LeakReport> RunAsync()
    {
        long started = Stopwatch.GetTimestamp();
        using var censuses = InspectionSession.OfThisProcess(_options);

        // The first census on a route runs LeakHunter's own code once (JIT, first-use caches, the route choice)
        // before anything is counted, so the very first check in a process is as reliable as the later ones.
        if (!s_primedRoutes.Contains(censuses.Route))
        {
            await RunIterationsAsync(1).ConfigureAwait(false);
            SettleAndTake(censuses, CensusPhase.Counted);
            _ = HasCandidates(censuses, 0);
            _recordCount = 0;
            await RunIterationsAsync(_options.WarmupIterations - 1).ConfigureAwait(false);
            s_primedRoutes.Add(censuses.Route);
        }
        else
        {
            await RunIterationsAsync(_options.WarmupIterations).ConfigureAwait(false);
        }

        _watchOtherThreads = true;
        long countedStarted = Stopwatch.GetTimestamp();
        SettleAndTake(censuses, CensusPhase.Counted);
        for (int c = 1; c < _options.Censuses; c++)
        {
            await RunIterationsAsync(_options.IterationsPerCensus).ConfigureAwait(false);
            SettleAndTake(censuses, CensusPhase.Counted);
        }
        TimeSpan countedTime = Stopwatch.GetElapsedTime(countedStarted);
        int countedLast = _recordCount - 1;

        int? idle = null;
        int confirmed = 0;
        // A resource that rose in every counted interval is confirmed like a type: an idle census tells the thread pool's
        // or the allocator's own growth from the fragment's, and the rounds tell a pool that fills up from a leak.
        bool typeCandidates = HasCandidates(censuses, countedLast);
        if (_options.ConfirmGrowth && (typeCandidates || GrowingResources(countedLast, idle: null, confirmed: 0) > 0))
        {
            TimeSpan interval = countedTime / (_options.Censuses - 1);
            int idleCensus = await TakeIdleCensusAsync(censuses, interval).ConfigureAwait(false);
            idle = idleCensus;
            // Fetched only now: the idle census must not count the list of names.
            if (_options.ExplainLeaks && typeCandidates)
                TryMark(censuses, Candidates(censuses, countedLast));
            confirmed = await ConfirmAsync(censuses, countedTime, countedLast, idleCensus, compacting: _markedAt is null).ConfigureAwait(false);
        }
        IReadOnlyList<TypeSeries> series = censuses.Histograms(CensusIds());
        (List<TypeSeries> growing, List<TypeSeries> background) = GrowthAnalyzer.Confirm(series, Iterations(), countedLast, idle, _confirmations[..confirmed]);
        IReadOnlyList<ResourceUsage> resources = JudgeResources(countedLast, idle, confirmed, IgnoreRules.For(_options));
        resources = ExplainResources(censuses, resources, growing);
        LeakExplanation? explanation = growing.Count > 0 && _options.ExplainLeaks
            ? await ExplainAsync(censuses, growing.Select(g => g.Type).ToArray()).ConfigureAwait(false)
            : null;

        if (_otherThreadsBytes > _options.ParallelAllocationWarningBytes)
            _warnings.Add($"Other threads allocated {_otherThreadsBytes / (1024.0 * 1024.0):0.#} MiB while this check ran, so its counts may be polluted by their objects. " +
                "Run leak checks without parallel tests (in xunit, put them in a collection with DisableParallelization = true).");

        if (_finalizerBlocked)
        {
            _warnings.Add(FinalizerBlockedWarning(censuses));
            explanation = explanation is null ? null : explanation with { FinalizerThreadBlocked = true };
        }

        return BuildReport(censuses.Strategy, growing, background, explanation, resources, Stopwatch.GetElapsedTime(started));
    }

    /// <summary>
    /// Marks where the instances of <paramref name="candidates"/> are before the confirmation runs, so the
    /// explanation traces the very growth that confirmation sees: a collection's array, replaced only when it doubles,
    /// is replaced in those runs (they double what ran before), and its new array is the instance that grew. It is
    /// taken again after a round in which the runtime ran a full blocking GC of its own, which may have moved marked
    /// objects so that they would look new.
    /// </summary>
    /// <remarks>Sets <see cref="_markedAt"/>; it stays null when the mark could not be taken (the explanation then marks on its own).</remarks>
    private void TryMark(InspectionSession censuses, IReadOnlyCollection<string> candidates)
    {
        _cancellationToken.ThrowIfCancellationRequested();
        try
        {
            MarkSettledHeap(censuses, candidates);
        }
        catch (LeakHunterException e) when (e.Failure is LeakHunterFailure.CensusFailed)
        {
            _warnings.Add($"The leaks could not be explained: {e.Message}");
            _markedAt = null;
        }
    }

    /// <summary>Marks a heap that was just settled, and notes when.</summary>
    private void MarkSettledHeap(InspectionSession censuses, IReadOnlyCollection<string> types)
    {
        // One more full GC puts every survivor in gen2, where no young-generation GC moves it, and the settles after
        // the mark do not compact. This one does, so that the old generation has no gaps for a later GC to close.
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        censuses.Mark(types);
        _markedAt = _iterations;
        _ownFullGc = LastFullBlockingGc();
        _markMayHaveMoved = false;
    }

    private static long LastFullBlockingGc() => GC.GetGCMemoryInfo(GCKind.FullBlocking).Index;

    /// <summary>
    /// Asks what holds the instances of the growing types that are new since the mark. When no mark was taken before
    /// confirmation, or no iteration ran since, it marks now and runs one more interval, as long as the last
    /// confirmation round: what other threads make meanwhile (a test host's own caches) then weighs as little against
    /// the growth as it did in the rounds. The heap is settled without compacting after the mark, so the old instances
    /// stay where they were marked and only the new ones have addresses the mark has not seen; an interval in which a
    /// GC compacted all the same is run again, a few times at most.
    /// </summary>
    private async ValueTask<LeakExplanation?> ExplainAsync(InspectionSession censuses, IReadOnlyCollection<string> growingTypes)
    {
        _cancellationToken.ThrowIfCancellationRequested();
        try
        {
            for (int intervals = 0; _markedAt is null || _markedAt == _iterations || _markMayHaveMoved; intervals++)
            {
                if (intervals == MaxExplainedIntervals)
                {
                    _warnings.Add($"A GC compacted the heap in each of the {MaxExplainedIntervals} intervals run to explain the growth, so some instances " +
                        "traced as new may be older ones it moved: a path to a collection that did not grow may be one of those.");
                    break;
                }
                Settle();
                MarkSettledHeap(censuses, growingTypes);
                await RunIterationsAsync(Math.Max(_options.IterationsPerCensus, _lastRoundIterations)).ConfigureAwait(false);
                SettleWithoutCompacting();
            }
            _explainedIterations = _iterations - _markedAt!.Value;
            return censuses.Explain(_options.MaxPathsPerType, growingTypes);
        }
        catch (LeakHunterException e) when (e.Failure is LeakHunterFailure.CensusFailed or LeakHunterFailure.InspectorExited)
        {
            // The verdict stands on the censuses already taken; only the explanation is lost (an inspector the system
            // stopped for want of memory included: the next check starts another).
            _warnings.Add($"The leaks could not be explained: {e.Message}");
            return null;
        }
    }

    /// <summary>
    /// What the new items of each grown resource are, since the first counted census: the threads, handles,
    /// descriptors and assemblies made since, and for native memory the growing types beside it.
    /// </summary>
    private IReadOnlyList<ResourceUsage> ExplainResources(InspectionSession censuses, IReadOnlyList<ResourceUsage> resources, List<TypeSeries> growingTypes)
    {
        string[] grown = resources.Where(r => r.Growing).Select(r => r.Name).ToArray();
        if (grown.Length == 0 || !_options.ExplainLeaks)
            return resources;
        IReadOnlyList<ResourceFindingMessage> found;
        try
        {
            found = censuses.ExplainResources(_records[0].Id, grown);
        }
        catch (LeakHunterException e) when (e.Failure is LeakHunterFailure.CensusFailed)
        {
            _warnings.Add($"The resources that grew could not be explained: {e.Message}");
            found = [];
        }
        int span = _records[_recordCount - 1].Iteration - _records[0].Iteration;
        return ResourceFindings.Explained(resources, found, growingTypes.Select(t => (t.Type, GrowthAnalyzer.Rate(t.Bytes, span))).ToArray(), "iteration");
    }

    /// <summary>The selected resources judged on the censuses taken so far, by the rules growing types are judged by.</summary>
    private IReadOnlyList<ResourceUsage> JudgeResources(int countedLast, int? idle, int confirmed, IReadOnlyList<LeakIgnore> rules) =>
        ResourceGrowth.Judge(_resources[..(_recordCount * ResourceNames.Slots.Length)], Iterations().Select(i => (double)i).ToArray(), countedLast, idle,
            _confirmations[..confirmed], _options.Resources, _options.NativeMemoryNoiseBytes, rules, confirmationDecides: _options.ConfirmGrowth);

    /// <summary>How many selected resources still grow, whether or not a rule ignores them: confirmation must decide them all.</summary>
    private int GrowingResources(int countedLast, int? idle, int confirmed) => JudgeResources(countedLast, idle, confirmed, rules: []).Count(r => r.Growing);

    /// <summary>
    /// Whether anything grew in the counted run. It keeps nothing it fetched: the idle census that may follow
    /// must see the heap as the last counted census left it.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool HasCandidates(InspectionSession censuses, int countedLast) => Candidates(censuses, countedLast).Length > 0;

    private string[] Candidates(InspectionSession censuses, int countedLast) =>
        GrowthAnalyzer.FindCandidates(censuses.Histograms(CensusIds()), 0, countedLast).Select(s => s.Type).ToArray();

    private async ValueTask<int> TakeIdleCensusAsync(InspectionSession censuses, TimeSpan countedInterval)
    {
        TimeSpan pause = TimeSpan.FromTicks(Math.Clamp(countedInterval.Ticks, TimeSpan.FromMilliseconds(50).Ticks, TimeSpan.FromSeconds(1).Ticks));
        await _fragment.IdleAsync(pause, _cancellationToken).ConfigureAwait(false);
        SettleAndTake(censuses, CensusPhase.Idle);
        return _recordCount - 1;
    }

    // Growth this large is a leak by any measure: confirmation stops rather than let the process under test grow on.
    private const long ConfirmationMemoryCap = 256L << 20;
    private const long ConfirmationInstanceCap = 1_000_000;

    // A thousand threads, handles, descriptors or assemblies more is a leak by any measure, and a process that goes on
    // may meet its descriptor limit, or the machine's.
    private const long ConfirmationItemCap = 1_000;

    // At least this many rounds: a type that grows in steps is judged on two of them.
    private const int MinConfirmationRounds = 2;

    // Intervals the explanation runs while GCs keep compacting; each costs a mark and as many iterations as the last round.
    private const int MaxExplainedIntervals = 3;

    /// <summary>The most rounds confirmation may take: to four times <see cref="LeakOptions.ConfirmationIterations"/>, doubling from the counted run.</summary>
    private static int MaxConfirmationRounds(LeakOptions options)
    {
        long total = options.WarmupIterations + (long)(options.Censuses - 1) * options.IterationsPerCensus;
        int rounds = 0;
        while (total < 4L * options.ConfirmationIterations || rounds < MinConfirmationRounds)
        {
            total *= 2;
            rounds++;
        }
        return rounds;
    }

    /// <summary>
    /// Rounds, each as long as everything run before it, so the total doubles each time: a cache still filling fills
    /// up and stops, while a collection's array, which grows in doubling steps, takes a step in nearly every round.
    /// Rounds go on until the fragment has run <see cref="LeakOptions.ConfirmationIterations"/> times in all, while a
    /// step-wise type is still undecided, and stop early once nothing grows. Each round is settled by full GCs inside
    /// it, so a runtime list that prunes its dead weak references on a GC gets to prune. Once instances are marked,
    /// the rounds are the explained interval and their settles do not compact (<paramref name="compacting"/> false):
    /// a compacting GC would move the marked instances so that they look new.
    /// </summary>
    /// <returns>How many confirmation censuses were taken; their indices are in <see cref="_confirmations"/>.</returns>
    private async ValueTask<int> ConfirmAsync(InspectionSession censuses, TimeSpan countedTime, int countedLast, int idle, bool compacting)
    {
        int countedIterations = (_options.Censuses - 1) * _options.IterationsPerCensus;
        // The counted run's time per iteration includes its censuses; once a round has run, the two are measured apart.
        double secondsPerIteration = countedTime.TotalSeconds / countedIterations;
        double censusSeconds = 0;
        int taken = 0;
        int shortened = 0;
        int startIterations = _iterations;
        long startWorkingSet = Environment.WorkingSet;
        long started = Stopwatch.GetTimestamp();
        string decision;
        while (true)
        {
            int wanted = _iterations;
            double left = (_options.ConfirmationBudget - Stopwatch.GetElapsedTime(started)).TotalSeconds - censusSeconds;
            int affordable = secondsPerIteration <= 0 ? wanted : (int)Math.Clamp(left / secondsPerIteration, 0, wanted);
            if (affordable < _options.IterationsPerCensus)
            {
                decision = $"the confirmation budget ({_options.ConfirmationBudget.TotalSeconds:0.#} s) ran out after {taken} round(s); what had kept growing by then is reported";
                _warnings.Add($"Growth was confirmed in {taken} round(s) only: the confirmation budget ({_options.ConfirmationBudget.TotalSeconds:0.#} s) ran out. " +
                    "A cache that is still filling may be reported as a leak; raise LeakOptions.ConfirmationBudget to be sure.");
                break;
            }
            if (affordable < wanted)
                shortened++;

            long roundStarted = Stopwatch.GetTimestamp();
            await RunRoundAsync(affordable, compacting).ConfigureAwait(false);
            _lastRoundIterations = affordable;
            secondsPerIteration = Stopwatch.GetElapsedTime(roundStarted).TotalSeconds / affordable;
            long censusStarted = Stopwatch.GetTimestamp();
            SettleAndTake(censuses, CensusPhase.Confirmation, compacting);
            censusSeconds = Stopwatch.GetElapsedTime(censusStarted).TotalSeconds;
            _confirmations[taken++] = _recordCount - 1;
            if (_markedAt is not null && _markMayHaveMoved)
                TryMark(censuses, Candidates(censuses, countedLast));

            (int growing, int undecided, long bytesAdded, long instancesAdded) = Standing(censuses, countedLast, idle, taken);
            int resources = GrowingResources(countedLast, idle, taken);
            if (growing + undecided + resources == 0)
            {
                decision = $"nothing kept growing at its counted rate in round {taken}: growth that stops (a cache filling to its bound, a list the runtime prunes, a pool of threads reaching its size) is not a leak";
                break;
            }
            if (taken < MinConfirmationRounds)
                continue;
            // The process's own memory counts too: a generated assembly per call costs far more native memory than heap.
            long processAdded = Environment.WorkingSet - startWorkingSet;
            long itemsAdded = ResourceItemsAdded(idle);
            if (bytesAdded >= ConfirmationMemoryCap || instancesAdded >= ConfirmationInstanceCap || processAdded >= ConfirmationMemoryCap || itemsAdded >= ConfirmationItemCap)
            {
                decision = $"the growing types{AndResources(resources)} gained {instancesAdded:N0} instances and {bytesAdded / (1024.0 * 1024.0):0} MiB of heap in {taken} round(s), " +
                    $"the process {processAdded / (1024.0 * 1024.0):0} MiB of memory and {itemsAdded:N0} threads, handles, descriptors or assemblies, past the " +
                    $"{ConfirmationInstanceCap:N0} instances, {ConfirmationMemoryCap >> 20} MiB or {ConfirmationItemCap:N0} items at which growth is a leak by any measure";
                break;
            }
            if (_iterations >= _options.ConfirmationIterations && undecided == 0)
            {
                decision = $"{growing} type(s){AndResources(resources)} kept growing at their counted rate through {taken} round(s), to {_iterations:N0} iterations in all";
                break;
            }
            if (taken == _confirmations.Length)
            {
                decision = $"{growing} type(s){AndResources(resources)} kept growing through {taken} round(s), to {_iterations:N0} iterations in all; {undecided} that grow in steps missed their last step and are not reported";
                break;
            }
        }
        if (shortened > 0)
            _warnings.Add($"{shortened} confirmation round(s) were shortened to stay within LeakOptions.ConfirmationBudget ({_options.ConfirmationBudget.TotalSeconds:0.#} s).");
        _confirmation = new GrowthConfirmation(taken, _iterations - startIterations, decision);
        return taken;
    }

    /// <summary>The most any resource counted in items (all but native memory's bytes) gained from the idle census to the last.</summary>
    private long ResourceItemsAdded(int idle)
    {
        int slots = ResourceNames.Slots.Length, last = _recordCount - 1;
        long most = 0;
        foreach (string name in ResourceNames.All.Where(n => n != ResourceNames.NativeMemory))
        {
            int total = ResourceNames.SlotOf(name, ResourceNames.Total);
            long then = _resources[idle * slots + total], now = _resources[last * slots + total];
            if (then >= 0 && now >= 0)
                most = Math.Max(most, now - then);
        }
        return most;
    }

    private static string AndResources(int resources) => resources == 0 ? "" : $" and {resources} resource(s)";

    /// <summary>Runs one confirmation round in a few parts, with the heap settled between them.</summary>
    private async ValueTask RunRoundAsync(int iterations, bool compacting)
    {
        int parts = Math.Clamp(iterations / _options.IterationsPerCensus, 1, 4);
        for (int part = 0; part < parts; part++)
        {
            if (part > 0)
            {
                if (compacting)
                    Settle();
                else
                    SettleWithoutCompacting();
            }
            int done = iterations * part / parts;
            await RunIterationsAsync(iterations * (part + 1) / parts - done).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// How many candidates still grow, how many are undecided, the bytes the growing ones added since the idle
    /// census, and the most instances one of them added. It keeps nothing it fetched: the next round's census must not count it.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private (int Growing, int Undecided, long BytesAdded, long InstancesAdded) Standing(InspectionSession censuses, int countedLast, int idle, int taken)
    {
        int growing = 0, undecided = 0;
        long bytesAdded = 0, instancesAdded = 0;
        int last = _confirmations[taken - 1];
        foreach ((TypeSeries series, GrowthVerdict verdict) in GrowthAnalyzer.Judge(censuses.Histograms(CensusIds()), Iterations(), countedLast, idle, _confirmations[..taken]))
        {
            if (verdict == GrowthVerdict.Growing)
            {
                growing++;
                bytesAdded += series.Bytes[last] - series.Bytes[idle];
                instancesAdded = Math.Max(instancesAdded, series.Counts[last] - series.Counts[idle]);
            }
            else if (verdict == GrowthVerdict.Undecided)
            {
                undecided++;
            }
        }
        return (growing, undecided, bytesAdded, instancesAdded);
    }

    private int[] Iterations() => _records.Take(_recordCount).Select(r => r.Iteration).ToArray();

    private async ValueTask RunIterationsAsync(int count)
    {
        if (_fragment is Fragment.Synchronous)
        {
            var window = AllocationWindow.Open();
            await _fragment.RunAsync(count, _cancellationToken).ConfigureAwait(false);
            WatchOtherThreads(window);
        }
        else
        {
            // An async fragment's own continuations run on other threads: only the censuses can tell its work from theirs.
            await _fragment.RunAsync(count, _cancellationToken).ConfigureAwait(false);
        }
        _iterations += count;
    }

    /// <summary>
    /// Collects what the last iterations left, keeping every survivor where it is, so marked addresses stay true. A GC
    /// asked not to compact may compact all the same, and does whenever a full GC meets young objects that mostly
    /// died: it then moves the old generation too, where every marked object is. So the young generations are
    /// collected first, by a GC that never touches the old one; a full GC that still compacted (an old generation
    /// left too fragmented) is noted, and the mark is taken again.
    /// </summary>
    private void SettleWithoutCompacting()
    {
        _cancellationToken.ThrowIfCancellationRequested();
        if (LastFullBlockingGc() != _ownFullGc)
            _markMayHaveMoved = true;
        for (int i = 0; i < 2; i++)
        {
            _finalizerBlocked |= !FinalizerWaiter.Wait(FinalizerWaiter.Limit);
            CollectWithoutCompacting(1);
            CollectWithoutCompacting(GC.MaxGeneration);
        }
        _ownFullGc = LastFullBlockingGc();
    }

    /// <summary>A blocking GC of <paramref name="generation"/> that does not ask to compact; one that became a compacting full GC is noted.</summary>
    private void CollectWithoutCompacting(int generation)
    {
        long before = LastFullBlockingGc();
        GC.Collect(generation, GCCollectionMode.Forced, blocking: true, compacting: false);
        GCMemoryInfo full = GC.GetGCMemoryInfo(GCKind.FullBlocking);
        if (full.Index != before && full.Compacted)
            _markMayHaveMoved = true;
    }

    private void SettleAndTake(InspectionSession censuses, CensusPhase phase, bool compacting = true)
    {
        _cancellationToken.ThrowIfCancellationRequested();
        var window = AllocationWindow.Open();
        if (compacting)
            Settle();
        else
            SettleWithoutCompacting();
        (int id, CensusReply reply) = censuses.Take();
        _warnings.AddRange(InspectionSession.CensusWarnings(reply, $"Census {_recordCount + 1}"));
        ResourceNames.Record(_resources, _recordCount, reply.Resources);
        // Only this process can ask its own allocator; the inspector reads what is resident.
        if (reply.Resources.Count > 0)
            _resources[_recordCount * ResourceNames.Slots.Length + s_mallocSlot] = HostPlatform.Current.NativeAllocatorInUseBytes();
        _records[_recordCount++] = new CensusRecord(id, _iterations, reply.Objects, reply.Bytes, reply.PauseMs, phase);
        WatchOtherThreads(window);
    }

    private void WatchOtherThreads(AllocationWindow window)
    {
        if (_watchOtherThreads)
            _otherThreadsBytes += window.OtherThreadsBytes;
    }

    /// <summary>
    /// A settled heap: a full blocking GC, finalizers run, and a second full GC for what they released. Finalizers
    /// queued by earlier collections run first, so the second GC is needed only when the first found finalizable
    /// garbage; otherwise it would find the very same heap, at the cost of a whole extra GC per census.
    /// </summary>
    /// <returns>False when the finalizer thread is blocked: the finalizers pending did not finish within <see cref="FinalizerWaiter.Limit"/>.</returns>
    internal static bool SettleHeap()
    {
        bool finalized = FinalizerWaiter.Wait(FinalizerWaiter.Limit);
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true);
        if (!finalized || GC.GetGCMemoryInfo(GCKind.FullBlocking).FinalizationPendingCount == 0)
            return finalized;
        finalized = FinalizerWaiter.Wait(FinalizerWaiter.Limit);
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true);
        return finalized;
    }

    /// <summary>Settles the heap, and notes when the finalizer thread turns out to be blocked.</summary>
    private void Settle() => _finalizerBlocked |= !SettleHeap();

    /// <summary>
    /// What the report says of a blocked finalizer thread: every object waiting for finalization stays until it
    /// returns, so this is a leak of its own, whatever the counts say. Its stack names the finalizer and what it waits on.
    /// </summary>
    private string FinalizerBlockedWarning(InspectionSession censuses)
    {
        string where;
        try
        {
            IReadOnlyList<string> frames = censuses.FinalizerStack();
            where = frames.Count == 0 ? "its stack shows no managed frame." : "its stack, innermost first: " + string.Join(" <- ", frames) + ".";
        }
        catch (LeakHunterException e) when (e.Failure is LeakHunterFailure.CensusFailed)
        {
            where = $"its stack could not be read ({e.Message}).";
        }
        return $"The finalizer thread is blocked: the finalizers pending did not finish within {FinalizerWaiter.Limit.TotalSeconds:0} s, so every object " +
            "waiting for finalization stays in memory until it returns. A finalizer must never wait, take a lock or do I/O; " + where;
    }

    private int[] CensusIds() => _records.Take(_recordCount).Select(r => r.Id).ToArray();

    private LeakReport BuildReport(CensusStrategy strategy, List<TypeSeries> growingSeries, List<TypeSeries> background, LeakExplanation? explanation,
        IReadOnlyList<ResourceUsage> resources, TimeSpan duration)
    {
        CensusRecord[] records = _records.Take(_recordCount).ToArray();
        var summaries = records.Select(r => new CensusSummary(r.Iteration, r.Objects, r.Bytes, r.PauseMs, r.Phase)).ToArray();
        int span = records[^1].Iteration - records[0].Iteration;

        TypeGrowth ToGrowth(TypeSeries s) => new(
            s.Type,
            s.Counts,
            s.Bytes,
            GrowthAnalyzer.Rate(s.Counts, span),
            GrowthAnalyzer.Rate(s.Bytes, span));

        List<TypeGrowth> allGrowing = growingSeries.Select(ToGrowth).OrderByDescending(g => g.BytesPerIteration).ThenBy(g => g.Type, StringComparer.Ordinal).ToList();
        (List<TypeGrowth> growing, List<IgnoredLeak> ignored, explanation) = IgnoreRules.Apply(IgnoreRules.For(_options), allGrowing, explanation);
        LeakReport Report() => new(
            strategy,
            _options.WarmupIterations,
            _iterations,
            summaries,
            growing,
            background.Select(ToGrowth).OrderByDescending(g => g.BytesPerIteration).ThenBy(g => g.Type, StringComparer.Ordinal).ToArray(),
            _warnings.ToArray(),
            duration,
            explanation,
            ignored,
            explanation is null ? null : _explainedIterations,
            _confirmation ?? (_options.ConfirmGrowth ? GrowthConfirmation.NotRun : GrowthConfirmation.Off),
            _baseline,
            explanation is null ? null : FragmentCalls.Of(_fragment.Code))
        {
            Resources = resources,
        };

        return _baseline?.Reported(update =>
        {
            if (update is not null)
                _warnings.Add(update);
            return Report();
        }, r => r.Causes) ?? Report();
    }

    /// <summary>
    /// What other threads allocate while this thread runs one stretch of synchronous work. The stretch must not
    /// cross an await: the current thread's own count means nothing on another thread.
    /// </summary>
    private readonly record struct AllocationWindow(long Total, long Mine)
    {
        public static AllocationWindow Open() => new(GC.GetTotalAllocatedBytes(precise: false), GC.GetAllocatedBytesForCurrentThread());

        public long OtherThreadsBytes =>
            (GC.GetTotalAllocatedBytes(precise: false) - Total) - (GC.GetAllocatedBytesForCurrentThread() - Mine);
    }

    private readonly record struct CensusRecord(int Id, int Iteration, long Objects, long Bytes, double PauseMs, CensusPhase Phase);
}
