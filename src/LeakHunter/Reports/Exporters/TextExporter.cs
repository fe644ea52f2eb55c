using System.Globalization;
using System.Text;

namespace LeakHunter.Reports.Exporters;

/// <summary>The readable reports: verdict first, then what grew and by how much, then what keeps it alive.</summary>
internal sealed partial class TextExporter : IReportExporter
{
    private const int MaxTypesShown = 25;
    private const int MaxSignaturesShown = 10;
    private const int MaxReferrersShown = 5;
    // A failure's message stays readable in a test runner's pane: about 25 lines for one cause.
    private const int MaxCausesSummarized = 3;
    private const int MaxStepsSummarized = 10;
    private const int MaxTypesSummarized = 6;
    private static readonly CultureInfo s_invariant = CultureInfo.InvariantCulture;

    public string Name => "text";

    public string FileExtension => "txt";

    public string Export(LeakReport report)
    {
        var text = new StringBuilder();
        text.AppendLine(Verdict(report));
        // A report a tool built may hold no census at all; LeakHunter's own always hold three or more.
        text.AppendLine(string.Create(s_invariant,
            $"  {report.Iterations} iterations ({report.WarmupIterations} warm-up), {report.Censuses.Count} censuses by {(report.Strategy == CensusStrategy.Dump ? "dump" : "live attach")}, " +
            $"{report.Duration.TotalSeconds:0.##} s; census pause {report.Censuses.Select(c => c.PauseMs).DefaultIfEmpty().Average():0.#} ms on average"));
        if (report.Censuses.Count > 0)
        {
            CensusSummary first = report.Censuses[0];
            CensusSummary last = report.Censuses[^1];
            text.AppendLine(string.Create(s_invariant,
                $"  live objects {first.Objects:N0} -> {last.Objects:N0}, bytes {first.Bytes:N0} -> {last.Bytes:N0} (iterations {first.Iteration} -> {last.Iteration})"));
        }
        text.AppendLine(CultureInfo.InvariantCulture, $"  confirmation: {report.Confirmation.Decision}");

        if (report.GrowingTypes.Count > 0)
        {
            text.AppendLine();
            text.AppendLine("  Growing types                                              per iteration         live at each census");
            AppendTypes(text, report.GrowingTypes.Select(t => (t.Type, t.InstancesPerIteration, t.BytesPerIteration, t.Counts)).ToArray(), "obj", "B  ");
        }

        AppendResources(text, report.Resources, "per iteration");
        AppendCauses(text, report.Causes, report.Unexplained, report.Leaks, report.Referrers, report.ExplanationNote, "per iteration");
        AppendBaseline(text, report.BaselinePath, report.Causes, report.KnownLeaksNotSeen, "check");

        if (report.Ignored.Count > 0)
        {
            text.AppendLine();
            text.AppendLine("  Ignored by LeakOptions.Ignore (known leaks, not part of the verdict):");
            foreach (IgnoredLeak ignored in report.Ignored)
                text.AppendLine(CultureInfo.InvariantCulture, $"    {ignored.Type}: {ignored.Reason}");
        }

        if (report.BackgroundTypes.Count > 0)
        {
            text.AppendLine();
            text.AppendLine("  Also grew while the fragment was idle (another thread's work, not blamed on the fragment):");
            AppendTypes(text, report.BackgroundTypes.Select(t => (t.Type, t.InstancesPerIteration, t.BytesPerIteration, t.Counts)).ToArray(), "obj", "B  ");
        }

        AppendWarnings(text, report.Warnings);
        return text.ToString();
    }

