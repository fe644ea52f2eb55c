using System.Globalization;
using System.Text.Json;

namespace LeakHunter.Analysis;

/// <summary>
/// The known leaks a team checked in (<see cref="LeakOptions.BaselinePath"/>): causes listed by id, each with the
/// reason a person wrote. A cause in the baseline does not fail a check; a new one does.
/// </summary>
internal sealed class LeakBaseline
{
    /// <summary>With this set to 1, a check adds its new causes to the baseline instead of failing.</summary>
    public const string UpdateVariable = "LEAKHUNTER_UPDATE_BASELINE";

    internal LeakBaseline(string path, IReadOnlyList<KnownLeak> entries)
    {
        Path = path;
        Entries = entries;
    }

    /// <summary>The file the baseline was read from, and is written to when it is updated.</summary>
    public string Path { get; }

    /// <summary>The known leaks, in the file's order.</summary>
    public IReadOnlyList<KnownLeak> Entries { get; private set; }

    /// <summary>Whether this run should add new causes to the file rather than fail on them.</summary>
    public static bool UpdateRequested => Environment.GetEnvironmentVariable(UpdateVariable) == "1";

    /// <summary>Rejects a baseline path that cannot name a file: empty, or a folder.</summary>
    /// <exception cref="ArgumentException">The path is empty or names a folder.</exception>
    public static void ThrowIfNotAFile(string? path, string parameterName)
    {
        if (path is not null && (string.IsNullOrWhiteSpace(path) || Directory.Exists(path)))
            throw new ArgumentException($"BaselinePath must name a JSON file of known leaks (\"{path}\" is {(Directory.Exists(path) ? "a folder" : "empty")}).", parameterName);
    }

    /// <summary>Whether, with a baseline, everything that grew is known: causes all listed there, nothing unexplained.</summary>
    public static bool OnlyKnownLeaks(string? baselinePath, IReadOnlyList<LeakCause> causes, IReadOnlyList<UnexplainedGrowth> unexplained) =>
        baselinePath is not null && causes.Count > 0 && causes.All(c => c.KnownLeakReason is not null) && unexplained.Count == 0;

    /// <summary>Reads the baseline; a file that does not exist yet is an empty baseline, so that an update can create it.</summary>
    /// <exception cref="LeakHunterException">The file is not a baseline (<see cref="LeakHunterFailure.InvalidInput"/>).</exception>
    public static LeakBaseline Load(string path)
    {
        string full = System.IO.Path.GetFullPath(path);
        if (!File.Exists(full))
            return new LeakBaseline(full, []);
        try
        {
            using JsonDocument document = JsonDocument.Parse(File.ReadAllText(full));
            if (document.RootElement.ValueKind != JsonValueKind.Object || !document.RootElement.TryGetProperty("knownLeaks", out JsonElement known)
                || known.ValueKind != JsonValueKind.Array)
                throw NotABaseline(full, "it has no \"knownLeaks\" array");
            var entries = new List<KnownLeak>();
            foreach (JsonElement entry in known.EnumerateArray())
            {
                string? id = entry.ValueKind == JsonValueKind.Object && entry.TryGetProperty("id", out JsonElement i) ? i.GetString() : null;
                string? reason = entry.ValueKind == JsonValueKind.Object && entry.TryGetProperty("reason", out JsonElement r) ? r.GetString() : null;
                if (string.IsNullOrWhiteSpace(id) || string.IsNullOrWhiteSpace(reason))
                    throw NotABaseline(full, $"entry {entries.Count + 1} needs an \"id\" and a \"reason\"");
                string? owner = entry.TryGetProperty("owner", out JsonElement o) ? o.GetString() : null;
                entries.Add(new KnownLeak(id, reason) { Owner = owner });
            }
            return new LeakBaseline(full, entries);
        }
        catch (JsonException e)
        {
            throw NotABaseline(full, $"it is not valid JSON: {e.Message}");
        }
        catch (IOException e)
        {
            throw new LeakHunterException(LeakHunterFailure.InvalidInput, $"The baseline {full} could not be read: {e.Message}", e);
        }
    }

