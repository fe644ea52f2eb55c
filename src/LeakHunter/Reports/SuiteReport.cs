namespace LeakHunter;

/// <summary>How one test of a suite ended under <see cref="TestSuite.Run"/>.</summary>
public enum SuiteTestOutcome
{
    /// <summary>It ran again and again, and nothing it made stayed behind.</summary>
    Clean,

    /// <summary>What it made kept growing from run to run: <see cref="SuiteTestResult.Report"/> says what and why.</summary>
    Leaks,

    /// <summary>The test itself failed on its first run; its message is kept, and no leak verdict is given.</summary>
    Failed,

    /// <summary>It passed once and failed on a later run: it depends on order or state, and is not called a leak.</summary>
    NotRepeatable,

    /// <summary>Its framework would not run it (a skip or ignore attribute), or it is a leak check of its own.</summary>
    Skipped,

    /// <summary>
    /// One run took longer than <see cref="SuiteOptions.MaxTestDuration"/>, so a check of it would take too long; or
    /// its runs made the heap too big for a census to read within <see cref="LeakOptions.CensusTimeout"/>.
    /// </summary>
    TooSlow,
}

/// <summary>One test's outcome in a suite's leak loop.</summary>
public sealed class SuiteTestResult
{
    /// <summary>The test: namespace, class and method, and a parameterised test's row, such as <c>Shop.Tests.CartTests.Add(sku: "a")</c>.</summary>
    public required string Name { get; init; }

    /// <summary>How it ended.</summary>
    public required SuiteTestOutcome Outcome { get; init; }

    /// <summary>The time spent on it: its first run and its check.</summary>
    public TimeSpan Duration { get; init; }

    /// <summary>Why it failed, was skipped or was too slow, or what a later run threw; null for a clean or leaking test.</summary>
    public string? Message { get; init; }

    /// <summary>The check's full report: every counted test has one; a test that leaks has its causes, growing types and fixes in it.</summary>
    public LeakReport? Report { get; init; }

    /// <summary>For a leaking test the baseline lists: the reason given there. It does not count as a new leak.</summary>
    public string? KnownLeakReason { get; init; }
}

/// <summary>One cause of leaks in a suite, and the tests that leak through it: ten tests leaking into one static list are one cause with ten tests.</summary>
/// <param name="Cause">The cause, as the first of its tests told it.</param>
/// <param name="Tests">The names of the tests that leak through it.</param>
public sealed record SuiteLeakCause(LeakCause Cause, IReadOnlyList<string> Tests);

/// <summary>
/// Every test of a suite run in a loop: which leak, grouped by cause, and how every other test ended. Render it
/// with <see cref="ReportExporters"/>, or read <see cref="Tests"/>.
/// </summary>
public sealed class SuiteReport
{
    /// <summary>The test assembly that was run.</summary>
    public required string AssemblyPath { get; init; }

    /// <summary>The test framework, as LeakHunter told it: <c>xunit v3</c>, <c>xunit v2</c>, <c>NUnit</c> or <c>MSTest</c>.</summary>
    public required string Framework { get; init; }

    /// <summary>Every test the filter chose, in the order they ran.</summary>
    public required IReadOnlyList<SuiteTestResult> Tests { get; init; }

    /// <summary>The whole loop's time.</summary>
    public TimeSpan Duration { get; init; }

    /// <summary>The file of known leaking tests that was applied, or null.</summary>
    public string? BaselinePath { get; init; }

    /// <summary>Whether a test leaks that the baseline does not list: the verdict, and the command-line tool's exit code 1.</summary>
    public bool HasNewLeaks => Tests.Any(t => t.Outcome == SuiteTestOutcome.Leaks && t.KnownLeakReason is null);

    /// <summary>The tests that ended as <paramref name="outcome"/>.</summary>
    public int Count(SuiteTestOutcome outcome) => Tests.Count(t => t.Outcome == outcome);

    /// <summary>
    /// The causes of the leaking tests, most tests first: tests whose causes share an id (the same root and path) are
    /// grouped under one cause.
    /// </summary>
    public IReadOnlyList<SuiteLeakCause> Causes =>
        Tests.Where(t => t.Outcome == SuiteTestOutcome.Leaks && t.Report is not null)
            .SelectMany(t => t.Report!.Causes.Select(c => (Test: t.Name, Cause: c)))
            .GroupBy(x => x.Cause.Id, StringComparer.Ordinal)
            .Select(g => new SuiteLeakCause(g.First().Cause, g.Select(x => x.Test).Distinct(StringComparer.Ordinal).ToList()))
            .OrderByDescending(c => c.Tests.Count).ThenBy(c => c.Tests[0], StringComparer.Ordinal)
            .ToList();

    /// <summary>The readable text form.</summary>
    public override string ToString() => ReportExporters.Text.Export(this);

    /// <summary>The stable JSON form (<c>schemaVersion</c> 1, <c>kind</c> <c>suite</c>).</summary>
    public string ToJson() => ReportExporters.Json.Export(this);
}

/// <summary>The words each format uses for an outcome.</summary>
internal static class SuiteOutcomeNames
{
    /// <summary>The outcome in the JSON report: <c>clean</c>, <c>leaks</c>, <c>failed</c>, <c>notRepeatable</c>, <c>skipped</c>, <c>tooSlow</c>.</summary>
    public static string Json(this SuiteTestOutcome outcome) => System.Text.Json.JsonNamingPolicy.CamelCase.ConvertName(outcome.ToString());

    /// <summary>The outcome in words: <c>not repeatable</c>, <c>too slow</c>.</summary>
    public static string Words(this SuiteTestOutcome outcome) => outcome switch
    {
        SuiteTestOutcome.NotRepeatable => "not repeatable",
        SuiteTestOutcome.TooSlow => "too slow",
        _ => outcome.ToString().ToLowerInvariant(),
    };

    /// <summary>The verdict's line: how many tests leak, through how many causes, and how the rest ended.</summary>
    public static string Verdict(SuiteReport report)
    {
        int leaking = report.Count(SuiteTestOutcome.Leaks), known = report.Tests.Count(t => t.KnownLeakReason is not null);
        int causes = report.Causes.Count;
        string head = leaking == 0 ? $"No test leaks ({report.Tests.Count} tests)"
            : report.HasNewLeaks ? $"Leaks: {leaking} of {report.Tests.Count} tests leak{(causes > 0 ? $", through {causes} cause{(causes == 1 ? "" : "s")}" : "")}{(known > 0 ? $" ({known} of them known from the baseline)" : "")}"
            : $"No new leak: {known} known leaking test{(known == 1 ? "" : "s")} from the baseline ({report.Tests.Count} tests)";
        string rest = string.Join(", ", Enum.GetValues<SuiteTestOutcome>().Where(o => o != SuiteTestOutcome.Leaks && report.Count(o) > 0).Select(o => $"{report.Count(o)} {o.Words()}"));
        return rest.Length == 0 ? head : $"{head}; {rest}";
    }
}
