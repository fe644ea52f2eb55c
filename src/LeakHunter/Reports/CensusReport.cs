using System.Text.Json;
using LeakHunter.Analysis;

namespace LeakHunter;

/// <summary>How the types of a census or a diff are ordered.</summary>
public enum CensusOrder
{
    /// <summary>Most bytes (or most bytes gained) first.</summary>
    Bytes,

    /// <summary>Most instances (or most instances gained) first.</summary>
    Count,
}

/// <summary>Live objects of one type in a census.</summary>
/// <param name="Type">The type's full name, spelled as ClrMD spells it.</param>
/// <param name="Count">Live instances.</param>
/// <param name="Bytes">Bytes of those instances.</param>
public sealed record TypeCount(string Type, long Count, long Bytes);

/// <summary>A resource a process held besides objects at one census.</summary>
/// <param name="Name"><c>threads</c>, <c>gcHandles</c>, <c>finalizationQueue</c>, <c>fileDescriptors</c>, <c>nativeMemory</c> (bytes) or <c>assemblies</c>.</param>
/// <param name="Count">How many (bytes for native memory).</param>
/// <param name="Details">Its breakdown by kind: <c>weak</c> handles, <c>socket</c> descriptors, <c>dynamic</c> assemblies.</param>
public sealed record ResourceCount(string Name, long Count, IReadOnlyDictionary<string, long> Details)
{
    /// <summary>The resources of one census reply, in the order reports list them.</summary>
    internal static ResourceCount[] From(IReadOnlyList<Census.ResourceReading> readings) =>
        Census.ResourceNames.All
            .Select(name => (Name: name, Total: readings.FirstOrDefault(r => r.Resource == name && r.Kind == Census.ResourceNames.Total)))
            .Where(r => r.Total is not null)
            .Select(r => new ResourceCount(r.Name, r.Total!.Count,
                readings.Where(k => k.Resource == r.Name && k.Kind != Census.ResourceNames.Total).ToDictionary(k => k.Kind, k => k.Count)))
            .ToArray();
}

/// <summary>
/// One census of a process or a dump: live objects by type. Its JSON is also what <see cref="FromJson"/> reads back,
/// so a census saved today can be compared with one taken tomorrow (<see cref="CensusDiffReport.Compare"/>).
/// </summary>
/// <param name="Target">What was counted: a process (id and name) or a dump's path.</param>
/// <param name="Objects">Live objects in all.</param>
/// <param name="Bytes">Bytes of those objects.</param>
/// <param name="Types">Objects by type, in the order asked for; every type unless the census was cut with <see cref="Select"/>.</param>
/// <param name="Warnings">Why the counts may be less reliable than usual.</param>
public sealed record CensusReport(string Target, long Objects, long Bytes, IReadOnlyList<TypeCount> Types, IReadOnlyList<string> Warnings)
{
    /// <summary>
    /// What the process held besides objects at the census: threads, GC handles, the finalization queue, file
    /// descriptors, native memory and assemblies, each with its breakdown by kind. A dump file of a process that is
    /// gone has only what its runtime shows (no threads, descriptors or native memory). Empty in a census saved before
    /// resources were counted.
    /// </summary>
    public IReadOnlyList<ResourceCount> Resources { get; init; } = [];

    /// <summary>The census as readable text.</summary>
    public override string ToString() => ReportExporters.Text.Export(this);

    /// <summary>The census as camelCase JSON, <c>schemaVersion</c> 1, <c>kind</c> "census".</summary>
    public string ToJson() => ReportExporters.Json.Export(this);

    /// <summary>The report as one self-contained HTML page.</summary>
    public string ToHtml() => ReportExporters.Html.Export(this);