    /// <summary>The causes, each marked with its entry's reason when the baseline knows it; and the entries no cause matched.</summary>
    public (IReadOnlyList<LeakCause> Causes, IReadOnlyList<KnownLeak> NotSeen) Match(IReadOnlyList<LeakCause> causes)
    {
        var byId = Entries.GroupBy(e => e.Id, StringComparer.OrdinalIgnoreCase).ToDictionary(g => g.Key, g => g.First(), StringComparer.OrdinalIgnoreCase);
        LeakCause[] matched = causes.Select(c => byId.TryGetValue(c.Id, out KnownLeak? known) ? c with { KnownLeakReason = known.Reason } : c).ToArray();
        var seen = causes.Select(c => c.Id).ToHashSet(StringComparer.OrdinalIgnoreCase);
        return (matched, Entries.Where(e => !seen.Contains(e.Id)).ToArray());
    }

    /// <summary>
    /// The report <paramref name="build"/> makes; under <c>LEAKHUNTER_UPDATE_BASELINE=1</c>, its new causes are added
    /// to the file and the report is made again, given the warning that says so.
    /// </summary>
    public TReport Reported<TReport>(Func<string?, TReport> build, Func<TReport, IReadOnlyList<LeakCause>> causesOf)
    {
        TReport report = build(null);
        LeakCause[] newCauses = causesOf(report).Where(c => c.KnownLeakReason is null).ToArray();
        if (newCauses.Length == 0 || !UpdateRequested)
            return report;
        int added = Accept(newCauses, DateTime.Today);
        return build($"{added} new cause(s) were added to the baseline {Path}, because {UpdateVariable}=1: " +
            "commit the file to accept them as known leaks, or fix them and run again without the variable.");
    }

    /// <summary>
    /// The report <paramref name="build"/> makes, with <paramref name="baseline"/> or without one: the report stage of
    /// every check and watch. A baseline update's warning is added to <paramref name="warnings"/>, which the report
    /// made again then carries.
    /// </summary>
    public static TReport Report<TReport>(LeakBaseline? baseline, List<string> warnings, Func<TReport> build, Func<TReport, IReadOnlyList<LeakCause>> causesOf) =>
        baseline is null ? build() : baseline.Reported(update =>
        {
            if (update is not null)
                warnings.Add(update);
            return build();
        }, causesOf);

    /// <summary>Adds the causes the baseline does not know yet, as accepted today, and writes the file.</summary>
    /// <returns>How many entries were added.</returns>
    private int Accept(IEnumerable<LeakCause> causes, DateTime today)
    {
        var ids = Entries.Select(e => e.Id).ToHashSet(StringComparer.OrdinalIgnoreCase);
        string reason = "accepted on " + today.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        KnownLeak[] added = causes.Where(c => ids.Add(c.Id))
            .Select(c => new KnownLeak(c.Id, reason) { Owner = Describe(c) })
            .ToArray();
        if (added.Length == 0)
            return 0;
        Entries = [.. Entries, .. added];
        Save();
        return added.Length;
    }

    private void Save()
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
        using var stream = File.Create(Path);
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        json.WriteStartObject();
        json.WriteStartArray("knownLeaks");
        foreach (KnownLeak entry in Entries)
        {
            json.WriteStartObject();
            json.WriteString("id", entry.Id);
            if (entry.Owner is not null)
                json.WriteString("owner", entry.Owner);
            json.WriteString("reason", entry.Reason);
            json.WriteEndObject();
        }
        json.WriteEndArray();
        json.WriteEndObject();
    }

    /// <summary>What a person reading the file needs to recognise the cause: its idiom and its owner, no counts.</summary>
    private static string Describe(LeakCause cause)
    {
        string owner = Reports.Exporters.TextExporter.RootLabel(cause.Root);
        string accumulates = cause.AccumulationPoint is int point ? $" -> {Reports.TypeNames.Short(cause.Path[point].Type)}" : "";
        return cause.Idiom is null ? owner + accumulates : $"{cause.Idiom}: {owner}{accumulates}";
    }

    private static LeakHunterException NotABaseline(string path, string why) =>
        new(LeakHunterFailure.InvalidInput,
            $"The baseline {path} is not a LeakHunter baseline ({why}). It holds {{ \"knownLeaks\": [ {{ \"id\": \"<a cause's id>\", \"reason\": \"<why it is accepted>\" }} ] }}; " +
            $"fix it, or delete it and run the check with {UpdateVariable}=1 to write it again.");
}
