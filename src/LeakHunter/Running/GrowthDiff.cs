using LeakHunter.Analysis;

namespace LeakHunter.Running;

/// <summary>
/// The explain stage of a diff of two heaps: which types' gain is traced, and what each path holds in the later heap
/// beyond what it held in the earlier one.
/// </summary>
internal static class GrowthDiff
{
    // The part of a type's live instances a diff's gain must be for its paths to tell the gain's story.
    private const double MinShareOfLiveGained = 0.1;

    // A diff's gain that is traced: a few instances more is the process's ordinary churn (a boxed value replaced in a
    // table), unless they are large objects, the size at which the runtime puts one on its large object heap.
    private const int MinInstancesGained = 10;
    private const long LargeObjectBytes = 85_000;

    /// <summary>
    /// The causes of the growth <paramref name="diff"/> shows between <paramref name="before"/>'s heap and
    /// <paramref name="after"/>'s: the paths to every reachable instance of the <paramref name="maxTypes"/> types that
    /// gained the most bytes, traced in both heaps, and what each path holds in the later one beyond what it held in
    /// the earlier. Only a type that gained at least a tenth of its reachable instances, and at least 10 of them or a
    /// large object's bytes, is traced: a few strings more among thousands are held like the thousands, and a sample
    /// of their paths tells nothing.
    /// </summary>
    public static CensusDiffReport Explain(CensusDiffReport diff, InspectionSession before, InspectionSession after, int maxTypes, int maxInstancesPerType,
        LeakBaseline? baseline)
    {
        // A dump holds the garbage its process had not collected yet, and a census counts it: what a root reaches is
        // the most of a gain that can be kept.
        Dictionary<string, long> reachable = ReachableCounts(after);
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
            LeakExplanation now = ExplainEveryReachableInstance(after, traced.Select(c => c.Type).ToArray(), maxInstancesPerType);
            string[] tracedBefore = traced.Select(c => c.Type).Where(ReachableCounts(before).ContainsKey).ToArray();
            explanation = tracedBefore.Length == 0 ? now : LeakExplanations.GainedSince(now, ExplainEveryReachableInstance(before, tracedBefore, maxInstancesPerType));
        }
        CensusDiffReport Report(string? update) => diff.Explained(traced, explanation, baseline, update);
        return baseline?.Reported(Report, r => r.Causes) ?? Report(null);
    }

    private static Dictionary<string, long> ReachableCounts(InspectionSession session)
    {
        (int id, _) = session.Take(reachableOnly: true);
        return session.ObjectHistograms([id]).Where(s => s.Counts[0] > 0).ToDictionary(s => s.Type, s => s.Counts[0], StringComparer.Ordinal);
    }

    private static LeakExplanation ExplainEveryReachableInstance(InspectionSession session, IReadOnlyCollection<string> types, int maxInstancesPerType)
    {
        session.Mark(types, everyInstanceIsNew: true);
        return session.Explain(maxInstancesPerType, []);
    }
}
