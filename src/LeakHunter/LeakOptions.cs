using LeakHunter.Analysis;

namespace LeakHunter;

/// <summary>
/// How a leak check runs. The defaults give a reliable verdict without tuning; change them only to trade
/// time for sensitivity.
/// </summary>
public sealed class LeakOptions
{
    /// <summary>Iterations run before counting starts, so lazy singletons and first-use caches fill first. Default 10.</summary>
    public int WarmupIterations { get; init; } = 10;

    /// <summary>Censuses taken while counting; the intervals between them are where growth must show. Default 5 (4 intervals), at least 3.</summary>
    public int Censuses { get; init; } = 5;

    /// <summary>Iterations run between two consecutive counted censuses. Default 10.</summary>
    public int IterationsPerCensus { get; init; } = 10;

    /// <summary>
    /// Whether types that grew during counting are confirmed by running longer: growth that stops (a cache
    /// still filling) or that also happens while the fragment is idle (another thread's work) is then not
    /// reported. Default true.
    /// </summary>
    public bool ConfirmGrowth { get; init; } = true;

    /// <summary>
    /// How many times in all the fragment runs before growth counts as confirmed: confirmation rounds, each as long
    /// as everything run before it, go on until then, so a cache that fills within about this many calls is seen to
    /// stop. They stop sooner when nothing grows any more, when the growing types (or the process) have taken 256 MiB
    /// more or one of them a million more instances, or when
    /// <see cref="ConfirmationBudget"/> runs out; a type that grows in steps may take up to four times as many.
    /// Default 5,000.
    /// </summary>
    public int ConfirmationIterations { get; init; } = 5_000;

    /// <summary>How the heap of this process is read. Default <see cref="CensusStrategy.Auto"/>.</summary>
    public CensusStrategy Strategy { get; init; } = CensusStrategy.Auto;

