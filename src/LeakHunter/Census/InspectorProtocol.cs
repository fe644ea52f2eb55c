namespace LeakHunter.Census;

// Shared by the library and the inspector process (linked into both); one binary request/reply per census.
// Replies to a census carry only totals, so the process under test never holds a per-census histogram:
// histograms stay in the inspector until the check asks for them, after its last census.
internal enum InspectorCommand : byte
{
    Quit = 0,
    Census = 1,
    GetHistograms = 2,
    Reset = 3,

    /// <summary>Records where the instances of some types are now, so a later <see cref="Explain"/> can tell the new ones.</summary>
    Mark = 4,

    /// <summary>Paths from the roots to the instances of some types that are new since <see cref="Mark"/>.</summary>
    Explain = 5,

    /// <summary>Paths from the roots to the objects that some weak GC handles still point at.</summary>
    ExplainWatched = 6,
}

internal enum CensusRoute : byte
{
    Attach = 1,
    Dump = 2,

    /// <summary>A dump file someone else wrote: read, never deleted.</summary>
    DumpFile = 3,
}

internal enum InspectorStatus : byte
{
    Ok = 0,
    PtraceDenied = 1,
    DiagnosticsDisabled = 2,
    TargetNotDotNet = 3,
    HeapNotWalkable = 4,
    Failed = 5,
    DumpFailed = 6,
}

internal static class InspectorProtocol
{
    /// <summary>First byte the inspector writes once it is ready for requests.</summary>
    public const byte ReadyMarker = 0x4C;

    /// <summary>
    /// Exit code of an inspector that gave up on a census past its time limit. The process under test cannot time
    /// the census itself: during a live attach all of its threads are stopped.
    /// </summary>
    public const int CensusTimedOutExitCode = 4;

    /// <summary>
    /// Environment variable carrying the runtime version of the process under test. ClrMD reads it as 0.0 on
    /// .NET 10 on Linux, and without it skips the roots of thread-static fields.
    /// </summary>
    public const string RuntimeVersionVariable = "LEAKHUNTER_RUNTIME_VERSION";

    /// <summary>
    /// Environment variable naming the process to inspect when it is not the inspector's parent: the command-line
    /// tool inspects other processes.
    /// </summary>
    public const string TargetPidVariable = "LEAKHUNTER_TARGET_PID";

    /// <summary>Environment variable naming the process the inspector serves and must not outlive.</summary>
    public const string ParentPidVariable = "LEAKHUNTER_PARENT_PID";
}

/// <summary>What holds the first object of a path to a leaked instance.</summary>
internal enum RootKindCode : byte
{
    StaticField = 0,
    ThreadStatic = 1,
    StrongHandle = 2,
    PinnedHandle = 3,
    RefCountedHandle = 4,
    Stack = 5,
    FinalizerQueue = 6,
    Unknown = 7,
}
