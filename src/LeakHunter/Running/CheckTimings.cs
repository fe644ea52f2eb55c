using System.Diagnostics;

namespace LeakHunter.Running;

/// <summary>
/// Where the last check in this process spent its time, stage by stage: the settling GCs, the censuses' round trips,
/// the judge's requests, the fragment itself and the rest. Plain counters, set by the stages as they run, so keeping
/// them allocates nothing while a check counts; the benchmark prints them.
/// </summary>
internal static class CheckTimings
{
    private static long s_settle, s_settleGcs, s_census, s_judge, s_fragment, s_censuses, s_started;

    /// <summary>What the last check spent in each stage.</summary>
    public static CheckTimeBreakdown Last { get; private set; }

    /// <summary>Starts counting for a new check.</summary>
    public static void Start()
    {
        s_settle = s_settleGcs = s_census = s_judge = s_fragment = s_censuses = 0;
        s_started = Stopwatch.GetTimestamp();
    }

    /// <summary>Stops counting: <see cref="Last"/> holds this check's breakdown.</summary>
    public static void Stop() => Last = new CheckTimeBreakdown(
        Stopwatch.GetElapsedTime(s_started), TimeSpan.FromTicks(Ticks(s_settle)), (int)s_settleGcs, TimeSpan.FromTicks(Ticks(s_census)), (int)s_censuses,
        TimeSpan.FromTicks(Ticks(s_judge)), TimeSpan.FromTicks(Ticks(s_fragment)));

    public static void AddSettle(long since, int gcs)
    {
        s_settle += Stopwatch.GetTimestamp() - since;
        s_settleGcs += gcs;
    }

    public static void AddCensus(long since)
    {
        s_census += Stopwatch.GetTimestamp() - since;
        s_censuses++;
    }

    public static void AddJudge(long since) => s_judge += Stopwatch.GetTimestamp() - since;

    public static void AddFragment(long since) => s_fragment += Stopwatch.GetTimestamp() - since;

    private static long Ticks(long stopwatchTicks) => (long)(stopwatchTicks * ((double)TimeSpan.TicksPerSecond / Stopwatch.Frequency));
}

/// <summary>One check's time by stage.</summary>
internal readonly record struct CheckTimeBreakdown(TimeSpan Total, TimeSpan Settle, int SettleGcs, TimeSpan Censuses, int CensusCount, TimeSpan Judge, TimeSpan Fragment)
{
    /// <summary>What no stage above accounts for: the report, the explanation, the inspector's start.</summary>
    public TimeSpan Rest => Total - Settle - Censuses - Judge - Fragment;
}
