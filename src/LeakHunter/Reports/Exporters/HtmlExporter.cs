using System.Globalization;
using System.Net;
using System.Text;

namespace LeakHunter.Reports.Exporters;

/// <summary>
/// One self-contained page per report: inline CSS and inline SVG, no script, no font and nothing from a network, so it
/// opens on an air-gapped machine and travels as a test attachment. Counts are drawn census by census, and each cause
/// as a graph from its owner down to what piles up. Type names are shortened as in the text report, with the full name
/// on hover; like every format, it carries types, fields and counts, never a string's value.
/// </summary>
internal sealed partial class HtmlExporter : IReportExporter
{
    private static readonly CultureInfo s_invariant = CultureInfo.InvariantCulture;

    // Series colours, distinguishable in print and for the common colour-blindnesses (Okabe and Ito's palette).
    private static readonly string[] s_palette = ["#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000", "#f0e442"];

    public string Name => "html";

    public string FileExtension => "html";

    public string Export(LeakReport report)
    {
        string verdict = report.OnlyKnownLeaks
            ? string.Create(s_invariant, $"No new leak: {report.Causes.Count} known leak(s) from the baseline")
            : report.HasLeaks
            ? string.Create(s_invariant, $"Leak: {CauseCount(report.Causes)}{report.GrowingTypes.Count} type(s) grew in every interval")
            : "No leak";
        var html = new StringBuilder();
        Verdict(html, verdict, report.HasLeaks);
        Facts(html,
        [
            ("iterations", string.Create(s_invariant, $"{report.Iterations:N0} ({report.WarmupIterations:N0} warm-up)")),
            ("censuses", string.Create(s_invariant, $"{report.Censuses.Count} by {(report.Strategy == CensusStrategy.Dump ? "dump" : "live attach")}, {Average(report.Censuses.Select(c => c.PauseMs)):0.#} ms pause on average")),
            ("confirmation", report.Confirmation.Decision),
            ("duration", string.Create(s_invariant, $"{report.Duration.TotalSeconds:0.##} s")),
        ]);
        if (report.GrowingTypes.Count > 0)
        {
            Growth(html, ("Live instances", "iteration", "iteration"),
                report.Censuses.Select(c => c.Iteration.ToString("N0", s_invariant)).ToArray(),
                report.Censuses.Select(c => c.Phase.ToString().ToLowerInvariant()).ToArray(),
                string.Create(s_invariant, $"after {report.WarmupIterations:N0} warm-up iteration(s)"),
                report.GrowingTypes.Select(t => (t.Type, t.Counts, t.Bytes, t.InstancesPerIteration, t.BytesPerIteration)).ToArray());
        }
        Resources(html, report.Resources, "iteration");
        Causes(html, report.Causes, report.Unexplained, report.ExplanationNote, "per iteration");
        Referrers(html, report.Referrers);
        if (report.Ignored.Count > 0)
        {
            Section(html, "Ignored (known leaks, not part of the verdict)");
            Table(html, ["type", "reason", "rule"], report.Ignored.Select(i => new[] { TypeCell(i.Type), Encode(i.Reason), Code(i.Pattern) }));
        }
        if (report.BackgroundTypes.Count > 0)
        {
            Section(html, "Also grew while the fragment was idle");
            html.AppendLine("<p>Another thread's work, not blamed on the fragment.</p>");
            GrowthTable(html, report.BackgroundTypes.Select(t => (t.Type, t.InstancesPerIteration, t.BytesPerIteration)), "iteration");
        }
        Baseline(html, report.BaselinePath, report.Causes, report.KnownLeaksNotSeen, "check");
        Warnings(html, report.Warnings);
        return Page("LeakHunter: " + verdict, html);
    }

