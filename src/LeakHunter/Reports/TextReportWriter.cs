using System.Globalization;
using System.Text;

namespace LeakHunter.Reports;

/// <summary>The readable report: verdict first, then what grew and by how much per iteration.</summary>
internal static class TextReportWriter
{
    private const int MaxTypesShown = 25;

    public static string Write(LeakReport report)
    {
        var text = new StringBuilder();
        CultureInfo invariant = CultureInfo.InvariantCulture;
        CensusSummary first = report.Censuses[0];
        CensusSummary last = report.Censuses[^1];

        text.Append(report.HasLeaks
            ? $"LeakHunter: LEAK - {report.GrowingTypes.Count} type(s) grew in every interval"
            : "LeakHunter: no leak - no type grew in every interval");
        text.AppendLine();
        text.AppendLine(string.Create(invariant,
            $"  {report.Iterations} iterations ({report.WarmupIterations} warm-up), {report.Censuses.Count} censuses by {(report.Strategy == CensusStrategy.Dump ? "dump" : "live attach")}, " +
            $"{report.Duration.TotalSeconds:0.##} s; census pause {report.Censuses.Average(c => c.PauseMs):0.#} ms on average"));
        text.AppendLine(string.Create(invariant,
            $"  live objects {first.Objects:N0} -> {last.Objects:N0}, bytes {first.Bytes:N0} -> {last.Bytes:N0} (iterations {first.Iteration} -> {last.Iteration})"));

        if (report.HasLeaks)
        {
            text.AppendLine();
            text.AppendLine("  Growing types                                              per iteration         live at each census");
            foreach (TypeGrowth type in report.GrowingTypes.Take(MaxTypesShown))
                AppendType(text, type, invariant);
            if (report.GrowingTypes.Count > MaxTypesShown)
                text.AppendLine(CultureInfo.InvariantCulture, $"  ... and {report.GrowingTypes.Count - MaxTypesShown} more (see ToJson())");
        }

        if (report.Leaks.Count > 0)
            AppendLeaks(text, report, invariant);

        if (report.Ignored.Count > 0)
        {
            text.AppendLine();
            text.AppendLine("  Ignored by LeakOptions.Ignore (known leaks, not part of the verdict):");
            foreach (IgnoredLeak ignored in report.Ignored)
                text.AppendLine($"    {ignored.Type}: {ignored.Reason}");
        }

        if (report.BackgroundTypes.Count > 0)
        {
            text.AppendLine();
            text.AppendLine("  Also grew while the fragment was idle (another thread's work, not blamed on the fragment):");
            foreach (TypeGrowth type in report.BackgroundTypes.Take(MaxTypesShown))
                AppendType(text, type, invariant);
        }

        foreach (string warning in report.Warnings)
        {
            text.AppendLine();
            text.Append("  Warning: ").AppendLine(warning);
        }
        return text.ToString();
    }

    private const int MaxSignaturesShown = 10;
    private const int MaxReferrersShown = 5;

    /// <summary>The message of a failed object or count assertion: the headline, then what holds the survivors.</summary>
    public static string WriteSurvivors(string headline, LeakExplanation explanation)
    {
        var text = new StringBuilder(headline).AppendLine();
        AppendLeaks(text, explanation.Leaks, explanation.Referrers, explanation.PartialReason, CultureInfo.InvariantCulture);
        foreach (string warning in explanation.Warnings)
        {
            text.AppendLine();
            text.Append("  Warning: ").AppendLine(warning);
        }
        return text.ToString();
    }

    private static void AppendLeaks(StringBuilder text, LeakReport report, CultureInfo invariant) =>
        AppendLeaks(text, report.Leaks, report.Referrers, report.ExplanationNote, invariant);

    /// <summary>Each signature as a chain from its root, the accumulation point marked, then the usual fix.</summary>
    private static void AppendLeaks(StringBuilder text, IReadOnlyList<LeakSignature> leaks, IReadOnlyList<TypeReferrers> referrers, string? partial, CultureInfo invariant)
    {
        text.AppendLine();
        text.AppendLine(partial is not null ? $"  What keeps them alive (partial: {partial})" : "  What keeps them alive");
        foreach (LeakSignature leak in leaks.Take(MaxSignaturesShown))
        {
            text.AppendLine();
            text.AppendLine(string.Create(invariant, $"    {TypeNames.Short(leak.Type)}: {leak.Instances:N0} new instance(s) held by"));
            text.AppendLine($"      {RootLabel(leak.Root)}");
            for (int i = 0; i < leak.Path.Count; i++)
            {
                LeakStep step = leak.Path[i];
                string via = step.Field is null ? "" : step.Field.StartsWith('[') ? step.Field + " " : "." + step.Field + " ";
                string mark = i == leak.AccumulationPoint ? "   <-- accumulates here" : "";
                string note = step.Note is null ? "" : $"  ({step.Note})";
                text.AppendLine($"        {new string(' ', Math.Min(i, 8))}{via}{TypeNames.Short(step.Type)}{note}{mark}");
            }
            text.AppendLine($"      Fix: {leak.Hint}");
        }
        if (leaks.Count > MaxSignaturesShown)
            text.AppendLine(CultureInfo.InvariantCulture, $"    ... and {leaks.Count - MaxSignaturesShown} more signature(s)");

        if (referrers.Any(r => r.From.Count > 0))
            text.AppendLine();
        foreach (TypeReferrers type in referrers.Where(r => r.From.Count > 0))
        {
            string from = string.Join(", ", type.From.Take(MaxReferrersShown).Select(f => string.Create(invariant, $"{TypeNames.Short(f.Type)}{(f.Field.StartsWith('[') ? "" : ".")}{f.Field} ({f.Count:N0})")));
            text.AppendLine($"    Referred to by: {TypeNames.Short(type.Type)} <- {from}");
        }
    }

    private static string RootLabel(LeakRoot root) => root.Kind switch
    {
        LeakRootKind.StaticField => $"static field {root.Name}",
        LeakRootKind.ThreadStatic => $"[ThreadStatic] field {root.Name}",
        _ => root.Name,
    };

    private static void AppendType(StringBuilder text, TypeGrowth type, CultureInfo invariant)
    {
        string name = type.Type.Length > 56 ? type.Type[..53] + "..." : type.Type;
        text.AppendLine(string.Create(invariant,
            $"    {name,-56} {type.InstancesPerIteration,7:0.##} obj {type.BytesPerIteration,9:0.#} B   {string.Join(" ", type.Counts)}"));
    }
}
