using System.Text.Json;
using System.Text.RegularExpressions;
using LeakHunter.Analysis;

namespace LeakHunter.Suites;

/// <summary>
/// The leaking tests a team already knows of (<see cref="SuiteOptions.BaselinePath"/>), each by name or name pattern
/// with the reason a person wrote: <c>{"knownLeakingTests": [{"name": "Shop.Tests.CartTests.*", "reason": "..."}]}</c>.
/// </summary>
internal sealed class SuiteBaseline
{
    private readonly (Regex Name, string Reason)[] _entries;

    private SuiteBaseline((Regex Name, string Reason)[] entries) => _entries = entries;

    /// <summary>The baseline at <paramref name="path"/>; none for a null path, and an empty one for a file that does not exist yet.</summary>
    /// <exception cref="LeakHunterException">The file is not such a baseline (<see cref="LeakHunterFailure.InvalidInput"/>).</exception>
    public static SuiteBaseline Load(string? path)
    {
        if (path is null)
            return new SuiteBaseline([]);
        LeakBaseline.ThrowIfNotAFile(path, nameof(SuiteOptions.BaselinePath));
        string full = Path.GetFullPath(path);
        if (!File.Exists(full))
            return new SuiteBaseline([]);
        try
        {
            using JsonDocument document = JsonDocument.Parse(File.ReadAllText(full));
            if (document.RootElement.ValueKind != JsonValueKind.Object || !document.RootElement.TryGetProperty("knownLeakingTests", out JsonElement known)
                || known.ValueKind != JsonValueKind.Array)
                throw NotABaseline(full, "it has no \"knownLeakingTests\" array");
            var entries = new List<(Regex, string)>();
            foreach (JsonElement entry in known.EnumerateArray())
            {
                string? name = entry.ValueKind == JsonValueKind.Object && entry.TryGetProperty("name", out JsonElement n) && n.ValueKind == JsonValueKind.String ? n.GetString() : null;
                string? reason = entry.ValueKind == JsonValueKind.Object && entry.TryGetProperty("reason", out JsonElement r) && r.ValueKind == JsonValueKind.String ? r.GetString() : null;
                if (string.IsNullOrWhiteSpace(name) || string.IsNullOrWhiteSpace(reason))
                    throw NotABaseline(full, $"entry {entries.Count + 1} needs a \"name\" (a test's name, * for any run of characters) and a \"reason\"");
                entries.Add((Wildcard.ToRegex(name), reason));
            }
            return new SuiteBaseline([.. entries]);
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

    /// <summary>The reason the baseline gives for <paramref name="test"/>, or null when it does not list it.</summary>
    public string? ReasonFor(string test) => _entries.Where(e => e.Name.IsMatch(test)).Select(e => e.Reason).FirstOrDefault();

    private static LeakHunterException NotABaseline(string path, string why) =>
        new(LeakHunterFailure.InvalidInput, $"{path} is not a baseline of known leaking tests: {why}. Write {{\"knownLeakingTests\": [{{\"name\": \"Namespace.Class.Test\", \"reason\": \"why it is known\"}}]}}.");
}
