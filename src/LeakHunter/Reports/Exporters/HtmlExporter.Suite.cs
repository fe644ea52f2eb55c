using System.Globalization;
using System.Text;

namespace LeakHunter.Reports.Exporters;

internal sealed partial class HtmlExporter
{
    /// <summary>The leaking tests first, grouped by cause with each cause's graph and fix, then every test with its outcome.</summary>
    public string Export(SuiteReport report)
    {
        string verdict = SuiteOutcomeNames.Verdict(report);
        var html = new StringBuilder();
        Verdict(html, verdict, report.HasNewLeaks);
        Facts(html,
        [
            ("assembly", report.AssemblyPath),
            ("framework", report.Framework),
            ("tests", string.Join(", ", Enum.GetValues<SuiteTestOutcome>().Select(o => string.Create(s_invariant, $"{report.Count(o)} {o.Words()}")))),
            ("duration", string.Create(s_invariant, $"{report.Duration.TotalSeconds:0.#} s")),
        ]);
        IReadOnlyList<SuiteLeakCause> causes = report.Causes;
        if (causes.Count > 0)
            Section(html, "Leaking tests, by cause");
        for (int c = 0; c < causes.Count; c++)
        {
            LeakCause cause = causes[c].Cause;
            string idiom = cause.Idiom is null ? "" : $" ({Encode(cause.Idiom)})";
            html.AppendLine(CultureInfo.InvariantCulture, $"<article class=\"cause\" id=\"cause-{c + 1}\">");
            html.AppendLine(string.Create(s_invariant, $"<h3>Cause {c + 1}{idiom} <code>{Encode(cause.Id)}</code>: {causes[c].Tests.Count} test(s)</h3>"));
            RetentionGraph(html, cause.Root, cause.Path, cause.AccumulationPoint,
                cause.Types.Select(t => (t.Type, string.Create(s_invariant, $"{t.InstancesPerIteration:0.##} obj, {t.BytesPerIteration:0.#} B per run"))).ToArray());
            html.AppendLine(CultureInfo.InvariantCulture, $"<p class=\"fix\"><strong>Fix:</strong> {Encode(cause.Hint)}</p>");
            html.AppendLine("<ul class=\"tests\">");
            foreach (string test in causes[c].Tests)
                html.AppendLine(CultureInfo.InvariantCulture, $"<li>{Code(test)}</li>");
            html.AppendLine("</ul>");
            html.AppendLine("</article>");
        }
        Section(html, "Every test");
        Table(html, ["outcome", "test", "note", "seconds"],
            report.Tests.OrderBy(t => t.Outcome == SuiteTestOutcome.Leaks ? 0 : 1).Select(t => new[]
            {
                $"<span class=\"outcome {t.Outcome.Json()}\">{Encode(t.Outcome.Words())}</span>",
                Code(t.Name),
                Encode(t.KnownLeakReason is not null ? $"known leak (baseline): {t.KnownLeakReason}" : t.Message ?? ""),
                t.Duration.TotalSeconds.ToString("0.00", s_invariant),
            }), numericFrom: 3);
        if (report.BaselinePath is not null)
            html.AppendLine(CultureInfo.InvariantCulture, $"<p>Baseline: {Code(report.BaselinePath)}</p>");
        return Page("LeakHunter: " + verdict, html);
    }
}