    public string Export(WatchReport report)
    {
        string verdict = report.OnlyKnownLeaks
            ? string.Create(s_invariant, $"{report.Target}: no new leak, {report.Causes.Count} known leak(s) from the baseline")
            : report.HasLeaks
            ? string.Create(s_invariant, $"{report.Target}: {CauseCount(report.Causes)}{report.GrowingTypes.Count} type(s) grew in every interval")
            : $"{report.Target}: no type grew in every interval";
        var html = new StringBuilder();
        Verdict(html, verdict, report.HasLeaks);
        Facts(html,
        [
            ("censuses", string.Create(s_invariant, $"{report.Samples.Count} of what the roots reach, {report.Interval.TotalSeconds:0.##} s apart, {Average(report.Samples.Select(s => s.PauseMs)):0.#} ms pause on average")),
            ("duration", string.Create(s_invariant, $"{report.Duration.TotalSeconds:0.##} s")),
        ]);
        if (report.GrowingTypes.Count > 0)
        {
            Growth(html, ("Reachable instances", "seconds since the first", "second"),
                report.Samples.Select(s => s.ElapsedSeconds.ToString("0.#", s_invariant) + " s").ToArray(),
                report.Samples.Select(_ => "counted").ToArray(),
                null,
                report.GrowingTypes.Select(t => (t.Type, t.Counts, t.Bytes, t.InstancesPerSecond, t.BytesPerSecond)).ToArray());
        }
        Resources(html, report.Resources, "second");
        Causes(html, report.Causes, report.Unexplained, report.ExplanationNote, "per second");
        Referrers(html, report.Referrers);
        Baseline(html, report.BaselinePath, report.Causes, report.KnownLeaksNotSeen, "watch");
        Warnings(html, report.Warnings);
        return Page("LeakHunter: " + verdict, html);
    }

    public string Export(CensusReport report)
    {
        var html = new StringBuilder();
        string headline = string.Create(s_invariant, $"{report.Target}: {report.Objects:N0} objects, {report.Bytes:N0} bytes");
        Verdict(html, headline, leak: false);
        Table(html, ["count", "bytes", "type"], report.Types.Select(t => new[] { Number(t.Count), Number(t.Bytes), TypeCell(t.Type) }), numericColumns: 2);
        if (report.Resources.Count > 0)
        {
            Section(html, "Resources beyond objects");
            Table(html, ["count", "resource", "by kind"],
                report.Resources.Select(r => new[] { Number(r.Count), Encode(r.Name), Encode(string.Join(", ", r.Details.Select(d => $"{d.Key} {Number(d.Value)}"))) }), numericColumns: 1);
        }
        Warnings(html, report.Warnings);
        return Page("LeakHunter census: " + report.Target, html);
    }

    public string Export(CensusDiffReport report)
    {
        var html = new StringBuilder();
        Verdict(html, $"{report.Before} → {report.After}", report.HasNewGrowth);
        Table(html, ["count", "bytes", "type"],
            report.Changes.Select(c => new[] { Signed(c.CountChange), Signed(c.BytesChange), TypeCell(c.Type) }), numericColumns: 2);
        if (report.ResourceChanges.Count > 0)
        {
            Section(html, "Resources beyond objects");
            Table(html, ["change", "before", "after", "resource"],
                report.ResourceChanges.Select(r => new[] { Signed(r.Change), Number(r.Before), Number(r.After), Encode(r.Name + TextExporter.KindChanges(r)) }), numericColumns: 3);
        }
        if (report.ExplainedTypes.Count > 0)
        {
            html.AppendLine(string.Create(s_invariant, $"<p>Traced the {report.ExplainedTypes.Count} type(s) that gained the most, in both heaps.</p>"));
            Causes(html, report.Causes, report.Unexplained, report.ExplanationNote, "gained");
            Referrers(html, report.Referrers);
        }
        Baseline(html, report.BaselinePath, report.Causes, report.KnownLeaksNotSeen, "diff");
        Warnings(html, report.Warnings);
        return Page($"LeakHunter diff: {report.Before} → {report.After}", html);
    }

