using LeakHunter.Reports;

namespace LeakHunter;

/// <summary>
/// The outcome of one leak check: the censuses taken and the types that grew in every interval.
/// One model, many renderers: <see cref="ToString"/> gives the readable text report, <see cref="ToJson"/> the stable JSON.
/// </summary>
public sealed class LeakReport
{
    internal LeakReport(
        CensusStrategy strategy,
        int warmupIterations,
        int iterations,
        IReadOnlyList<CensusSummary> censuses,
        IReadOnlyList<TypeGrowth> growingTypes,
        IReadOnlyList<TypeGrowth> backgroundTypes,
        IReadOnlyList<string> warnings,
        TimeSpan duration)
    {
        Strategy = strategy;
        WarmupIterations = warmupIterations;
        Iterations = iterations;
        Censuses = censuses;
        GrowingTypes = growingTypes;
        BackgroundTypes = backgroundTypes;
        Warnings = warnings;
        Duration = duration;
    }

    /// <summary>Whether any type grew in every interval because of the fragment.</summary>
    public bool HasLeaks => GrowingTypes.Count > 0;

    /// <summary>The route the heap was read through: <see cref="CensusStrategy.Attach"/> or <see cref="CensusStrategy.Dump"/>.</summary>
    public CensusStrategy Strategy { get; }

    /// <summary>Iterations run before counting began.</summary>
    public int WarmupIterations { get; }

    /// <summary>Iterations run in all, warm-up included.</summary>
    public int Iterations { get; }

    /// <summary>The censuses the verdict was made on, in the order taken.</summary>
    public IReadOnlyList<CensusSummary> Censuses { get; }

    /// <summary>The types whose live instances (or bytes) grew in every interval, most bytes per iteration first.</summary>
    public IReadOnlyList<TypeGrowth> GrowingTypes { get; }

    /// <summary>Types that also grew while the fragment was not running: another thread's work, not blamed on the fragment.</summary>
    public IReadOnlyList<TypeGrowth> BackgroundTypes { get; }

    /// <summary>Why the verdict may be less reliable than usual, each with what to do about it.</summary>
    public IReadOnlyList<string> Warnings { get; }

    /// <summary>How long the check took, warm-up included.</summary>
    public TimeSpan Duration { get; }

    /// <summary>The report as camelCase JSON, <c>schemaVersion</c> 1.</summary>
    public string ToJson() => JsonReportWriter.Write(this);

    /// <summary>The readable text report.</summary>
    public override string ToString() => TextReportWriter.Write(this);
}

/// <summary>Why a census was taken.</summary>
public enum CensusPhase
{
    /// <summary>A census of the counted run.</summary>
    Counted,

    /// <summary>Taken after a pause in which the fragment did not run, to tell the fragment's growth from other threads'.</summary>
    Idle,

    /// <summary>Taken after running longer, to confirm that growth goes on.</summary>
    Confirmation,
}

/// <summary>Live objects after a settled full GC.</summary>
/// <param name="Iteration">Iterations run before this census, warm-up included.</param>
/// <param name="Objects">Live objects on the heap.</param>
/// <param name="Bytes">Bytes of those objects.</param>
/// <param name="PauseMs">How long the process under test was paused for this census.</param>
/// <param name="Phase">Why the census was taken.</param>
public sealed record CensusSummary(int Iteration, long Objects, long Bytes, double PauseMs, CensusPhase Phase);

/// <summary>A type whose live instances or bytes grew.</summary>
/// <param name="Type">The type's name, spelled as ClrMD spells it (<c>Acme.Outer+Inner</c>, <c>System.Collections.Generic.List&lt;Acme.Item&gt;</c>).</param>
/// <param name="Counts">Live instances at each census of <see cref="LeakReport.Censuses"/>.</param>
/// <param name="Bytes">Bytes of those instances at each census.</param>
/// <param name="InstancesPerIteration">Instances added per iteration, from the first to the last census.</param>
/// <param name="BytesPerIteration">Bytes added per iteration, from the first to the last census.</param>
public sealed record TypeGrowth(
    string Type,
    IReadOnlyList<long> Counts,
    IReadOnlyList<long> Bytes,
    double InstancesPerIteration,
    double BytesPerIteration);
