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
    /// Types whose count rose in every interval, or whose count stayed flat while their bytes rose in every interval.
    /// Stricter than <see cref="FindCandidates"/>, for a watch of another process, which has no confirmation runs.
    /// </summary>
    public static List<TypeSeries> FindSteadyGrowth(IReadOnlyList<TypeSeries> series, int first, int last) =>
        series.Where(s => RisesEveryInterval(s.Counts, first, last) || (s.Counts[first] == s.Counts[last] && RisesEveryInterval(s.Bytes, first, last))).ToList();

    private static bool IsCandidate(TypeSeries s, int first, int last) =>
        RisesEveryInterval(s.Counts, first, last) || GrowsInBytesOnly(s, first, last);

    /// <summary>
    /// Keeps the candidates that went on growing through the confirmation censuses and did not grow while the
    /// fragment was idle.
    /// </summary>
    public static (List<TypeSeries> Growing, List<TypeSeries> Background) Confirm(
        IReadOnlyList<TypeSeries> series, int countedLast, int? idle, int[] confirmations)
    {
        var growing = new List<TypeSeries>();
        var background = new List<TypeSeries>();
        foreach (TypeSeries s in series)
        {
            if (!IsCandidate(s, 0, countedLast))
                continue;

            if (idle is int i && GrewWhileIdle(s, countedLast, i))
            {
                background.Add(s);
                continue;
            }

            int from = idle ?? countedLast;
            bool stillGrowing = confirmations.Length == 0 || confirmations.All(c =>
            {
                bool rose = s.Counts[c] > s.Counts[from] || (s.Bytes[c] > s.Bytes[from] && s.Counts[c] >= s.Counts[from]);
                from = c;
                return rose;
            });
            if (stillGrowing)
                growing.Add(s);
        }
        return (growing, background);
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