    public string Export(PathsReport report)
    {
        var html = new StringBuilder();
        Verdict(html, report.Headline, leak: false);
        if (report.TargetPauseMs > 0)
            html.AppendLine(CultureInfo.InvariantCulture, $"<p class=\"pause\">{Encode(TextExporter.PauseLine(report.TargetPauseMs))}.</p>");
        if (report.Instances > 0)
        {
            Section(html, report.ExplanationNote is null ? "What keeps them alive" : $"What keeps them alive (partial: {report.ExplanationNote})");
            foreach (LeakSignature leak in report.Leaks)
            {
                html.AppendLine("<article class=\"cause\">");
                html.AppendLine(string.Create(s_invariant, $"<h3>{TypeCell(leak.Type)}: {leak.Instances:N0} instance(s)</h3>"));
                RetentionGraph(html, leak.Root, leak.Path, leak.AccumulationPoint, []);
                html.AppendLine(CultureInfo.InvariantCulture, $"<p class=\"fix\"><strong>Fix:</strong> {Encode(leak.Hint)}</p>");
                html.AppendLine("</article>");
            }
            Referrers(html, report.Referrers);
        }
        Warnings(html, report.Warnings);
        return Page("LeakHunter paths: " + report.Headline, html);
    }

    private static string Page(string title, StringBuilder body) =>
        $"""
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>{Encode(title)}</title>
        <style>{Style}</style>
        </head>
        <body>
        {body}</body>
        </html>

        """;

    private const string Style =
        "body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem;color:#1b1b1b}" +
        "h1{font-size:1.4rem;padding:.6rem .8rem;border-radius:.4rem}h1.leak{background:#fde8e4}h1.clean{background:#e6f4ea}" +
        "h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ccc}h3{font-size:1rem}" +
        "dl{display:grid;grid-template-columns:max-content auto;gap:.2rem 1rem}dt{font-weight:600}dd{margin:0}" +
        "table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ddd;padding:.2rem .5rem;text-align:left}" +
        "td.n{text-align:right;font-variant-numeric:tabular-nums}code,.type{font-family:ui-monospace,monospace}" +
        "figure{margin:1rem 0}figcaption{font-size:.9rem;color:#444}svg{max-width:100%;height:auto}" +
        "svg text{font-family:ui-monospace,monospace;font-size:12px}.legend li{list-style:none;display:inline-block;margin-right:1rem}" +
        ".swatch{display:inline-block;width:.8rem;height:.8rem;margin-right:.3rem;vertical-align:middle}" +
        "article.cause{border:1px solid #ddd;border-radius:.4rem;padding:.2rem 1rem;margin:1rem 0}.fix{background:#f3f6fb;padding:.4rem}" +
        ".known{color:#555;font-style:italic}.warnings li{color:#8a4b00}" +
        ".outcome.leaks{color:#b00020;font-weight:600}.outcome.failed,.outcome.notRepeatable{color:#8a4b00}.outcome.clean{color:#1e7b34}";

    private static void Verdict(StringBuilder html, string verdict, bool leak) =>
        html.AppendLine(CultureInfo.InvariantCulture, $"<h1 class=\"{(leak ? "leak" : "clean")}\">{Encode(verdict)}</h1>");

    private static void Section(StringBuilder html, string title) => html.AppendLine(CultureInfo.InvariantCulture, $"<h2>{Encode(title)}</h2>");

    private static void Facts(StringBuilder html, IEnumerable<(string Name, string Value)> facts)
    {
        html.AppendLine("<dl>");
        foreach ((string name, string value) in facts)
            html.AppendLine(CultureInfo.InvariantCulture, $"<dt>{Encode(name)}</dt><dd>{Encode(value)}</dd>");
        html.AppendLine("</dl>");
    }

