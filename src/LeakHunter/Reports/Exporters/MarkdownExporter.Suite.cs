using System.Globalization;
using System.Text;

namespace LeakHunter.Reports.Exporters;

internal sealed partial class MarkdownExporter
{
    public string Export(SuiteReport report)
    {
        var md = new StringBuilder();
        md.AppendLine(CultureInfo.InvariantCulture, $"## LeakHunter: {Cell(SuiteOutcomeNames.Verdict(report))}").AppendLine();
        md.AppendLine(string.Create(s_invariant, $"{Cell(report.Framework)}, {Code(report.AssemblyPath)}: {report.Tests.Count} tests in {report.Duration.TotalSeconds:0.#} s"));
        IReadOnlyList<SuiteLeakCause> causes = report.Causes;
        if (causes.Count > 0)
            Heading(md, "### Leaking tests, by cause");
        for (int c = 0; c < causes.Count; c++)
        {
            LeakCause cause = causes[c].Cause;
            string idiom = cause.Idiom is null ? "" : $" ({Cell(cause.Idiom)})";
            md.AppendLine(string.Create(s_invariant, $"#### Cause {c + 1}{idiom} `{cause.Id}`: {causes[c].Tests.Count} test(s)")).AppendLine();
            AppendPath(md, cause.Root, cause.Path, cause.AccumulationPoint);
            md.AppendLine().AppendLine(CultureInfo.InvariantCulture, $"**Fix:** {Cell(cause.Hint)}").AppendLine();
            foreach (string test in causes[c].Tests)
                md.AppendLine(CultureInfo.InvariantCulture, $"- {Code(test)}");
            md.AppendLine();
        }
        Heading(md, "### Every test");
        md.AppendLine("| outcome | test | seconds | note |").AppendLine("|---|---|---:|---|");
        foreach (SuiteTestResult test in report.Tests.OrderBy(t => t.Outcome == SuiteTestOutcome.Leaks ? 0 : 1))
        {
            string note = test.KnownLeakReason is not null ? $"known leak (baseline): {test.KnownLeakReason}" : test.Message ?? "";
            md.AppendLine(string.Create(s_invariant, $"| {test.Outcome.Words()} | {Code(test.Name)} | {test.Duration.TotalSeconds:0.00} | {Cell(note)} |"));
        }
        if (report.BaselinePath is not null)
            md.AppendLine().AppendLine(CultureInfo.InvariantCulture, $"Baseline: {Code(report.BaselinePath)}");
        return md.ToString();
    }
}
