namespace LeakHunter.Analysis;

/// <summary>The message for a type name or pattern that matches nothing: the closest names the target does have.</summary>
internal static class TypeSuggestions
{
    private const int MaxSuggestions = 5;

    public static string NoMatch(string pattern, IReadOnlyCollection<string> present, string target)
    {
        string[] close = Closest(pattern, present);
        string suggestion = close.Length == 0
            ? "Take a census (`leakhunter census`) to see the types it has."
            : $"Did you mean {string.Join(", ", close.Select(c => $"'{c}'"))}? Give the full name as a census shows it, or a pattern with *.";
        return $"No live instance of a type matching '{pattern}' in {target}. {suggestion}";
    }

    /// <summary>
    /// Names that end with what was typed (a name given without its namespace), then the nearest by edit distance
    /// on the simple name, so "Acme.Ordr" finds "Acme.Order".
    /// </summary>
    public static string[] Closest(string pattern, IReadOnlyCollection<string> present)
    {
        string wanted = pattern.Replace("*", string.Empty, StringComparison.Ordinal);
        if (wanted.Length == 0)
            return [];
        string[] endingWith = present.Where(t => t.EndsWith("." + wanted, StringComparison.OrdinalIgnoreCase) || t.EndsWith("+" + wanted, StringComparison.OrdinalIgnoreCase))
            .Order(StringComparer.Ordinal).Take(MaxSuggestions).ToArray();
        if (endingWith.Length > 0)
            return endingWith;
        int tolerance = Math.Max(2, wanted.Length / 3);
        return present
            .Select(t => (Type: t, Distance: Math.Min(EditDistance(wanted, t), EditDistance(SimpleName(wanted), SimpleName(t)))))
            .Where(c => c.Distance <= tolerance)
            .OrderBy(c => c.Distance).ThenBy(c => c.Type, StringComparer.Ordinal)
            .Take(MaxSuggestions).Select(c => c.Type).ToArray();
    }

    private static string SimpleName(string type)
    {
        int generic = type.IndexOf('<', StringComparison.Ordinal);
        string head = generic < 0 ? type : type[..generic];
        return head[(head.LastIndexOfAny(['.', '+']) + 1)..];
    }

    private static int EditDistance(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (int j = 0; j <= b.Length; j++)
            previous[j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (int j = 1; j <= b.Length; j++)
            {
                int substitution = char.ToLowerInvariant(a[i - 1]) == char.ToLowerInvariant(b[j - 1]) ? 0 : 1;
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + substitution);
            }
            (previous, current) = (current, previous);
        }
        return previous[b.Length];
    }
}
