using LeakHunter.Reports.Exporters;

namespace LeakHunter;

/// <summary>
/// Renders LeakHunter's reports in one format. Every exporter reads the same report model, so a format added here
/// covers every report: a leak check, a watch, a census, a diff, paths and a suite.
/// </summary>
/// <example>
/// <code>
/// LeakReport report = LeakDetector.Run(() => service.Handle(request));
/// foreach (IReportExporter exporter in ReportExporters.All)
///     File.WriteAllText($"leak-report.{exporter.FileExtension}", exporter.Export(report));
/// </code>
/// </example>
public interface IReportExporter
{
    /// <summary>The format's name, as the command-line tool's <c>--format</c> takes it: <c>text</c>, <c>json</c>, <c>markdown</c>, <c>html</c>.</summary>
    string Name { get; }

    /// <summary>The usual file extension, without the dot.</summary>
    string FileExtension { get; }

    /// <summary>A leak check's report.</summary>
    string Export(LeakReport report);

    /// <summary>A watch of a live process.</summary>
    string Export(WatchReport report);

    /// <summary>One census.</summary>
    string Export(CensusReport report);

    /// <summary>Two censuses compared.</summary>
    string Export(CensusDiffReport report);

    /// <summary>The paths that keep some instances alive.</summary>
    string Export(PathsReport report);

    /// <summary>Every test of a suite run in a loop: the leaking tests by cause, then every test's outcome.</summary>
    string Export(SuiteReport report);
}

/// <summary>The exporters LeakHunter ships: readable text, stable JSON (<c>schemaVersion</c> 1), GitHub markdown, and a self-contained HTML page.</summary>
public static class ReportExporters
{
    /// <summary>Readable text, for a console or a test's output.</summary>
    public static IReportExporter Text { get; } = new TextExporter();

    /// <summary>camelCase JSON with <c>schemaVersion</c> 1, whose fields only ever grow: the format for tools.</summary>
    public static IReportExporter Json { get; } = new JsonExporter();

    /// <summary>GitHub-flavoured markdown tables and lists, for a pull request comment or a job summary.</summary>
    public static IReportExporter Markdown { get; } = new MarkdownExporter();

    /// <summary>One self-contained page: inline CSS and SVG charts and graphs, no script, nothing fetched from a network.</summary>
    public static IReportExporter Html { get; } = new HtmlExporter();

    /// <summary>Every exporter above.</summary>
    public static IReadOnlyList<IReportExporter> All { get; } = [Text, Json, Markdown, Html];

    /// <summary>The exporter whose <see cref="IReportExporter.Name"/> is <paramref name="name"/>, ignoring case.</summary>
    /// <exception cref="ArgumentException">No exporter has that name; the message lists the names there are.</exception>
    public static IReportExporter Named(string name) =>
        All.FirstOrDefault(e => string.Equals(e.Name, name, StringComparison.OrdinalIgnoreCase))
        ?? throw new ArgumentException($"There is no '{name}' report format. The formats are {string.Join(", ", All.Select(e => e.Name))}.", nameof(name));
}