    /// <summary>The types whose name matches <paramref name="typePattern"/> (<c>*</c> is any run of characters), in <paramref name="order"/>, at most <paramref name="top"/> of them.</summary>
    /// <remarks>The totals stay those of the whole census.</remarks>
    public CensusReport Select(string? typePattern = null, CensusOrder order = CensusOrder.Bytes, int? top = null)
    {
        if (top is <= 0)
            throw new ArgumentOutOfRangeException(nameof(top), top, "top must be a positive number of types.");
        IEnumerable<TypeCount> types = Types;
        if (typePattern is not null)
        {
            var pattern = Wildcard.ToRegex(typePattern);
            types = types.Where(t => pattern.IsMatch(t.Type));
        }
        types = Ordered(types, order);
        return this with { Types = types.Take(top ?? int.MaxValue).ToArray() };
    }

    internal static IOrderedEnumerable<TypeCount> Ordered(IEnumerable<TypeCount> types, CensusOrder order) =>
        (order == CensusOrder.Count ? types.OrderByDescending(t => t.Count) : types.OrderByDescending(t => t.Bytes))
        .ThenBy(t => t.Type, StringComparer.Ordinal);

    /// <summary>Reads a census saved as JSON by <see cref="ToJson"/> (or by <c>leakhunter census --format json</c>).</summary>
    /// <param name="json">The saved text.</param>
    /// <param name="source">Where the text came from, for the error message.</param>
    /// <exception cref="LeakHunterException">The text is not a saved census (<see cref="LeakHunterFailure.InvalidInput"/>).</exception>
    public static CensusReport FromJson(string json, string source = "the text")
    {
        try
        {
            using JsonDocument document = JsonDocument.Parse(json);
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("kind", out JsonElement kind) || kind.GetString() != "census")
                throw NotACensus(source, "it has no \"kind\": \"census\"");
            var types = root.GetProperty("types").EnumerateArray()
                .Select(t => new TypeCount(t.GetProperty("type").GetString()!, t.GetProperty("count").GetInt64(), t.GetProperty("bytes").GetInt64()))
                .ToArray();
            string[] warnings = root.TryGetProperty("warnings", out JsonElement saved) ? saved.EnumerateArray().Select(w => w.GetString()!).ToArray() : [];
            ResourceCount[] resources = root.TryGetProperty("resources", out JsonElement held)
                ? held.EnumerateArray().Select(r => new ResourceCount(r.GetProperty("name").GetString()!, r.GetProperty("count").GetInt64(),
                    r.GetProperty("details").EnumerateObject().ToDictionary(d => d.Name, d => d.Value.GetInt64()))).ToArray()
                : [];
            return new CensusReport(root.GetProperty("target").GetString()!, root.GetProperty("objects").GetInt64(), root.GetProperty("bytes").GetInt64(), types, warnings)
            {
                Resources = resources,
            };
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw NotACensus(source, e.Message);
        }
    }

    private static LeakHunterException NotACensus(string source, string why) =>
        new(LeakHunterFailure.InvalidInput, $"{source} is not a census saved by `leakhunter census --format json` or CensusReport.ToJson ({why}). Save the census again.");
}

/// <summary>How one type changed between two censuses.</summary>
/// <param name="Type">The type's full name.</param>
/// <param name="CountChange">Instances gained (negative: lost).</param>
/// <param name="BytesChange">Bytes gained (negative: lost).</param>
public sealed record TypeChange(string Type, long CountChange, long BytesChange);

/// <summary>How one resource beyond objects changed between two censuses.</summary>
/// <param name="Name">The resource, as <see cref="ResourceCount.Name"/> names it.</param>
/// <param name="Before">Its count at the first census (bytes for native memory).</param>
/// <param name="After">Its count at the second.</param>
/// <param name="Details">How each kind changed (<c>socket</c> +12), the kinds that did not change left out.</param>
public sealed record ResourceChange(string Name, long Before, long After, IReadOnlyDictionary<string, long> Details)
{
    /// <summary>What it gained (negative: lost).</summary>
    public long Change => After - Before;
}

