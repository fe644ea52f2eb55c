using LeakHunter.Census;

namespace LeakHunter.Analysis;

/// <summary>
/// Decides which types grow, the way CPython's <c>regrtest -R</c> does: after warm-up, a type leaks only when
/// every counted interval adds to it. Growth in bytes alone counts too (the same object added to a list again and
/// again grows only the list's array), but arrays grow in doubling steps, so that kind is judged on runs whose
/// length doubles.
/// </summary>
internal static class GrowthAnalyzer
{
    /// <summary>Types that grew in every interval between the given censuses, in count or, never shrinking, in bytes.</summary>
    public static List<TypeSeries> FindCandidates(IReadOnlyList<TypeSeries> series, int first, int last) =>
        series.Where(s => IsCandidate(s, first, last)).ToList();

    /// <summary>
    /// Types whose count rose in every interval, or whose count never moved while their bytes rose in every interval.
    /// Stricter than <see cref="FindCandidates"/>, for a watch of another process, which has no confirmation runs.
    /// </summary>
    public static List<TypeSeries> FindSteadyGrowth(IReadOnlyList<TypeSeries> series, int first, int last) =>
        series.Where(s => RisesEveryInterval(s.Counts, first, last) || (CountNeverMoves(s.Counts, first, last) && RisesEveryInterval(s.Bytes, first, last))).ToList();

    /// <summary>
    /// What a series added per unit of <paramref name="span"/> (iterations for a check, seconds for a watch), from
    /// its first value to its last: the one growth rate every report shows.
    /// </summary>
    public static double Rate(IReadOnlyList<long> values, double span) => span <= 0 ? 0 : (values[^1] - values[0]) / span;

    private static bool CountNeverMoves(long[] counts, int first, int last)
    {
        for (int c = first + 1; c <= last; c++)
        {
            if (counts[c] != counts[first])
                return false;
        }
        return true;
    }

    private static bool IsCandidate(TypeSeries s, int first, int last) =>
        RisesEveryInterval(s.Counts, first, last) || GrowsInBytesOnly(s, first, last);

    /// <summary>
    /// Keeps the candidates that went on growing through the confirmation rounds and did not grow while the
    /// fragment was idle.
    /// </summary>
    /// <param name="series">Counts and bytes per type, one entry per census.</param>
    /// <param name="iterations">The fragment's iteration count at each census, in the same order.</param>
    /// <param name="countedLast">The last counted census; the counted ones start at 0.</param>
    /// <param name="idle">The census taken after a pause in which the fragment did not run, if one was taken.</param>
    /// <param name="confirmations">The censuses after each confirmation round.</param>
    public static (List<TypeSeries> Growing, List<TypeSeries> Background) Confirm(
        IReadOnlyList<TypeSeries> series, IReadOnlyList<int> iterations, int countedLast, int? idle, IReadOnlyList<int> confirmations)
    {
        var growing = new List<TypeSeries>();
        var background = new List<TypeSeries>();
        foreach ((TypeSeries s, GrowthVerdict verdict) in Judge(series, iterations, countedLast, idle, confirmations))
        {
            if (verdict == GrowthVerdict.Growing)
                growing.Add(s);
            else if (verdict == GrowthVerdict.Background)
                background.Add(s);
        }
        return (growing, background);
    }

    /// <summary>
    /// Where each candidate stands after the confirmation rounds so far. A type that grows in count must keep pace in
    /// every round: at least half of what its slowest counted interval would add over that round's iterations
    /// (LeakCanary's rule: a node grows only when it grew by at least the loops per dump), so a bounded cache stops as
    /// soon as it is full, and a stray object from another thread is one object, not a rate. A type that grows in bytes
    /// only grows in steps (a collection's array, replaced when it doubles), so it is judged on the trend: growing
    /// when the last round added bytes, stopped when the last two added none, undecided in between. It must keep its
    /// instance count in every round: when other threads add or drop instances of it (a test host's serializer making
    /// Int32[]s), its bytes no longer tell one collection's growth.
    /// </summary>
    public static IEnumerable<(TypeSeries Series, GrowthVerdict Verdict)> Judge(
        IReadOnlyList<TypeSeries> series, IReadOnlyList<int> iterations, int countedLast, int? idle, IReadOnlyList<int> confirmations)
    {
        foreach (TypeSeries s in series)
        {
            if (!IsCandidate(s, 0, countedLast))
                continue;
            if (idle is int i && GrewWhileIdle(s, countedLast, i))
            {
                yield return (s, GrowthVerdict.Background);
                continue;
            }
            yield return (s, Verdict(s, iterations, countedLast, idle ?? countedLast, confirmations));
        }
    }

