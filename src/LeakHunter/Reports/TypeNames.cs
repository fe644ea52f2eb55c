using System.Text.RegularExpressions;

namespace LeakHunter.Reports;

// Linked into the inspector too, which names idioms in the same short spelling.
/// <summary>Short type names for text: namespaces dropped, generic arguments kept short too.</summary>
internal static partial class TypeNames
{
    public static string Short(string? fullName) =>
        fullName is null ? "?" : NamespacePrefix().Replace(fullName, "");

    // A namespace: identifiers each followed by a dot, at the start of a name or of a generic argument.
    [GeneratedRegex(@"(?<=^|[<,\s\[])(?:[A-Za-z_][A-Za-z0-9_]*\.)+")]
    private static partial Regex NamespacePrefix();
}