    /// <summary>
    /// The verdict and each cause in a few lines (the owner, the path to the accumulation point, the types kept, the
    /// fix), for a test failure's message: the full report is written elsewhere, once.
    /// </summary>
    internal static string Summary(LeakReport report)
    {
        var text = new StringBuilder(Verdict(report)).AppendLine();
        if (!report.HasLeaks)
            return text.ToString().TrimEnd();
        var newCauses = report.Causes.Select((c, i) => (Cause: c, Index: i)).Where(c => c.Cause.KnownLeakReason is null).ToArray();
        foreach ((LeakCause cause, int index) in newCauses.Take(MaxCausesSummarized))
            AppendCause(text, cause, index, "per iteration", MaxStepsSummarized, MaxTypesSummarized);
        if (newCauses.Length > MaxCausesSummarized)
            text.AppendLine(string.Create(s_invariant, $"    ... and {newCauses.Length - MaxCausesSummarized} more cause(s)"));
        if (newCauses.Length < report.Causes.Count)
            text.AppendLine(string.Create(s_invariant, $"    and {report.Causes.Count - newCauses.Length} known leak(s) from the baseline"));
        if (report.Unexplained.Count > 0)
            text.AppendLine($"    Not explained: {string.Join(", ", report.Unexplained.Take(MaxTypesSummarized).Select(u => TypeNames.Short(u.Type)))}" +
                (report.Unexplained.Count > MaxTypesSummarized ? string.Create(s_invariant, $" and {report.Unexplained.Count - MaxTypesSummarized} more") : ""));
        if (report.Causes.Count == 0 && report.Unexplained.Count == 0)
        {
            foreach (TypeGrowth type in report.GrowingTypes.Take(MaxTypesSummarized))
                text.AppendLine(string.Create(s_invariant, $"    {TypeNames.Short(type.Type)}: {type.InstancesPerIteration:0.##} obj, {type.BytesPerIteration:0.#} B per iteration"));
        }
        if (report.Warnings.Count > 0)
            text.AppendLine(string.Create(s_invariant, $"    {report.Warnings.Count} warning(s): see the full report"));
        return text.ToString().TrimEnd();
    }

    /// <summary>The headline and the first signatures' paths, for a failed object or instance assertion's message.</summary>
    internal static string Summary(PathsReport report)
    {
        var text = new StringBuilder(report.Headline).AppendLine();
        foreach (LeakSignature leak in report.Leaks.Take(MaxCausesSummarized))
        {
            text.AppendLine(string.Create(s_invariant, $"    {TypeNames.Short(leak.Type)}: {leak.Instances:N0} instance(s) held by"));
            AppendPath(text, leak.Root, leak.Path, leak.AccumulationPoint, MaxStepsSummarized);
            text.AppendLine(CultureInfo.InvariantCulture, $"      Fix: {leak.Hint}");
        }
        if (report.Leaks.Count > MaxCausesSummarized)
            text.AppendLine(string.Create(s_invariant, $"    ... and {report.Leaks.Count - MaxCausesSummarized} more signature(s)"));
        return text.ToString().TrimEnd();
    }

    public string Export(WatchReport report)
    {
        var text = new StringBuilder();
        WatchSample first = report.Samples.Count > 0 ? report.Samples[0] : new WatchSample(0, 0, 0, 0);
        WatchSample last = report.Samples.Count > 0 ? report.Samples[^1] : first;
        text.AppendLine(report.OnlyKnownLeaks
            ? string.Create(s_invariant, $"LeakHunter: {report.Target}: no new leak - {report.Causes.Count} known leak(s) from the baseline: {report.GrowingTypes.Count} type(s) grew in every interval")
            : report.HasLeaks
            ? $"LeakHunter: {report.Target}: {NewCauses(report.Causes)}{report.GrowingTypes.Count} type(s) grew in every interval{KnownToo(report.Causes)}{ResourcesGrew(report.Resources)}"
            : $"LeakHunter: {report.Target}: no type grew in every interval");
        text.AppendLine(string.Create(s_invariant,
            $"  {report.Samples.Count} censuses of what the roots reach, {report.Interval.TotalSeconds:0.##} s apart, over {last.ElapsedSeconds:0.#} s; census pause {report.Samples.Select(s => s.PauseMs).DefaultIfEmpty().Average():0.#} ms on average"));
        text.AppendLine(string.Create(s_invariant, $"  reachable objects {first.Objects:N0} -> {last.Objects:N0}, bytes {first.Bytes:N0} -> {last.Bytes:N0}"));
        if (report.GrowingTypes.Count > 0)
        {
            text.AppendLine();
            text.AppendLine("  Growing types                                              per second            live at each census");
            AppendTypes(text, report.GrowingTypes.Select(t => (t.Type, t.InstancesPerSecond, t.BytesPerSecond, t.Counts)).ToArray(), "obj", "B/s");
        }
        AppendResources(text, report.Resources, "per second");
        AppendCauses(text, report.Causes, report.Unexplained, report.Leaks, report.Referrers, report.ExplanationNote, "per second");
        AppendBaseline(text, report.BaselinePath, report.Causes, report.KnownLeaksNotSeen, "watch");
        AppendWarnings(text, report.Warnings);
        return text.ToString();
    }

