using LeakHunter.Analysis;
using LeakHunter.Reports.Exporters;

namespace LeakHunter;

/// <summary>
/// The outcome of one leak check: the censuses taken and the types that grew in every interval.
/// One model, many renderers: <see cref="ToString"/> gives the readable text report, <see cref="ToJson"/> the stable JSON.
/// </summary>
public sealed class LeakReport
{
    /// <summary>
    /// An empty report of a clean check: set its properties to build one, as a tool does to render a report it holds or
    /// to test its own exporter. A check fills every property from what it measured.
    /// </summary>
    public LeakReport()
    {
    }

    /// <summary>
    /// Whether any type grew in every interval because of the fragment, and not only through causes the baseline
    /// (<see cref="LeakOptions.BaselinePath"/>) knows: growth no cause explains fails a check whatever the baseline says.
    /// A growing resource (<see cref="Resources"/>) that no rule ignores is a leak too.
    /// </summary>
    public bool HasLeaks => (GrowingTypes.Count > 0 && !OnlyKnownLeaks) || Resources.Any(r => r.Growing && r.IgnoredReason is null);

    /// <summary>
    /// What the process held besides its objects at every census (threads, GC handles, the finalization queue, file
    /// descriptors, native memory, assemblies), those <see cref="LeakOptions.Resources"/> selects, each with whether it
    /// grew by the rules growing types are judged by. A growing resource fails the check like a growing type.
    /// </summary>
    public IReadOnlyList<ResourceUsage> Resources { get; init; } = [];

    /// <summary>Whether everything that grew is a known leak of the baseline's: causes all listed there, nothing unexplained.</summary>
    public bool OnlyKnownLeaks => LeakBaseline.OnlyKnownLeaks(BaselinePath, Causes, Unexplained);

    /// <summary>The baseline of known leaks the causes were matched against, as a full path; null when none was given.</summary>
    public string? BaselinePath { get; init; }

    /// <summary>
    /// The baseline's entries no cause of this check matched: fixed, when this check is the one that found them (a
    /// baseline shared by several checks also lists the others' leaks). Remove fixed entries so the file shrinks.
    /// </summary>
    public IReadOnlyList<KnownLeak> KnownLeaksNotSeen { get; init; } = [];

    /// <summary>The route the heap was read through: <see cref="CensusStrategy.Attach"/> or <see cref="CensusStrategy.Dump"/>.</summary>
    public CensusStrategy Strategy { get; init; }

    /// <summary>Iterations run before counting began.</summary>
    public int WarmupIterations { get; init; }

    /// <summary>Iterations run in all, warm-up included.</summary>
    public int Iterations { get; init; }

    /// <summary>The censuses the verdict was made on, in the order taken.</summary>
    public IReadOnlyList<CensusSummary> Censuses { get; init; } = [];

    /// <summary>How confirmation decided: its rounds, the iterations they ran, and why it stopped.</summary>
    public GrowthConfirmation Confirmation { get; init; } = GrowthConfirmation.NotRun;

    /// <summary>The types whose live instances (or bytes) grew in every interval, most bytes per iteration first.</summary>
    public IReadOnlyList<TypeGrowth> GrowingTypes { get; init; } = [];

    /// <summary>Types that also grew while the fragment was not running: another thread's work, not blamed on the fragment.</summary>
    public IReadOnlyList<TypeGrowth> BackgroundTypes { get; init; } = [];

    /// <summary>Why the verdict may be less reliable than usual, each with what to do about it.</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];

    /// <summary>
    /// The root causes of the growth, most bytes per iteration first: each an owner that outlives the call, the path
    /// to where the new instances pile up, every growing type it keeps, and the fix. One missing <c>-=</c> is one cause.
    /// </summary>
    public IReadOnlyList<LeakCause> Causes { get; init; } = [];

