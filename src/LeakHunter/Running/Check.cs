using System.Diagnostics;
using LeakHunter.Analysis;
using LeakHunter.Census;

namespace LeakHunter.Running;

/// <summary>
/// A leak check, stage by stage: warm-up, counted censuses, an idle census, the mark, confirmation of what grew, the
/// verdict, the explanation and the report. Everything the check itself keeps is allocated before the first counted
/// census and never grows, so LeakHunter never shows up in its own counts.
/// </summary>
internal sealed class Check
{
    // Routes whose code has run once in this process; guarded by the check gate.
    private static readonly HashSet<CensusRoute> s_primedRoutes = new();

    private readonly CheckContext _check;
    private readonly GrowthJudge _judge;
    private readonly GrowthTracer _tracer;
    private readonly ConfirmationPlanner _planner;

    private Check(CheckContext check)
    {
        _check = check;
        _judge = new GrowthJudge(check.Censuses, check.Log, check.Options);
        _tracer = new GrowthTracer(check.Censuses, check.Settler, check.Loop, check.Options, check.Warnings, check.CancellationToken);
        _planner = new ConfirmationPlanner(check.Censuses, check.Log, check.Settler, check.Loop, _judge, _tracer, check.Options, check.Warnings);
    }

    public static LeakReport Run(Fragment fragment, LeakOptions? options, CancellationToken cancellationToken)
    {
        options ??= LeakOptions.Default;
        options.Validate();
        return CheckGate.Exclusive(() =>
        {
            // A synchronous fragment never yields, so this completes on the calling thread.
            ValueTask<LeakReport> check = RunGatedAsync(fragment, options, cancellationToken);
            Debug.Assert(check.IsCompleted);
            return check.GetAwaiter().GetResult();
        }, cancellationToken);
    }

    public static Task<LeakReport> RunAsync(Fragment fragment, LeakOptions? options, CancellationToken cancellationToken)
    {
        options ??= LeakOptions.Default;
        options.Validate();
        return CheckGate.ExclusiveAsync(() => RunGatedAsync(fragment, options, cancellationToken).AsTask(), cancellationToken);
    }

    private static async ValueTask<LeakReport> RunGatedAsync(Fragment fragment, LeakOptions options, CancellationToken cancellationToken)
    {
        CheckTimings.Start();
        long started = Stopwatch.GetTimestamp();
        // Read before the first iteration: a file that is not a baseline fails the check at once, not after it ran.
        LeakBaseline? baseline = options.BaselinePath is null ? null : LeakBaseline.Load(options.BaselinePath);
        using var censuses = InspectionSession.OfThisProcess(options);
        var check = new Check(new CheckContext(options, baseline, censuses, fragment, cancellationToken));
        LeakReport report = await check.RunStagesAsync(started).ConfigureAwait(false);
        CheckTimings.Stop();
        return report;
    }

