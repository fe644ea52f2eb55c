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
            if (entries.Type is { Name: { } nodeName } nodeType && !nodeType.IsArray)
                return nodeName.Contains("SortedSet<", StringComparison.Ordinal) && nodeName.EndsWith("+Node", StringComparison.Ordinal) ? Shapes(TreeKeys(entries)) : [];
            if (entries.Type is not { IsArray: true, ComponentType: { } element } arrayType || element.Name is not { } name)
                return [];
            // Any dictionary's entries: the base class library's, and the slim dictionaries libraries keep of their own
            // (an Entry struct with a key), and Hashtable's buckets.
            bool entriesArray = (element.IsValueType && name.EndsWith("+Entry", StringComparison.Ordinal))
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
        if ((element.GetFieldByName("key") ?? element.GetFieldByName("_key") ?? element.GetFieldByName("Key")) is not { } key)
            return [];
        int length = entries.AsArray().Length;
        var keys = new List<IReadOnlyList<string>>();
        for (int i = length - 1; i >= 0 && keys.Count < KeysRead; i--)
        {
            ulong at = arrayType.GetArrayElementAddress(entries.Address, i);
            if (KeyParts(key, at) is { Count: > 0 } parts)
                keys.Add(parts);
        }
        return Varying(keys);
    }

    /// <summary>The keys of a sorted dictionary's tree, read from the node where it accumulates down, a level at a time.</summary>
    private static List<string> TreeKeys(ClrObject node)
    {
        var keys = new List<IReadOnlyList<string>>();
        var pending = new Queue<ClrObject>([node]);
        while (pending.Count > 0 && keys.Count < KeysRead)
        {
            ClrObject next = pending.Dequeue();
            // The node's members are auto-properties in some versions of the library: their backing fields.
            if (next.Type is not { } type || (type.GetFieldByName("Item") ?? type.GetFieldByName("<Item>k__BackingField")) is not { Type: { IsValueType: true } pair } item)
                continue;
            if (pair.GetFieldByName("key") is { } key && KeyParts(key, item.GetAddress(next.Address)) is { Count: > 0 } parts)
                keys.Add(parts);
            foreach (string child in new[] { "Left", "Right", "<Left>k__BackingField", "<Right>k__BackingField" })
            {
                if (type.GetFieldByName(child) is not null && next.TryReadObjectField(child, out ClrObject childNode) && !childNode.IsNull && childNode.IsValid)
                    pending.Enqueue(childNode);
            }
        }
        return Varying(keys);
    }

    /// <summary>
    /// The keys' varying part: a key of several strings (a metric's label names and values, a name and a scope) is told
    /// by the first string that is not the same in every key; a key of one string by that string.
    /// </summary>
    private static List<string> Varying(List<IReadOnlyList<string>> keys)
    {
        if (keys.Count == 0)
            return [];
        int parts = keys.Min(k => k.Count);
        int varying = Enumerable.Range(0, parts).FirstOrDefault(p => keys.Select(k => k[p]).Distinct(StringComparer.Ordinal).Skip(1).Any(), 0);
        return keys.Select(k => k[varying]).ToList();
    }

    private static List<string> ConcurrentKeys(ClrRuntime runtime, ClrObject buckets, ClrType arrayType, ClrType element)
    {
        if (element.GetFieldByName("_node") is not { } nodeField)
            return [];
        int length = buckets.AsArray().Length;
        var keys = new List<IReadOnlyList<string>>();
        for (int i = length - 1; i >= 0 && keys.Count < KeysRead; i--)
        {
            ClrObject node = nodeField.ReadObject(arrayType.GetArrayElementAddress(buckets.Address, i), interior: true);
            if (node.IsNull || !node.IsValid || node.Type?.GetFieldByName("_key") is not { } key)
                continue;
            if (KeyParts(key, node.Address, interior: false) is { Count: > 0 } parts)
                keys.Add(parts);
        }
        return Varying(keys);
    }

    // How deep into a key's structs and objects its strings are looked for.
    private const int KeyDepth = 4;

    /// <summary>
    /// The strings a key is made of: itself where it is a string; a struct's strings, string arrays and nested structs'
    /// in field order (a cache key of a name and a type, a metric's label names and values); a key object's of its own.
    /// The runtime's own objects as keys (an Assembly, a Type) are not values a caller chose, and their names say
    /// nothing of a key per call.
    /// </summary>
    private static List<string> KeyParts(ClrInstanceField key, ulong owner, bool interior = true)
    {
        var parts = new List<string>();
        AddParts(key, owner, interior, KeyDepth, parts);
        return parts;
    }

    private static void AddParts(ClrInstanceField field, ulong owner, bool interior, int depth, List<string> parts)
    {
        if (depth == 0 || parts.Count >= KeysRead)
            return;
        if (field.Type is { IsString: true })
        {
            if (field.ReadString(owner, interior) is { } text)
                parts.Add(text);
            return;
        }
        if (field.Type is { IsValueType: true } structType)
        {
            if (structType.IsPrimitive)
                return;
            ulong at = field.GetAddress(owner, interior);
            foreach (ClrInstanceField inner in structType.Fields)
                AddParts(inner, at, interior: true, depth - 1, parts);
            return;
        }
        if (!field.IsObjectReference || field.ReadObject(owner, interior) is not { IsNull: false, IsValid: true } value || value.Type is not { } type)
            return;
        if (type.IsString)
        {
            parts.Add(value.AsString() ?? "");
        }
        else if (type.IsArray && type.ComponentType?.IsString == true)
        {
            ClrArray array = value.AsArray();
            for (int i = 0; i < Math.Min(array.Length, KeysRead); i++)
            {
                if (array.GetObjectValue(i) is { IsNull: false, IsValid: true } element && element.AsString() is { } text)
                    parts.Add(text);
            }
        }
        else if (type.Name?.StartsWith("System.", StringComparison.Ordinal) == false && !type.IsArray)
        {
            foreach (ClrInstanceField inner in type.Fields)
                AddParts(inner, value.Address, interior: false, depth - 1, parts);
        }
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
        // A constant part ends where a word or a number does: "tenant-4" and "tenant-43" share "tenant-4", but the 4 is
        // data; "order12" and "order13" share "order", the letters the code wrote before the number.
        while (prefix > 0 && keys.Any(k => k.Length > prefix && SameRun(keys[0][prefix - 1], k[prefix])))
            prefix--;
        int suffix = keys.Count < 2 ? 0 : keys.Aggregate(keys[0].Length - prefix, (n, k) => Math.Min(n, CommonSuffix(keys[0], k, prefix)));
        while (suffix > 0 && keys.Any(k => k.Length > suffix + prefix && SameRun(k[^(suffix + 1)], keys[0][^suffix])))
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

    /// <summary>Whether two neighbouring characters belong to one run: both letters, or both digits.</summary>
    private static bool SameRun(char a, char b) => (char.IsLetter(a) && char.IsLetter(b)) || (char.IsDigit(a) && char.IsDigit(b));

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