    /// <summary>Growing types no cause explains, each with the reason; LeakHunter never guesses a story for them.</summary>
    public IReadOnlyList<UnexplainedGrowth> Unexplained { get; init; } = [];

    /// <summary>
    /// What keeps the new instances of the growing types alive: their shortest strong paths from a GC root, grouped
    /// into signatures (paths that differ only in array indices and addresses), most instances first.
    /// </summary>
    public IReadOnlyList<LeakSignature> Leaks { get; init; } = [];

    /// <summary>For each growing type, the objects that refer to its new instances, grouped by type and field.</summary>
    public IReadOnlyList<TypeReferrers> Referrers { get; init; } = [];

    /// <summary>Whether the explanation stopped at <see cref="LeakOptions.ExplanationTimeLimit"/> and is incomplete.</summary>
    public bool ExplanationIsPartial => ExplanationNote is not null;

    /// <summary>Why the explanation is partial, or null.</summary>
    public string? ExplanationNote { get; init; }

    /// <summary>Growing types left out of the verdict by <see cref="LeakOptions.Ignore"/>, each with its rule's reason.</summary>
    public IReadOnlyList<IgnoredLeak> Ignored { get; init; } = [];

    /// <summary>How long the check took, warm-up included.</summary>
    public TimeSpan Duration { get; init; }

    /// <summary>The report as camelCase JSON, <c>schemaVersion</c> 1.</summary>
    public string ToJson() => ReportExporters.Json.Export(this);

    /// <summary>The report as one self-contained HTML page: charts and graphs inline, nothing fetched from a network.</summary>
    public string ToHtml() => ReportExporters.Html.Export(this);

    /// <summary>The readable text report.</summary>
    public override string ToString() => ReportExporters.Text.Export(this);

    /// <summary>
    /// The verdict and each cause in a few lines: what leaked, what holds it, and the fix. About 25 lines for one
    /// cause, for a test failure's message when the full report is kept elsewhere.
    /// </summary>
    public string ToSummary() => TextExporter.Summary(this);
}

/// <summary>Why a census was taken.</summary>
public enum CensusPhase
{
    /// <summary>A census of the counted run.</summary>
    Counted,

    /// <summary>Taken after a pause in which the fragment did not run, to tell the fragment's growth from other threads'.</summary>
    Idle,

    /// <summary>Taken after running longer, to confirm that growth goes on.</summary>
    Confirmation,

    /// <summary>
    /// Taken after the check waited for the timers set to fire once (a <c>Task.Delay</c>'s) that held the growth, to
    /// see whether they released it when they fired.
    /// </summary>
    AfterDelays,
}

/// <summary>How a check confirmed (or dismissed) what grew while it counted.</summary>
/// <param name="Rounds">Confirmation rounds run, each as long as everything run before it.</param>
/// <param name="Iterations">Iterations those rounds ran in all.</param>
/// <param name="Decision">Why confirmation stopped, and what it concluded.</param>
public sealed record GrowthConfirmation(int Rounds, int Iterations, string Decision)
{
    internal static GrowthConfirmation NotRun { get; } = new(0, 0, "nothing grew in every counted interval, so there was nothing to confirm");

    internal static GrowthConfirmation Off { get; } = new(0, 0, "confirmation is off (LeakOptions.ConfirmGrowth): the counted censuses decided");
}

/// <summary>Live objects after a settled full GC.</summary>
/// <param name="Iteration">Iterations run before this census, warm-up included.</param>
/// <param name="Objects">Live objects on the heap.</param>
/// <param name="Bytes">Bytes of those objects.</param>
/// <param name="PauseMs">How long the process under test was paused for this census.</param>
/// <param name="Phase">Why the census was taken.</param>
public sealed record CensusSummary(int Iteration, long Objects, long Bytes, double PauseMs, CensusPhase Phase);