    /// <summary>The growth section: counts and bytes charted census by census, then each type's rate per the unit <paramref name="words"/> names.</summary>
    private static void Growth(StringBuilder html, (string Counted, string By, string Per) words, string[] labels, string[] phases, string? warmup,
        (string Type, IReadOnlyList<long> Counts, IReadOnlyList<long> Bytes, double Instances, double BytesRate)[] types)
    {
        Section(html, "Growth");
        Chart(html, $"{words.Counted} at each census, by {words.By}", labels, phases, warmup, types.Select(t => (t.Type, t.Counts)).ToArray());
        Chart(html, $"Bytes at each census, by {words.By}", labels, phases, warmup, types.Select(t => (t.Type, t.Bytes)).ToArray());
        GrowthTable(html, types.Select(t => (t.Type, t.Instances, t.BytesRate)), words.Per);
    }

    /// <summary>
    /// A line chart, one polyline per type, one point per census, evenly spaced (a check's confirmation doubles its
    /// rounds, so iterations would crowd the first censuses into a corner). Idle and confirmation censuses are shaded,
    /// and the first census is marked as coming after the warm-up.
    /// </summary>
    private static void Chart(StringBuilder html, string caption, string[] labels, string[] phases, string? warmup, (string Type, IReadOnlyList<long> Values)[] series)
    {
        const int Width = 720, Height = 260, Left = 70, Right = 20, Top = 20, Bottom = 40;
        double plotWidth = Width - Left - Right, plotHeight = Height - Top - Bottom;
        long max = Math.Max(1, series.SelectMany(s => s.Values).DefaultIfEmpty(0).Max());
        double X(int i) => Left + (labels.Length == 1 ? plotWidth / 2 : plotWidth * i / (labels.Length - 1));
        double Y(long v) => Top + plotHeight * (1 - (double)v / max);
        double step = labels.Length > 1 ? plotWidth / (labels.Length - 1) : plotWidth;

        html.AppendLine("<figure class=\"chart\">");
        html.AppendLine(string.Create(s_invariant,
            $"<svg viewBox=\"0 0 {Width} {Height}\" width=\"{Width}\" height=\"{Height}\" role=\"img\" aria-label=\"{Encode(caption)}\">"));
        html.AppendLine(string.Create(s_invariant, $"<rect x=\"0\" y=\"0\" width=\"{Width}\" height=\"{Height}\" fill=\"#ffffff\"/>"));
        for (int i = 0; i < phases.Length; i++)
        {
            if (phases[i] is "counted")
                continue;
            string fill = phases[i] == "confirmation" ? "#fff3d6" : "#eeeeee";
            html.AppendLine(string.Create(s_invariant,
                $"<rect class=\"phase {phases[i]}\" x=\"{X(i) - step / 2:0.#}\" y=\"{Top}\" width=\"{step:0.#}\" height=\"{plotHeight:0.#}\" fill=\"{fill}\"><title>{phases[i]} census</title></rect>"));
        }
        html.AppendLine(string.Create(s_invariant, $"<line x1=\"{Left}\" y1=\"{Top + plotHeight:0.#}\" x2=\"{Width - Right}\" y2=\"{Top + plotHeight:0.#}\" stroke=\"#888\"/>"));
        html.AppendLine(string.Create(s_invariant, $"<line x1=\"{Left}\" y1=\"{Top}\" x2=\"{Left}\" y2=\"{Top + plotHeight:0.#}\" stroke=\"#888\"/>"));
        html.AppendLine(string.Create(s_invariant, $"<text x=\"{Left - 6}\" y=\"{Top + 4}\" text-anchor=\"end\">{max:N0}</text>"));
        html.AppendLine(string.Create(s_invariant, $"<text x=\"{Left - 6}\" y=\"{Top + plotHeight + 4:0.#}\" text-anchor=\"end\">0</text>"));
        int every = Math.Max(1, (int)Math.Ceiling(labels.Length / 8.0));
        for (int i = 0; i < labels.Length; i += every)
            html.AppendLine(string.Create(s_invariant, $"<text x=\"{X(i):0.#}\" y=\"{Height - Bottom + 16}\" text-anchor=\"middle\">{Encode(labels[i])}</text>"));
        if (warmup is not null)
        {
            html.AppendLine(string.Create(s_invariant,
                $"<line class=\"warmup\" x1=\"{X(0):0.#}\" y1=\"{Top}\" x2=\"{X(0):0.#}\" y2=\"{Top + plotHeight:0.#}\" stroke=\"#999\" stroke-dasharray=\"4 3\"><title>{Encode(warmup)}</title></line>"));
        }
        for (int s = 0; s < series.Length; s++)
        {
            string points = string.Join(" ", series[s].Values.Select((v, i) => string.Create(s_invariant, $"{X(i):0.#},{Y(v):0.#}")));
            html.AppendLine(CultureInfo.InvariantCulture, $"<polyline class=\"series\" data-type=\"{Encode(series[s].Type)}\" points=\"{points}\" fill=\"none\" stroke=\"{Colour(s)}\" stroke-width=\"2\"><title>{Encode(series[s].Type)}</title></polyline>");
        }
        html.AppendLine("</svg>");
        var key = new List<string>();
        if (warmup is not null)
            key.Add($"dashed line: the first census, {warmup}");
        if (phases.Contains("idle"))
            key.Add("grey: a census after the fragment sat idle (what grew then is another thread's)");
        if (phases.Contains("confirmation"))
            key.Add("yellow: confirmation censuses");
        string keyText = key.Count == 0 ? "" : ". " + char.ToUpperInvariant(key[0][0]) + string.Join("; ", key)[1..] + ".";
        html.AppendLine(CultureInfo.InvariantCulture, $"<figcaption>{Encode(caption)}{Encode(keyText)}</figcaption>");
        html.AppendLine("<ul class=\"legend\">");
        for (int s = 0; s < series.Length; s++)
            html.AppendLine(CultureInfo.InvariantCulture, $"<li><span class=\"swatch\" style=\"background:{Colour(s)}\"></span>{TypeCell(series[s].Type)}</li>");
        html.AppendLine("</ul>");
        html.AppendLine("</figure>");
    }

