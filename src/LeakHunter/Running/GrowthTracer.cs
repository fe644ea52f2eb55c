using LeakHunter.Analysis;

namespace LeakHunter.Running;

/// <summary>
/// Marks where the growing types' instances are, and traces the paths to those that are new since: the mark and
/// explain stages of a check.
/// </summary>
internal sealed class GrowthTracer(InspectionSession censuses, HeapSettler settler, FragmentLoop loop, LeakOptions options, List<string> warnings,
    CancellationToken cancellationToken)
{
    // Intervals the explanation runs while GCs keep compacting; each costs a mark and as many iterations as the last round.
    private const int MaxExplainedIntervals = 3;

    /// <summary>The iteration the growing types' instances were marked at, when they were.</summary>
    public int? MarkedAt { get; private set; }

    /// <summary>Iterations the last confirmation round ran; an interval the explanation runs on its own is as long.</summary>
    public int LastRoundIterations { get; set; }

    /// <summary>Iterations run between the mark and the explanation: the calls whose new instances the explanation traces.</summary>
    public int ExplainedIterations { get; private set; }

    /// <summary>
    /// Marks where the instances of <paramref name="candidates"/> are before the confirmation runs, so the
    /// explanation traces the very growth that confirmation sees: a collection's array, replaced only when it doubles,
    /// is replaced in those runs (they double what ran before), and its new array is the instance that grew. It is
    /// taken again after a round in which the runtime ran a full blocking GC of its own, which may have moved marked
    /// objects so that they would look new.
    /// </summary>
    /// <remarks>When the mark cannot be taken, <see cref="MarkedAt"/> stays null and the explanation marks on its own.</remarks>
    public void TryMark(IReadOnlyCollection<string> candidates)
    {
        cancellationToken.ThrowIfCancellationRequested();
        try
        {
            MarkSettledHeap(candidates);
        }
        catch (LeakHunterException e) when (e.Failure is LeakHunterFailure.CensusFailed)
        {
            warnings.Add($"The leaks could not be explained: {e.Message}");
            MarkedAt = null;
        }
    }

    /// <summary>Whether the mark was taken and a GC may have moved what it saw since.</summary>
    public bool MarkNeedsRetaking => MarkedAt is not null && settler.MarkMayHaveMoved;

    private void MarkSettledHeap(IReadOnlyCollection<string> types)
    {
        settler.SettleForMark();
        censuses.Mark(types);
        MarkedAt = loop.Iterations;
    }

    /// <summary>
    /// Asks what holds the instances of the growing types that are new since the mark. When no mark was taken before
    /// confirmation, or no iteration ran since, it marks now and runs one more interval, as long as the last
    /// confirmation round: what other threads make meanwhile (a test host's own caches) then weighs as little against
    /// the growth as it did in the rounds. The heap is settled without compacting after the mark, so the old instances
    /// stay where they were marked and only the new ones have addresses the mark has not seen; an interval in which a
    /// GC compacted all the same is run again, a few times at most.
    /// </summary>
    public async ValueTask<LeakExplanation?> ExplainAsync(IReadOnlyCollection<string> growingTypes)
    {
        cancellationToken.ThrowIfCancellationRequested();
        try
        {
            for (int intervals = 0; MarkedAt is null || MarkedAt == loop.Iterations || settler.MarkMayHaveMoved; intervals++)
            {
                if (intervals == MaxExplainedIntervals)
                {
                    warnings.Add($"A GC compacted the heap in each of the {MaxExplainedIntervals} intervals run to explain the growth, so some instances " +
                        "traced as new may be older ones it moved: a path to a collection that did not grow may be one of those.");
                    break;
                }
                settler.Settle();
                MarkSettledHeap(growingTypes);
                await loop.RunAsync(Math.Max(options.IterationsPerCensus, LastRoundIterations)).ConfigureAwait(false);
                settler.SettleWithoutCompacting();
            }
            ExplainedIterations = loop.Iterations - MarkedAt!.Value;
            return censuses.Explain(options.MaxPathsPerType, growingTypes);
        }
        catch (LeakHunterException e) when (e.Failure is LeakHunterFailure.CensusFailed or LeakHunterFailure.InspectorExited)
        {
            // The verdict stands on the censuses already taken; only the explanation is lost (an inspector the system
            // stopped for want of memory included: the next check starts another).
            warnings.Add($"The leaks could not be explained: {e.Message}");
            return null;
        }
    }
}
