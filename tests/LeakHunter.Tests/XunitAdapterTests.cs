using LeakHunter.Tests.Targets;
using LeakHunter.Xunit;
using Xunit;
using Xunit.Abstractions;

namespace LeakHunter.Tests;

[CollectionDefinition(LeakTests.Collection, DisableParallelization = true)]
public sealed class LeakTestsCollection;

/// <summary>The xunit adapter: every report reaches the test's output, and a leak fails the test with the report.</summary>
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
    public void Leak_FailsTheTest_AndTheOutputHasTheWholeReport()
    {
        var output = new RecordingOutput();

        var failure = Assert.Throws<LeakDetectedException>(() => new LeakCheck(output).NoLeaks(AuditTrail.Record));

        Assert.Equal(failure.Message, Assert.Single(output.Lines));
        Assert.Contains("What keeps them alive", output.Lines[0]);
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
