using Xunit;
using Xunit.Abstractions;

namespace LeakHunter.Xunit;

/// <summary>
/// The leak assertions of <see cref="LeakAssert"/>, with every report written to the test's output, pass or fail. A
/// failure's message is the summary (what leaked, what holds it, the fix); the full report is in the output, once.
/// </summary>
/// <example>
/// <code>
/// [Collection(LeakTests.Collection)]
/// public sealed class OrderServiceLeakTests(ITestOutputHelper output)
/// {
///     private readonly LeakCheck _leaks = new(output);
///
///     [Fact]
///     public void Handle_DoesNotLeak() => _leaks.NoLeaks(() => new OrderService().Handle(new Order()));
/// }
/// </code>
/// </example>
public sealed class LeakCheck(ITestOutputHelper output)
{
    /// <summary>Runs a leak check, writes its report to the test's output, and fails the test if anything grows.</summary>
    /// <exception cref="LeakDetectedException">Something leaked; the message is the summary, the output holds the report.</exception>
    public LeakReport NoLeaks(Action fragment, LeakOptions? options = null) =>
        Written(() => LeakAssert.NoLeaks(fragment, options))!;

    /// <summary>Runs a leak check on asynchronous code, writes its report to the test's output, and fails the test if anything grows.</summary>
    /// <exception cref="LeakDetectedException">Something leaked; the message is the summary, the output holds the report.</exception>
    public async Task<LeakReport> NoLeaksAsync(Func<Task> fragment, LeakOptions? options = null, CancellationToken cancellationToken = default)
    {
        try
        {
            LeakReport report = await LeakAssert.NoLeaksAsync(fragment, options, cancellationToken).ConfigureAwait(false);
            output.WriteLine(report.ToString());
            return report;
        }
        catch (LeakDetectedException failure)
        {
            throw Written(failure);
        }
    }

    /// <summary>Fails the test unless what <paramref name="factory"/> creates is collected; see <see cref="LeakAssert.Collected(Func{object}, LeakOptions)"/>.</summary>
    public void Collected(Func<object?> factory, LeakOptions? options = null) =>
        Written(() =>
        {
            LeakAssert.Collected(factory, options);
            return (LeakReport?)null;
        });

    /// <summary>Fails the test if any instance of <typeparamref name="T"/> is alive, writing their paths to the output.</summary>
    public void NoInstances<T>(LeakOptions? options = null) => AtMostInstances<T>(0, options);

    /// <summary>Fails the test if more than <paramref name="max"/> instances of <typeparamref name="T"/> are alive.</summary>
    public void AtMostInstances<T>(int max, LeakOptions? options = null) =>
        Written(() =>
        {
            LeakAssert.AtMostInstances<T>(max, options);
            return (LeakReport?)null;
        });

    private LeakReport? Written(Func<LeakReport?> assertion)
    {
        try
        {
            LeakReport? report = assertion();
            if (report is not null)
                output.WriteLine(report.ToString());
            return report;
        }
        catch (LeakDetectedException failure)
        {
            throw Written(failure);
        }
    }

    /// <summary>The full report goes to the output; the failure that is thrown carries the summary.</summary>
    private LeakDetectedException Written(LeakDetectedException failure)
    {
        output.WriteLine(failure.FullReport);
        return failure.Summarized(FullReportAt);
    }

    private const string FullReportAt = "in the test's output";
}

/// <summary>
/// The name of the collection leak tests should run in. A leak check counts every object in the process, so tests
/// running alongside it pollute its counts. xunit reads collection definitions from the test assembly only, so add
/// this once to your test project:
/// <code>
/// [CollectionDefinition(LeakTests.Collection, DisableParallelization = true)]
/// public sealed class LeakTestsCollection;
/// </code>
/// and mark each class of leak tests with <c>[Collection(LeakTests.Collection)]</c>.
/// </summary>
public static class LeakTests
{
    /// <summary>The collection name for leak tests, which must not run in parallel with other tests.</summary>
    public const string Collection = "LeakHunter leak tests";
}