    private static string Colour(int series) => s_palette[series % s_palette.Length];

    /// <summary>What the process held besides objects: each resource's rate, counts at each census and verdict.</summary>
    private static void Resources(StringBuilder html, IReadOnlyList<ResourceUsage> resources, string per)
    {
        if (resources.Count == 0)
            return;
        // Only what grew is detailed: a flat resource's wandering counts would read as a lead (the JSON keeps them).
        Section(html, "Resources beyond objects");
        ResourceUsage[] growing = resources.Where(r => r.Growing).ToArray();
        if (growing.Length > 0)
        {
            Table(html, ["resource", $"per {per}", "at each census", "verdict"],
                growing.Select(r => new[]
                {
                    Encode(r.Name), Rate(r.PerIteration, "0.##"), Encode(string.Join(" ", r.Counts)),
                    Encode(r.IgnoredReason is null ? "GROWING" : $"grows, ignored: {r.IgnoredReason}"),
                }), numericColumns: 0, numericFrom: 1);
            foreach (ResourceUsage resource in growing.Where(r => r.Findings.Count > 0))
            {
                html.AppendLine(CultureInfo.InvariantCulture, $"<h3>{Encode(TextExporter.FindingsTitle(resource.Name))}</h3>");
                Table(html, ["new", "what", "details", "fix"],
                    resource.Findings.Select(f => new[]
                    {
                        Number(f.Count),
                        Encode(f.What) + (f.Cause is int index ? Encode(string.Create(CultureInfo.InvariantCulture, $" (kept by cause {index + 1})")) : ""),
                        string.Join("<br>", f.Details.Select(Encode)),
                        Encode(f.Hint),
                    }), numericColumns: 1);
            }
        }
        if (resources.Any(r => !r.Growing))
            html.AppendLine(CultureInfo.InvariantCulture, $"<p>Did not grow: {Encode(string.Join(", ", resources.Where(r => !r.Growing).Select(r => TextExporter.InWords(r.Name))))}.</p>");
    }

