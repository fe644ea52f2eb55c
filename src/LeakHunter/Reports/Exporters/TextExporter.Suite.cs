using System.Globalization;
using System.Text;

namespace LeakHunter.Reports.Exporters;

internal sealed partial class TextExporter
{
    public string Export(SuiteReport report)
    {
        var text = new StringBuilder();
        text.AppendLine(SuiteOutcomeNames.Verdict(report));
        text.AppendLine(string.Create(s_invariant, $"  {report.Framework}, {report.AssemblyPath}: {report.Tests.Count} tests in {report.Duration.TotalSeconds:0.#} s"));
        IReadOnlyList<SuiteLeakCause> causes = report.Causes;
        if (causes.Count > 0)
        {
            text.AppendLine();
            text.AppendLine("  Leaking tests, by cause");
            for (int c = 0; c < causes.Count; c++)
            {
                text.AppendLine();
                AppendCause(text, causes[c].Cause, c, "per run", MaxStepsSummarized, MaxTypesSummarized);
                text.AppendLine(string.Create(s_invariant, $"      {causes[c].Tests.Count} test(s) leak through it:"));
                foreach (string test in causes[c].Tests)
                    text.AppendLine(CultureInfo.InvariantCulture, $"        {test}");
            }
        }
        text.AppendLine();
        text.AppendLine("  Every test");
        foreach (SuiteTestResult test in report.Tests.OrderBy(t => t.Outcome == SuiteTestOutcome.Leaks ? 0 : 1))
        {
            text.AppendLine(string.Create(s_invariant, $"    {test.Outcome.Words(),-15} {test.Duration.TotalSeconds,6:0.00} s  {test.Name}"));
            if (test.KnownLeakReason is not null)
                text.AppendLine(CultureInfo.InvariantCulture, $"{"",28}known leak (baseline): {test.KnownLeakReason}");
            if (test.Message is not null)
                text.AppendLine(CultureInfo.InvariantCulture, $"{"",28}{FirstLine(test.Message)}");
            if (test.Outcome == SuiteTestOutcome.Leaks && test.Report is { Causes.Count: 0 } unexplained)
                text.AppendLine(CultureInfo.InvariantCulture, $"{"",28}grew: {string.Join(", ", unexplained.GrowingTypes.Select(t => TypeNames.Short(t.Type)).Concat(unexplained.Resources.Where(r => r.Growing).Select(r => r.Name)))}");
        }
        if (report.BaselinePath is not null)
        {
            text.AppendLine();
            text.AppendLine(CultureInfo.InvariantCulture, $"  Baseline: {report.BaselinePath}");
        }
        return text.ToString();
    }

    // A failure's message can run to a stack of lines; the report keeps its first, and the JSON the whole of it.
    private static string FirstLine(string message)
    {
        int end = message.IndexOfAny(['\r', '\n']);
        return end < 0 ? message : message[..end] + " ...";
    }
}