/// <summary>Two censuses compared, type by type, most growth first.</summary>
/// <param name="Before">What the first census counted.</param>
/// <param name="After">What the second census counted.</param>
/// <param name="Changes">The types whose count or bytes changed.</param>
public sealed record CensusDiffReport(string Before, string After, IReadOnlyList<TypeChange> Changes)
{
    /// <summary>Whether any type gained instances or bytes, or any resource beyond objects grew.</summary>
    public bool HasGrowth => Changes.Any(c => c.CountChange > 0 || c.BytesChange > 0) || ResourceChanges.Any(r => r.Change > 0);

    /// <summary>
    /// The resources beyond objects (threads, GC handles, descriptors, native memory, ...) that both censuses counted,
    /// each with its counts and how its kinds changed; empty when either census has none (a dump file's, or one saved
    /// before resources were counted).
    /// </summary>
    public IReadOnlyList<ResourceChange> ResourceChanges { get; private init; } = [];

    /// <summary>
    /// The types whose instances were traced to their causes (<see cref="HeapInspector.ExplainGrowth"/>): those that
    /// gained the most; empty when the diff was not explained.
    /// </summary>
    public IReadOnlyList<string> ExplainedTypes { get; private init; } = [];

    /// <summary>
    /// The root causes of the explained types' growth, most bytes first. A cause's <see cref="LeakCause.InstancesPerIteration"/>
    /// and <see cref="LeakCause.BytesPerIteration"/> are what it gained between the two censuses.
    /// </summary>
    public IReadOnlyList<LeakCause> Causes { get; private init; } = [];

    /// <summary>Explained types no cause accounts for, each with the reason.</summary>
    public IReadOnlyList<UnexplainedGrowth> Unexplained { get; private init; } = [];

    /// <summary>What keeps the explained types' instances alive, most instances first.</summary>
    public IReadOnlyList<LeakSignature> Leaks { get; private init; } = [];

    /// <summary>For each explained type, the objects that refer to its instances, grouped by type and field.</summary>
    public IReadOnlyList<TypeReferrers> Referrers { get; private init; } = [];

    /// <summary>Why the explanation is partial, or null.</summary>
    public string? ExplanationNote { get; private init; }

    /// <summary>Why the explanation may be less reliable than usual, and what a baseline update did.</summary>
    public IReadOnlyList<string> Warnings { get; private init; } = [];

    /// <summary>The baseline of known leaks the causes were matched against, as a full path; null when none was given.</summary>
    public string? BaselinePath { get; private init; }

    /// <summary>The baseline's entries no cause of this diff matched: fixed, when these dumps are where they were found.</summary>
    public IReadOnlyList<KnownLeak> KnownLeaksNotSeen { get; private init; } = [];

    /// <summary>Whether the causes of the growth are all known to the baseline (and there is at least one).</summary>
    /// <remarks>
    /// A traced type no cause explains does not count against it: between two heaps, a gain no path holds more of than
    /// the same path held before is spread over many owners, or was garbage, and is no leak a baseline could name.
    /// </remarks>
    public bool OnlyKnownLeaks => LeakBaseline.OnlyKnownLeaks(BaselinePath, Causes, []);

    /// <summary>
    /// What the CLI's exit code 1 means: before <see cref="HeapInspector.ExplainGrowth"/>, any growth
    /// (<see cref="HasGrowth"/>); after it, a cause the baseline does not know.
    /// </summary>
    public bool HasNewGrowth => _explained ? Causes.Any(c => c.KnownLeakReason is null) : HasGrowth;

    private bool _explained;

    private const string SpreadGain = "no path holds more of its instances in the second heap than the same path held in the first: " +
        "the gain is spread over many owners, or was garbage";

