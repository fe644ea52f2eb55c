using LeakHunter.Reports.Exporters;

namespace LeakHunter;

/// <summary>
/// What keeps the instances of some types alive: their shortest strong paths from the GC roots, grouped into
/// signatures, and who refers to them. The answer of <see cref="HeapInspector.FindPaths"/>, and the body of a failed
/// <see cref="LeakAssert.Collected(Func{object}, LeakOptions)"/> or <see cref="LeakAssert.AtMostInstances{T}"/>.
/// </summary>
public sealed class PathsReport
{
    /// <summary>
    /// An empty answer, nothing traced: set its properties to build one, as a tool does to render paths it holds or to
    /// test its own exporter. A search for paths fills every property from the heap.
    /// </summary>
    public PathsReport()
    {
    }

    /// <summary>What was asked and found, in one line.</summary>
    public string Headline { get; init; } = "";

    /// <summary>What was inspected: a process (id and name), a dump's path, or this process.</summary>
    public string Target { get; init; } = "";

    /// <summary>The type name or pattern asked for.</summary>
    public string TypePattern { get; init; } = "";

    /// <summary>The types the pattern matched.</summary>
    public IReadOnlyList<string> Types { get; init; } = [];

    /// <summary>
    /// How long the process was stopped for the paths, in milliseconds: for a live process, only while an image of its
    /// memory was copied (the paths are traced in the image while it runs on); for a dump, none (0).
    /// </summary>
    public double TargetPauseMs { get; init; }

    /// <summary>Live instances of those types that were traced.</summary>
    public int Instances { get; init; }

    /// <summary>The ways the instances are kept alive, most instances first.</summary>
    public IReadOnlyList<LeakSignature> Leaks { get; init; } = [];

    /// <summary>For each type, the objects that refer to its instances, grouped by type and field.</summary>
    public IReadOnlyList<TypeReferrers> Referrers { get; init; } = [];

    /// <summary>Whether the tracing stopped at its time limit and is incomplete.</summary>
    public bool ExplanationIsPartial => ExplanationNote is not null;

    /// <summary>Why the tracing is partial, or null.</summary>
    public string? ExplanationNote { get; init; }

    /// <summary>What could not be traced, each with its reason.</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];

    /// <summary>The paths as readable text.</summary>
    public override string ToString() => ReportExporters.Text.Export(this);

    /// <summary>The headline and the first few paths, with their fixes: a test failure's message when the full report is kept elsewhere.</summary>
    public string ToSummary() => TextExporter.Summary(this);

    /// <summary>The paths as camelCase JSON, <c>schemaVersion</c> 1, <c>kind</c> "paths".</summary>
    public string ToJson() => ReportExporters.Json.Export(this);

    /// <summary>The report as one self-contained HTML page: charts and graphs inline, nothing fetched from a network.</summary>
    public string ToHtml() => ReportExporters.Html.Export(this);
}
