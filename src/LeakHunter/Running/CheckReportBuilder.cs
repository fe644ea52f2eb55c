using LeakHunter.Analysis;
using LeakHunter.Census;

namespace LeakHunter.Running;

/// <summary>The report stage of a check: rates per iteration, the ignore rules, the baseline.</summary>
internal static class CheckReportBuilder
{
    /// <param name="check">What the check ran and saw.</param>
    /// <param name="growingSeries">The types that grew through confirmation.</param>
    /// <param name="background">The types that grew while the fragment was idle too.</param>
    /// <param name="explanation">The paths to the new instances, when they were traced.</param>
    /// <param name="resources">The judged and explained resources.</param>
    /// <param name="confirmation">How confirmation went, or null when it did not run.</param>
    /// <param name="explainedIterations">The iterations whose new instances the explanation traced.</param>
    /// <param name="duration">How long the whole check took.</param>
    public static LeakReport Build(CheckContext check, List<TypeSeries> growingSeries, List<TypeSeries> background, LeakExplanation? explanation,
        IReadOnlyList<ResourceUsage> resources, GrowthConfirmation? confirmation, int explainedIterations, TimeSpan duration)
    {
        LeakOptions options = check.Options;
        CensusSummary[] summaries = check.Log.Summaries();
        int span = check.Log.Span;

        TypeGrowth ToGrowth(TypeSeries s) => new(s.Type, s.Counts, s.Bytes, GrowthAnalyzer.Rate(s.Counts, span), GrowthAnalyzer.Rate(s.Bytes, span));

        List<TypeGrowth> allGrowing = growingSeries.Select(ToGrowth).OrderByDescending(g => g.BytesPerIteration).ThenBy(g => g.Type, StringComparer.Ordinal).ToList();
        (List<TypeGrowth> growing, List<IgnoredLeak> ignored, explanation) = IgnoreRules.Apply(IgnoreRules.For(options), allGrowing, explanation);
        TypeGrowth[] backgroundGrowth = background.Select(ToGrowth).OrderByDescending(g => g.BytesPerIteration).ThenBy(g => g.Type, StringComparer.Ordinal).ToArray();
        IReadOnlyList<FragmentCall>? calls = explanation is null ? null : FragmentCalls.Of(check.Loop.Fragment.UserMethod);
        return LeakBaseline.Report(check.Baseline, check.Warnings, () => ReportAssembler.Check(
            check.Censuses.Strategy,
            options.WarmupIterations,
            check.Loop.Iterations,
            summaries,
            growing,
            backgroundGrowth,
            check.Warnings.ToArray(),
            duration,
            explanation,
            ignored,
            explanation is null ? null : explainedIterations,
            confirmation ?? (options.ConfirmGrowth ? GrowthConfirmation.NotRun : GrowthConfirmation.Off),
            check.Baseline,
            calls,
            resources), r => r.Causes);
    }
}
