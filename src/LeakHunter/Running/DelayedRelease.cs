using LeakHunter.Analysis;
using LeakHunter.Reports;

namespace LeakHunter.Running;

/// <summary>
/// Growth that timers set to fire once hold (a Task.Delay of a second started per call, a library's start-up delay)
/// is released when they fire: however fast the calls come, no more than a delay's worth of them is ever held. The
/// check waits out the longest such delay, within the confirmation budget, counts again, and takes back the types
/// that gave back nearly all they gained: a time-bounded hold, not a leak.
/// </summary>
internal sealed class DelayedRelease(CheckContext check, GrowthJudge judge)
{
    // What the timer queue may take beyond a delay to fire it and its continuation to drop what it held.
    private static readonly TimeSpan s_firingMargin = TimeSpan.FromMilliseconds(200);

    /// <summary>
    /// The growing types most of whose traced instances are held through a timer set to fire once, and, when there are such, the
    /// types no path explains, with the longest delay among those timers.
    /// </summary>
    public static (HashSet<string> Types, TimeSpan Longest) HeldByDelays(LeakExplanation explanation, IReadOnlyCollection<string> growing)
    {
        var types = new HashSet<string>(StringComparer.Ordinal);
        TimeSpan longest = TimeSpan.Zero;
        foreach (string type in growing)
        {
            // Most of its traced instances, not all: a few held elsewhere (a shared pool's lock objects) stay when the
            // delays fire, and the count after them tells whether they matter.
            LeakSignature[] paths = explanation.Leaks.Where(l => l.Type == type && l.Cause is not null).ToArray();
            LeakSignature[] delayed = paths.Where(p => Delay(p) is not null).ToArray();
            if (delayed.Length == 0 || 2L * delayed.Sum(p => (long)p.Instances) < paths.Sum(p => (long)p.Instances))
                continue;
            types.Add(type);
            longest = delayed.Max(p => Delay(p)!.Value) is var delay && delay > longest ? delay : longest;
        }
        // A type no traced path explains (not sampled, or held only by what a GC is about to drop) may be part of what
        // the delays hold as well: the count after them decides.
        if (types.Count > 0)
            types.UnionWith(growing.Where(t => !explanation.Leaks.Any(l => l.Type == t && l.Cause is not null)));
        return (types, longest);
    }

    // The longest one-shot delay on the path: the last to fire releases the path's instance.
    private static TimeSpan? Delay(LeakSignature path) =>
        path.Path.Where(s => s.FiresOnceAfter is not null).Select(s => s.FiresOnceAfter).DefaultIfEmpty(null).Max();

    /// <summary>
    /// Waits out the delays that hold some of <paramref name="growing"/>, when they fire within the confirmation
    /// budget, and takes a census: the types that gave back nine tenths of what they gained are returned, and the report's
    /// warnings say why they are no leak. Nothing happens when no growing type is held that way.
    /// </summary>
    public async ValueTask<HashSet<string>> ReleasedAsync(LeakExplanation explanation, IReadOnlyCollection<string> growing)
    {
        (HashSet<string> held, TimeSpan longest) = HeldByDelays(explanation, growing);
        if (held.Count == 0)
            return held;
        // A delay longer than the budget (an hour-long Task.Delay) is a leak for as long as any check may watch: the
        // Task.Delay story already says what keeps it, and until when.
        if (longest > check.Options.ConfirmationBudget)
            return [];
        await check.Loop.IdleAsync(longest + s_firingMargin).ConfigureAwait(false);
        check.TakeCensus(CensusPhase.AfterDelays);
        HashSet<string> released = judge.GaveBackTheirGrowth(held);
        if (released.Count > 0)
            check.Warnings.Add($"{Describe(released, explanation)} held by timers set to fire once (a Task.Delay's, or a Timer's without a period), after up to " +
                $"{Seconds(longest)}, and released when they fired, so {(released.Count == 1 ? "it is" : "they are")} no leak: each call keeps {(released.Count == 1 ? "its instance" : "them")} that long. " +
                "Dispose or cancel what started the delay, or share one object, to free them sooner.");
        return released;
    }

    // The types named first are the delays' own objects: on each delayed path, the first object past the timer that is
    // not the runtime's (the FusionCache whose constructor waits, not its MemoryCache's entries).
    private static string Describe(HashSet<string> types, LeakExplanation explanation)
    {
        string[] owners = explanation.Leaks.Where(l => types.Contains(l.Type) && Delay(l) is not null)
            .Select(l => l.Path.Skip(l.Path.ToList().FindIndex(s => s.FiresOnceAfter is not null)).FirstOrDefault(s => !s.Type.StartsWith("System.", StringComparison.Ordinal))?.Type)
            .OfType<string>().Where(types.Contains).Distinct(StringComparer.Ordinal).ToArray();
        string[] named = owners.Concat(types.Except(owners).Order(StringComparer.Ordinal)).Select(TypeNames.Short).ToArray();
        return named.Length == 1 ? $"{named[0]} grew, but was" : $"{named.Length} growing types ({string.Join(", ", named.Take(3))}{(named.Length > 3 ? ", …" : "")}) were";
    }

    private static string Seconds(TimeSpan time) => time.TotalSeconds < 10 ? $"{time.TotalSeconds:0.#} s" : $"{time.TotalSeconds:0} s";
}