    private static void GrowthTable(StringBuilder html, IEnumerable<(string Type, double Instances, double Bytes)> types, string per) =>
        Table(html, ["type", $"instances per {per}", $"bytes per {per}"],
            types.Select(t => new[] { TypeCell(t.Type), Rate(t.Instances, "0.##"), Rate(t.Bytes, "0.#") }), numericColumns: 0, numericFrom: 1);

    /// <summary>One block per cause: its graph from the owner to the accumulation point and the types it keeps, and the fix.</summary>
    private static void Causes(StringBuilder html, IReadOnlyList<LeakCause> causes, IReadOnlyList<UnexplainedGrowth> unexplained, string? partial, string rate)
    {
        if (causes.Count == 0 && unexplained.Count == 0)
            return;
        Section(html, partial is null ? "What keeps them alive" : $"What keeps them alive (partial: {partial})");
        for (int c = 0; c < causes.Count; c++)
        {
            LeakCause cause = causes[c];
            string idiom = cause.Idiom is null ? "" : $" ({Encode(cause.Idiom)})";
            string id = cause.Id.Length == 0 ? "" : $" <code>{Encode(cause.Id)}</code>";
            html.AppendLine(CultureInfo.InvariantCulture, $"<article class=\"cause\" id=\"cause-{c + 1}\">");
            html.AppendLine(string.Create(s_invariant,
                $"<h3>Cause {c + 1}{idiom}{id}: {cause.InstancesPerIteration:0.##} instances, {cause.BytesPerIteration:0.#} bytes {Encode(rate)}</h3>"));
            if (cause.KnownLeakReason is not null)
                html.AppendLine(CultureInfo.InvariantCulture, $"<p class=\"known\">Known leak (baseline): {Encode(cause.KnownLeakReason)}</p>");
            RetentionGraph(html, cause.Root, cause.Path, cause.AccumulationPoint,
                cause.Types.Select(t => (t.Type, string.Create(s_invariant, $"{t.InstancesPerIteration:0.##} obj, {t.BytesPerIteration:0.#} B {rate}"))).ToArray());
            foreach (LeakCause through in cause.HeldThrough)
            {
                html.AppendLine("<p class=\"through\">and through</p>");
                RetentionGraph(html, through.Root, through.Path, through.AccumulationPoint,
                    through.Types.Select(t => (t.Type, string.Create(s_invariant, $"{t.InstancesPerIteration:0.##} obj, {t.BytesPerIteration:0.#} B {rate}"))).ToArray());
            }
            if (TextExporter.Retained(cause) is string retained)
                html.AppendLine(string.Create(s_invariant, $"<p class=\"retained\" data-bytes=\"{cause.RetainedBytes}\">{Encode(retained)}</p>"));
            html.AppendLine(CultureInfo.InvariantCulture, $"<p class=\"fix\"><strong>Fix:</strong> {Encode(cause.Hint)}</p>");
            html.AppendLine("</article>");
        }
        if (unexplained.Count > 0)
        {
            html.AppendLine("<h3>Not explained</h3><ul>");
            foreach (UnexplainedGrowth type in unexplained)
                html.AppendLine(CultureInfo.InvariantCulture, $"<li>{TypeCell(type.Type)}: {Encode(type.Reason)}</li>");
            html.AppendLine("</ul>");
        }
    }