/// <summary>A type whose live instances or bytes grew.</summary>
/// <param name="Type">The type's name, spelled as ClrMD spells it (<c>Acme.Outer+Inner</c>, <c>System.Collections.Generic.List&lt;Acme.Item&gt;</c>).</param>
/// <param name="Counts">Live instances at each census of <see cref="LeakReport.Censuses"/>.</param>
/// <param name="Bytes">Bytes of those instances at each census.</param>
/// <param name="InstancesPerIteration">Instances added per iteration, from the first to the last census.</param>
/// <param name="BytesPerIteration">Bytes added per iteration, from the first to the last census.</param>
public sealed record TypeGrowth(
    string Type,
    IReadOnlyList<long> Counts,
    IReadOnlyList<long> Bytes,
    double InstancesPerIteration,
    double BytesPerIteration);

/// <summary>What holds the first object of a leak's path.</summary>
public enum LeakRootKind
{
    /// <summary>A static field, named <c>Namespace.Type.field</c>.</summary>
    StaticField,

    /// <summary>A <c>[ThreadStatic]</c> field on one thread.</summary>
    ThreadStatic,

    /// <summary>A strong GC handle: <c>GCHandle.Alloc</c>, or a reference held from outside the managed heap.</summary>
    StrongHandle,

    /// <summary>A pinned GC handle.</summary>
    PinnedHandle,

    /// <summary>A ref-counted handle (COM and native interop).</summary>
    RefCountedHandle,

    /// <summary>A local on a thread's stack.</summary>
    Stack,

    /// <summary>The finalizer queue: an object waiting for, or held by, a finalizer.</summary>
    FinalizerQueue,

    /// <summary>No enumerated root reaches the instances; they are reported, never dropped.</summary>
    Unknown,

    /// <summary>
    /// An assembly the runtime keeps loaded, named <c>dynamic assembly Microsoft.GeneratedCode</c>: an assembly outside a
    /// collectible <c>AssemblyLoadContext</c> is never unloaded, so its module, its <c>Assembly</c> and its types'
    /// <c>Type</c> objects live as long as the process. Also an object the runtime never frees that keys a
    /// <c>ConditionalWeakTable</c>: <c>typeof(Acme.Widget): a Type object, ...</c>, or a string literal.
    /// </summary>
    LoadedAssembly,

    /// <summary>
    /// A thread started during the counted calls that is still running: its stack and thread statics hold what it
    /// works on, for as long as it runs. Named by its start method, <c>thread started at Acme.Sink.Pump</c>;
    /// <see cref="LeakRoot.Thread"/> says which thread. A thread that ends when the call ends is work in flight, not
    /// this kind.
    /// </summary>
    Thread,
}

/// <summary>A thread that outlives the call that started it: the owner of what its stack holds.</summary>
/// <param name="Name">The name the thread was given, or null.</param>
/// <param name="StartMethod">The method the thread runs, as <c>Namespace.Type.Method</c>.</param>
/// <param name="StartedBy">The type whose code the thread runs, outside the runtime's own: the library type that started it.</param>
/// <param name="StopMethod">
/// The method of <paramref name="StartedBy"/> that releases it (<c>Dispose</c>, <c>Stop</c>, ...), when it has one.
/// </param>
/// <param name="Threads">How many such threads hold new instances.</param>
public sealed record LeakThread(string? Name, string StartMethod, string StartedBy, string? StopMethod, int Threads);

/// <summary>A GC root, named the way a developer thinks of it.</summary>
/// <param name="Kind">What kind of root it is.</param>
/// <param name="Name">The field (<c>Acme.Registry.s_items</c>), the method and thread of a stack local, or the handle's kind.</param>
public sealed record LeakRoot(LeakRootKind Kind, string Name)
{
    /// <summary>For a <see cref="LeakRootKind.Thread"/> root, the thread; null for every other kind.</summary>
    public LeakThread? Thread { get; init; }
}