    public string Export(CensusReport report)
    {
        var text = new StringBuilder();
        text.AppendLine(string.Create(s_invariant, $"{report.Target}: {report.Objects:N0} objects, {report.Bytes:N0} bytes"));
        text.AppendLine(string.Create(s_invariant, $"{"count",12} {"bytes",14}  type"));
        foreach (TypeCount type in report.Types)
            text.AppendLine(string.Create(s_invariant, $"{type.Count,12:N0} {type.Bytes,14:N0}  {type.Type}"));
        if (report.Resources.Count > 0)
        {
            text.AppendLine("Resources:");
            foreach (ResourceCount resource in report.Resources)
            {
                string details = string.Join(", ", resource.Details.Select(d => string.Create(s_invariant, $"{d.Key} {d.Value:N0}")));
                text.AppendLine(string.Create(s_invariant, $"{resource.Count,12:N0}  {resource.Name}{(details.Length == 0 ? "" : $" ({details})")}"));
            }
        }
        AppendWarnings(text, report.Warnings);
        return text.ToString();
    }

    public string Export(CensusDiffReport report)
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"before: {report.Before}").AppendLine(CultureInfo.InvariantCulture, $"after:  {report.After}");
        text.AppendLine(string.Create(s_invariant, $"{"count",12} {"bytes",14}  type"));
        foreach (TypeChange change in report.Changes)
            text.AppendLine(string.Create(s_invariant, $"{change.CountChange,12:+#,0;-#,0;0} {change.BytesChange,14:+#,0;-#,0;0}  {change.Type}"));
        if (report.ResourceChanges.Count > 0)
        {
            text.AppendLine();
            text.AppendLine(string.Create(s_invariant, $"{"change",12} {"before -> after",30}  resource (kinds that changed)"));
            foreach (ResourceChange resource in report.ResourceChanges)
                text.AppendLine(string.Create(s_invariant, $"{resource.Change,12:+#,0;-#,0;0} {$"{resource.Before:N0} -> {resource.After:N0}",30}  {resource.Name}{KindChanges(resource)}"));
        }
        if (report.ExplainedTypes.Count > 0)
        {
            text.AppendLine();
            text.AppendLine(report.OnlyKnownLeaks
                ? string.Create(s_invariant, $"Traced the {report.ExplainedTypes.Count} type(s) that gained the most: no new leak - {report.Causes.Count} known leak(s) from the baseline")
                : string.Create(s_invariant, $"Traced the {report.ExplainedTypes.Count} type(s) that gained the most: {report.Causes.Count} cause(s){KnownToo(report.Causes)}"));
        }
        AppendCauses(text, report.Causes, report.Unexplained, report.Leaks, report.Referrers, report.ExplanationNote, "gained");
        AppendBaseline(text, report.BaselinePath, report.Causes, report.KnownLeaksNotSeen, "diff");
        AppendWarnings(text, report.Warnings);
        return text.ToString();
    }

    /// <summary>How long a process was stopped for its paths, in words.</summary>
    internal static string PauseLine(double targetPauseMs) =>
        string.Create(s_invariant, $"the process was stopped for {targetPauseMs:0.#} ms, while its memory was copied; the paths were traced in the copy while it ran on");

    public string Export(PathsReport report)
    {
        var text = new StringBuilder(report.Headline).AppendLine();
        if (report.TargetPauseMs > 0)
            text.AppendLine(string.Create(s_invariant, $"  {PauseLine(report.TargetPauseMs)}"));
        if (report.Instances > 0)
            AppendLeaks(text, report.Leaks, report.Referrers, report.ExplanationNote);
        AppendWarnings(text, report.Warnings);
        return text.ToString();
    }

    private static void AppendTypes(StringBuilder text, IReadOnlyList<(string Type, double Instances, double Bytes, IReadOnlyList<long> Counts)> types, string instancesUnit, string bytesUnit)
    {
        foreach ((string type, double instances, double bytes, IReadOnlyList<long> counts) in types.Take(MaxTypesShown))
        {
            string name = type.Length > 56 ? type[..53] + "..." : type;
            text.AppendLine(string.Create(s_invariant,
                $"    {name,-56} {instances,7:0.##} {instancesUnit} {bytes,9:0.#} {bytesUnit} {string.Join(" ", counts)}"));
        }
        if (types.Count > MaxTypesShown)
            text.AppendLine(string.Create(s_invariant, $"  ... and {types.Count - MaxTypesShown} more (see the JSON report)"));
    }

    private static string Verdict(LeakReport report)
    {
        if (report.OnlyKnownLeaks)
            return string.Create(s_invariant, $"LeakHunter: no new leak - {report.Causes.Count} known leak(s) from the baseline: {report.GrowingTypes.Count} type(s) grew in every interval");
        if (!report.HasLeaks)
            return "LeakHunter: no leak - no type grew in every interval";
        return $"LeakHunter: LEAK - {NewCauses(report.Causes)}{report.GrowingTypes.Count} type(s) grew in every interval{KnownToo(report.Causes)}{ResourcesGrew(report.Resources)}";
    }

    /// <summary>
    /// A resource that did not grow, in words ("handles", "native memory"): a line of names that did not grow is no
    /// lead, and spelled as the JSON spells them ("gcHandles") it reads as one.
    /// </summary>
    internal static string InWords(string resource) => resource switch
    {
        Census.ResourceNames.GcHandles => "handles",
        Census.ResourceNames.FinalizationQueue => "finalization queue",
        Census.ResourceNames.FileDescriptors => "file descriptors",
        Census.ResourceNames.NativeMemory => "native memory",
        _ => resource,
    };

    /// <summary>The heading of a grown resource's findings, in words: "What the new GC handles are".</summary>
    internal static string FindingsTitle(string resource) => resource switch
    {
        Census.ResourceNames.GcHandles => "What the new GC handles are",
        Census.ResourceNames.FileDescriptors => "What the new file descriptors point to",
        Census.ResourceNames.FinalizationQueue => "What waits for its finalizer",
        Census.ResourceNames.NativeMemory => "What grew beside native memory",
        _ => $"What the new {resource} are",
    };

    /// <summary>" (socket +12, file -1)": how a resource's kinds changed, or nothing when none did.</summary>
    internal static string KindChanges(ResourceChange resource) => resource.Details.Count == 0 ? ""
        : " (" + string.Join(", ", resource.Details.Select(d => string.Create(s_invariant, $"{d.Key} {d.Value:+#,0;-#,0;0}"))) + ")";

    /// <summary>"; resources grew: threads, gcHandles" for the grown resources no rule ignores, or nothing.</summary>
    private static string ResourcesGrew(IReadOnlyList<ResourceUsage> resources)
    {
        string[] grown = resources.Where(r => r.Growing && r.IgnoredReason is null).Select(r => r.Name).ToArray();
        return grown.Length == 0 ? "" : $"; resources grew: {string.Join(", ", grown)}";
    }

    /// <summary>
    /// The resources beyond objects: the growing ones with their rate, counts and breakdown, and the rest named on one
    /// line. A flat resource's counts wander a little (a handle the runtime takes once, an arena's page), and listed in
    /// full they read as a lead to follow; the JSON report keeps every count.
    /// </summary>
    private static void AppendResources(StringBuilder text, IReadOnlyList<ResourceUsage> resources, string rate)
    {
        if (resources.Count == 0)
            return;
        text.AppendLine();
        ResourceUsage[] growing = resources.Where(r => r.Growing).ToArray();
        if (growing.Length > 0)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"  Growing resources                             {rate,-22} at each census");
            foreach (ResourceUsage resource in growing)
            {
                string verdict = resource.IgnoredReason is null ? "" : $"  ignored: {resource.IgnoredReason}";
                string unit = resource.Name == Census.ResourceNames.NativeMemory ? "B" : "";
                text.AppendLine(string.Create(s_invariant,
                    $"    {resource.Name,-38} {resource.PerIteration,12:0.##} {unit,-10} {string.Join(" ", resource.Counts)}{verdict}"));
                foreach ((string kind, IReadOnlyList<long> counts) in resource.Details.Where(d => d.Value[^1] != d.Value[0]))
                    text.AppendLine(string.Create(s_invariant, $"      {kind,-36} {"",12} {"",-10} {string.Join(" ", counts)}"));
            }
            AppendFindings(text, growing);
        }
        string[] flat = resources.Where(r => !r.Growing).Select(r => InWords(r.Name)).ToArray();
        if (flat.Length > 0)
            text.AppendLine(CultureInfo.InvariantCulture, $"  {(growing.Length > 0 ? "Other resources" : "Resources beyond objects")} did not grow: {string.Join(", ", flat)}");
    }

    /// <summary>What each grown resource's new items are: one line a group, its details, the cause that keeps its owner, and the fix.</summary>
    private static void AppendFindings(StringBuilder text, IEnumerable<ResourceUsage> growing)
    {
        foreach (ResourceUsage resource in growing.Where(r => r.Findings.Count > 0))
        {
            text.AppendLine();
            text.AppendLine(CultureInfo.InvariantCulture, $"    {FindingsTitle(resource.Name)}:");
            foreach (ResourceFinding finding in resource.Findings)
            {
                string count = resource.Name == Census.ResourceNames.NativeMemory ? "" : string.Create(s_invariant, $"{finding.Count,6:N0} x ");
                string cause = finding.Cause is int index ? string.Create(s_invariant, $"  (kept by cause {index + 1})") : "";
                text.AppendLine(CultureInfo.InvariantCulture, $"      {count}{finding.What}{cause}");
                foreach (string line in finding.Details)
                    text.AppendLine(CultureInfo.InvariantCulture, $"               {line}");
                text.AppendLine(CultureInfo.InvariantCulture, $"               Fix: {finding.Hint}");
            }
        }
    }

    private static string NewCauses(IReadOnlyList<LeakCause> causes) => CauseCount(causes.Count(c => c.KnownLeakReason is null));

    private static string KnownToo(IReadOnlyList<LeakCause> causes) =>
        causes.Count(c => c.KnownLeakReason is not null) is int known and > 0 ? string.Create(s_invariant, $" ({known} of them known from the baseline)") : "";

    /// <summary>Which causes the baseline knows, and which of its entries this check or watch did not see.</summary>
    private static void AppendBaseline(StringBuilder text, string? baselinePath, IReadOnlyList<LeakCause> causes, IReadOnlyList<KnownLeak> notSeen, string what)
    {
        if (baselinePath is null)
            return;
        text.AppendLine();
        text.AppendLine(CultureInfo.InvariantCulture, $"  Known leaks (baseline {baselinePath}):");
        var known = causes.Select((c, i) => (Cause: c, Index: i)).Where(c => c.Cause.KnownLeakReason is not null).ToArray();
        if (known.Length == 0)
            text.AppendLine(CultureInfo.InvariantCulture, $"    none of this {what}'s causes");
        foreach ((LeakCause cause, int index) in known)
            text.AppendLine(string.Create(s_invariant, $"    cause {index + 1} [{cause.Id}]: {cause.KnownLeakReason}"));
        if (notSeen.Count > 0)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"    Not seen in this {what} (fixed, if this is where they were found; remove them from the file):");
            foreach (KnownLeak entry in notSeen)
                text.AppendLine(CultureInfo.InvariantCulture, $"      [{entry.Id}] {entry.Owner ?? ""}{(entry.Owner is null ? "" : ": ")}{entry.Reason}");
        }
    }

    private static string CauseCount(int causes) => causes switch
    {
        0 => "",
        1 => "1 cause: ",
        _ => string.Create(s_invariant, $"{causes} causes: "),
    };

    /// <summary>
    /// One block per cause: the owner, the path to the accumulation point (marked), the types it keeps, the fix. Then
    /// what no cause explains, with the reason, and a short line per signature.
    /// </summary>
    private static void AppendCauses(StringBuilder text, IReadOnlyList<LeakCause> causes, IReadOnlyList<UnexplainedGrowth> unexplained,
        IReadOnlyList<LeakSignature> signatures, IReadOnlyList<TypeReferrers> referrers, string? partial, string rate)
    {
        if (causes.Count == 0 && unexplained.Count == 0)
            return;
        text.AppendLine();
        text.AppendLine(partial is not null ? $"  What keeps them alive (partial: {partial})" : "  What keeps them alive");
        for (int c = 0; c < causes.Count; c++)
        {
            text.AppendLine();
            AppendCause(text, causes[c], c, rate, int.MaxValue, int.MaxValue);
        }

        if (unexplained.Count > 0)
        {
            text.AppendLine();
            text.AppendLine("    Not explained (no cause is guessed for these):");
            foreach (UnexplainedGrowth type in unexplained)
                text.AppendLine(CultureInfo.InvariantCulture, $"      {TypeNames.Short(type.Type)}: {type.Reason}");
        }

        LeakSignature[] detailed = signatures.Where(s => s.Cause is not null).ToArray();
        if (detailed.Length > 0)
        {
            text.AppendLine();
            text.AppendLine("    Per type (how each new instance hangs from its cause's accumulation point):");
            foreach (LeakSignature leak in detailed.Take(MaxSignaturesShown))
            {
                int from = leak.AccumulationPoint ?? 0;
                string tail = string.Join(" ", leak.Path.Skip(from).Select((step, i) => i == 0 ? TypeNames.Short(step.Type) : Via(step) + TypeNames.Short(step.Type)));
                text.AppendLine(string.Create(s_invariant, $"      {TypeNames.Short(leak.Type)}: {leak.Instances:N0} new, cause {leak.Cause + 1}: {tail}"));
            }
            if (detailed.Length > MaxSignaturesShown)
                text.AppendLine(string.Create(s_invariant, $"      ... and {detailed.Length - MaxSignaturesShown} more signature(s) (see the JSON report)"));
        }
        AppendReferrers(text, referrers);
    }

    /// <summary>A cause's block: what it keeps per unit of <paramref name="rate"/>, the owner and path, the types, the fix.</summary>
    private static void AppendCause(StringBuilder text, LeakCause cause, int index, string rate, int maxSteps, int maxTypes)
    {
        string idiom = cause.Idiom is null ? "" : $" ({cause.Idiom})";
        string id = cause.Id.Length == 0 ? "" : $" [{cause.Id}{(cause.KnownLeakReason is null ? "" : ", known leak")}]";
        text.AppendLine(string.Create(s_invariant,
            $"    Cause {index + 1}{idiom}{id}: {cause.InstancesPerIteration:0.##} obj, {cause.BytesPerIteration:0.#} B {rate}, held by"));
        AppendPath(text, cause.Root, cause.Path, cause.AccumulationPoint, maxSteps);
        foreach (LeakCause through in cause.HeldThrough)
        {
            text.AppendLine("      and through");
            AppendPath(text, through.Root, through.Path, through.AccumulationPoint, maxSteps);
        }
        text.AppendLine("      It keeps:");
        foreach (CausedGrowth type in cause.Types.Take(maxTypes))
            text.AppendLine(string.Create(s_invariant,
                $"        {TypeNames.Short(type.Type),-44} {type.InstancesPerIteration,7:0.##} obj {type.BytesPerIteration,9:0.#} B {rate}"));
        if (cause.Types.Count > maxTypes)
            text.AppendLine(string.Create(s_invariant, $"        ... and {cause.Types.Count - maxTypes} more type(s)"));
        if (Retained(cause) is string retained)
            text.AppendLine(CultureInfo.InvariantCulture, $"      {retained}");
        text.AppendLine(CultureInfo.InvariantCulture, $"      Fix: {cause.Hint}");
    }

    /// <summary>What the cause keeps alive in all, in one sentence for every format; null when it was not measured.</summary>
    internal static string? Retained(LeakCause cause) => cause.RetainedBytes is long bytes
        ? string.Create(s_invariant, $"Retains {bytes:N0} bytes: what dropping the entries the accumulation point gained would free.")
        : null;

    private static string Via(LeakStep step) => step.Field is null ? "" : step.Field.StartsWith('[') ? step.Field + " " : "." + step.Field + " ";

    /// <summary>
    /// The root, then each step indented under the one before; past <paramref name="maxSteps"/>, the middle of the
    /// path is elided and its last steps, up to the accumulation point, are kept.
    /// </summary>
    private static void AppendPath(StringBuilder text, LeakRoot root, IReadOnlyList<LeakStep> path, int? accumulationPoint, int maxSteps = int.MaxValue)
    {
        text.AppendLine(CultureInfo.InvariantCulture, $"      {RootLabel(root)}");
        int elideFrom = path.Count > maxSteps ? 2 : path.Count;
        int elideTo = path.Count - (maxSteps - 2);
        for (int i = 0; i < path.Count; i++)
        {
            if (i >= elideFrom && i < elideTo)
            {
                if (i == elideFrom)
                    text.AppendLine(string.Create(s_invariant, $"        {new string(' ', Math.Min(i, 8))}... {elideTo - elideFrom} more step(s) ..."));
                continue;
            }
            LeakStep step = path[i];
            string mark = i == accumulationPoint ? "   <-- accumulates here" : "";
            string note = step.Note is null ? "" : $"  ({step.Note})";
            text.AppendLine(CultureInfo.InvariantCulture, $"        {new string(' ', Math.Min(i, 8))}{Via(step)}{TypeNames.Short(step.Type)}{note}{mark}");
        }
    }

    /// <summary>Each signature as a chain from its root, the accumulation point marked, then the usual fix.</summary>
    private static void AppendLeaks(StringBuilder text, IReadOnlyList<LeakSignature> leaks, IReadOnlyList<TypeReferrers> referrers, string? partial)
    {
        text.AppendLine();
        text.AppendLine(partial is not null ? $"  What keeps them alive (partial: {partial})" : "  What keeps them alive");
        foreach (LeakSignature leak in leaks.Take(MaxSignaturesShown))
        {
            text.AppendLine();
            text.AppendLine(string.Create(s_invariant, $"    {TypeNames.Short(leak.Type)}: {leak.Instances:N0} new instance(s) held by"));
            AppendPath(text, leak.Root, leak.Path, leak.AccumulationPoint);
            text.AppendLine(CultureInfo.InvariantCulture, $"      Fix: {leak.Hint}");
        }
        if (leaks.Count > MaxSignaturesShown)
            text.AppendLine(string.Create(s_invariant, $"    ... and {leaks.Count - MaxSignaturesShown} more signature(s)"));
        AppendReferrers(text, referrers);
    }

    private static void AppendReferrers(StringBuilder text, IReadOnlyList<TypeReferrers> referrers)
    {
        if (referrers.Any(r => r.From.Count > 0))
            text.AppendLine();
        foreach (TypeReferrers type in referrers.Where(r => r.From.Count > 0))
        {
            string from = string.Join(", ", type.From.Take(MaxReferrersShown).Select(f => string.Create(s_invariant, $"{TypeNames.Short(f.Type)}{(f.Field.StartsWith('[') ? "" : ".")}{f.Field} ({f.Count:N0})")));
            text.AppendLine(CultureInfo.InvariantCulture, $"    Referred to by: {TypeNames.Short(type.Type)} <- {from}");
        }
    }

    private static void AppendWarnings(StringBuilder text, IReadOnlyList<string> warnings)
    {
        foreach (string warning in warnings)
        {
            text.AppendLine();
            text.Append("  Warning: ").AppendLine(warning);
        }
    }

    internal static string RootLabel(LeakRoot root) => root.Kind switch
    {
        LeakRootKind.StaticField => $"static field {root.Name}",
        LeakRootKind.ThreadStatic => $"[ThreadStatic] field {root.Name}",
        _ => root.Name,
    };
}
