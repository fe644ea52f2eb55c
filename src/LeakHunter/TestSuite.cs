using LeakHunter.Suites;

namespace LeakHunter;

/// <summary>
/// Every test a leak test: runs each test of a built xunit v3, xunit v2, NUnit or MSTest assembly in a loop, one at a
/// time in this process, with no change to the tests, and names the tests whose runs leave objects or resources behind.
/// </summary>
/// <example>
/// <code>
/// SuiteReport report = TestSuite.Run("tests/Shop.Tests/bin/Debug/net10.0/Shop.Tests.dll");
/// foreach (SuiteLeakCause cause in report.Causes)
///     Console.WriteLine($"{cause.Cause.Root.Name}: {string.Join(", ", cause.Tests)}");
/// </code>
/// </example>
public static class TestSuite
{
    /// <summary>Runs every test of <paramref name="assemblyPath"/> that the filter chooses in a leak check of its own.</summary>
    /// <param name="assemblyPath">The built test assembly; its dependencies are loaded from its folder, by its deps file.</param>
    /// <param name="options">The filter, the checks' options, the time budget of one run and the baseline; the defaults need no tuning.</param>
    /// <param name="progress">Told before each test: tests done of the total, the current test, and the time left.</param>
    /// <param name="cancellationToken">Stops the loop between runs.</param>
    /// <returns>Each test's outcome; <see cref="SuiteReport.HasNewLeaks"/> gives the verdict.</returns>
    /// <exception cref="LeakHunterException">
    /// The assembly is missing, is not a test assembly of a framework LeakHunter drives, the baseline cannot be read, or
    /// the heap could not be read; the message says what to do.
    /// </exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static SuiteReport Run(string assemblyPath, SuiteOptions? options = null, IProgress<SuiteProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(assemblyPath);
        // The loop awaits async tests; run off any synchronization context the caller has, so none can deadlock it.
        return Task.Run(() => SuiteRunner.RunAsync(assemblyPath, options ?? new SuiteOptions(), progress, cancellationToken), cancellationToken).GetAwaiter().GetResult();
    }

    /// <summary>The names of the tests of <paramref name="assemblyPath"/> that <paramref name="filter"/> chooses, in the order they would run.</summary>
    /// <exception cref="LeakHunterException">The assembly is missing or is not a test assembly of a framework LeakHunter drives, or the filter is malformed.</exception>
    public static IReadOnlyList<string> ListTests(string assemblyPath, string? filter = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(assemblyPath);
        return SuiteRunner.Choose(assemblyPath, filter).Tests.Select(t => t.Name).ToList();
    }
}

/// <summary>How <see cref="TestSuite.Run"/> runs a suite.</summary>
public sealed class SuiteOptions
{
    /// <summary>
    /// Which tests run: a VSTest filter expression (<c>FullyQualifiedName~Cart</c>, <c>ClassName=Shop.Tests.CartTests</c>,
    /// <c>Name!=Slow</c>, terms joined by <c>&amp;</c> or <c>|</c>), or a name pattern where <c>*</c> is any run of characters
    /// (a pattern without <c>*</c> matches names that contain it). Null runs every test.
    /// </summary>
    public string? Filter { get; init; }

    /// <summary>The options of each test's check: warm-up, censuses, iterations per census, resources, ignore rules.</summary>
    public LeakOptions Check { get; init; } = new();

    /// <summary>
    /// The longest one run of a test may take, measured on its first run. A check runs a test about 60 times, and
    /// more to confirm growth, so a test over this is reported <see cref="SuiteTestOutcome.TooSlow"/> and not checked.
    /// </summary>
    public TimeSpan MaxTestDuration { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// A JSON file of known leaking tests, <c>{"knownLeakingTests": [{"name": "Shop.Tests.CartTests.*", "reason": "..."}]}</c>
    /// (<c>*</c> is any run of characters): their leaks are shown as known and do not count as new. A file that does
    /// not exist yet is an empty baseline.
    /// </summary>
    public string? BaselinePath { get; init; }
}

/// <summary>Where a suite's loop is: tests done of the total, the test about to run, and the time left at the pace so far (null before the first test ends).</summary>
/// <param name="Done">Tests finished.</param>
/// <param name="Total">Tests the filter chose.</param>
/// <param name="Current">The test about to run.</param>
/// <param name="Remaining">The time left, from the average time per test so far.</param>
public readonly record struct SuiteProgress(int Done, int Total, string Current, TimeSpan? Remaining);
