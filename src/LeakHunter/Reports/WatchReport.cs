using LeakHunter.Analysis;

namespace LeakHunter;

/// <summary>One census of a watch of a live process.</summary>
/// <param name="ElapsedSeconds">Seconds since the watch's first census.</param>
/// <param name="Objects">Live objects a GC root reaches.</param>
/// <param name="Bytes">Bytes of those objects.</param>
/// <param name="PauseMs">How long the process was paused for this census.</param>
public sealed record WatchSample(double ElapsedSeconds, long Objects, long Bytes, double PauseMs);

/// <summary>A type that grew in every interval of a watch.</summary>
/// <param name="Type">The type's full name, spelled as ClrMD spells it.</param>
/// <param name="Counts">Live instances at each sample of <see cref="WatchReport.Samples"/>.</param>
/// <param name="Bytes">Bytes of those instances at each sample.</param>
/// <param name="InstancesPerSecond">Instances added per second, from the first sample to the last.</param>
/// <param name="BytesPerSecond">Bytes added per second, from the first sample to the last.</param>
public sealed record TypeRate(string Type, IReadOnlyList<long> Counts, IReadOnlyList<long> Bytes, double InstancesPerSecond, double BytesPerSecond);

/// <summary>
/// A watch of a live process: censuses of what its roots reach, taken at an interval, the types that grew in every
/// interval with their rates per second, and what holds their instances. The answer of <see cref="HeapInspector.Watch"/>.
/// </summary>
public sealed class WatchReport
{
    /// <summary>
    /// An empty watch, nothing seen: set its properties to build one, as a tool does to render a watch it holds or to
    /// test its own exporter. A watch fills every property from what it measured.
    /// </summary>
    public WatchReport()
    {
    }

    /// <summary>
    /// Whether any type grew in every interval, and not only through causes the baseline
    /// (<see cref="InspectionOptions.BaselinePath"/>) knows: growth no cause explains counts whatever the baseline says.
    /// A resource that grew in every interval (<see cref="Resources"/>) is a leak too.
    /// </summary>
    public bool HasLeaks => (GrowingTypes.Count > 0 && !OnlyKnownLeaks) || Resources.Any(r => r.Growing);

    /// <summary>
    /// What the process held besides its objects at every census (threads, GC handles, the finalization queue, file
    /// descriptors, native memory, assemblies), each with its rate per second and whether it grew in every interval,
    /// and for a grown one, what its new items are. Empty for a target whose system cannot be read.
    /// </summary>
    public IReadOnlyList<ResourceUsage> Resources { get; init; } = [];

    /// <summary>Whether everything that grew is a known leak of the baseline's: causes all listed there, nothing unexplained.</summary>
    public bool OnlyKnownLeaks => LeakBaseline.OnlyKnownLeaks(BaselinePath, Causes, Unexplained);

    /// <summary>The baseline of known leaks the causes were matched against, as a full path; null when none was given.</summary>
    public string? BaselinePath { get; init; }

    /// <summary>The baseline's entries no cause of this watch matched: fixed, when this is the process they were found in.</summary>
    public IReadOnlyList<KnownLeak> KnownLeaksNotSeen { get; init; } = [];

    /// <summary>The process watched: its id and name.</summary>
    public string Target { get; init; } = "";

    /// <summary>The pause between two censuses.</summary>
    public TimeSpan Interval { get; init; }

    /// <summary>The censuses, in the order taken.</summary>
    public IReadOnlyList<WatchSample> Samples { get; init; } = [];

    /// <summary>The types whose reachable instances (or bytes) grew in every interval, most bytes per second first.</summary>
    public IReadOnlyList<TypeRate> GrowingTypes { get; init; } = [];

    /// <summary>
    /// The root causes of the growth, most bytes per second first. A cause's <see cref="LeakCause.InstancesPerIteration"/>
    /// and <see cref="LeakCause.BytesPerIteration"/> are per second here.
    /// </summary>
    public IReadOnlyList<LeakCause> Causes { get; init; } = [];

    /// <summary>Growing types no cause explains, each with the reason.</summary>
    public IReadOnlyList<UnexplainedGrowth> Unexplained { get; init; } = [];

    /// <summary>What keeps the growing types' instances alive, most instances first.</summary>
    public IReadOnlyList<LeakSignature> Leaks { get; init; } = [];

    /// <summary>For each growing type, the objects that refer to its instances, grouped by type and field.</summary>
    public IReadOnlyList<TypeReferrers> Referrers { get; init; } = [];

    /// <summary>Whether the explanation stopped at its time limit and is incomplete.</summary>
    public bool ExplanationIsPartial => ExplanationNote is not null;

    /// <summary>Why the explanation is partial, or null.</summary>
    public string? ExplanationNote { get; init; }

    /// <summary>Why the verdict or its explanation may be less reliable than usual.</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];

    /// <summary>How long the watch took.</summary>
    public TimeSpan Duration { get; init; }

    /// <summary>The watch as readable text.</summary>
    public override string ToString() => ReportExporters.Text.Export(this);

    /// <summary>The watch as camelCase JSON, <c>schemaVersion</c> 1, <c>kind</c> "watch".</summary>
    public string ToJson() => ReportExporters.Json.Export(this);

    /// <summary>The report as one self-contained HTML page: charts and graphs inline, nothing fetched from a network.</summary>
    public string ToHtml() => ReportExporters.Html.Export(this);
}