    /// <summary>The longest one census may take before the check fails with <see cref="LeakHunterFailure.CensusTimedOut"/>. Default 2 minutes.</summary>
    public TimeSpan CensusTimeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>
    /// The longest the confirmation runs may take in all. When it runs out the verdict is made on the censuses
    /// taken so far, and the report says so. Default 30 seconds.
    /// </summary>
    public TimeSpan ConfirmationBudget { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Bytes that other threads may allocate during the check before the report warns that the counts may be
    /// polluted by parallel work. Default 32 MiB. A synchronous fragment is watched while it runs and during every
    /// census; an asynchronous fragment's continuations run on other threads themselves, so for it only the
    /// censuses are watched.
    /// </summary>
    public long ParallelAllocationWarningBytes { get; init; } = 32L << 20;

    internal static LeakOptions Default { get; } = new();

    /// <summary>
    /// Whether a check that finds growth goes on to explain it: who refers to the new instances, and the shortest
    /// path from a GC root that keeps them alive. Default true.
    /// </summary>
    public bool ExplainLeaks { get; init; } = true;

    /// <summary>New instances per growing type whose paths are traced; more are counted but not traced. Default 1,000.</summary>
    public int MaxPathsPerType { get; init; } = 1000;

    /// <summary>Time the explanation may take before it returns what it has, flagged as partial. Default 30 s.</summary>
    public TimeSpan ExplanationTimeLimit { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Known leaks to leave out of the verdict, each with its reason; the report still lists them. Default none.</summary>
    public IReadOnlyList<LeakIgnore> Ignore { get; init; } = [];

    /// <summary>
    /// Whether the runtime's own bounded caches, which grow while a fragment first uses new types, are left out of
    /// the verdict (listed, with the reason, among <see cref="LeakReport.Ignored"/>). Default true.
    /// </summary>
    public bool IgnoreRuntimeCaches { get; init; } = true;

    /// <summary>
    /// A JSON file of known leaks, checked in with the tests: <c>{ "knownLeaks": [ { "id": "3f2a9c1b7e0d", "reason":
    /// "vendor SDK, ticket 1234" } ] }</c>, each id a <see cref="LeakCause.Id"/> from a report. A check whose causes
    /// are all in it passes, and its report lists them as known; a new cause fails. With the environment variable
    /// <c>LEAKHUNTER_UPDATE_BASELINE=1</c>, a check adds its new causes to the file ("accepted on" today) instead of
    /// failing, and its report says so. A file that does not exist yet is an empty baseline. Default null: no baseline.
    /// </summary>
    public string? BaselinePath { get; init; }

    /// <summary>
    /// What is counted at every census besides objects: threads, GC handles by kind, the finalization queue, file
    /// descriptors by kind, native memory and assemblies. Each grows by the same rules as a type and fails the check
    /// when it does; native memory must also grow by more than allocator noise (<see cref="NativeMemoryNoiseBytes"/>
    /// in every counted interval), or, where growth is confirmed, stay within it and then grow so in every interval
    /// after (an allocator hands out memory freed earlier before the process's memory rises). Default all.
    /// </summary>
    public LeakResources Resources { get; init; } = LeakResources.All;

    /// <summary>
    /// Native memory that grows by less than this in a counted interval is allocator noise (a heap arena's high-water
    /// mark, a page of JIT code), not a leak. Default 64 KiB.
    /// </summary>
    public long NativeMemoryNoiseBytes { get; init; } = 64 * 1024;

    internal void Validate()
    {
        if (WarmupIterations < 1)
            throw new ArgumentOutOfRangeException(nameof(WarmupIterations), WarmupIterations, "Run at least one warm-up iteration, so first-use caches are not counted as growth.");
        if (Censuses < 3)
            throw new ArgumentOutOfRangeException(nameof(Censuses), Censuses, "Take at least 3 censuses: growth must show in at least two intervals to be told apart from a one-off.");
        if (IterationsPerCensus < 1)
            throw new ArgumentOutOfRangeException(nameof(IterationsPerCensus), IterationsPerCensus, "Run at least one iteration between censuses.");
        if (ConfirmationIterations < 1)
            throw new ArgumentOutOfRangeException(nameof(ConfirmationIterations), ConfirmationIterations, "Confirm over at least one iteration, or set ConfirmGrowth to false.");
        if (CensusTimeout <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(CensusTimeout), CensusTimeout, "The census timeout must be positive.");
        if (ConfirmationBudget < TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(ConfirmationBudget), ConfirmationBudget, "The confirmation budget cannot be negative.");
        if (!Enum.IsDefined(Strategy))
            throw new ArgumentOutOfRangeException(nameof(Strategy), Strategy, "Use Auto, Attach or Dump.");
        if (Ignore is null || Ignore.Any(i => i is null || string.IsNullOrEmpty(i.Pattern) || string.IsNullOrWhiteSpace(i.Reason)))
            throw new ArgumentException("Every ignore rule needs a pattern and a reason; the report shows the reason.", nameof(Ignore));
        // A misspelt resource name would ignore nothing, and the check would fail on the growth it was meant to leave out.
        LeakIgnore? unknown = Ignore.FirstOrDefault(i => i.Kind == LeakIgnoreKind.Resource && !LeakResourceNames.All.Any(Wildcard.ToRegex(i.Pattern).IsMatch));
        if (unknown is not null)
            throw new ArgumentException($"The ignore rule for resource \"{unknown.Pattern}\" names no resource; use one of {string.Join(", ", LeakResourceNames.All)} (LeakResourceNames).", nameof(Ignore));
        if (MaxPathsPerType < 1)
            throw new ArgumentOutOfRangeException(nameof(MaxPathsPerType), MaxPathsPerType, "Trace at least one path per growing type, or set ExplainLeaks to false.");
        if (ExplanationTimeLimit <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(ExplanationTimeLimit), ExplanationTimeLimit, "The explanation time limit must be positive.");
        LeakBaseline.ThrowIfNotAFile(BaselinePath, nameof(BaselinePath));
        if ((Resources & ~LeakResources.All) != 0)
            throw new ArgumentOutOfRangeException(nameof(Resources), Resources, "Combine the LeakResources flags (Threads, GcHandles, FinalizationQueue, FileDescriptors, NativeMemory, Assemblies), or use None or All.");
        if (NativeMemoryNoiseBytes < 0)
            throw new ArgumentOutOfRangeException(nameof(NativeMemoryNoiseBytes), NativeMemoryNoiseBytes, "The native memory noise threshold cannot be negative.");
        if (BaselinePath is not null && !ExplainLeaks)
            throw new ArgumentException("A baseline matches the causes a check explains: leave ExplainLeaks on when BaselinePath is set.", nameof(BaselinePath));
    }
}

/// <summary>The resources beyond objects a check counts at every census; combine them, or use <see cref="All"/>.</summary>
[Flags]
public enum LeakResources
{
    /// <summary>None: objects only.</summary>
    None = 0,

    /// <summary>The process's threads (and, in the breakdown, the managed ones): a thread started per call that never ends.</summary>
    Threads = 1,

    /// <summary>GC handles by kind (strong, pinned, weak, dependent, ref-counted): a <c>GCHandle.Alloc</c> never freed.</summary>
    GcHandles = 2,

    /// <summary>Objects ready for their finalizer: a queue that does not drain means a blocked or slow finalizer.</summary>
    FinalizationQueue = 4,

    /// <summary>Open file descriptors by kind (file, socket, pipe, other): a file or socket opened and never closed.</summary>
    FileDescriptors = 8,

    /// <summary>Private resident memory outside the GC heap's mappings: <c>Marshal.AllocHGlobal</c> never freed, native libraries' buffers.</summary>
    NativeMemory = 16,

    /// <summary>Loaded assemblies (dynamic and collectible apart) and collectible contexts: an assembly generated or loaded per call.</summary>
    Assemblies = 32,

    /// <summary>Every resource.</summary>
    All = Threads | GcHandles | FinalizationQueue | FileDescriptors | NativeMemory | Assemblies,
}

/// <summary>How the inspector reads the heap of the process under test.</summary>
public enum CensusStrategy
{
    /// <summary>Attach live where ptrace allows it, otherwise fall back to a dump.</summary>
    Auto = 0,

    /// <summary>Attach live with ptrace and suspend the process for the census: the fastest route.</summary>
    Attach = 1,

    /// <summary>
    /// Have the runtime's <c>createdump</c>, started by the inspector, write a private dump of the process, then read
    /// and delete it. It traces the process too, so it needs the same ptrace permission as a live attach.
    /// </summary>
    Dump = 2,
}
