namespace LeakHunter.Analysis;

/// <summary>
/// The report stage's one computing step: from what was measured and traced to the report a user reads. The causes
/// are built from the paths and the growth, matched against the baseline, and the resources' new items are linked to
/// the causes that keep their owners. The reports themselves are data; every exporter renders them as they are.
/// </summary>
internal static class ReportAssembler
{
    /// <summary>A check's report.</summary>
    /// <param name="strategy">The route the heap was read through.</param>
    /// <param name="warmupIterations">Iterations run before counting.</param>
    /// <param name="iterations">Iterations run in all.</param>
    /// <param name="censuses">The censuses, in the order taken.</param>
    /// <param name="growingTypes">The types that grew in every interval, most bytes first.</param>
    /// <param name="backgroundTypes">The types that grew while the fragment was idle too.</param>
    /// <param name="warnings">The check's own warnings; the explanation's follow them.</param>
    /// <param name="duration">How long the check took.</param>
    /// <param name="explanation">The paths to the new instances, when they were traced.</param>
    /// <param name="ignored">The growing types an ignore rule left out.</param>
    /// <param name="explainedIterations">The iterations whose new instances the explanation traced.</param>
    /// <param name="confirmation">How confirmation went.</param>
    /// <param name="baseline">The known leaks the causes are matched against.</param>
    /// <param name="fragmentCalls">The calls the fragment makes, which the last resort's fix names.</param>
    /// <param name="resources">The judged and explained resources.</param>
    public static LeakReport Check(
        CensusStrategy strategy,
        int warmupIterations,
        int iterations,
        IReadOnlyList<CensusSummary> censuses,
        IReadOnlyList<TypeGrowth> growingTypes,
        IReadOnlyList<TypeGrowth> backgroundTypes,
        IReadOnlyList<string> warnings,
        TimeSpan duration,
        LeakExplanation? explanation = null,
        IReadOnlyList<IgnoredLeak>? ignored = null,
        int? explainedIterations = null,
        GrowthConfirmation? confirmation = null,
        LeakBaseline? baseline = null,
        IReadOnlyList<FragmentCall>? fragmentCalls = null,
        IReadOnlyList<ResourceUsage>? resources = null)
    {
        Told told = Tell(explanation, growingTypes.Select(t => new LeakCauses.Growth(t.Type, t.InstancesPerIteration, t.BytesPerIteration)).ToArray(),
            explainedIterations, fragmentCalls, baseline);
        return new LeakReport
        {
            Strategy = strategy,
            WarmupIterations = warmupIterations,
            Iterations = iterations,
            Censuses = censuses,
            Confirmation = confirmation ?? GrowthConfirmation.NotRun,
            GrowingTypes = growingTypes,
            BackgroundTypes = backgroundTypes,
            Warnings = WarningsOf(warnings, explanation),
            Duration = duration,
            Causes = told.Causes,
            KnownLeaksNotSeen = told.KnownLeaksNotSeen,
            BaselinePath = baseline?.Path,
            Leaks = told.Signatures,
            Unexplained = told.Unexplained,
            Referrers = explanation?.Referrers ?? [],
            ExplanationNote = explanation?.PartialReason,
            Ignored = ignored ?? [],
            Resources = ResourceFindings.LinkedToCauses(resources ?? [], told.Causes),
        };
    }

    /// <summary>A watch's report: rates per second, where a check's are per iteration.</summary>
    /// <param name="target">The process watched.</param>
    /// <param name="interval">The pause between two censuses.</param>
    /// <param name="samples">The censuses, in the order taken.</param>
    /// <param name="growingTypes">The types that grew in every interval.</param>
    /// <param name="explanation">The paths to their instances, when they were traced.</param>
    /// <param name="warnings">The watch's own warnings; the explanation's follow them.</param>
    /// <param name="duration">How long the watch took.</param>
    /// <param name="explainedSeconds">The seconds whose new instances the explanation traced.</param>
    /// <param name="baseline">The known leaks the causes are matched against.</param>
    /// <param name="resources">The judged and explained resources.</param>
    public static WatchReport Watch(string target, TimeSpan interval, IReadOnlyList<WatchSample> samples, IReadOnlyList<TypeRate> growingTypes,
        LeakExplanation? explanation, IReadOnlyList<string> warnings, TimeSpan duration, double? explainedSeconds = null, LeakBaseline? baseline = null,
        IReadOnlyList<ResourceUsage>? resources = null)
    {
        Told told = Tell(explanation, growingTypes.Select(t => new LeakCauses.Growth(t.Type, t.InstancesPerSecond, t.BytesPerSecond)).ToArray(),
            explainedSeconds, fragmentCalls: null, baseline);
        return new WatchReport
        {
            Target = target,
            Interval = interval,
            Samples = samples,
            GrowingTypes = growingTypes,
            Causes = told.Causes,
            KnownLeaksNotSeen = told.KnownLeaksNotSeen,
            BaselinePath = baseline?.Path,
            Leaks = told.Signatures,
            Unexplained = told.Unexplained,
            Referrers = explanation?.Referrers ?? [],
            ExplanationNote = explanation?.PartialReason,
            Warnings = WarningsOf(warnings, explanation),
            Duration = duration,
            Resources = ResourceFindings.LinkedToCauses(resources ?? [], told.Causes),
        };
    }

    /// <summary>The paths to the instances of some types, as traced.</summary>
    /// <param name="headline">What was asked and found, in one line.</param>
    /// <param name="target">What was inspected.</param>
    /// <param name="typePattern">The type name or pattern asked for.</param>
    /// <param name="types">The types it matched.</param>
    /// <param name="instances">The instances traced.</param>
    /// <param name="explanation">The paths.</param>
    /// <param name="targetPauseMs">How long the process was stopped for them.</param>
    public static PathsReport Paths(string headline, string target, string typePattern, IReadOnlyList<string> types, int instances, LeakExplanation explanation,
        double targetPauseMs = 0) => new()
    {
        Headline = headline,
        Target = target,
        TypePattern = typePattern,
        Types = types,
        Instances = instances,
        TargetPauseMs = targetPauseMs,
        Leaks = explanation.Leaks,
        Referrers = explanation.Referrers,
        ExplanationNote = explanation.PartialReason,
        Warnings = explanation.Warnings,
    };

    private sealed record Told(IReadOnlyList<LeakCause> Causes, IReadOnlyList<KnownLeak> KnownLeaksNotSeen, IReadOnlyList<LeakSignature> Signatures,
        IReadOnlyList<UnexplainedGrowth> Unexplained);

    private static Told Tell(LeakExplanation? explanation, IReadOnlyList<LeakCauses.Growth> growth, double? explainedSpan, IReadOnlyList<FragmentCall>? fragmentCalls,
        LeakBaseline? baseline)
    {
        LeakCauses.Result causes = LeakCauses.Build(explanation, growth, explainedSpan, fragmentCalls);
        (IReadOnlyList<LeakCause> matched, IReadOnlyList<KnownLeak> notSeen) = baseline?.Match(causes.Causes) ?? (causes.Causes, []);
        return new Told(matched, notSeen, causes.Signatures, causes.Unexplained);
    }

    // The run's own warnings first, then what the explanation could not tell.
    private static IReadOnlyList<string> WarningsOf(IReadOnlyList<string> warnings, LeakExplanation? explanation) =>
        explanation is null || explanation.Warnings.Count == 0 ? warnings : [.. warnings, .. explanation.Warnings];
}
