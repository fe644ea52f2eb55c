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

    private static void AppendType(StringBuilder text, TypeGrowth type, CultureInfo invariant)
    {
        string name = type.Type.Length > 56 ? type.Type[..53] + "..." : type.Type;
        text.AppendLine(string.Create(invariant,
            $"    {name,-56} {type.InstancesPerIteration,7:0.##} obj {type.BytesPerIteration,9:0.#} B   {string.Join(" ", type.Counts)}"));
    }
}
