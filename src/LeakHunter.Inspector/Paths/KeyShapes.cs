using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Diagnostics.Runtime;

namespace LeakHunter.Inspector.Paths;

/// <summary>
/// The shapes of the newest keys of a dictionary that grows: <c>tenant-N</c>, never the keys themselves. A cache keyed
/// by a value that is new on every call (a logger name per tenant, a registry key per request) grows without bound,
/// and the shape shows the user which key it is without putting a value in the report: what every sampled key shares
/// is the code's constant, and what varies is told by its kind of characters only.
/// </summary>
internal static partial class KeyShapes
{
    // Keys read from the end of the entries array, where the newest are.
    private const int KeysRead = 8;

    // Shapes reported: enough to see the pattern.
    private const int ShapesShown = 3;

    /// <summary>
    /// The shapes of the newest string keys (or the first string field of struct keys) of the dictionary whose
    /// entries array is at <paramref name="entriesAddress"/>; empty when it is not a dictionary's entries, or its keys
    /// are not strings.
    /// </summary>
    public static List<string> Of(ClrRuntime runtime, ulong entriesAddress)
    {
        try
        {
            ClrObject entries = runtime.Heap.GetObject(entriesAddress);
            if (entries.Type is not { IsArray: true, ComponentType: { } element } arrayType || element.Name is not { } name)
                return [];
            bool entriesArray = (name.StartsWith("System.Collections.Generic.Dictionary<", StringComparison.Ordinal) && name.EndsWith("+Entry", StringComparison.Ordinal))
                || name is "System.Collections.Hashtable+Bucket" or "System.Collections.Hashtable+bucket";
            List<string> keys = entriesArray
                ? DictionaryKeys(entries, arrayType, element)
                : name.StartsWith("System.Collections.Concurrent.ConcurrentDictionary<", StringComparison.Ordinal) && name.EndsWith("+VolatileNode", StringComparison.Ordinal)
                    ? ConcurrentKeys(runtime, entries, arrayType, element)
                    : [];
            return Shapes(keys);
        }
        catch (Exception)
        {
            // Keys that cannot be read make no shapes; the story is told without them.
            return [];
        }
    }

    private static List<string> DictionaryKeys(ClrObject entries, ClrType arrayType, ClrType element)
    {
        if ((element.GetFieldByName("key") ?? element.GetFieldByName("_key")) is not { } key)
            return [];
        int length = entries.AsArray().Length;
        var keys = new List<string>();
        for (int i = length - 1; i >= 0 && keys.Count < KeysRead; i--)
        {
            ulong at = arrayType.GetArrayElementAddress(entries.Address, i);
            if (KeyText(key, at) is { } text)
                keys.Add(text);
        }
        return keys;
    }

    private static List<string> ConcurrentKeys(ClrRuntime runtime, ClrObject buckets, ClrType arrayType, ClrType element)
    {
        if (element.GetFieldByName("_node") is not { } nodeField)
            return [];
        int length = buckets.AsArray().Length;
        var keys = new List<string>();
        for (int i = length - 1; i >= 0 && keys.Count < KeysRead; i--)
        {
            ClrObject node = nodeField.ReadObject(arrayType.GetArrayElementAddress(buckets.Address, i), interior: true);
            if (node.IsNull || !node.IsValid || node.Type?.GetFieldByName("_key") is not { } key)
                continue;
            if (KeyText(key, node.Address, interior: false) is { } text)
                keys.Add(text);
        }
        return keys;
    }

    /// <summary>A key that is a string, or a struct whose first string field names it (a cache key of a name and a type).</summary>
    private static string? KeyText(ClrInstanceField key, ulong owner, bool interior = true)
    {
        if (key.Type is { IsString: true })
            return key.ReadString(owner, interior);
        if (key.Type is { IsValueType: true } keyType && keyType.Fields.FirstOrDefault(f => f.Type?.IsString == true) is { } text)
            return text.ReadString(key.GetAddress(owner, interior), interior: true);
        if (!key.IsObjectReference || key.ReadObject(owner, interior) is not { IsNull: false, IsValid: true } boxed)
            return null;
        if (boxed.Type?.IsString == true)
            return boxed.AsString();
        // A key object of its own (a logger's key of name and hash): its first string field names it. The runtime's own
        // objects as keys (an Assembly, a Type) are not values a caller chose, and their names say nothing of a key per call.
        if (boxed.Type?.Name?.StartsWith("System.", StringComparison.Ordinal) != false)
            return null;
        return boxed.Type?.Fields.FirstOrDefault(f => f.Type?.IsString == true) is { } named ? named.ReadString(boxed.Address, interior: false) : null;
    }

