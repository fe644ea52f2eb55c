using System.Text;
using System.Text.Json;

namespace LeakHunter.Reports.Exporters;

/// <summary>
/// Writes the report's stable JSON (<c>schemaVersion</c> 1) by hand, so the field names and order are a contract
/// that no serializer setting can change.
/// </summary>
internal sealed partial class JsonExporter : IReportExporter
{
    public const int SchemaVersion = 1;

    public string Name => "json";

    public string FileExtension => "json";

    public string Export(LeakReport report) => Written(json =>
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

        json.WriteStartObject("confirmation");
        json.WriteNumber("rounds", report.Confirmation.Rounds);
        json.WriteNumber("iterations", report.Confirmation.Iterations);
        json.WriteString("decision", report.Confirmation.Decision);
        json.WriteEndObject();

        WriteGrowth(json, "growingTypes", report.GrowingTypes);
        WriteGrowth(json, "backgroundTypes", report.BackgroundTypes);
        WriteResources(json, report.Resources, "perIteration");

        WriteCauses(json, report.Causes, ("instancesPerIteration", "bytesPerIteration"));
        WriteUnexplained(json, report.Unexplained);
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
        WriteBaseline(json, report.BaselinePath, report.OnlyKnownLeaks, report.KnownLeaksNotSeen);

        WriteStrings(json, "warnings", report.Warnings);
        json.WriteEndObject();
    });

    /// <summary>
    /// A watch keeps every field the command-line tool's watch wrote before it had a report of its own (an interval
    /// counted as an iteration there), so tools reading those go on working, and adds its rates per second.
    /// </summary>
    public string Export(WatchReport report) => Written(json =>
    {
        int intervals = report.Samples.Count - 1;
        json.WriteStartObject();
        json.WriteNumber("schemaVersion", SchemaVersion);
        json.WriteString("kind", "watch");
        json.WriteString("target", report.Target);
        json.WriteBoolean("hasLeaks", report.HasLeaks);
        json.WriteString("strategy", "attach");
        json.WriteNumber("warmupIterations", 0);
        json.WriteNumber("iterations", intervals);
        json.WriteNumber("intervalSeconds", report.Interval.TotalSeconds);
        json.WriteNumber("durationMs", Math.Round(report.Duration.TotalMilliseconds, 1));
        json.WriteStartArray("censuses");
        for (int i = 0; i < report.Samples.Count; i++)
        {
            WatchSample sample = report.Samples[i];
            json.WriteStartObject();
            json.WriteNumber("iteration", i);
            json.WriteNumber("elapsedSeconds", Math.Round(sample.ElapsedSeconds, 3));
            json.WriteNumber("objects", sample.Objects);
            json.WriteNumber("bytes", sample.Bytes);
            json.WriteNumber("pauseMs", Math.Round(sample.PauseMs, 2));
            json.WriteString("phase", "counted");
            json.WriteEndObject();
        }
        json.WriteEndArray();
        json.WriteStartArray("growingTypes");
        foreach (TypeRate type in report.GrowingTypes)
        {
            json.WriteStartObject();
            json.WriteString("type", type.Type);
            WriteNumbers(json, "counts", type.Counts);
            WriteNumbers(json, "bytes", type.Bytes);
            json.WriteNumber("instancesPerSecond", Math.Round(type.InstancesPerSecond, 4));
            json.WriteNumber("bytesPerSecond", Math.Round(type.BytesPerSecond, 2));
            json.WriteNumber("instancesPerIteration", intervals == 0 ? 0 : Math.Round((double)(type.Counts[^1] - type.Counts[0]) / intervals, 4));
            json.WriteNumber("bytesPerIteration", intervals == 0 ? 0 : Math.Round((double)(type.Bytes[^1] - type.Bytes[0]) / intervals, 2));
            json.WriteEndObject();
        }
        json.WriteEndArray();
        json.WriteStartArray("backgroundTypes");
        json.WriteEndArray();
        WriteResources(json, report.Resources, "perSecond");
        WriteCauses(json, report.Causes, ("instancesPerSecond", "bytesPerSecond"));
        WriteUnexplained(json, report.Unexplained);
        WriteLeaks(json, report.Leaks);
        WriteReferrers(json, report.Referrers);
        json.WriteBoolean("explanationPartial", report.ExplanationIsPartial);
        json.WriteStartArray("ignored");
        json.WriteEndArray();
        WriteBaseline(json, report.BaselinePath, report.OnlyKnownLeaks, report.KnownLeaksNotSeen);
        WriteStrings(json, "warnings", report.Warnings);
        json.WriteEndObject();
    });

    public string Export(CensusReport report) => Written(json =>
    {
        json.WriteStartObject();
        json.WriteNumber("schemaVersion", SchemaVersion);
        json.WriteString("kind", "census");
        json.WriteString("target", report.Target);
        json.WriteNumber("objects", report.Objects);
        json.WriteNumber("bytes", report.Bytes);
        json.WriteStartArray("types");
        foreach (TypeCount type in report.Types)
        {
            json.WriteStartObject();
            json.WriteString("type", type.Type);
            json.WriteNumber("count", type.Count);
            json.WriteNumber("bytes", type.Bytes);
            json.WriteEndObject();
        }
        json.WriteEndArray();
        json.WriteStartArray("resources");
        foreach (ResourceCount resource in report.Resources)
        {
            json.WriteStartObject();
            json.WriteString("name", resource.Name);
            json.WriteNumber("count", resource.Count);
            WriteByKind(json, resource.Details);
            json.WriteEndObject();
        }
        json.WriteEndArray();
        WriteStrings(json, "warnings", report.Warnings);
        json.WriteEndObject();
    });

    public string Export(CensusDiffReport report) => Written(json =>
    {
        json.WriteStartObject();
        json.WriteNumber("schemaVersion", SchemaVersion);
        json.WriteString("kind", "diff");
        json.WriteString("before", report.Before);
        json.WriteString("after", report.After);
        json.WriteBoolean("hasGrowth", report.HasGrowth);
        json.WriteStartArray("changes");
        foreach (TypeChange change in report.Changes)
        {
            json.WriteStartObject();
            json.WriteString("type", change.Type);
            json.WriteNumber("countChange", change.CountChange);
            json.WriteNumber("bytesChange", change.BytesChange);
            json.WriteEndObject();
        }
        json.WriteEndArray();
        json.WriteStartArray("resourceChanges");
        foreach (ResourceChange resource in report.ResourceChanges)
        {
            json.WriteStartObject();
            json.WriteString("name", resource.Name);
            json.WriteNumber("before", resource.Before);
            json.WriteNumber("after", resource.After);
            json.WriteNumber("change", resource.Change);
            WriteByKind(json, resource.Details);
            json.WriteEndObject();
        }
        json.WriteEndArray();
        if (report.ExplainedTypes.Count > 0 || report.BaselinePath is not null)
        {
            json.WriteBoolean("hasNewGrowth", report.HasNewGrowth);
            WriteStrings(json, "explainedTypes", report.ExplainedTypes);
            WriteCauses(json, report.Causes, ("instancesGained", "bytesGained"));
            WriteUnexplained(json, report.Unexplained);
            WriteLeaks(json, report.Leaks);
            WriteReferrers(json, report.Referrers);
            json.WriteBoolean("explanationPartial", report.ExplanationNote is not null);
            WriteBaseline(json, report.BaselinePath, report.OnlyKnownLeaks, report.KnownLeaksNotSeen);
            WriteStrings(json, "warnings", report.Warnings);
        }
        json.WriteEndObject();
    });

    public string Export(PathsReport report) => Written(json =>
    {
        json.WriteStartObject();
        json.WriteNumber("schemaVersion", SchemaVersion);
        json.WriteString("kind", "paths");
        json.WriteString("target", report.Target);
        json.WriteString("headline", report.Headline);
        json.WriteString("type", report.TypePattern);
        WriteStrings(json, "types", report.Types);
        json.WriteNumber("instances", report.Instances);
        json.WriteNumber("targetPauseMs", Math.Round(report.TargetPauseMs, 2));
        WriteLeaks(json, report.Leaks);
        WriteReferrers(json, report.Referrers);
        json.WriteBoolean("explanationPartial", report.ExplanationIsPartial);
        WriteStrings(json, "warnings", report.Warnings);
        json.WriteEndObject();
    });

    private static string Written(Action<Utf8JsonWriter> write)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
            write(json);
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static void WriteStrings(Utf8JsonWriter json, string name, IEnumerable<string> values)
    {
        json.WriteStartArray(name);
        foreach (string value in values)
            json.WriteStringValue(value);
        json.WriteEndArray();
    }

    /// <summary>A resource's <c>details</c>: one number per kind.</summary>
    private static void WriteByKind(Utf8JsonWriter json, IReadOnlyDictionary<string, long> byKind)
    {
        json.WriteStartObject("details");
        foreach ((string kind, long value) in byKind)
            json.WriteNumber(kind, value);
        json.WriteEndObject();
    }

    private static void WriteNumbers(Utf8JsonWriter json, string name, IEnumerable<long> values)
    {
        json.WriteStartArray(name);
        foreach (long value in values)
            json.WriteNumberValue(value);
        json.WriteEndArray();
    }

    private static void WriteLeaks(Utf8JsonWriter json, IReadOnlyList<LeakSignature> leaks)
    {
        json.WriteStartArray("leaks");
        foreach (LeakSignature leak in leaks)
        {
            json.WriteStartObject();
            json.WriteString("type", leak.Type);
            json.WriteNumber("instances", leak.Instances);
            WriteRoot(json, leak.Root);
            WritePath(json, leak.Path);
            if (leak.AccumulationPoint is int point)
                json.WriteNumber("accumulationPoint", point);
            else
                json.WriteNull("accumulationPoint");
            json.WriteString("hint", leak.Hint);
            if (leak.Cause is int cause)
                json.WriteNumber("cause", cause);
            else
                json.WriteNull("cause");
            json.WriteEndObject();
        }
        json.WriteEndArray();
    }

    /// <summary>The baseline the causes were matched against, when there was one, and its entries nothing matched.</summary>
    private static void WriteBaseline(Utf8JsonWriter json, string? path, bool onlyKnownLeaks, IReadOnlyList<KnownLeak> notSeen)
    {
        if (path is null)
            return;
        json.WriteStartObject("baseline");
        json.WriteString("path", path);
        json.WriteBoolean("onlyKnownLeaks", onlyKnownLeaks);
        json.WriteStartArray("notSeen");
        foreach (KnownLeak entry in notSeen)
        {
            json.WriteStartObject();
            json.WriteString("id", entry.Id);
            json.WriteString("reason", entry.Reason);
            if (entry.Owner is not null)
                json.WriteString("owner", entry.Owner);
            json.WriteEndObject();
        }
        json.WriteEndArray();
        json.WriteEndObject();
    }

    /// <summary>The causes, each with its growth under <paramref name="names"/>: per iteration of a check, per second of a watch, gained in a diff.</summary>
    private static void WriteCauses(Utf8JsonWriter json, IReadOnlyList<LeakCause> causes, (string Instances, string Bytes) names)
    {
        json.WriteStartArray("causes");
        foreach (LeakCause cause in causes)
            WriteCause(json, cause, names);
        json.WriteEndArray();
    }

    private static void WriteCause(Utf8JsonWriter json, LeakCause cause, (string Instances, string Bytes) names)
    {
        {
            json.WriteStartObject();
            json.WriteString("id", cause.Id);
            if (cause.KnownLeakReason is not null)
                json.WriteString("knownLeakReason", cause.KnownLeakReason);
            WriteRoot(json, cause.Root);
            WritePath(json, cause.Path);
            if (cause.AccumulationPoint is int point)
            {
                json.WriteStartObject("accumulationPoint");
                json.WriteNumber("index", point);
                json.WriteString("type", cause.Path[point].Type);
                json.WriteString("field", cause.Path[point].Field);
                json.WriteEndObject();
            }
            else
            {
                json.WriteNull("accumulationPoint");
            }
            WriteStrings(json, "types", cause.Types.Select(t => t.Type));
            json.WriteStartArray("growth");
            foreach (CausedGrowth type in cause.Types)
            {
                json.WriteStartObject();
                json.WriteString("type", type.Type);
                json.WriteNumber("newInstances", type.NewInstances);
                json.WriteNumber(names.Instances, Math.Round(type.InstancesPerIteration, 4));
                json.WriteNumber(names.Bytes, Math.Round(type.BytesPerIteration, 2));
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteNumber(names.Instances, Math.Round(cause.InstancesPerIteration, 4));
            json.WriteNumber(names.Bytes, Math.Round(cause.BytesPerIteration, 2));
            if (cause.RetainedBytes is long retained)
                json.WriteNumber("retainedBytes", retained);
            else
                json.WriteNull("retainedBytes");
            json.WriteString("hint", cause.Hint);
            if (cause.Idiom is not null)
                json.WriteString("idiom", cause.Idiom);
            if (cause.HeldThrough.Count > 0)
            {
                json.WriteStartArray("heldThrough");
                foreach (LeakCause through in cause.HeldThrough)
                    WriteCause(json, through, names);
                json.WriteEndArray();
            }
            json.WriteEndObject();
        }
    }

    private static void WriteUnexplained(Utf8JsonWriter json, IReadOnlyList<UnexplainedGrowth> unexplained)
    {
        json.WriteStartArray("unexplained");
        foreach (UnexplainedGrowth type in unexplained)
        {
            json.WriteStartObject();
            json.WriteString("type", type.Type);
            json.WriteString("reason", type.Reason);
            json.WriteEndObject();
        }
        json.WriteEndArray();
    }

    private static void WriteRoot(Utf8JsonWriter json, LeakRoot root)
    {
        json.WriteStartObject("root");
        json.WriteString("kind", JsonNamingPolicy.CamelCase.ConvertName(root.Kind.ToString()));
        json.WriteString("name", root.Name);
        if (root.Thread is { } thread)
        {
            json.WriteStartObject("thread");
            json.WriteString("name", thread.Name);
            json.WriteString("startMethod", thread.StartMethod);
            json.WriteString("startedBy", thread.StartedBy);
            json.WriteString("stopMethod", thread.StopMethod);
            json.WriteNumber("threads", thread.Threads);
            json.WriteEndObject();
        }
        json.WriteEndObject();
    }

    private static void WritePath(Utf8JsonWriter json, IReadOnlyList<LeakStep> path)
    {
        json.WriteStartArray("path");
        foreach (LeakStep step in path)
        {
            json.WriteStartObject();
            json.WriteString("type", step.Type);
            json.WriteString("field", step.Field);
            if (step.Note is not null)
                json.WriteString("note", step.Note);
            if (step.Closer is not null)
                json.WriteString("closer", step.Closer);
            if (step.IsNew)
                json.WriteBoolean("isNew", true);
            if (step.FiresOnceAfter is { } delay)
                json.WriteNumber("firesOnceAfterMs", (long)delay.TotalMilliseconds);
            if (step.KeyShapes is { Count: > 0 } shapes)
                WriteStrings(json, "keyShapes", shapes);
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

    /// <summary>What the process held besides objects at each census, each resource with its rate, verdict and breakdown.</summary>
    private static void WriteResources(Utf8JsonWriter json, IReadOnlyList<ResourceUsage> resources, string rateName)
    {
        json.WriteStartArray("resources");
        foreach (ResourceUsage resource in resources)
        {
            json.WriteStartObject();
            json.WriteString("name", resource.Name);
            WriteNumbers(json, "counts", resource.Counts);
            json.WriteNumber(rateName, Math.Round(resource.PerIteration, 4));
            json.WriteBoolean("growing", resource.Growing);
            if (resource.IgnoredReason is not null)
                json.WriteString("ignoredReason", resource.IgnoredReason);
            json.WriteStartObject("details");
            foreach ((string kind, IReadOnlyList<long> counts) in resource.Details)
                WriteNumbers(json, kind, counts);
            json.WriteEndObject();
            json.WriteStartArray("findings");
            foreach (ResourceFinding finding in resource.Findings)
            {
                json.WriteStartObject();
                json.WriteString("kind", finding.Kind);
                json.WriteString("what", finding.What);
                json.WriteNumber("count", finding.Count);
                WriteStrings(json, "details", finding.Details);
                if (finding.OwnerType is null)
                    json.WriteNull("ownerType");
                else
                    json.WriteString("ownerType", finding.OwnerType);
                if (finding.Cause is int cause)
                    json.WriteNumber("cause", cause);
                else
                    json.WriteNull("cause");
                json.WriteString("hint", finding.Hint);
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
            WriteNumbers(json, "counts", type.Counts);
            WriteNumbers(json, "bytes", type.Bytes);
            json.WriteNumber("instancesPerIteration", Math.Round(type.InstancesPerIteration, 4));
            json.WriteNumber("bytesPerIteration", Math.Round(type.BytesPerIteration, 2));
            json.WriteEndObject();
        }
        json.WriteEndArray();
    }
}