    private static GrowthVerdict Verdict(TypeSeries s, IReadOnlyList<int> iterations, int countedLast, int start, IReadOnlyList<int> confirmations)
    {
        double slowestRate = SlowestCountedRate(s, iterations, countedLast);
        int from = start;
        foreach (int c in confirmations)
        {
            bool kept = slowestRate > 0
                ? s.Counts[c] - s.Counts[from] >= Math.Max(1.0, slowestRate * (iterations[c] - iterations[from]) / 2)
                : s.Bytes[c] >= s.Bytes[from] && s.Counts[c] == s.Counts[start];
            if (!kept)
                return GrowthVerdict.Stopped;
            from = c;
        }
        if (slowestRate > 0 || confirmations.Count == 0)
            return GrowthVerdict.Growing;

        int last = confirmations[^1];
        int beforeLast = confirmations.Count > 1 ? confirmations[^2] : start;
        if (s.Bytes[last] > s.Bytes[beforeLast])
            return GrowthVerdict.Growing;
        int twoBefore = confirmations.Count > 2 ? confirmations[^3] : start;
        return confirmations.Count > 1 && s.Bytes[last] > s.Bytes[twoBefore] ? GrowthVerdict.Undecided : GrowthVerdict.Stopped;
    }

    /// <summary>Instances per iteration in the counted interval that added the fewest, or 0 when some interval added none.</summary>
    private static double SlowestCountedRate(TypeSeries s, IReadOnlyList<int> iterations, int countedLast)
    {
        double slowest = double.MaxValue;
        for (int c = 1; c <= countedLast; c++)
        {
            int ran = iterations[c] - iterations[c - 1];
            long added = s.Counts[c] - s.Counts[c - 1];
            if (ran <= 0 || added <= 0)
                return 0;
            slowest = Math.Min(slowest, (double)added / ran);
        }
        return countedLast > 0 ? slowest : 0;
    }

    /// <summary>
    /// Whether the type grew during the idle pause about as fast as while the fragment ran: at least half its
    /// smallest counted step. A stray object or two from a test runner's own thread is not another thread's leak;
    /// but a type that did not grow in some counted step is not the fragment's steady growth, so any idle growth counts.
    /// </summary>
    private static bool GrewWhileIdle(TypeSeries s, int countedLast, int idle)
    {
        long idleCount = s.Counts[idle] - s.Counts[countedLast];
        long idleBytes = s.Bytes[idle] - s.Bytes[countedLast];
        long smallestCountStep = long.MaxValue, smallestByteStep = long.MaxValue;
        for (int c = 1; c <= countedLast; c++)
        {
            smallestCountStep = Math.Min(smallestCountStep, s.Counts[c] - s.Counts[c - 1]);
            smallestByteStep = Math.Min(smallestByteStep, s.Bytes[c] - s.Bytes[c - 1]);
        }
        bool countsGrew = idleCount > 0 && (smallestCountStep <= 0 || idleCount * 2 >= smallestCountStep);
        bool bytesGrew = idleBytes > 0 && (smallestByteStep <= 0 || idleBytes * 2 >= smallestByteStep);
        return countsGrew || bytesGrew;
    }

    private static bool RisesEveryInterval(long[] values, int first, int last)
    {
        for (int c = first + 1; c <= last; c++)
        {
            if (values[c] <= values[c - 1])
                return false;
        }
        return last > first;
    }

    /// <summary>The same number of instances, ever more bytes: a collection's array that grows in place of the old one.</summary>
    private static bool GrowsInBytesOnly(TypeSeries s, int first, int last)
    {
        if (s.Counts[last] != s.Counts[first])
            return false;
        for (int c = first + 1; c <= last; c++)
        {
            if (s.Bytes[c] < s.Bytes[c - 1] || s.Counts[c] < s.Counts[c - 1])
                return false;
        }
        return s.Bytes[last] > s.Bytes[first];
    }
}

/// <summary>A candidate's standing after the confirmation rounds so far.</summary>
internal enum GrowthVerdict
{
    /// <summary>It kept growing at its rate: a leak.</summary>
    Growing,

    /// <summary>It grows in steps and missed the last one: the next round decides.</summary>
    Undecided,

    /// <summary>It stopped: bounded growth, a cache that filled, or a one-off step.</summary>
    Stopped,

    /// <summary>It grew while the fragment was idle: another thread's work.</summary>
    Background,
}
