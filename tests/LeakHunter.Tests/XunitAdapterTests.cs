using LeakHunter.Tests.Targets;
using LeakHunter.Xunit;
using Xunit;
using Xunit.Abstractions;

namespace LeakHunter.Tests;

[CollectionDefinition(LeakTests.Collection, DisableParallelization = true)]
public sealed class LeakTestsCollection;

/// <summary>The xunit v2 adapter: every report reaches the test's output once, and a leak fails the test with the summary.</summary>
[Collection(LeakTests.Collection)]
public sealed class XunitAdapterTests
{
    [Fact]
    public void NoLeaks_WritesTheReportToTheTestOutput()
    {
        var output = new RecordingOutput();

        LeakReport report = new LeakCheck(output).NoLeaks(() => TransientGarbage.Handle());

        Assert.False(report.HasLeaks);
        Assert.Equal(report.ToString(), Assert.Single(output.Lines));
    }

    [Fact]
    public void Leak_FailsTheTestWithTheSummary_AndTheOutputHasTheWholeReportOnce()
    {
        var output = new RecordingOutput();

        var failure = Assert.Throws<LeakDetectedException>(() => new LeakCheck(output).NoLeaks(AuditTrail.Record));

        string report = Assert.Single(output.Lines);
        Assert.Equal(failure.Report!.ToString(), report);
        Assert.Contains("Per type (how each new instance hangs", report);
        // The message says what leaked, what holds it and the fix, in a few lines, and where the rest is.
        Assert.StartsWith("LeakHunter: LEAK - 1 cause", failure.Message);
        Assert.Contains("static field LeakHunter.Tests.Targets.AuditTrail", failure.Message);
        Assert.Contains("Fix:", failure.Message);
        Assert.EndsWith("The full report: in the test's output", failure.Message);
        Assert.DoesNotContain("Per type", failure.Message);
        Assert.InRange(failure.Message.Split('\n').Length, 5, 25);
    }

    [Fact]
    public void WithoutAnAdapter_TheMessageIsTheWholeReport()
    {
        var failure = Assert.Throws<LeakDetectedException>(() => LeakAssert.NoLeaks(AuditTrail.Record));

        Assert.Equal(failure.Report!.ToString(), failure.Message);
        Assert.Equal(failure.Message, failure.FullReport);
    }

    [Fact]
    public void CollectedFailure_IsWrittenToo()
    {
        var output = new RecordingOutput();

        Assert.Throws<LeakDetectedException>(() => new LeakCheck(output).Collected(SessionRegistry.Open));

        Assert.Contains("watched object(s) survived", Assert.Single(output.Lines));
        SessionRegistry.CloseAll();
    }

    /// <summary>Keeps what a test writes, as xunit's own output helper would show it.</summary>
    private sealed class RecordingOutput : ITestOutputHelper
    {
        public List<string> Lines { get; } = new();

        public void WriteLine(string message) => Lines.Add(message);

        public void WriteLine(string format, params object[] args) => Lines.Add(string.Format(System.Globalization.CultureInfo.InvariantCulture, format, args));
    }
}
