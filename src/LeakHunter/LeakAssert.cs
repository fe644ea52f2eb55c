namespace LeakHunter;

/// <summary>
/// Leak assertions for tests, independent of any test framework: a failure throws
/// <see cref="LeakDetectedException"/>, whose message is the full readable report.
/// </summary>
/// <example>
/// <code>
/// LeakAssert.NoLeaks(() => sut.Handle(request));
/// </code>
/// </example>
public static class LeakAssert
{
    /// <summary>Runs a leak check on <paramref name="fragment"/> and fails if anything grows.</summary>
    /// <exception cref="LeakDetectedException">Something leaked; the message says what, and what keeps it alive.</exception>
    /// <exception cref="LeakHunterException">The heap could not be read; the message says why and what to do.</exception>
    public static LeakReport NoLeaks(Action fragment, LeakOptions? options = null)
    {
        LeakReport report = LeakDetector.Run(fragment, options);
        return report.HasLeaks ? throw new LeakDetectedException(report) : report;
    }

    /// <summary>Runs a leak check on the asynchronous <paramref name="fragment"/> and fails if anything grows.</summary>
    /// <exception cref="LeakDetectedException">Something leaked; the message says what, and what keeps it alive.</exception>
    /// <exception cref="LeakHunterException">The heap could not be read; the message says why and what to do.</exception>
    public static async Task<LeakReport> NoLeaksAsync(Func<Task> fragment, LeakOptions? options = null, CancellationToken cancellationToken = default)
    {
        LeakReport report = await LeakDetector.RunAsync(fragment, options, cancellationToken).ConfigureAwait(false);
        return report.HasLeaks ? throw new LeakDetectedException(report) : report;
    }
}

/// <summary>A leak assertion failed. <see cref="Exception.Message"/> is the readable report; <see cref="Report"/> is the whole of it.</summary>
public sealed class LeakDetectedException : Exception
{
    /// <summary>Creates the exception for a report that found leaks.</summary>
    public LeakDetectedException(LeakReport report)
        : base(report.ToString()) => Report = report;

    /// <summary>The report of the failed check.</summary>
    public LeakReport Report { get; }
}

/// <summary>
/// A known leak to leave out of the verdict, such as one inside a library you cannot change. The report still lists
/// it, with the reason.
/// </summary>
/// <param name="Pattern">What to match; <c>*</c> matches any run of characters.</param>
/// <param name="Reason">Why it is ignored, shown in the report.</param>
/// <param name="Kind">Whether the pattern matches type names or paths.</param>
public sealed record LeakIgnore(string Pattern, string Reason, LeakIgnoreKind Kind)
{
    /// <summary>Ignores growing types whose full name matches <paramref name="pattern"/> (<c>Acme.Telemetry.*</c>).</summary>
    public static LeakIgnore Type(string pattern, string reason) => new(pattern, reason, LeakIgnoreKind.Type);

    /// <summary>
    /// Ignores leaks whose path matches <paramref name="pattern"/>: the root's name (<c>Acme.Cache.s_entries</c>) or a
    /// step's field, spelled <c>Type.field</c> with the full name of the type that holds the field.
    /// </summary>
    public static LeakIgnore Path(string pattern, string reason) => new(pattern, reason, LeakIgnoreKind.Path);
}

/// <summary>What a <see cref="LeakIgnore"/> pattern is matched against.</summary>
public enum LeakIgnoreKind
{
    /// <summary>The full name of a growing type.</summary>
    Type,

    /// <summary>A leak's root name, or a field on its path.</summary>
    Path,
}