/// <summary>One object on a path from a root.</summary>
/// <param name="Type">The object's full type name.</param>
/// <param name="Field">
/// The field of the previous step's object through which this one is reached: <c>_items</c>, <c>[]</c> for an
/// array element, <c>[].value</c> for a field of a struct element. Null for the first step, which the root holds.
/// </param>
/// <param name="Note">The .NET idiom the object is, when it is one: the method a delegate calls, the method that made a closure.</param>
public sealed record LeakStep(string Type, string? Field, string? Note)
{
    /// <summary>
    /// The public method the object's type has to release it (<c>Dispose</c>, <c>DisposeAsync</c>, <c>Close</c>,
    /// <c>Shutdown</c>, <c>Stop</c>, <c>Unsubscribe</c>), or null when it has none. A new object that has one and is
    /// still held was created per call and never released.
    /// </summary>
    public string? Closer { get; init; }

    /// <summary>Whether the object was made during the traced calls (it was not in the heap when LeakHunter marked it).</summary>
    public bool IsNew { get; init; }

    /// <summary>
    /// For a timer of the runtime's queue set to fire once (a <c>Task.Delay</c>'s, a <c>Timer</c> started without a
    /// period), the delay it was set to: what it holds is released when it fires. Null for other steps.
    /// </summary>
    public TimeSpan? FiresOnceAfter { get; init; }

    /// <summary>
    /// For a dictionary's entries where the new instances pile up: the shapes of its newest keys, such as
    /// <c>tenant-N</c> (what all of them share is kept, what varies is told by kind: N a number, X hex, {guid}, … text),
    /// never the keys themselves. Null for other steps.
    /// </summary>
    public IReadOnlyList<string>? KeyShapes { get; init; }
}

/// <summary>One way new instances of a growing type are kept alive.</summary>
/// <param name="Type">The growing type.</param>
/// <param name="Instances">New instances held this way (scaled up from the traced sample).</param>
/// <param name="Root">The root that holds the path's first object.</param>
/// <param name="Path">The objects from the root to an instance of <paramref name="Type"/>, which is the last step.</param>
/// <param name="AccumulationPoint">Index in <paramref name="Path"/> of the object the new instances pile up in (a list's array), or null.</param>
/// <param name="Hint">The usual fix, in one line.</param>
public sealed record LeakSignature(string Type, int Instances, LeakRoot Root, IReadOnlyList<LeakStep> Path, int? AccumulationPoint, string Hint)
{
    /// <summary>Index in the report's <c>Causes</c> of the cause this signature is part of, or null when it is part of none.</summary>
    public int? Cause { get; init; }

    /// <summary>Bytes of the new instances held this way, scaled up from the traced sample as the instances are.</summary>
    public long Bytes { get; init; }

    /// <summary>This signature's share of the bytes its cause's new entries retain, or null when not measured.</summary>
    public long? RetainedBytes { get; init; }
}

