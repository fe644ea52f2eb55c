using System.Text.RegularExpressions;

namespace LeakHunter.Analysis;

/// <summary>
/// Applies <see cref="LeakOptions.Ignore"/>: a growing type is ignored when a type rule matches it, or when a path
/// rule matches the signatures that explain it (every one that is part of a cause, or those holding three quarters of
/// its new instances). Ignored types leave the verdict but stay in the report.
/// </summary>
/// <summary>Name patterns where <c>*</c> matches any run of characters, and everything else matches itself.</summary>
internal static class Wildcard
{
    public static Regex ToRegex(string pattern) =>
        new("^" + Regex.Escape(pattern).Replace(@"\*", ".*", StringComparison.Ordinal) + "$", RegexOptions.CultureInvariant);
}

internal static class IgnoreRules
{
    // A path rule ignores a type when the signatures it matches hold at least this share of the type's new instances.
    private const double MinMatchedShare = 0.75;

    /// <summary>Caches of the runtime itself: bounded, and filled by first use, so never a leak of the code under test.</summary>
    public static IReadOnlyList<LeakIgnore> RuntimeCaches { get; } =
    [
        LeakIgnore.Path("System.Runtime.CompilerServices.CastHelpers.s_table",
            "the runtime's cast cache: bounded, it grows while new casts are first seen (LeakOptions.IgnoreRuntimeCaches)"),
        LeakIgnore.Path("System.Threading.ThreadPoolWorkQueue+WorkStealingQueueList.s_queues",
            "the thread pool's list of per-thread queues: one per pool thread, so bounded by the pool's size; it grows when the pool adds a thread (LeakOptions.IgnoreRuntimeCaches)"),
    ];

    public static IReadOnlyList<LeakIgnore> For(LeakOptions options) =>
        options.IgnoreRuntimeCaches ? [.. options.Ignore, .. RuntimeCaches] : options.Ignore;

    public static (List<TypeGrowth> Growing, List<IgnoredLeak> Ignored, LeakExplanation? Explanation) Apply(
        IReadOnlyList<LeakIgnore> rules, List<TypeGrowth> growing, LeakExplanation? explanation)
    {
        if (rules.Count == 0)
            return (growing, [], explanation);

        var kept = new List<TypeGrowth>();
        var ignored = new List<IgnoredLeak>();
        foreach (TypeGrowth type in growing)
        {
            LeakIgnore? rule = rules.FirstOrDefault(r => r.Kind == LeakIgnoreKind.Type && Matches(r.Pattern, type.Type));
            if (rule is null && explanation is not null)
            {
                LeakSignature[] signatures = explanation.Leaks.Where(l => l.Type == type.Type).ToArray();
                // Garbage and objects waiting for finalization are no cause: they neither need a rule nor block one.
                if (signatures.Any(l => l.Cause is not null))
                    signatures = signatures.Where(l => l.Cause is not null).ToArray();
                LeakIgnore?[] pathRules = signatures.Select(s => rules.FirstOrDefault(r => r.Kind == LeakIgnoreKind.Path && MatchesPath(r.Pattern, s))).ToArray();
                // What the rule matches must be the growth: a type that grows in bytes only is weighed by the bytes of its
                // new instances, so another thread's small array of the same type does not keep a known leak in the verdict.
                double Weight(LeakSignature s) => type.InstancesPerIteration > 0 ? s.Instances : s.Bytes;
                double matched = signatures.Where((_, i) => pathRules[i] is not null).Sum(Weight);
                if (signatures.Length > 0 && (pathRules.All(r => r is not null) || (matched > 0 && matched >= MinMatchedShare * signatures.Sum(Weight))))
                    rule = pathRules.First(r => r is not null);
            }
            if (rule is null)
                kept.Add(type);
            else
                ignored.Add(new IgnoredLeak(type.Type, rule.Reason, rule.Pattern));
        }

        if (explanation is null || ignored.Count == 0)
            return (kept, ignored, explanation);

        // A type with no path of its own that lies on an ignored leak's path (its list's growing array) goes with it.
        foreach (TypeGrowth type in kept.ToArray())
        {
            if (explanation.Leaks.Any(l => l.Type == type.Type))
                continue;
            IgnoredLeak? carrier = ignored.FirstOrDefault(i => explanation.Leaks.Any(l => l.Type == i.Type && l.Path.Any(s => s.Type == type.Type)));
            if (carrier is null)
                continue;
            kept.Remove(type);
            ignored.Add(carrier with { Type = type.Type });
        }
        var ignoredTypes = ignored.Select(i => i.Type).ToHashSet(StringComparer.Ordinal);
        var remaining = new LeakExplanation(
            explanation.Leaks.Where(l => !ignoredTypes.Contains(l.Type)).ToArray(),
            explanation.Referrers.Where(r => !ignoredTypes.Contains(r.Type)).ToArray(),
            explanation.PartialReason) { Warnings = explanation.Warnings };
        return (kept, ignored, remaining);
    }

    private static bool MatchesPath(string pattern, LeakSignature leak)
    {
        if (Matches(pattern, leak.Root.Name))
            return true;
        for (int i = 1; i < leak.Path.Count; i++)
        {
            if (leak.Path[i].Field is { } field && Matches(pattern, $"{leak.Path[i - 1].Type}.{field}"))
                return true;
        }
        return false;
    }

    private static bool Matches(string pattern, string text) => Wildcard.ToRegex(pattern).IsMatch(text);
}
