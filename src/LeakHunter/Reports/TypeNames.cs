using System.Text.RegularExpressions;

namespace LeakHunter.Reports;

// Linked into the inspector too, which names idioms in the same short spelling.
/// <summary>Short type names for text: namespaces dropped, generic arguments kept short too.</summary>
internal static partial class TypeNames
{
    /// <summary>A runtime type spelled the way ClrMD spells it: <c>Acme.Outer+Inner</c>, <c>System.Collections.Generic.List&lt;Acme.Item&gt;</c>.</summary>
    public static string ClrName(Type type)
    {
        if (type.IsArray)
            return ClrName(type.GetElementType()!) + "[" + new string(',', type.GetArrayRank() - 1) + "]";
        if (!type.IsGenericType)
            return type.FullName ?? type.Name;
        // Each nesting level takes its own share of the arguments: Dictionary`2+Entry is Dictionary<K, V>+Entry.
        Type[] arguments = type.GetGenericArguments();
        int used = 0;
        var parts = new List<string>();
        foreach (string part in type.GetGenericTypeDefinition().FullName!.Split('+'))
        {
            int tick = part.IndexOf('`');
            if (tick < 0)
            {
                parts.Add(part);
                continue;
            }
            int count = int.Parse(part[(tick + 1)..], System.Globalization.CultureInfo.InvariantCulture);
            parts.Add($"{part[..tick]}<{string.Join(", ", arguments.Skip(used).Take(count).Select(ClrName))}>");
            used += count;
        }
        return string.Join("+", parts);
    }

    public static string Short(string? fullName) =>
        fullName is null ? "?" : NamespacePrefix().Replace(fullName, "");

    // A namespace: identifiers each followed by a dot, at the start of a name or of a generic argument.
    [GeneratedRegex(@"(?<=^|[<,\s\[])(?:[A-Za-z_][A-Za-z0-9_]*\.)+")]
    private static partial Regex NamespacePrefix();
}