/// <summary>
/// One root cause of a leak: the owner that outlives the call, the path from it to the accumulation point, and every
/// growing type that hangs there. A single missing <c>-=</c>, <c>Dispose</c> or <c>Remove</c> is one cause, however
/// many types it keeps alive.
/// </summary>
/// <param name="Root">The root that holds the owner.</param>
/// <param name="Path">The objects from the root to the accumulation point, which is the last step (or the whole path when there is none).</param>
/// <param name="AccumulationPoint">Index in <paramref name="Path"/> of the object the new instances pile up in, or null.</param>
/// <param name="Types">The growing types this cause keeps, most bytes first.</param>
/// <param name="InstancesPerIteration">Instances this cause adds per iteration (per second for a watch), all its types together.</param>
/// <param name="BytesPerIteration">Bytes this cause adds per iteration (per second for a watch).</param>
/// <param name="Hint">The fix, in one line.</param>
/// <param name="Idiom">The .NET idiom the path is ("event handler", "timer"), or null when none was recognised.</param>
public sealed record LeakCause(
    LeakRoot Root,
    IReadOnlyList<LeakStep> Path,
    int? AccumulationPoint,
    IReadOnlyList<CausedGrowth> Types,
    double InstancesPerIteration,
    double BytesPerIteration,
    string Hint,
    string? Idiom)
{
    /// <summary>
    /// The cause's stable id, twelve hex digits from its owner and its path's types and fields: the same leak gets the
    /// same id in every run, whatever its addresses and counts. A baseline of known leaks lists causes by it.
    /// </summary>
    public string Id { get; init; } = "";

    /// <summary>Why the team accepted this cause, from the baseline file's entry for <see cref="Id"/>; null when the cause is new.</summary>
    public string? KnownLeakReason { get; init; }

    /// <summary>
    /// The bytes that would be freed if the accumulation point dropped the entries it gained while LeakHunter watched:
    /// the new entries and everything only they keep alive, from the heap's dominator tree (a total, not a rate). An
    /// entry something else also holds is not counted, since dropping it frees nothing. Null when it was not measured
    /// (the explanation's time limit passed first).
    /// </summary>
    public long? RetainedBytes { get; init; }

    /// <summary>
    /// When one object made per call and never disposed reaches the runtime through several roots at once (a host
    /// registers a Meter, an ActivitySource and a DiagnosticListener): the other roots, each as the cause it would be on
    /// its own. This cause's types, rates and retained bytes include theirs. Empty for a cause with one root.
    /// </summary>
    public IReadOnlyList<LeakCause> HeldThrough { get; init; } = [];
}

/// <summary>A leak a team knows of and accepts for now: a cause's id, and the reason a person wrote.</summary>
/// <param name="Id">The <see cref="LeakCause.Id"/> it stands for.</param>
/// <param name="Reason">Why it is accepted: a ticket, an upstream bug, "accepted on 2026-11-22".</param>
public sealed record KnownLeak(string Id, string Reason)
{
    /// <summary>The cause's idiom and owner when it was accepted, for a person reading the file; not used to match.</summary>
    public string? Owner { get; init; }
}

/// <summary>A growing type's share of one cause.</summary>
/// <param name="Type">The type's full name, as in the report's growing types.</param>
/// <param name="NewInstances">Its new instances that the cause's paths hold (0 for a type that grew in bytes only, such as the accumulation point's array).</param>
/// <param name="InstancesPerIteration">Its instances the cause adds per iteration.</param>
/// <param name="BytesPerIteration">Its bytes the cause adds per iteration.</param>
public sealed record CausedGrowth(string Type, int NewInstances, double InstancesPerIteration, double BytesPerIteration);

/// <summary>A resource the process holds besides its objects, counted at every census.</summary>
/// <param name="Name">
/// One of <see cref="LeakResourceNames"/>: <c>threads</c>, <c>gcHandles</c>, <c>finalizationQueue</c> (objects ready for their finalizer), <c>fileDescriptors</c>,
/// <c>nativeMemory</c> (bytes: anonymous resident memory outside the GC's mappings, or in a check what malloc handed out
/// and did not get back when only that grew) or <c>assemblies</c>.
/// </param>
/// <param name="Counts">Its count at each census, in the order of the report's censuses (bytes for <c>nativeMemory</c>).</param>
/// <param name="PerIteration">What it added per iteration (per second for a watch), from the first census to the last.</param>
/// <param name="Growing">Whether it grew by the rules growing types are judged by (for native memory, by more than allocator noise).</param>
/// <param name="Details">Its breakdown by kind (<c>weak</c>, <c>socket</c>, <c>dynamic</c>), each with a count per census.</param>
public sealed record ResourceUsage(string Name, IReadOnlyList<long> Counts, double PerIteration, bool Growing, IReadOnlyDictionary<string, IReadOnlyList<long>> Details)
{
    /// <summary>Why it grows is not a leak of the code under test, from a <see cref="LeakIgnore.Resource"/> rule; null when none matched.</summary>
    public string? IgnoredReason { get; init; }

