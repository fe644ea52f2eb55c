using System.Runtime.CompilerServices;
using LeakHunter.Analysis;
using LeakHunter.Census;

namespace LeakHunter.Running;

/// <summary>
/// Judges a check's censuses by the growth rules: which types and resources grew in the counted run, where they stand
/// after each confirmation round, and the verdict at the end. What it fetches from the inspector it does not keep: the
/// next census must not count it.
/// </summary>
internal sealed class GrowthJudge(InspectionSession censuses, CensusLog log, LeakOptions options)
{
    /// <summary>Whether any type grew in the counted run.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public bool HasCandidates() => Candidates().Length > 0;

    /// <summary>The types that grew in every counted interval.</summary>
    public string[] Candidates()
    {
        long asked = System.Diagnostics.Stopwatch.GetTimestamp();
        string[] candidates = GrowthAnalyzer.FindCandidates(censuses.Histograms(log.Ids()), 0, log.CountedLast).Select(s => s.Type).ToArray();
        CheckTimings.AddJudge(asked);
        return candidates;
    }

    /// <summary>
    /// How many candidates still grow, how many are undecided, the bytes the growing ones added since the idle census,
    /// and the most instances one of them added.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public CandidateStanding Standing()
    {
        long asked = System.Diagnostics.Stopwatch.GetTimestamp();
        int idle = log.Idle!.Value, last = log.Confirmations[^1];
        int growing = 0, undecided = 0;
        long bytesAdded = 0, instancesAdded = 0;
        foreach ((TypeSeries series, GrowthVerdict verdict) in GrowthAnalyzer.Judge(censuses.Histograms(log.Ids()), log.Iterations(), log.CountedLast, idle, log.ConfirmationArray()))
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
        CheckTimings.AddJudge(asked);
        return new CandidateStanding(growing, undecided, bytesAdded, instancesAdded);
    }

    /// <summary>The types that grew through confirmation, and those that grew only while the fragment was idle too.</summary>
    public (List<TypeSeries> Growing, List<TypeSeries> Background) Verdict()
    {
        long asked = System.Diagnostics.Stopwatch.GetTimestamp();
        (List<TypeSeries> Growing, List<TypeSeries> Background) verdict = GrowthAnalyzer.Confirm(censuses.Histograms(log.Ids()), log.Iterations(), log.CountedLast, log.Idle, log.ConfirmationArray());
        CheckTimings.AddJudge(asked);
        return verdict;
    }

    /// <summary>
    /// Of <paramref name="types"/>, those that at the last census had given back nine tenths or more of what they
    /// gained over the first counted one: what other code makes of a shared type (strings) may stay.
    /// </summary>
    public HashSet<string> GaveBackTheirGrowth(IReadOnlySet<string> types)
    {
        long asked = System.Diagnostics.Stopwatch.GetTimestamp();
        var back = censuses.Histograms(log.Ids()).Where(s => types.Contains(s.Type) && (s.Counts[^1] - s.Counts[0]) * 10 <= s.Counts.Max() - s.Counts[0])
            .Select(s => s.Type).ToHashSet(StringComparer.Ordinal);
        CheckTimings.AddJudge(asked);
        return back;
    }

    /// <summary>The selected resources judged on the censuses taken so far, by the rules growing types are judged by.</summary>
    public IReadOnlyList<ResourceUsage> Resources(IReadOnlyList<LeakIgnore> rules) =>
        ResourceGrowth.Judge(log.Resources(), log.Iterations().Select(i => (double)i).ToArray(), log.CountedLast, log.Idle,
            log.ConfirmationArray(), options.Resources, options.NativeMemoryNoiseBytes, rules, confirmationDecides: options.ConfirmGrowth);

    /// <summary>How many selected resources still grow, whether or not a rule ignores them: confirmation must decide them all.</summary>
    public int GrowingResources() => Resources(rules: []).Count(r => r.Growing);

    /// <summary>The most any resource counted in items (all but native memory's bytes) gained from the idle census to the last.</summary>
    public long ResourceItemsAdded()
    {
        int idle = log.Idle!.Value, last = log.Count - 1;
        long most = 0;
        foreach (string name in ResourceNames.All.Where(n => n != ResourceNames.NativeMemory))
        {
            int total = ResourceNames.SlotOf(name, ResourceNames.Total);
            long then = log.Resource(idle, total), now = log.Resource(last, total);
            if (then >= 0 && now >= 0)
                most = Math.Max(most, now - then);
        }
        return most;
    }
}

/// <summary>Where the candidates stand after a confirmation round.</summary>
internal readonly record struct CandidateStanding(int Growing, int Undecided, long BytesAdded, long InstancesAdded);
