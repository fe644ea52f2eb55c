using System.Text;
using System.Text.Json;

namespace LeakHunter.Reports;

/// <summary>
/// Writes the report's stable JSON (<c>schemaVersion</c> 1) by hand, so the field names and order are a contract
/// that no serializer setting can change.
/// </summary>
internal static class JsonReportWriter
{
    public const int SchemaVersion = 1;

    public static string Write(LeakReport report)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteNumber("schemaVersion", SchemaVersion);
            json.WriteBoolean("hasLeaks", report.HasLeaks);
            json.WriteString("strategy", report.Strategy == CensusStrategy.Dump ? "dump" : "attach");
            json.WriteNumber("warmupIterations", report.WarmupIterations);
            json.WriteNumber("iterations", report.Iterations);
            json.WriteNumber("durationMs", Math.Round(report.Duration.TotalMilliseconds, 1));

            json.WriteStartArray("censuses");
            foreach (CensusSummary census in report.Censuses)
            {
                json.WriteStartObject();
                json.WriteNumber("iteration", census.Iteration);
                json.WriteNumber("objects", census.Objects);
                json.WriteNumber("bytes", census.Bytes);
                json.WriteNumber("pauseMs", Math.Round(census.PauseMs, 2));
                json.WriteString("phase", JsonNamingPolicy.CamelCase.ConvertName(census.Phase.ToString()));
                json.WriteEndObject();
            }
            json.WriteEndArray();

            WriteGrowth(json, "growingTypes", report.GrowingTypes);
            WriteGrowth(json, "backgroundTypes", report.BackgroundTypes);

            WriteLeaks(json, report.Leaks);
            WriteReferrers(json, report.Referrers);
            json.WriteBoolean("explanationPartial", report.ExplanationIsPartial);
            json.WriteStartArray("ignored");
            foreach (IgnoredLeak ignored in report.Ignored)
            {
                json.WriteStartObject();
                json.WriteString("type", ignored.Type);
                json.WriteString("reason", ignored.Reason);
                json.WriteString("pattern", ignored.Pattern);
                json.WriteEndObject();
            }
            json.WriteEndArray();

            json.WriteStartArray("warnings");
            foreach (string warning in report.Warnings)
                json.WriteStringValue(warning);
            json.WriteEndArray();
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>An explanation on its own (the command-line tool's <c>paths</c>), in the report's JSON shape.</summary>
    public static string WriteExplanation(string type, int alive, LeakExplanation explanation)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteNumber("schemaVersion", SchemaVersion);
            json.WriteString("type", type);
            json.WriteNumber("instances", alive);
            WriteLeaks(json, explanation.Leaks);
            WriteReferrers(json, explanation.Referrers);
            json.WriteBoolean("explanationPartial", explanation.PartialReason is not null);
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static void WriteLeaks(Utf8JsonWriter json, IReadOnlyList<LeakSignature> leaks)
    {
        json.WriteStartArray("leaks");
        foreach (LeakSignature leak in leaks)
        {
            json.WriteStartObject();
            json.WriteString("type", leak.Type);
            json.WriteNumber("instances", leak.Instances);
            json.WriteStartObject("root");
            json.WriteString("kind", JsonNamingPolicy.CamelCase.ConvertName(leak.Root.Kind.ToString()));
            json.WriteString("name", leak.Root.Name);
            json.WriteEndObject();
            json.WriteStartArray("path");
            foreach (LeakStep step in leak.Path)
            {
                json.WriteStartObject();
                json.WriteString("type", step.Type);
                json.WriteString("field", step.Field);
                if (step.Note is not null)
                    json.WriteString("note", step.Note);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            if (leak.AccumulationPoint is int point)
                json.WriteNumber("accumulationPoint", point);
            else
                json.WriteNull("accumulationPoint");
            json.WriteString("hint", leak.Hint);
            json.WriteEndObject();
        }
        json.WriteEndArray();
    }

    private static void WriteReferrers(Utf8JsonWriter json, IReadOnlyList<TypeReferrers> referrers)
    {
        json.WriteStartArray("referrers");
        foreach (TypeReferrers type in referrers)
        {
            json.WriteStartObject();
            json.WriteString("type", type.Type);
            json.WriteStartArray("from");
            foreach (Referrer from in type.From)
            {
                json.WriteStartObject();
                json.WriteString("type", from.Type);
                json.WriteString("field", from.Field);
                json.WriteNumber("count", from.Count);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteEndObject();
        }
        json.WriteEndArray();
    }

    private static void WriteGrowth(Utf8JsonWriter json, string name, IReadOnlyList<TypeGrowth> types)
    {
        json.WriteStartArray(name);
        foreach (TypeGrowth type in types)
        {
            json.WriteStartObject();
            json.WriteString("type", type.Type);
            json.WriteStartArray("counts");
            foreach (long count in type.Counts)
                json.WriteNumberValue(count);
            json.WriteEndArray();
            json.WriteStartArray("bytes");
            foreach (long bytes in type.Bytes)
                json.WriteNumberValue(bytes);
            json.WriteEndArray();
            json.WriteNumber("instancesPerIteration", Math.Round(type.InstancesPerIteration, 4));
            json.WriteNumber("bytesPerIteration", Math.Round(type.BytesPerIteration, 2));
            json.WriteEndObject();
        }
        json.WriteEndArray();
    }
}