    /// <summary>
    /// What its new items are, when it grew and <see cref="LeakOptions.ExplainLeaks"/> is on: groups of the threads,
    /// GC handles, descriptors or assemblies made since the first counted census, most first, each with its fix. For
    /// native memory, the managed types that grew beside it. Empty when it did not grow.
    /// </summary>
    public IReadOnlyList<ResourceFinding> Findings { get; init; } = [];
}

/// <summary>
/// One group of a grown resource's new items that share what they are: threads with one name, start method and stack
/// top; GC handles of one kind on one type of object; descriptors to one file or peer; assemblies of one maker.
/// </summary>
/// <param name="Kind">
/// What the items are: <c>thread</c> or <c>native thread</c>; a handle's kind (<c>weak</c>, <c>strong</c>, ...); a
/// descriptor's (<c>file</c>, <c>socket</c>, <c>pipe</c>, <c>other</c>); an assembly's (<c>XmlSerializer</c>,
/// <c>dynamic</c>, <c>collectible</c>, <c>loaded</c>); <c>finalizable</c>; for native memory, <c>alongside</c> (managed
/// types grew beside it) or <c>unowned</c> (none did).
/// </param>
/// <param name="What">
/// The items, described: <c>thread "worker", started at lambda in Poller.Start</c>; <c>weak GC handle to a
/// Settings</c>; <c>tcp 127.0.0.1:* -&gt; 127.0.0.1:5000 (established)</c>; a file's path. Never a file's contents.
/// </param>
/// <param name="Count">New items in the group since the first counted census (for native memory, the types that grew beside it).</param>
/// <param name="Details">More lines: a thread's top frames, innermost first; who owns a descriptor; one assembly's full name.</param>
/// <param name="Hint">The fix, in one line.</param>
public sealed record ResourceFinding(string Kind, string What, int Count, IReadOnlyList<string> Details, string Hint)
{
    /// <summary>The managed type that owns the items, when one does: the <c>Thread</c>, the <c>SafeHandle</c>, the handle's target.</summary>
    public string? OwnerType { get; init; }

    /// <summary>Index in the report's causes of the cause that keeps the owner alive, when one does: that cause's path is what to cut.</summary>
    public int? Cause { get; init; }
}

/// <summary>A growing type LeakHunter could not tie to a cause, and why: never a guessed story.</summary>
/// <param name="Type">The growing type.</param>
/// <param name="Reason">Why no cause explains it.</param>
public sealed record UnexplainedGrowth(string Type, string Reason);

/// <summary>Objects of one type referring to new instances of a growing type through one field.</summary>
public sealed record Referrer(string Type, string Field, int Count);

/// <summary>The referrers of one growing type's new instances, most first.</summary>
public sealed record TypeReferrers(string Type, IReadOnlyList<Referrer> From);

/// <summary>A growing type left out of the verdict by an ignore rule.</summary>
/// <param name="Type">The growing type.</param>
/// <param name="Reason">The rule's reason.</param>
/// <param name="Pattern">The rule's pattern.</param>
public sealed record IgnoredLeak(string Type, string Reason, string Pattern);

/// <summary>What keeps the new instances alive, as the inspector found it.</summary>
/// <param name="Leaks">The signatures, most instances first.</param>
/// <param name="Referrers">Who refers to the new instances, per type.</param>
/// <param name="PartialReason">Why the explanation stopped short, or null when it is complete.</param>
internal sealed record LeakExplanation(IReadOnlyList<LeakSignature> Leaks, IReadOnlyList<TypeReferrers> Referrers, string? PartialReason)
{
    /// <summary>What the inspector could not read or cut short while explaining; the report's warnings carry them.</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];

    /// <summary>Whether the finalizer thread was blocked while the check ran, so objects waiting for finalization piled up.</summary>
    public bool FinalizerThreadBlocked { get; init; }
}
