using System.Diagnostics;
using LeakHunter.Analysis;
using LeakHunter.Census;

namespace LeakHunter.Running;

/// <summary>
/// A watch of another process, stage by stage: censuses of what the roots reach, some time apart, with the mark one
/// interval before the end; the types and resources that grew in every interval, with their rates per second; the paths
/// to their instances; the report.
/// </summary>
internal static class WatchRun
{
    /// <summary>Watches <paramref name="session"/>'s process: <paramref name="sampleCount"/> censuses, <paramref name="interval"/> apart.</summary>
    public static WatchReport Run(InspectionSession session, TimeSpan interval, int sampleCount, IProgress<string>? progress, LeakBaseline? baseline,
        CancellationToken cancellationToken) =>
        // No await in RunAsync resumes on the caller's context, so waiting here cannot deadlock on it.
        RunAsync(session, interval, sampleCount, progress, baseline, cancellationToken).GetAwaiter().GetResult();

    /// <summary>
    /// The watch, with the pauses between censuses awaited: no thread is held while the process runs between them.
    /// </summary>
    public static async Task<WatchReport> RunAsync(InspectionSession session, TimeSpan interval, int sampleCount, IProgress<string>? progress,
        LeakBaseline? baseline, CancellationToken cancellationToken)
    {
        long started = Stopwatch.GetTimestamp();
        var ids = new List<int>(sampleCount);
        var samples = new List<WatchSample>(sampleCount);
        var warnings = new List<string>();
        var resourceSeries = new long[sampleCount * ResourceNames.Slots.Length];
        double markedAt = 0;
        for (int sample = 0; sample < sampleCount; sample++)
        {
            if (sample > 0)
            {
                progress?.Report($"waiting {interval.TotalSeconds:0.#} s for census {sample + 1} of {sampleCount}...");
                await Task.Delay(interval, cancellationToken).ConfigureAwait(false);
            }
            progress?.Report($"census {sample + 1} of {sampleCount}: walking what the roots reach...");
            double elapsed = Stopwatch.GetElapsedTime(started).TotalSeconds;
            (int id, CensusReply reply) = session.Take(reachableOnly: true);
            // The objects alive one interval before the end are the long-lived ones: the paths are routed through them,
            // not through requests in flight. Not the first census: a server that just started still moves its young
            // singletons as the GC promotes them, and a moved object looks new.
            if (sample == Math.Max(0, sampleCount - 2))
            {
                session.Mark([]);
                markedAt = Stopwatch.GetElapsedTime(started).TotalSeconds;
            }
            ResourceNames.Record(resourceSeries, ids.Count, reply.Resources);
            ids.Add(id);
            samples.Add(new WatchSample(elapsed, reply.Objects, reply.Bytes, reply.PauseMs));
            warnings.AddRange(InspectionSession.CensusWarnings(reply, $"Census {sample + 1}"));
        }

        IReadOnlyList<TypeSeries> series = session.ObjectHistograms(ids);
        List<TypeSeries> growing = GrowthAnalyzer.FindSteadyGrowth(series, 0, ids.Count - 1);
        double span = samples[^1].ElapsedSeconds - samples[0].ElapsedSeconds;
        TypeRate[] rates = growing
            .Select(s => new TypeRate(s.Type, s.Counts, s.Bytes, GrowthAnalyzer.Rate(s.Counts, span), GrowthAnalyzer.Rate(s.Bytes, span)))
            .OrderByDescending(r => r.BytesPerSecond).ThenBy(r => r.Type, StringComparer.Ordinal).ToArray();
        // Right after the last census: a resource's items are told as near the counts as can be, before the paths take their time.
        // Judged by the rules a check's are (each rose in every interval, native memory by more than allocator noise).
        IReadOnlyList<ResourceUsage> resources = ResourceGrowth.Judge(resourceSeries, samples.Select(s => s.ElapsedSeconds).ToArray(), samples.Count - 1,
            idle: null, confirmations: [], LeakResources.All, LeakOptions.Default.NativeMemoryNoiseBytes, rules: [], confirmationDecides: false);
        resources = ResourceExplanation.Explain(session, resources, ids[0], rates.Select(t => (t.Type, t.BytesPerSecond)).ToArray(), "second", warnings);
        LeakExplanation? explanation = null;
        double? explainedSeconds = null;
        if (growing.Count > 0)
        {
            cancellationToken.ThrowIfCancellationRequested();
            progress?.Report($"{growing.Count} type(s) grew in every interval; finding what holds them...");
            session.MarkEveryInstanceSinceMark(growing.Select(g => g.Type).ToArray());
            explainedSeconds = Stopwatch.GetElapsedTime(started).TotalSeconds - markedAt;
            explanation = session.Explain(maxInstancesPerType: 100, []);
        }
        return LeakBaseline.Report(baseline, warnings, () => ReportAssembler.Watch(session.Target, interval, samples, rates, explanation, warnings,
            Stopwatch.GetElapsedTime(started), explainedSeconds, baseline, resources), r => r.Causes);
    }
}
