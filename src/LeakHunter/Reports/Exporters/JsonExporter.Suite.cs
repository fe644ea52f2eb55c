using System.Text.Json;

namespace LeakHunter.Reports.Exporters;

internal sealed partial class JsonExporter
{
    /// <summary>
    /// <c>kind</c> <c>suite</c>: every test with its outcome, and for a leaking test its causes, growing types and
    /// resources in the same shape as a check's report; the causes across tests, each with the tests that leak through it.
    /// </summary>
    public string Export(SuiteReport report) => Written(json =>
    {
        json.WriteStartObject();
        json.WriteNumber("schemaVersion", SchemaVersion);
        json.WriteString("kind", "suite");
        json.WriteBoolean("hasNewLeaks", report.HasNewLeaks);
        json.WriteString("assembly", report.AssemblyPath);
        json.WriteString("framework", report.Framework);
        json.WriteNumber("durationMs", Math.Round(report.Duration.TotalMilliseconds, 1));
        json.WriteStartObject("outcomes");
        foreach (SuiteTestOutcome outcome in Enum.GetValues<SuiteTestOutcome>())
            json.WriteNumber(outcome.Json(), report.Count(outcome));
        json.WriteEndObject();

        json.WriteStartArray("causes");
        foreach (SuiteLeakCause cause in report.Causes)
        {
            json.WriteStartObject();
            json.WriteString("id", cause.Cause.Id);
            json.WriteString("idiom", cause.Cause.Idiom);
            WriteRoot(json, cause.Cause.Root);
            json.WriteString("hint", cause.Cause.Hint);
            WriteStrings(json, "tests", cause.Tests);
            json.WriteEndObject();
        }
        json.WriteEndArray();

        json.WriteStartArray("tests");
        foreach (SuiteTestResult test in report.Tests)
        {
            json.WriteStartObject();
            json.WriteString("name", test.Name);
            json.WriteString("outcome", test.Outcome.Json());
            json.WriteNumber("durationMs", Math.Round(test.Duration.TotalMilliseconds, 1));
            if (test.Message is not null)
                json.WriteString("message", test.Message);
            if (test.KnownLeakReason is not null)
                json.WriteString("knownLeakReason", test.KnownLeakReason);
            if (test.Outcome == SuiteTestOutcome.Leaks && test.Report is { } leak)
            {
                WriteGrowth(json, "growingTypes", leak.GrowingTypes);
                WriteResources(json, leak.Resources, "perIteration");
                WriteCauses(json, leak.Causes, ("instancesPerIteration", "bytesPerIteration"));
                WriteUnexplained(json, leak.Unexplained);
            }
            json.WriteEndObject();
        }
        json.WriteEndArray();
        if (report.BaselinePath is null)
            json.WriteNull("baseline");
        else
            json.WriteString("baseline", report.BaselinePath);
        json.WriteEndObject();
    });
}