    private async ValueTask<LeakReport> RunStagesAsync(long started)
    {
        LeakOptions options = _check.Options;
        FragmentLoop loop = _check.Loop;
        await WarmUpAsync().ConfigureAwait(false);

        loop.WatchOtherThreads = true;
        long countedStarted = Stopwatch.GetTimestamp();
        _check.TakeCensus(CensusPhase.Counted);
        for (int c = 1; c < options.Censuses; c++)
        {
            await loop.RunAsync(options.IterationsPerCensus).ConfigureAwait(false);
            _check.TakeCensus(CensusPhase.Counted);
        }
        TimeSpan countedTime = Stopwatch.GetElapsedTime(countedStarted);

        // A resource that rose in every counted interval is confirmed like a type: an idle census tells the thread pool's
        // or the allocator's own growth from the fragment's, and the rounds tell a pool that fills up from a leak.
        GrowthConfirmation? confirmation = null;
        bool typeCandidates = _judge.HasCandidates();
        if (options.ConfirmGrowth && (typeCandidates || _judge.GrowingResources() > 0))
        {
            await TakeIdleCensusAsync(countedTime / (options.Censuses - 1)).ConfigureAwait(false);
            // Fetched only now: the idle census must not count the list of names.
            if (options.ExplainLeaks && typeCandidates)
                _tracer.TryMark(_judge.Candidates());
            confirmation = await _planner.ConfirmAsync(countedTime, compacting: _tracer.MarkedAt is null).ConfigureAwait(false);
        }

        (List<TypeSeries> growing, List<TypeSeries> background) = _judge.Verdict();
        // Explained before the types are: the explanation runs more calls, whose threads and handles the counts never saw.
        IReadOnlyList<ResourceUsage> resources = _judge.Resources(IgnoreRules.For(options));
        if (options.ExplainLeaks)
            resources = ResourceExplanation.Explain(_check.Censuses, resources, _check.Log.First.Id,
                growing.Select(t => (t.Type, GrowthAnalyzer.Rate(t.Bytes, _check.Log.Span))).ToArray(), "iteration", _check.Warnings);
        LeakExplanation? explanation = growing.Count > 0 && options.ExplainLeaks
            ? await _tracer.ExplainAsync(growing.Select(g => g.Type).ToArray()).ConfigureAwait(false)
            : null;
        if (explanation is not null && options.ConfirmGrowth
            && await new DelayedRelease(_check, _judge).ReleasedAsync(explanation, growing.Select(g => g.Type).ToArray()).ConfigureAwait(false) is { Count: > 0 } released)
        {
            growing.RemoveAll(g => released.Contains(g.Type));
            explanation = growing.Count == 0 ? null : explanation with
            {
                Leaks = explanation.Leaks.Where(l => !released.Contains(l.Type)).ToArray(),
                Referrers = explanation.Referrers.Where(r => !released.Contains(r.Type)).ToArray(),
            };
        }

        if (loop.OtherThreadsBytes > options.ParallelAllocationWarningBytes)
            _check.Warnings.Add($"Other threads allocated {loop.OtherThreadsBytes / (1024.0 * 1024.0):0.#} MiB while this check ran, so its counts may be polluted by their objects. " +
                "Run leak checks without parallel tests (in xunit, put them in a collection with DisableParallelization = true).");
        if (_check.Settler.FinalizerBlocked)
        {
            _check.Warnings.Add(FinalizerBlockedWarning());
            explanation = explanation is null ? null : explanation with { FinalizerThreadBlocked = true };
        }

        return CheckReportBuilder.Build(_check, growing, background, explanation, resources, confirmation, _tracer.ExplainedIterations,
            Stopwatch.GetElapsedTime(started));
    }

    /// <summary>
    /// Runs the warm-up iterations. The first census on a route runs LeakHunter's own code once (JIT, first-use caches,
    /// the route choice) before anything is counted, so the very first check in a process is as reliable as the later ones.
    /// </summary>
    private async ValueTask WarmUpAsync()
    {
        int warmup = _check.Options.WarmupIterations;
        if (s_primedRoutes.Contains(_check.Censuses.Route))
        {
            await _check.Loop.RunAsync(warmup).ConfigureAwait(false);
            return;
        }
        await _check.Loop.RunAsync(1).ConfigureAwait(false);
        _check.TakeCensus(CensusPhase.Counted);
        _ = _judge.HasCandidates();
        _check.Log.Clear();
        await _check.Loop.RunAsync(warmup - 1).ConfigureAwait(false);
        s_primedRoutes.Add(_check.Censuses.Route);
    }

    private async ValueTask TakeIdleCensusAsync(TimeSpan countedInterval)
    {
        TimeSpan pause = TimeSpan.FromTicks(Math.Clamp(countedInterval.Ticks, TimeSpan.FromMilliseconds(50).Ticks, TimeSpan.FromSeconds(1).Ticks));
        await _check.Loop.IdleAsync(pause).ConfigureAwait(false);
        _check.TakeCensus(CensusPhase.Idle);
    }

    /// <summary>
    /// What the report says of a blocked finalizer thread: every object waiting for finalization stays until it
    /// returns, so this is a leak of its own, whatever the counts say. Its stack names the finalizer and what it waits on.
    /// </summary>
    private string FinalizerBlockedWarning()
    {
        string where;
        try
        {
            IReadOnlyList<string> frames = _check.Censuses.FinalizerStack();
            where = frames.Count == 0 ? "its stack shows no managed frame." : "its stack, innermost first: " + string.Join(" <- ", frames) + ".";
        }
        catch (LeakHunterException e) when (e.Failure is LeakHunterFailure.CensusFailed)
        {
            where = $"its stack could not be read ({e.Message}).";
        }
        return $"The finalizer thread is blocked: the finalizers pending did not finish within {FinalizerWaiter.Limit.TotalSeconds:0} s, so every object " +
            "waiting for finalization stays in memory until it returns. A finalizer must never wait, take a lock or do I/O; " + where;
    }
}
