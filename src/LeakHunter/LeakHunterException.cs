namespace LeakHunter;

/// <summary>What stopped a leak check, or an inspection of another process or a dump, from reaching an answer.</summary>
public enum LeakHunterFailure
{
    /// <summary>
    /// Not raised by checks any more: both routes to the heap work with the runtime's diagnostics turned off
    /// (<c>DOTNET_EnableDiagnostics=0</c>). Kept so that code naming it still compiles.
    /// </summary>
    DiagnosticsDisabled,

    /// <summary>ptrace was denied and no dump route was left.</summary>
    PtraceDenied,

    /// <summary>The inspector process could not be found or did not start.</summary>
    InspectorStartFailed,

    /// <summary>The inspector process exited in the middle of a check.</summary>
    InspectorExited,

    /// <summary>A census took longer than <see cref="LeakOptions.CensusTimeout"/>, or the inspector stopped answering a request.</summary>
    CensusTimedOut,

    /// <summary>The heap could not be read for another reason; the message says which.</summary>
    CensusFailed,

    /// <summary>This operating system is not supported.</summary>
    PlatformNotSupported,

    /// <summary>
    /// A check was started inside a running check (from its fragment, or from code the fragment called). It would
    /// count the outer check's objects and wait forever for it to end, so it fails at once instead.
    /// </summary>
    NestedCheck,

    /// <summary>
    /// The process or dump to inspect cannot be used: no such process, not a .NET process, a missing or truncated
    /// dump. The message names the problem and what to give instead.
    /// </summary>
    InvalidTarget,

    /// <summary>No live instance of a type matching the name or pattern asked for; the message suggests close names.</summary>
    TypeNotFound,

    /// <summary>An input was not what it claimed to be, such as a file that is not a saved census.</summary>
    InvalidInput,
}

/// <summary>
/// A leak check could not reach a verdict. <see cref="Exception.Message"/> names what went wrong and what to do;
/// <see cref="Failure"/> lets a tool act on it. An exception thrown by the fragment itself is never wrapped in this.
/// </summary>
public sealed class LeakHunterException : Exception
{
    /// <summary>Creates the exception.</summary>
    public LeakHunterException(LeakHunterFailure failure, string message, Exception? innerException = null)
        : base(message, innerException) => Failure = failure;

    /// <summary>What stopped the check.</summary>
    public LeakHunterFailure Failure { get; }
}
