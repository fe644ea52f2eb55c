using System.Globalization;
using System.Text;
using System.Text.Json;

namespace LeakHunter.Cli;

/// <summary>Live objects of one type in a census.</summary>
internal sealed record TypeCount(string Type, long Count, long Bytes);

/// <summary>
/// One census as the tool shows and saves it. Its JSON is also what <c>diff</c> reads back, so a census saved today
/// can be compared with one taken tomorrow.
/// </summary>
internal sealed record CensusView(string Target, long Objects, long Bytes, IReadOnlyList<TypeCount> Types)
{
    private const int SchemaVersion = 1;

    public string ToJson()
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteNumber("schemaVersion", SchemaVersion);
            json.WriteString("kind", "census");
            json.WriteString("target", Target);
            json.WriteNumber("objects", Objects);
            json.WriteNumber("bytes", Bytes);
            json.WriteStartArray("types");
            foreach (TypeCount type in Types)
            {
                json.WriteStartObject();
                json.WriteString("type", type.Type);
                json.WriteNumber("count", type.Count);
                json.WriteNumber("bytes", type.Bytes);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    public static CensusView FromJson(string path)
    {
        try
        {
            using JsonDocument document = JsonDocument.Parse(File.ReadAllText(path));
            JsonElement root = document.RootElement;
            if (!root.TryGetProperty("kind", out JsonElement kind) || kind.GetString() != "census")
                throw new CliException($"'{path}' is not a census saved by `leakhunter census --format json`.");
            var types = root.GetProperty("types").EnumerateArray()
                .Select(t => new TypeCount(t.GetProperty("type").GetString()!, t.GetProperty("count").GetInt64(), t.GetProperty("bytes").GetInt64()))
                .ToArray();
            return new CensusView(root.GetProperty("target").GetString()!, root.GetProperty("objects").GetInt64(), root.GetProperty("bytes").GetInt64(), types);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new CliException($"'{path}' is not a census saved by `leakhunter census --format json`: {e.Message}");
        }
    }

    public string ToText()
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"{Target}: {Objects:N0} objects, {Bytes:N0} bytes");
        text.AppendLine(CultureInfo.InvariantCulture, $"{"count",12} {"bytes",14}  type");
        foreach (TypeCount type in Types)
            text.AppendLine(CultureInfo.InvariantCulture, $"{type.Count,12:N0} {type.Bytes,14:N0}  {type.Type}");
        return text.ToString();
    }

    public string ToMarkdown()
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"**{Target}**: {Objects:N0} objects, {Bytes:N0} bytes").AppendLine();
        text.AppendLine("| count | bytes | type |").AppendLine("|---:|---:|---|");
        foreach (TypeCount type in Types)
            text.AppendLine(CultureInfo.InvariantCulture, $"| {type.Count:N0} | {type.Bytes:N0} | `{type.Type}` |");
        return text.ToString();
    }
}

/// <summary>Two censuses compared, type by type, most growth first.</summary>
internal sealed record CensusDiff(string Before, string After, IReadOnlyList<(string Type, long CountChange, long BytesChange)> Changes)
{
    public bool HasGrowth => Changes.Any(c => c.CountChange > 0 || c.BytesChange > 0);

    public static CensusDiff Compare(CensusView before, CensusView after, string sortBy)
    {
        var previous = before.Types.ToDictionary(t => t.Type, StringComparer.Ordinal);
        var current = after.Types.ToDictionary(t => t.Type, StringComparer.Ordinal);
        (string Type, long CountChange, long BytesChange)[] changes = previous.Keys.Union(current.Keys)
            .Select(type => (type,
                (current.GetValueOrDefault(type)?.Count ?? 0) - (previous.GetValueOrDefault(type)?.Count ?? 0),
                (current.GetValueOrDefault(type)?.Bytes ?? 0) - (previous.GetValueOrDefault(type)?.Bytes ?? 0)))
            .Where(c => c.Item2 != 0 || c.Item3 != 0)
            .ToArray();
        IOrderedEnumerable<(string Type, long CountChange, long BytesChange)> sorted = sortBy == "count"
            ? changes.OrderByDescending(c => c.CountChange)
            : changes.OrderByDescending(c => c.BytesChange);
        return new CensusDiff(before.Target, after.Target, sorted.ThenBy(c => c.Type, StringComparer.Ordinal).ToArray());
    }

    public string ToText()
    {
        var text = new StringBuilder();
        text.AppendLine($"before: {Before}").AppendLine($"after:  {After}");
        text.AppendLine(CultureInfo.InvariantCulture, $"{"count",12} {"bytes",14}  type");
        foreach ((string type, long count, long bytes) in Changes)
            text.AppendLine(CultureInfo.InvariantCulture, $"{count,12:+#,0;-#,0;0} {bytes,14:+#,0;-#,0;0}  {type}");
        return text.ToString();
    }

    public string ToMarkdown()
    {
        var text = new StringBuilder();
        text.AppendLine($"Before: {Before}  ").AppendLine($"After: {After}").AppendLine();
        text.AppendLine("| count | bytes | type |").AppendLine("|---:|---:|---|");
        foreach ((string type, long count, long bytes) in Changes)
            text.AppendLine(CultureInfo.InvariantCulture, $"| {count:+#,0;-#,0;0} | {bytes:+#,0;-#,0;0} | `{type}` |");
        return text.ToString();
    }

    public string ToJson()
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteNumber("schemaVersion", 1);
            json.WriteString("kind", "diff");
            json.WriteString("before", Before);
            json.WriteString("after", After);
            json.WriteStartArray("changes");
            foreach ((string type, long count, long bytes) in Changes)
            {
                json.WriteStartObject();
                json.WriteString("type", type);
                json.WriteNumber("countChange", count);
                json.WriteNumber("bytesChange", bytes);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }
}