    /// <summary>This diff with the causes of <paramref name="traced"/>'s growth, as the after heap's paths tell them, matched against <paramref name="baseline"/>.</summary>
    internal CensusDiffReport Explained(IReadOnlyList<TypeChange> traced, LeakExplanation? explanation, LeakBaseline? baseline, string? baselineUpdate)
    {
        // The whole change counts as one interval: a cause gets at most what it holds, and all of them no more than grew.
        LeakCauses.Result causes = LeakCauses.Build(explanation,
            traced.Select(c => new LeakCauses.Growth(c.Type, c.CountChange, c.BytesChange)).ToArray(), explainedSpan: 1);
        (IReadOnlyList<LeakCause> matched, IReadOnlyList<KnownLeak> notSeen) = baseline?.Match(causes.Causes) ?? (causes.Causes, []);
        return this with
        {
            _explained = true,
            ExplainedTypes = traced.Select(c => c.Type).ToArray(),
            Causes = matched,
            Unexplained = causes.Unexplained.Select(u => u with { Reason = SpreadGain }).ToArray(),
            Leaks = causes.Signatures,
            Referrers = explanation?.Referrers ?? [],
            ExplanationNote = explanation?.PartialReason,
            Warnings = [.. explanation?.Warnings ?? [], .. baselineUpdate is null ? [] : new[] { baselineUpdate }],
            BaselinePath = baseline?.Path,
            KnownLeaksNotSeen = notSeen,
        };
    }

    /// <summary>Compares two censuses of the same process (or of two dumps of it); every type of both is compared.</summary>
    public static CensusDiffReport Compare(CensusReport before, CensusReport after, CensusOrder order = CensusOrder.Bytes)
    {
        ArgumentNullException.ThrowIfNull(before);
        ArgumentNullException.ThrowIfNull(after);
        var previous = before.Types.ToDictionary(t => t.Type, StringComparer.Ordinal);
        var current = after.Types.ToDictionary(t => t.Type, StringComparer.Ordinal);
        IEnumerable<TypeChange> changes = previous.Keys.Union(current.Keys)
            .Select(type => new TypeChange(type,
                (current.GetValueOrDefault(type)?.Count ?? 0) - (previous.GetValueOrDefault(type)?.Count ?? 0),
                (current.GetValueOrDefault(type)?.Bytes ?? 0) - (previous.GetValueOrDefault(type)?.Bytes ?? 0)))
            .Where(c => c.CountChange != 0 || c.BytesChange != 0);
        IOrderedEnumerable<TypeChange> sorted = order == CensusOrder.Count
            ? changes.OrderByDescending(c => c.CountChange)
            : changes.OrderByDescending(c => c.BytesChange);
        return new CensusDiffReport(before.Target, after.Target, sorted.ThenBy(c => c.Type, StringComparer.Ordinal).ToArray())
        {
            ResourceChanges = CompareResources(before.Resources, after.Resources),
        };
    }

    private static ResourceChange[] CompareResources(IReadOnlyList<ResourceCount> before, IReadOnlyList<ResourceCount> after)
    {
        var previous = before.ToDictionary(r => r.Name, StringComparer.Ordinal);
        return after.Where(r => previous.ContainsKey(r.Name))
            .Select(r => (Now: r, Then: previous[r.Name]))
            .Select(p => new ResourceChange(p.Now.Name, p.Then.Count, p.Now.Count,
                p.Now.Details.Keys.Union(p.Then.Details.Keys)
                    .Select(kind => (Kind: kind, Change: p.Now.Details.GetValueOrDefault(kind) - p.Then.Details.GetValueOrDefault(kind)))
                    .Where(k => k.Change != 0)
                    .ToDictionary(k => k.Kind, k => k.Change)))
            .ToArray();
    }

    /// <summary>The comparison as readable text.</summary>
    public override string ToString() => ReportExporters.Text.Export(this);

    /// <summary>The comparison as camelCase JSON, <c>schemaVersion</c> 1, <c>kind</c> "diff".</summary>
    public string ToJson() => ReportExporters.Json.Export(this);

    /// <summary>The report as one self-contained HTML page.</summary>
    public string ToHtml() => ReportExporters.Html.Export(this);
}