    /// <summary>
    /// The owner and the path drawn as a chain of boxes, one per object, each edge labelled with its field; the
    /// accumulation point is outlined, and the types the cause keeps hang from it in one row.
    /// </summary>
    private static void RetentionGraph(StringBuilder html, LeakRoot root, IReadOnlyList<LeakStep> path, int? accumulationPoint, (string Type, string Rate)[] kept)
    {
        const int Width = 720, BoxWidth = 680, BoxHeight = 28, Gap = 26, Left = 20;
        const int KeptHeight = 40;
        int height = (1 + path.Count) * (BoxHeight + Gap) + (kept.Length > 0 ? KeptHeight + Gap : 0) + 10;
        double centre = Left + BoxWidth / 2.0;
        html.AppendLine(string.Create(s_invariant,
            $"<svg class=\"retention\" viewBox=\"0 0 {Width} {height}\" width=\"{Width}\" height=\"{height}\" role=\"img\" aria-label=\"what holds the cause\">"));
        html.AppendLine(string.Create(s_invariant, $"<rect x=\"0\" y=\"0\" width=\"{Width}\" height=\"{height}\" fill=\"#ffffff\"/>"));
        double y = 5;
        Node(html, "root owner", Left, y, BoxWidth, BoxHeight, TextExporter.RootLabel(root), root.Name, "#e8eef8", "#4a6fa5");
        for (int i = 0; i < path.Count; i++)
        {
            LeakStep step = path[i];
            double next = y + BoxHeight + Gap;
            Edge(html, centre, y + BoxHeight, centre, next, step.Field is null ? "" : step.Field.StartsWith('[') ? step.Field : "." + step.Field);
            bool accumulates = i == accumulationPoint;
            string label = TypeNames.Short(step.Type) + (step.Note is null ? "" : $"  ({step.Note})") + (accumulates ? "  ← accumulates here" : "");
            Node(html, accumulates ? "step accumulation" : "step", Left, next, BoxWidth, BoxHeight, label, step.Type,
                accumulates ? "#fde8e4" : "#f6f6f6", accumulates ? "#c0392b" : "#999999");
            y = next;
        }
        if (kept.Length > 0)
        {
            double rowTop = y + BoxHeight + Gap;
            double width = (Width - 20 - 10.0 * (kept.Length - 1)) / kept.Length;
            for (int k = 0; k < kept.Length; k++)
            {
                double x = 10 + k * (width + 10);
                Edge(html, centre, y + BoxHeight, x + width / 2, rowTop, "");
                // Two lines, the type over its rate: side by side, the boxes are narrow.
                Node(html, "kept", x, rowTop, width, KeptHeight, TypeNames.Short(kept[k].Type), kept[k].Type, "#fff7e0", "#b7950b", kept[k].Rate);
            }
        }
        html.AppendLine("</svg>");
    }

    private static void Node(StringBuilder html, string kind, double x, double y, double width, double height, string label, string fullName, string fill, string stroke,
        string? secondLine = null)
    {
        string text = secondLine is null
            ? string.Create(s_invariant, $"<text x=\"{x + 8:0.#}\" y=\"{y + height / 2.0 + 4:0.#}\">{Encode(label)}</text>")
            : string.Create(s_invariant,
                $"<text x=\"{x + 8:0.#}\" y=\"{y + 16:0.#}\">{Encode(label)}<tspan x=\"{x + 8:0.#}\" dy=\"15\">{Encode(secondLine)}</tspan></text>");
        html.AppendLine(string.Create(s_invariant,
            $"<g class=\"node {kind}\"><title>{Encode(fullName)}</title><rect x=\"{x:0.#}\" y=\"{y:0.#}\" width=\"{width:0.#}\" height=\"{height}\" rx=\"4\" fill=\"{fill}\" stroke=\"{stroke}\"/>{text}</g>"));
    }

    private static void Edge(StringBuilder html, double x1, double y1, double x2, double y2, string field)
    {
        html.AppendLine(string.Create(s_invariant, $"<line class=\"edge\" x1=\"{x1:0.#}\" y1=\"{y1:0.#}\" x2=\"{x2:0.#}\" y2=\"{y2:0.#}\" stroke=\"#666\"/>"));
        if (field.Length > 0)
            html.AppendLine(string.Create(s_invariant, $"<text class=\"field\" x=\"{x1 + 8:0.#}\" y=\"{(y1 + y2) / 2 + 4:0.#}\">{Encode(field)}</text>"));
    }