    /// <summary>
    /// What the keys share at their start and end, kept as it is (the code's constant), with the part between told by
    /// its shape. One key alone shares nothing with another, so all of it is shape.
    /// </summary>
    public static List<string> Shapes(IReadOnlyList<string> keys)
    {
        if (keys.Count == 0)
            return [];
        int prefix = keys.Count < 2 ? 0 : keys.Aggregate(keys[0].Length, (n, k) => Math.Min(n, CommonPrefix(keys[0], k)));
        // A constant part ends where a word does: "tenant-4" and "tenant-43" share "tenant-4", but the 4 is data.
        while (prefix > 0 && char.IsLetterOrDigit(keys[0][prefix - 1]) && keys.Any(k => k.Length > prefix && char.IsLetterOrDigit(k[prefix])))
            prefix--;
        int suffix = keys.Count < 2 ? 0 : keys.Aggregate(keys[0].Length - prefix, (n, k) => Math.Min(n, CommonSuffix(keys[0], k, prefix)));
        while (suffix > 0 && char.IsLetterOrDigit(keys[0][^suffix]) && keys.Any(k => k.Length > suffix + prefix && char.IsLetterOrDigit(k[^(suffix + 1)])))
            suffix--;
        List<string> shapes = keys.Select(k => Redacted(k[..prefix] + Shape(k[prefix..(k.Length - suffix)]) + k[(k.Length - suffix)..]))
            .Distinct(StringComparer.Ordinal).Take(ShapesShown).ToList();
        // Keys made per call come from one pattern: a constant part they share, or a number, an id, a GUID in each. Words
        // with nothing in common ("Data Source", "Mode") are a fixed vocabulary, not a key per call.
        bool patterned = prefix + suffix > 0 || shapes.Any(shape => shape.Contains('N') || shape.Contains('X') || shape.Contains("{guid}", StringComparison.Ordinal));
        return patterned ? shapes : [];
    }

    /// <summary>
    /// A constant part is the code's, but the code may hold a secret: a connection string's password, a key or a token
    /// is told by its name only, whatever it is.
    /// </summary>
    private static string Redacted(string shape) => SecretValue().Replace(shape, match => $"{match.Groups[1].Value}=…");

    /// <summary>A varying part by its kind: a number is N, a GUID {guid}, hex X, and anything with letters "…".</summary>
    private static string Shape(string varying)
    {
        if (varying.Length == 0)
            return "";
        if (Guid().IsMatch(varying))
            return "{guid}";
        var shape = new StringBuilder();
        foreach (Match token in Token().Matches(varying))
        {
            string t = token.Value;
            shape.Append(t.All(char.IsAsciiDigit) ? "N"
                : t.Length >= 8 && t.All(char.IsAsciiHexDigit) ? "X"
                : char.IsLetterOrDigit(t[0]) ? "…"
                : t);
        }
        return shape.ToString();
    }

    private static int CommonPrefix(string a, string b)
    {
        int n = 0;
        while (n < a.Length && n < b.Length && a[n] == b[n])
            n++;
        return n;
    }

    private static int CommonSuffix(string a, string b, int prefix)
    {
        int n = 0;
        while (n < a.Length - prefix && n < b.Length - prefix && a[^(n + 1)] == b[^(n + 1)])
            n++;
        return n;
    }

    [GeneratedRegex(@"(?i)\b(password|pwd|passwd|secret|token|api[_-]?key|access[_-]?key|account[_-]?key|shared[_-]?access[_-]?key|sig|signature|key)\s*=\s*[^;&]*")]
    private static partial Regex SecretValue();

    [GeneratedRegex(@"^\{?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\}?$")]
    private static partial Regex Guid();

    // Runs of letters and digits, and each other character on its own (separators are the code's).
    [GeneratedRegex(@"[\p{L}\p{N}]+|.", RegexOptions.Singleline)]
    private static partial Regex Token();
}
