using System.Globalization;
using System.Text;

namespace LeakHunter.Reports.Exporters;

/// <summary>
/// GitHub-flavoured markdown: the verdict as a heading, numbers in tables, each leak's path as a nested list, so a
/// report reads well in a pull request comment or a CI job summary.
/// </summary>
internal sealed partial class MarkdownExporter : IReportExporter
{
    private const int MaxSignaturesShown = 10;
    private const int MaxReferrersShown = 5;
    private static readonly CultureInfo s_invariant = CultureInfo.InvariantCulture;

    public string Name => "markdown";

    public string FileExtension => "md";

    public string Export(LeakReport report)
    {
        var md = new StringBuilder();
        md.AppendLine(report.OnlyKnownLeaks
            ? string.Create(s_invariant, $"## LeakHunter: no new leak, {report.Causes.Count} known leak(s) from the baseline")
            : report.HasLeaks
            ? $"## LeakHunter: leak, {CauseCount(report.Causes.Count(c => c.KnownLeakReason is null))}{report.GrowingTypes.Count} type(s) grew in every interval"
            : "## LeakHunter: no leak").AppendLine();
        md.AppendLine(string.Create(s_invariant,
            $"{report.Iterations} iterations ({report.WarmupIterations} warm-up), {report.Censuses.Count} censuses by {(report.Strategy == CensusStrategy.Dump ? "dump" : "live attach")}, {report.Duration.TotalSeconds:0.##} s.")).AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"Confirmation: {report.Confirmation.Decision}.").AppendLine();
        md.AppendLine("| census | after iteration | phase | live objects | bytes | pause ms |").AppendLine("|---:|---:|---|---:|---:|---:|");
        for (int i = 0; i < report.Censuses.Count; i++)
        {
            CensusSummary census = report.Censuses[i];
            md.AppendLine(string.Create(s_invariant,
                $"| {i + 1} | {census.Iteration} | {census.Phase.ToString().ToLowerInvariant()} | {census.Objects:N0} | {census.Bytes:N0} | {census.PauseMs:0.#} |"));
        }

