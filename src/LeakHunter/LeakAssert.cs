using LeakHunter.Analysis;
using LeakHunter.Reports;
using LeakHunter.Running;

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
        return report.HasLeaks ? throw Attached(new LeakDetectedException(report)) : report;
    }

    /// <summary>Runs a leak check on the asynchronous <paramref name="fragment"/> and fails if anything grows.</summary>
    /// <exception cref="LeakDetectedException">Something leaked; the message says what, and what keeps it alive.</exception>
    /// <exception cref="LeakHunterException">The heap could not be read; the message says why and what to do.</exception>
    public static async Task<LeakReport> NoLeaksAsync(Func<Task> fragment, LeakOptions? options = null, CancellationToken cancellationToken = default)
    {
        LeakReport report = await LeakDetector.RunAsync(fragment, options, cancellationToken).ConfigureAwait(false);
        return report.HasLeaks ? throw Attached(new LeakDetectedException(report)) : report;
    }

    /// <summary>
    /// Fails unless the object <paramref name="factory"/> creates is collected once the factory returns. LeakHunter
    /// keeps only a weak reference to it; if it survives a settled full GC, the failure gives its path from a root.
    /// </summary>
    /// <remarks>
    /// The factory runs in a frame of its own that has returned before the GC, so a Debug build's JIT, which keeps a
    /// method's locals alive to its end, cannot keep the object alive: create it inside the factory, not before.
    /// </remarks>
    /// <exception cref="LeakDetectedException">The object survived; the message gives what holds it.</exception>
    public static void Collected(Func<object?> factory, LeakOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(factory);
        Collected(() => [factory()], options);
    }

    /// <summary>Fails unless every object <paramref name="factory"/> creates is collected once the factory returns.</summary>
    /// <exception cref="LeakDetectedException">Some survived; the message gives what holds each of them.</exception>
    public static void Collected(Func<IEnumerable<object?>> factory, LeakOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(factory);
        options ??= LeakOptions.Default;
        options.Validate();
        if (InstanceAssertion.Survivors(factory, options) is { } survivors)
            throw Attached(new LeakDetectedException(survivors));
    }

    /// <summary>Fails if any instance of <typeparamref name="T"/> is alive after a settled full GC, showing what holds them.</summary>
    /// <exception cref="LeakDetectedException">Instances are alive; the message gives their paths from the roots.</exception>
    public static void NoInstances<T>(LeakOptions? options = null) => AtMostInstances<T>(0, options);

    /// <summary>
    /// Fails if more than <paramref name="max"/> instances of exactly <typeparamref name="T"/> are alive after a settled
    /// full GC, showing what holds them.
    /// </summary>
    /// <exception cref="LeakDetectedException">Too many instances are alive; the message gives their paths from the roots.</exception>
    public static void AtMostInstances<T>(int max, LeakOptions? options = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(max);
        options ??= LeakOptions.Default;
        options.Validate();
        if (InstanceAssertion.MoreThan(TypeNames.ClrName(typeof(T)), max, options) is { } alive)
            throw Attached(new LeakDetectedException(alive));
    }

    /// <summary>
    /// Under NUnit or MSTest, the full reports become files attached to the test and the message is the summary;
    /// under any other runner the message stays the whole report.
    /// </summary>
    private static LeakDetectedException Attached(LeakDetectedException failure) =>
        TestAttachments.Attach(failure.FullReport, failure.Report?.ToJson() ?? failure.Paths?.ToJson(), failure.Report?.ToHtml() ?? failure.Paths?.ToHtml()) is { } where
            ? failure.Summarized(where)
            : failure;
}

/// <summary>
/// A leak assertion failed. <see cref="Exception.Message"/> is the readable report: what grew or survived, and the
/// paths that keep it alive.
/// </summary>
public sealed class LeakDetectedException : Exception
{
    /// <summary>Creates the exception for a leak check that found leaks.</summary>
    public LeakDetectedException(LeakReport report)
        : base(report.ToString())
    {
        Report = report;
        Leaks = report.Leaks;
    }

    /// <summary>Creates the exception for an object or instance assertion that failed.</summary>
    public LeakDetectedException(PathsReport paths)
        : base(paths.ToString())
    {
        Paths = paths;
        Leaks = paths.Leaks;
    }

    private LeakDetectedException(LeakDetectedException full, string fullReportAt)
        : base($"{full.Report?.ToSummary() ?? full.Paths?.ToSummary()}{Environment.NewLine}  The full report: {fullReportAt}")
    {
        Report = full.Report;
        Paths = full.Paths;
        Leaks = full.Leaks;
    }

    /// <summary>
    /// The same failure, whose message is the summary (what leaked, what holds it, the fix) and says where the full
    /// report is: for a test adapter that has written the full report to the test's output or attached it, so that a
    /// failure does not print it twice.
    /// </summary>
    /// <param name="fullReportAt">Where the full report is, as the message should say: <c>in the test's output above</c>.</param>
    public LeakDetectedException Summarized(string fullReportAt)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(fullReportAt);
        return new LeakDetectedException(this, fullReportAt);
    }

    /// <summary>The full readable report of this failure, whatever the message holds.</summary>
    public string FullReport => Report?.ToString() ?? Paths?.ToString() ?? Message;

    /// <summary>The report of the failed leak check; null when an object or count assertion failed.</summary>
    public LeakReport? Report { get; }

    /// <summary>What holds the survivors of a failed object or instance assertion; null when a leak check failed.</summary>
    public PathsReport? Paths { get; }

    /// <summary>What keeps the leaked or surviving objects alive.</summary>
    public IReadOnlyList<LeakSignature> Leaks { get; }
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

    /// <summary>
    /// Leaves a growing resource out of the verdict: <paramref name="name"/> is one of <see cref="LeakResourceNames"/>
    /// (<c>threads</c>, <c>gcHandles</c>, <c>finalizationQueue</c>, <c>fileDescriptors</c>, <c>nativeMemory</c>,
    /// <c>assemblies</c>), or a pattern that matches one; a check refuses a name that matches none. The report still
    /// shows it, with the reason.
    /// </summary>
    public static LeakIgnore Resource(string name, string reason) => new(name, reason, LeakIgnoreKind.Resource);
}

/// <summary>What a <see cref="LeakIgnore"/> pattern is matched against.</summary>
public enum LeakIgnoreKind
{
    /// <summary>The full name of a growing type.</summary>
    Type,

    /// <summary>A leak's root name, or a field on its path.</summary>
    Path,

    /// <summary>A resource's name: <c>threads</c>, <c>gcHandles</c>, <c>fileDescriptors</c>, <c>nativeMemory</c>...</summary>
    Resource,
}