    private static void Referrers(StringBuilder html, IReadOnlyList<TypeReferrers> referrers)
    {
        if (referrers.Count == 0)
            return;
        Section(html, "Referred to by");
        Table(html, ["referred to", "by", "through", "count"],
            referrers.SelectMany(r => r.From.Select(f => new[] { TypeCell(r.Type), TypeCell(f.Type), Code(f.Field), Number(f.Count) })), numericColumns: 0, numericFrom: 3);
    }

    private static void Baseline(StringBuilder html, string? baselinePath, IReadOnlyList<LeakCause> causes, IReadOnlyList<KnownLeak> notSeen, string what)
    {
        if (baselinePath is null)
            return;
        Section(html, $"Known leaks (baseline {baselinePath})");
        var known = causes.Select((c, i) => (Cause: c, Index: i)).Where(c => c.Cause.KnownLeakReason is not null).ToArray();
        html.AppendLine("<ul>");
        if (known.Length == 0)
            html.AppendLine(CultureInfo.InvariantCulture, $"<li>None of this {what}'s causes.</li>");
        foreach ((LeakCause cause, int index) in known)
            html.AppendLine(string.Create(s_invariant, $"<li><a href=\"#cause-{index + 1}\">Cause {index + 1}</a> <code>{Encode(cause.Id)}</code>: {Encode(cause.KnownLeakReason!)}</li>"));
        html.AppendLine("</ul>");
        if (notSeen.Count > 0)
        {
            html.AppendLine(CultureInfo.InvariantCulture, $"<p>Not seen in this {what} (fixed, if this is where they were found; remove them from the file):</p><ul>");
            foreach (KnownLeak entry in notSeen)
                html.AppendLine(CultureInfo.InvariantCulture, $"<li><code>{Encode(entry.Id)}</code> {(entry.Owner is null ? "" : Encode(entry.Owner) + ": ")}{Encode(entry.Reason)}</li>");
            html.AppendLine("</ul>");
        }
    }

    private static void Warnings(StringBuilder html, IReadOnlyList<string> warnings)
    {
        if (warnings.Count == 0)
            return;
        Section(html, "Warnings");
        html.AppendLine("<ul class=\"warnings\">");
        foreach (string warning in warnings)
            html.AppendLine(CultureInfo.InvariantCulture, $"<li>{Encode(warning)}</li>");
        html.AppendLine("</ul>");
    }

    /// <summary>A table whose cells are already HTML; columns before <paramref name="numericColumns"/>, and from <paramref name="numericFrom"/> on, are numbers.</summary>
    private static void Table(StringBuilder html, string[] headers, IEnumerable<string[]> rows, int numericColumns = 0, int numericFrom = int.MaxValue)
    {
        html.AppendLine("<table>");
        html.AppendLine("<tr>" + string.Concat(headers.Select(h => $"<th>{Encode(h)}</th>")) + "</tr>");
        foreach (string[] row in rows)
            html.AppendLine("<tr>" + string.Concat(row.Select((cell, i) => i < numericColumns || i >= numericFrom ? $"<td class=\"n\">{cell}</td>" : $"<td>{cell}</td>")) + "</tr>");
        html.AppendLine("</table>");
    }

    private static string TypeCell(string type) => $"<span class=\"type\" title=\"{Encode(type)}\">{Encode(TypeNames.Short(type))}</span>";

    private static string Code(string text) => $"<code>{Encode(text)}</code>";

    private static string Number(long value) => value.ToString("N0", s_invariant);

    private static string Signed(long value) => value.ToString("+#,0;-#,0;0", s_invariant);

    private static string Rate(double value, string format) => value.ToString(format, s_invariant);

    private static double Average(IEnumerable<double> values) => values.DefaultIfEmpty(0).Average();

    private static string CauseCount(IReadOnlyList<LeakCause> causes) => causes.Count(c => c.KnownLeakReason is null) switch
    {
        0 => "",
        1 => "1 cause, ",
        int n => string.Create(s_invariant, $"{n} causes, "),
    };

    private static string Encode(string text) => WebUtility.HtmlEncode(text);
}