        if (report.HasLeaks)
        {
            Heading(md, "### Growing types");
            AppendGrowth(md, report.GrowingTypes.Select(t => (t.Type, t.InstancesPerIteration, t.BytesPerIteration, t.Counts)), "iteration");
        }
        AppendResources(md, report.Resources, "iteration");
        AppendCauses(md, report.Causes, report.Unexplained, report.ExplanationNote, "iteration");
        AppendLeaks(md, report.Leaks.Where(l => l.Cause is not null).ToArray(), report.Referrers, null, "### Per type");
        AppendBaseline(md, report.BaselinePath, report.Causes, report.KnownLeaksNotSeen, "check");
        if (report.Ignored.Count > 0)
        {
            Heading(md, "### Ignored (known leaks, not part of the verdict)");
            md.AppendLine("| type | reason | rule |").AppendLine("|---|---|---|");
            foreach (IgnoredLeak ignored in report.Ignored)
                md.AppendLine(CultureInfo.InvariantCulture, $"| {Code(ignored.Type)} | {Cell(ignored.Reason)} | {Code(ignored.Pattern)} |");
        }
        if (report.BackgroundTypes.Count > 0)
        {
            Heading(md, "### Also grew while the fragment was idle");
            md.AppendLine("Another thread's work, not blamed on the fragment.").AppendLine();
            AppendGrowth(md, report.BackgroundTypes.Select(t => (t.Type, t.InstancesPerIteration, t.BytesPerIteration, t.Counts)), "iteration");
        }
        AppendWarnings(md, report.Warnings);
        return md.ToString();
    }

    public string Export(WatchReport report)
    {
        var md = new StringBuilder();
        md.AppendLine(report.OnlyKnownLeaks
            ? string.Create(s_invariant, $"## LeakHunter: {Cell(report.Target)}, no new leak, {report.Causes.Count} known leak(s) from the baseline")
            : report.HasLeaks
            ? $"## LeakHunter: {Cell(report.Target)}, {CauseCount(report.Causes.Count(c => c.KnownLeakReason is null))}{report.GrowingTypes.Count} type(s) grew in every interval"
            : $"## LeakHunter: {Cell(report.Target)}, no type grew in every interval").AppendLine();
        md.AppendLine(string.Create(s_invariant, $"- {report.Samples.Count} censuses of what the roots reach, {report.Interval.TotalSeconds:0.##} s apart"));
        md.AppendLine().AppendLine("| census | seconds | reachable objects | bytes | pause ms |").AppendLine("|---:|---:|---:|---:|---:|");
        for (int i = 0; i < report.Samples.Count; i++)
        {
            WatchSample sample = report.Samples[i];
            md.AppendLine(string.Create(s_invariant, $"| {i + 1} | {sample.ElapsedSeconds:0.#} | {sample.Objects:N0} | {sample.Bytes:N0} | {sample.PauseMs:0.#} |"));
        }
        if (report.HasLeaks)
        {
            Heading(md, "### Growing types");
            AppendGrowth(md, report.GrowingTypes.Select(t => (t.Type, t.InstancesPerSecond, t.BytesPerSecond, t.Counts)), "second");
        }
        AppendResources(md, report.Resources, "second");
        AppendCauses(md, report.Causes, report.Unexplained, report.ExplanationNote, "second");
        AppendLeaks(md, report.Leaks.Where(l => l.Cause is not null).ToArray(), report.Referrers, null, "### Per type");
        AppendBaseline(md, report.BaselinePath, report.Causes, report.KnownLeaksNotSeen, "watch");
        AppendWarnings(md, report.Warnings);
        return md.ToString();
    }

    public string Export(CensusReport report)
    {
        var md = new StringBuilder();
        md.AppendLine(string.Create(s_invariant, $"**{Cell(report.Target)}**: {report.Objects:N0} objects, {report.Bytes:N0} bytes")).AppendLine();
        md.AppendLine("| count | bytes | type |").AppendLine("|---:|---:|---|");
        foreach (TypeCount type in report.Types)
            md.AppendLine(string.Create(s_invariant, $"| {type.Count:N0} | {type.Bytes:N0} | {Code(type.Type)} |"));
        if (report.Resources.Count > 0)
        {
            md.AppendLine().AppendLine("| resource | count | by kind |").AppendLine("|---|---:|---|");
            foreach (ResourceCount resource in report.Resources)
                md.AppendLine(string.Create(s_invariant, $"| {resource.Name} | {resource.Count:N0} | {string.Join(", ", resource.Details.Select(d => string.Create(s_invariant, $"{d.Key} {d.Value:N0}")))} |"));
        }
        AppendWarnings(md, report.Warnings);
        return md.ToString();
    }

    public string Export(CensusDiffReport report)
    {
        var md = new StringBuilder();
        md.AppendLine(CultureInfo.InvariantCulture, $"- Before: {Cell(report.Before)}").AppendLine(CultureInfo.InvariantCulture, $"- After: {Cell(report.After)}").AppendLine();
        md.AppendLine("| count | bytes | type |").AppendLine("|---:|---:|---|");
        foreach (TypeChange change in report.Changes)
            md.AppendLine(string.Create(s_invariant, $"| {change.CountChange:+#,0;-#,0;0} | {change.BytesChange:+#,0;-#,0;0} | {Code(change.Type)} |"));
        if (report.ResourceChanges.Count > 0)
        {
            md.AppendLine().AppendLine("| change | before | after | resource |").AppendLine("|---:|---:|---:|---|");
            foreach (ResourceChange resource in report.ResourceChanges)
                md.AppendLine(string.Create(s_invariant, $"| {resource.Change:+#,0;-#,0;0} | {resource.Before:N0} | {resource.After:N0} | {resource.Name}{Cell(TextExporter.KindChanges(resource))} |"));
        }
        if (report.ExplainedTypes.Count > 0)
        {
            Heading(md, report.OnlyKnownLeaks
                ? string.Create(s_invariant, $"### Traced the {report.ExplainedTypes.Count} type(s) that gained the most: no new leak, {report.Causes.Count} known leak(s) from the baseline")
                : string.Create(s_invariant, $"### Traced the {report.ExplainedTypes.Count} type(s) that gained the most: {report.Causes.Count} cause(s), {report.Causes.Count(c => c.KnownLeakReason is not null)} of them known from the baseline"));
        }
        AppendCauses(md, report.Causes, report.Unexplained, report.ExplanationNote, "diff");
        AppendLeaks(md, report.Leaks.Where(l => l.Cause is not null).ToArray(), report.Referrers, null, "### Per type");
        AppendBaseline(md, report.BaselinePath, report.Causes, report.KnownLeaksNotSeen, "diff");
        AppendWarnings(md, report.Warnings);
        return md.ToString();
    }

    public string Export(PathsReport report)
    {
        var md = new StringBuilder();
        md.AppendLine(CultureInfo.InvariantCulture, $"## {Cell(report.Headline)}");
        if (report.TargetPauseMs > 0)
            md.AppendLine().AppendLine(TextExporter.PauseLine(report.TargetPauseMs) + ".");
        if (report.Instances > 0)
            AppendLeaks(md, report.Leaks, report.Referrers, report.ExplanationNote, "### What keeps them alive");
        AppendWarnings(md, report.Warnings);
        return md.ToString();
    }

    private static void AppendGrowth(StringBuilder md, IEnumerable<(string Type, double Instances, double Bytes, IReadOnlyList<long> Counts)> types, string per)
    {
        md.AppendLine(CultureInfo.InvariantCulture, $"| type | instances per {per} | bytes per {per} | live at each census |").AppendLine("|---|---:|---:|---|");
        foreach ((string type, double instances, double bytes, IReadOnlyList<long> counts) in types)
            md.AppendLine(string.Create(s_invariant, $"| {Code(type)} | {instances:0.##} | {bytes:0.#} | {string.Join(" ", counts)} |"));
    }

    private static string CauseCount(int causes) => causes switch
    {
        0 => "",
        1 => "1 cause, ",
        _ => string.Create(s_invariant, $"{causes} causes, "),
    };

    /// <summary>One section per cause: the owner's path with the accumulation point marked, the types it keeps, the fix.</summary>
    private static void AppendCauses(StringBuilder md, IReadOnlyList<LeakCause> causes, IReadOnlyList<UnexplainedGrowth> unexplained, string? partial, string per)
    {
        if (causes.Count == 0 && unexplained.Count == 0)
            return;
        Heading(md, "### What keeps them alive");
        if (partial is not null)
            md.AppendLine(CultureInfo.InvariantCulture, $"> Partial: {Cell(partial)}").AppendLine();
        for (int c = 0; c < causes.Count; c++)
        {
            LeakCause cause = causes[c];
            string idiom = cause.Idiom is null ? "" : $" ({Cell(cause.Idiom)})";
            string id = cause.Id.Length == 0 ? "" : $" `{cause.Id}`";
            md.AppendLine(string.Create(s_invariant, $"#### Cause {c + 1}{idiom}{id}: {cause.InstancesPerIteration:0.##} instances, {cause.BytesPerIteration:0.#} bytes per {per}")).AppendLine();
            if (cause.KnownLeakReason is not null)
                md.AppendLine(CultureInfo.InvariantCulture, $"Known leak (baseline): {Cell(cause.KnownLeakReason)}").AppendLine();
            AppendPath(md, cause.Root, cause.Path, cause.AccumulationPoint);
            foreach (LeakCause through in cause.HeldThrough)
            {
                md.AppendLine().AppendLine("and through").AppendLine();
                AppendPath(md, through.Root, through.Path, through.AccumulationPoint);
            }
            md.AppendLine().AppendLine(CultureInfo.InvariantCulture, $"| it keeps | instances per {per} | bytes per {per} |").AppendLine("|---|---:|---:|");
            foreach (CausedGrowth type in cause.Types)
                md.AppendLine(string.Create(s_invariant, $"| {Code(TypeNames.Short(type.Type))} | {type.InstancesPerIteration:0.##} | {type.BytesPerIteration:0.#} |"));
            md.AppendLine();
            if (TextExporter.Retained(cause) is string retained)
                md.AppendLine(Cell(retained)).AppendLine();
            md.AppendLine(CultureInfo.InvariantCulture, $"**Fix:** {Cell(cause.Hint)}").AppendLine();
        }
        if (unexplained.Count > 0)
        {
            md.AppendLine("#### Not explained").AppendLine();
            foreach (UnexplainedGrowth type in unexplained)
                md.AppendLine(CultureInfo.InvariantCulture, $"- {Code(TypeNames.Short(type.Type))}: {Cell(type.Reason)}");
        }
    }

    /// <summary>Which causes the baseline knows, and which of its entries this check, watch or diff did not see.</summary>
    private static void AppendBaseline(StringBuilder md, string? baselinePath, IReadOnlyList<LeakCause> causes, IReadOnlyList<KnownLeak> notSeen, string what)
    {
        if (baselinePath is null)
            return;
        Heading(md, $"### Known leaks (baseline {Code(baselinePath)})");
        var known = causes.Select((c, i) => (Cause: c, Index: i)).Where(c => c.Cause.KnownLeakReason is not null).ToArray();
        if (known.Length == 0)
            md.AppendLine(CultureInfo.InvariantCulture, $"None of this {what}'s causes.");
        foreach ((LeakCause cause, int index) in known)
            md.AppendLine(string.Create(s_invariant, $"- Cause {index + 1} `{cause.Id}`: {Cell(cause.KnownLeakReason!)}"));
        if (notSeen.Count > 0)
        {
            md.AppendLine().AppendLine(CultureInfo.InvariantCulture, $"Not seen in this {what} (fixed, if this is where they were found; remove them from the file):").AppendLine();
            foreach (KnownLeak entry in notSeen)
                md.AppendLine(CultureInfo.InvariantCulture, $"- `{entry.Id}` {(entry.Owner is null ? "" : Cell(entry.Owner) + ": ")}{Cell(entry.Reason)}");
        }
    }

    private static void AppendPath(StringBuilder md, LeakRoot root, IReadOnlyList<LeakStep> path, int? accumulationPoint)
    {
        md.AppendLine(CultureInfo.InvariantCulture, $"- {Cell(TextExporter.RootLabel(root))}");
        for (int i = 0; i < path.Count; i++)
        {
            LeakStep step = path[i];
            string via = step.Field is null ? "" : Code(step.Field.StartsWith('[') ? step.Field : "." + step.Field) + " ";
            string note = step.Note is null ? "" : $" ({Cell(step.Note)})";
            string mark = i == accumulationPoint ? " **← accumulates here**" : "";
            md.AppendLine(CultureInfo.InvariantCulture, $"{new string(' ', 2 * (i + 1))}- {via}{Code(TypeNames.Short(step.Type))}{note}{mark}");
        }
    }

    /// <summary>Each signature as a nested list from its root to the instance, the accumulation point marked, then the fix.</summary>
    private static void AppendLeaks(StringBuilder md, IReadOnlyList<LeakSignature> leaks, IReadOnlyList<TypeReferrers> referrers, string? partial, string heading)
    {
        if (leaks.Count == 0 && referrers.All(r => r.From.Count == 0))
            return;
        Heading(md, heading);
        if (partial is not null)
            md.AppendLine(CultureInfo.InvariantCulture, $"> Partial: {Cell(partial)}").AppendLine();
        foreach (LeakSignature leak in leaks.Take(MaxSignaturesShown))
        {
            string cause = leak.Cause is int number ? string.Create(s_invariant, $", cause {number + 1}") : "";
            md.AppendLine(string.Create(s_invariant, $"#### {Cell(TypeNames.Short(leak.Type))}: {leak.Instances:N0} new instance(s){cause}")).AppendLine();
            AppendPath(md, leak.Root, leak.Path, leak.AccumulationPoint);
            md.AppendLine().AppendLine(CultureInfo.InvariantCulture, $"**Fix:** {Cell(leak.Hint)}").AppendLine();
        }
        if (leaks.Count > MaxSignaturesShown)
            md.AppendLine(string.Create(s_invariant, $"… and {leaks.Count - MaxSignaturesShown} more signature(s).")).AppendLine();

        TypeReferrers[] referred = referrers.Where(r => r.From.Count > 0).ToArray();
        if (referred.Length == 0)
            return;
        md.AppendLine("| referred to | by | through | count |").AppendLine("|---|---|---|---:|");
        foreach (TypeReferrers type in referred)
        {
            foreach (Referrer from in type.From.Take(MaxReferrersShown))
                md.AppendLine(string.Create(s_invariant, $"| {Code(TypeNames.Short(type.Type))} | {Code(TypeNames.Short(from.Type))} | {Code(from.Field)} | {from.Count:N0} |"));
        }
    }

    /// <summary>A heading with exactly one blank line before and after it, as markdown linters want.</summary>
    private static void Heading(StringBuilder md, string heading)
    {
        while (md.Length >= 2 && md[^1] == '\n' && md[^2] == '\n')
            md.Length--;
        md.AppendLine().AppendLine(heading).AppendLine();
    }

    private static void AppendWarnings(StringBuilder md, IReadOnlyList<string> warnings)
    {
        if (warnings.Count == 0)
            return;
        Heading(md, "### Warnings");
        foreach (string warning in warnings)
            md.AppendLine(CultureInfo.InvariantCulture, $"- {Cell(warning)}");
    }

    // Type names hold < > and + and sometimes backticks: a code span shows them as they are.
    private static string Code(string text) =>
        text.Contains('`', StringComparison.Ordinal) ? $"`` {text.Replace("|", "\\|", StringComparison.Ordinal)} ``" : $"`{text.Replace("|", "\\|", StringComparison.Ordinal)}`";

    // Prose in a table cell or list item: a pipe would end the cell, a line break the row, and List<Order> would be
    // read as an HTML tag, and Acme.* as the start of emphasis.
    /// <summary>The resources beyond objects: the grown ones with their rate, counts and new items; the rest named on one line.</summary>
    private static void AppendResources(StringBuilder md, IReadOnlyList<ResourceUsage> resources, string per)
    {
        if (resources.Count == 0)
            return;
        // Only what grew is detailed: a flat resource's wandering counts would read as a lead (the JSON keeps them).
        Heading(md, "### Resources beyond objects");
        ResourceUsage[] growing = resources.Where(r => r.Growing).ToArray();
        if (growing.Length > 0)
        {
            md.AppendLine(CultureInfo.InvariantCulture, $"| resource | per {per} | at each census | verdict |").AppendLine("|---|---:|---|---|");
            foreach (ResourceUsage resource in growing)
            {
                string verdict = resource.IgnoredReason is null ? "**growing**" : $"grows, ignored: {Cell(resource.IgnoredReason)}";
                md.AppendLine(string.Create(s_invariant, $"| {resource.Name} | {resource.PerIteration:0.##} | {string.Join(" ", resource.Counts)} | {verdict} |"));
            }
            md.AppendLine();
            foreach (ResourceUsage resource in growing.Where(r => r.Findings.Count > 0))
            {
                md.AppendLine(CultureInfo.InvariantCulture, $"{TextExporter.FindingsTitle(resource.Name)}:").AppendLine();
                foreach (ResourceFinding finding in resource.Findings)
                {
                    string cause = finding.Cause is int index ? string.Create(s_invariant, $" (kept by cause {index + 1})") : "";
                    md.AppendLine(string.Create(s_invariant, $"- **{finding.Count:N0}** {Cell(finding.What)}{cause}"));
                    foreach (string line in finding.Details)
                        md.AppendLine(CultureInfo.InvariantCulture, $"  - {Cell(line)}");
                    md.AppendLine(CultureInfo.InvariantCulture, $"  - Fix: {Cell(finding.Hint)}");
                }
                md.AppendLine();
            }
        }
        if (resources.Any(r => !r.Growing))
            md.AppendLine(CultureInfo.InvariantCulture, $"Did not grow: {string.Join(", ", resources.Where(r => !r.Growing).Select(r => TextExporter.InWords(r.Name)))}.");
    }

    private static string Cell(string text) =>
        text.Replace("|", "\\|", StringComparison.Ordinal).Replace("*", "\\*", StringComparison.Ordinal).Replace("<", "&lt;", StringComparison.Ordinal)
            .ReplaceLineEndings(" ");
}
