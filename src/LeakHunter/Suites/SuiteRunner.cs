using System.Diagnostics;
using System.Reflection;
using LeakHunter.Running;
using LeakHunter.Suites.Discovery;

namespace LeakHunter.Suites;

/// <summary>
/// The suite's loop: each test's first run tells whether it passes and how long it takes; a passing test that is fast
/// enough then runs in a leak check of its own, with its class's fixtures and one-time set-up made before, so only
/// what one run of the test leaves behind is counted.
/// </summary>
internal static class SuiteRunner
{
    public static DiscoveredSuite Choose(string assemblyPath, string? filter)
    {
        DiscoveredSuite suite = TestDiscovery.Discover(assemblyPath);
        TestFilter? chosen = TestFilter.Parse(filter);
        return chosen is null ? suite : suite with { Tests = suite.Tests.Where(chosen.Matches).ToList() };
    }

    public static async Task<SuiteReport> RunAsync(string assemblyPath, SuiteOptions options, IProgress<SuiteProgress>? progress, CancellationToken cancellationToken)
    {
        options.Check.Validate();
        if (options.MaxTestDuration <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(options), options.MaxTestDuration, "SuiteOptions.MaxTestDuration must be positive: it is the longest one run of a test may take.");
        SuiteBaseline baseline = SuiteBaseline.Load(options.BaselinePath);
        DiscoveredSuite suite = Choose(assemblyPath, options.Filter);
        var clock = Stopwatch.StartNew();
        var results = new List<SuiteTestResult>();
        foreach (IGrouping<TestClass, SuiteTest> testClass in suite.Tests.GroupBy(t => t.Class))
        {
            string? setUpFailure = null;
            try
            {
                foreach (SuiteTest test in testClass)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    TimeSpan? remaining = results.Count == 0 ? null : clock.Elapsed / results.Count * (suite.Tests.Count - results.Count);
                    progress?.Report(new SuiteProgress(results.Count, suite.Tests.Count, test.Name, remaining));
                    if (test.SkipReason is null && setUpFailure is null)
                        setUpFailure = await SetUpAsync(testClass.Key).ConfigureAwait(false);
                    SuiteTestResult result = setUpFailure is not null && test.SkipReason is null
                        ? new SuiteTestResult { Name = test.Name, Outcome = SuiteTestOutcome.Failed, Message = setUpFailure }
                        : await RunAsync(test, options, cancellationToken).ConfigureAwait(false);
                    results.Add(result.Outcome == SuiteTestOutcome.Leaks && baseline.ReasonFor(test.Name) is { } reason ? Known(result, reason) : result);
                }
            }
            finally
            {
                await TearDownAsync(testClass.Key).ConfigureAwait(false);
            }
        }
        return new SuiteReport
        {
            AssemblyPath = suite.AssemblyPath,
            Framework = suite.Framework,
            Tests = results,
            Duration = clock.Elapsed,
            BaselinePath = options.BaselinePath,
        };
    }

    private static SuiteTestResult Known(SuiteTestResult result, string reason) => new()
    {
        Name = result.Name,
        Outcome = result.Outcome,
        Duration = result.Duration,
        Message = result.Message,
        Report = result.Report,
        KnownLeakReason = reason,
    };

    private static async Task<SuiteTestResult> RunAsync(SuiteTest test, SuiteOptions options, CancellationToken cancellationToken)
    {
        if (test.SkipReason is not null)
            return new SuiteTestResult { Name = test.Name, Outcome = SuiteTestOutcome.Skipped, Message = test.SkipReason };
        var clock = Stopwatch.StartNew();
        long checksBefore = CheckGate.Started;
        if (await FirstRunAsync(test).ConfigureAwait(false) is { } firstRun)
            return new SuiteTestResult { Name = test.Name, Outcome = firstRun.Outcome, Message = firstRun.Message, Duration = clock.Elapsed };
        TimeSpan oneRun = clock.Elapsed;
        if (CheckGate.Started != checksBefore)
            return OwnCheck(test, clock.Elapsed);
        if (oneRun > options.MaxTestDuration)
        {
            return new SuiteTestResult
            {
                Name = test.Name,
                Outcome = SuiteTestOutcome.TooSlow,
                Duration = clock.Elapsed,
                Message = $"One run took {oneRun.TotalSeconds:0.0#} s, over the budget of {options.MaxTestDuration.TotalSeconds:0.0#} s for one run (--max-test-time, SuiteOptions.MaxTestDuration): " +
                    $"a check runs a test about {options.Check.WarmupIterations + options.Check.Censuses * options.Check.IterationsPerCensus} times. Raise the budget to check it, or check a smaller part of it with LeakAssert.",
            };
        }
        try
        {
            LeakReport report = await Check.RunAsync(new Fragment.Asynchronous(test.RunOnceAsync).RunningFor(test.Method), options.Check, cancellationToken).ConfigureAwait(false);
            return new SuiteTestResult { Name = test.Name, Outcome = report.HasLeaks ? SuiteTestOutcome.Leaks : SuiteTestOutcome.Clean, Report = report, Duration = clock.Elapsed };
        }
        catch (LeakHunterException e) when (e.Failure == LeakHunterFailure.NestedCheck)
        {
            // A test that starts a check only on some runs.
            return OwnCheck(test, clock.Elapsed);
        }
        catch (LeakHunterException e) when (e.Failure is LeakHunterFailure.CensusTimedOut or LeakHunterFailure.InspectorExited)
        {
            // This test's runs made the heap too big to read in the time a census may take (a type made per run, by the
            // thousand): the loop goes on with the next test, as for any test too slow to check.
            return new SuiteTestResult
            {
                Name = test.Name,
                Outcome = SuiteTestOutcome.TooSlow,
                Duration = clock.Elapsed,
                Message = $"Its check could not read the heap in time: {e.Message} Check it alone with a longer census time (--timeout, LeakOptions.CensusTimeout).",
            };
        }
        catch (Exception e) when (e is not LeakHunterException && !(e is OperationCanceledException && cancellationToken.IsCancellationRequested))
        {
            if (SkipReason(e) is { } skipped)
                return new SuiteTestResult { Name = test.Name, Outcome = SuiteTestOutcome.Skipped, Message = skipped, Duration = clock.Elapsed };
            return new SuiteTestResult
            {
                Name = test.Name,
                Outcome = SuiteTestOutcome.NotRepeatable,
                Duration = clock.Elapsed,
                Message = $"It passed once, then failed on a later run, so it depends on what ran before it (order or state it changes) and no leak verdict is given: {Describe(e)}",
            };
        }
    }

    // Its first run started a check: it is a leak test already, whose verdict is its own pass or fail.
    private static SuiteTestResult OwnCheck(SuiteTest test, TimeSpan duration) => new()
    {
        Name = test.Name,
        Outcome = SuiteTestOutcome.Skipped,
        Duration = duration,
        Message = "It is a leak check of its own (it runs LeakDetector or LeakAssert): its own pass or fail is its verdict, and a check cannot run inside another.",
    };

    // The first run, outside any check: null when it passed.
    private static async Task<(SuiteTestOutcome Outcome, string Message)?> FirstRunAsync(SuiteTest test)
    {
        try
        {
            await test.RunOnceAsync().ConfigureAwait(false);
            return null;
        }
        catch (Exception e)
        {
            return SkipReason(e) is { } skipped ? (SuiteTestOutcome.Skipped, skipped) : (SuiteTestOutcome.Failed, Describe(e));
        }
    }

    private static async Task<string?> SetUpAsync(TestClass testClass)
    {
        try
        {
            await testClass.EnsureSetUpAsync().ConfigureAwait(false);
            return null;
        }
        catch (Exception e) when (e is not LeakHunterException)
        {
            return $"The class's fixtures or one-time set-up failed: {Describe(Unwrap(e))}";
        }
    }

    private static async Task TearDownAsync(TestClass testClass)
    {
        try
        {
            await testClass.TearDownAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is not LeakHunterException)
        {
            // A tear-down that fails after every test ran changes no verdict: the outcomes stand.
            Trace.TraceWarning($"{testClass.Type.FullName}'s one-time tear-down failed: {Describe(Unwrap(e))}");
        }
    }

    private static Exception Unwrap(Exception e) => e is TargetInvocationException { InnerException: { } inner } ? inner : e;

    // A test that skips itself at run time: xunit v3's Assert.Skip, NUnit's Assert.Ignore, an inconclusive MSTest or NUnit test.
    private static string? SkipReason(Exception e) => e.GetType().FullName switch
    {
        "Xunit.Sdk.SkipException" or "NUnit.Framework.IgnoreException" or "NUnit.Framework.InconclusiveException"
            or "Microsoft.VisualStudio.TestTools.UnitTesting.AssertInconclusiveException" => e.Message,
        _ when e.Message.StartsWith("$XunitDynamicSkip$", StringComparison.Ordinal) => e.Message["$XunitDynamicSkip$".Length..],
        _ => null,
    };

    private static string Describe(Exception e)
    {
        string message = e.Message.Trim();
        return e.GetType().FullName?.StartsWith("System.", StringComparison.Ordinal) == true ? $"{e.GetType().Name}: {message}" : message;
    }
}
