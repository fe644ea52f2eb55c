namespace LeakHunter.Inspector.Paths;

/// <summary>
/// Counts what could not be read while explaining, by kind, with the first failure's message: a root, a field or a
/// delegate that fails to read must not vanish from a report without a word, and one warning per kind says how many.
/// </summary>
internal sealed class FailureTally
{
    private readonly Dictionary<string, (int Count, string FirstReason)> _byKind = new(StringComparer.Ordinal);
    private readonly List<string> _notes = new();

    /// <summary>Counts one failure of <paramref name="kind"/>, phrased to follow a count: "static fields could not be read".</summary>
    public void Add(string kind, Exception failure)
    {
        string reason = $"{failure.GetType().Name}: {failure.Message.ReplaceLineEndings(" ").Trim()}";
        _byKind[kind] = _byKind.TryGetValue(kind, out (int Count, string FirstReason) seen) ? (seen.Count + 1, seen.FirstReason) : (1, reason);
    }

    /// <summary>
    /// Dynamic assemblies whose statics were not read, of all of them. It matters only to a path that ends up at the
    /// runtime's own handle table, where such a static's value would be found instead: the explanation says so then.
    /// </summary>
    public (int Unread, int Of) UnreadDynamicStatics { get; set; }

    /// <summary>A warning that is not a counted failure, such as a limit that was reached.</summary>
    public void Note(string warning) => _notes.Add(warning);

    /// <summary>One line per kind of failure ("3 thread stacks could not be walked, ...: first reason"), then the notes.</summary>
    public List<string> Warnings() =>
        _byKind.Select(p => $"{p.Value.Count:N0} {p.Key} (the first: {p.Value.FirstReason})").Concat(_notes).ToList();
}
