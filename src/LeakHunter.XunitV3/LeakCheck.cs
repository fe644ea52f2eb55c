using Xunit;

namespace LeakHunter.Xunit;

/// <summary>
/// The leak assertions of <see cref="LeakAssert"/> for xunit v3, working from <see cref="TestContext.Current"/>: each
/// check attaches its full text and JSON reports to the test, and writes its summary to the test's output. A
/// failure's message is the summary (what leaked, what holds it, the fix) and names the attachments.
/// </summary>
/// <example>
/// <code>
/// [Collection(LeakTests.Collection)]
/// public sealed class OrderServiceLeakTests
/// {
///     [Fact]
///     public void Handle_DoesNotLeak() => LeakCheck.NoLeaks(() => new OrderService().Handle(new Order()));
/// }
/// </code>
/// </example>
public static class LeakCheck
{
    /// <summary>The name the attachments start with: <c>leakhunter-report.txt</c>, <c>leakhunter-report.json</c>.</summary>
    public const string AttachmentName = "leakhunter-report";

    /// <summary>Runs a leak check, attaches its reports to the test, and fails the test if anything grows.</summary>
    /// <exception cref="LeakDetectedException">Something leaked; the message is the summary, the attachments hold the reports.</exception>
    public static LeakReport NoLeaks(Action fragment, LeakOptions? options = null) =>
        Reported(() => LeakAssert.NoLeaks(fragment, options))!;

    /// <summary>Runs a leak check on asynchronous code, attaches its reports to the test, and fails the test if anything grows.</summary>
    /// <exception cref="LeakDetectedException">Something leaked; the message is the summary, the attachments hold the reports.</exception>
    public static async Task<LeakReport> NoLeaksAsync(Func<Task> fragment, LeakOptions? options = null, CancellationToken cancellationToken = default)
    {
        try
        {
            LeakReport report = await LeakAssert.NoLeaksAsync(fragment, options, cancellationToken).ConfigureAwait(false);
            return Passed(report);
        }
        catch (LeakDetectedException failure)
        {
            throw Attached(failure);
        }
    }

    /// <summary>Fails the test unless what <paramref name="factory"/> creates is collected; see <see cref="LeakAssert.Collected(Func{object}, LeakOptions)"/>.</summary>
    public static void Collected(Func<object?> factory, LeakOptions? options = null) =>
        Reported(() =>
        {
            LeakAssert.Collected(factory, options);
            return null;
        });

    /// <summary>Fails the test if any instance of <typeparamref name="T"/> is alive, attaching their paths.</summary>
    public static void NoInstances<T>(LeakOptions? options = null) => AtMostInstances<T>(0, options);

    /// <summary>Fails the test if more than <paramref name="max"/> instances of <typeparamref name="T"/> are alive.</summary>
    public static void AtMostInstances<T>(int max, LeakOptions? options = null) =>
        Reported(() =>
        {
            LeakAssert.AtMostInstances<T>(max, options);
            return null;
        });

    private static LeakReport? Reported(Func<LeakReport?> assertion)
    {
        try
        {
            LeakReport? report = assertion();
            return report is null ? null : Passed(report);
        }
        catch (LeakDetectedException failure)
        {
            throw Attached(failure);
        }
    }

    private static LeakReport Passed(LeakReport report)
    {
        string names = Attach(report.ToString(), report.ToJson(), report.ToHtml());
        TestContext.Current.TestOutputHelper?.WriteLine($"{report.ToSummary()}{Environment.NewLine}  The full report: attached to the test as {names}");
        return report;
    }

    /// <summary>The reports go to the attachments, once; the failure that is thrown carries the summary and names them.</summary>
    private static LeakDetectedException Attached(LeakDetectedException failure)
    {
        string names = Attach(failure.FullReport, failure.Report?.ToJson() ?? failure.Paths?.ToJson(), failure.Report?.ToHtml() ?? failure.Paths?.ToHtml());
        return failure.Summarized($"attached to the test as {names}");
    }

    /// <summary>Attaches the reports under names no earlier check of the same test took, and says what they are.</summary>
    private static string Attach(string text, string? json, string? html)
    {
        ITestContext context = TestContext.Current;
        if (context.Attachments is null)
            throw new InvalidOperationException("LeakCheck runs inside an xunit v3 test: TestContext.Current has no test to attach its reports to.");
        string name = AttachmentName;
        for (int check = 2; context.Attachments.ContainsKey(name + ".txt"); check++)
            name = $"{AttachmentName}-{check}";
        var names = new List<string>();
        foreach ((string extension, string? content) in new[] { ("txt", text), ("json", json), ("html", html) })
        {
            if (content is null)
                continue;
            context.AddAttachment($"{name}.{extension}", content);
            names.Add($"{name}.{extension}");
        }
        return names.Count == 1 ? names[0] : $"{string.Join(", ", names.Take(names.Count - 1))} and {names[^1]}";
    }
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
