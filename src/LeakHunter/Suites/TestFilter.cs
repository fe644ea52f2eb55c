using System.Text.RegularExpressions;
using LeakHunter.Analysis;
using LeakHunter.Suites.Discovery;

namespace LeakHunter.Suites;

/// <summary>
/// Chooses tests as <c>dotnet test --filter</c> does: terms such as <c>FullyQualifiedName~Cart</c>,
/// <c>ClassName=Shop.Tests.CartTests</c> or <c>Name!=Slow</c>, joined by <c>&amp;</c> (all) and <c>|</c> (any), <c>&amp;</c>
/// binding tighter. A filter with no operator is a name pattern: <c>*</c> is any run of characters, and a pattern
/// without one matches names that contain it.
/// </summary>
internal sealed partial class TestFilter
{
    private static readonly string[] s_properties = ["FullyQualifiedName", "Name", "ClassName", "DisplayName"];
    private readonly Func<SuiteTest, bool> _matches;

    private TestFilter(Func<SuiteTest, bool> matches) => _matches = matches;

    /// <summary>The filter, or null for none.</summary>
    /// <exception cref="LeakHunterException">A term names a property there is not, or has no value (<see cref="LeakHunterFailure.InvalidInput"/>).</exception>
    public static TestFilter? Parse(string? filter)
    {
        if (string.IsNullOrWhiteSpace(filter))
            return null;
        if (!Operator().IsMatch(filter))
        {
            Regex pattern = Wildcard.ToRegex(filter.Contains('*', StringComparison.Ordinal) ? filter : $"*{filter}*");
            return new TestFilter(t => pattern.IsMatch(t.Name));
        }
        Func<SuiteTest, bool>[][] any = filter.Split('|').Select(all => all.Split('&').Select(Term).ToArray()).ToArray();
        return new TestFilter(t => any.Any(all => all.All(term => term(t))));
    }

    /// <summary>Whether the filter chooses <paramref name="test"/>.</summary>
    public bool Matches(SuiteTest test) => _matches(test);

    private static Func<SuiteTest, bool> Term(string term)
    {
        Match match = Operator().Match(term);
        string property = term[..match.Index].Trim(), value = term[(match.Index + match.Length)..].Trim();
        if (!match.Success || value.Length == 0 || !s_properties.Contains(property, StringComparer.OrdinalIgnoreCase))
            throw new LeakHunterException(LeakHunterFailure.InvalidInput,
                $"'{term.Trim()}' is not a filter term. Write Property=Value, Property!=Value, Property~Part or Property!~Part with a property of {string.Join(", ", s_properties)}, joined by & or |; or give a name pattern with * for any run of characters.");
        Func<SuiteTest, string> read = property.ToUpperInvariant() switch
        {
            "FULLYQUALIFIEDNAME" => t => $"{t.ClassName}.{t.MethodName}",
            "NAME" => t => t.MethodName,
            "CLASSNAME" => t => t.ClassName,
            _ => t => t.Name,
        };
        return match.Value switch
        {
            "=" => t => string.Equals(read(t), value, StringComparison.Ordinal),
            "!=" => t => !string.Equals(read(t), value, StringComparison.Ordinal),
            "~" => t => read(t).Contains(value, StringComparison.Ordinal),
            _ => t => !read(t).Contains(value, StringComparison.Ordinal),
        };
    }

    [GeneratedRegex("!=|!~|=|~")]
    private static partial Regex Operator();
}
