using LeakHunter.Tests.Targets;
using Xunit;

namespace LeakHunter.Tests;

/// <summary>The assertions a test author writes: the failure message is the report.</summary>
public sealed class LeakAssertTests
{
    private const string Targets = "LeakHunter.Tests.Targets.";

    [Fact]
    public void NoLeaks_PassesOnCleanCode_AndReturnsTheReport()
    {
        LeakReport report = LeakAssert.NoLeaks(() => TransientGarbage.Handle());

        Assert.False(report.HasLeaks);
    }

    [Fact]
    public void NoLeaks_FailsOnALeak_WithTheWholeReportAsTheMessage()
    {
        var failure = Assert.Throws<LeakDetectedException>(() => LeakAssert.NoLeaks(AuditTrail.Record));

        Assert.True(failure.Report.HasLeaks);
        Assert.Equal(failure.Report.ToString(), failure.Message);
        Assert.Contains(Targets + "AuditTrail+Entry", failure.Message);
        Assert.Contains("What keeps them alive", failure.Message);
        Assert.Contains("static field " + Targets + "AuditTrail.s_entries", failure.Message);
        Assert.Contains("Fix: ", failure.Message);
    }

    [Fact]
    public async Task NoLeaksAsync_FailsOnALeak()
    {
        var failure = await Assert.ThrowsAsync<LeakDetectedException>(() => LeakAssert.NoLeaksAsync(AuditTrail.RecordAsync));

        Assert.Contains(failure.Report.GrowingTypes, t => t.Type == Targets + "AuditTrail+Entry");
    }

    [Fact]
    public void IgnoreByTypePattern_LeavesTheKnownLeakOutOfTheVerdict_AndTheReportSaysWhy()
    {
        var options = new LeakOptions { Ignore = [LeakIgnore.Type(Targets + "VendorTelemetry+*", "vendor SDK keeps samples until flushed; filed upstream")] };

        LeakReport report = LeakAssert.NoLeaks(VendorTelemetry.Track, options);

        IgnoredLeak ignored = Assert.Single(report.Ignored, i => i.Type == Targets + "VendorTelemetry+Sample");
        Assert.Equal("vendor SDK keeps samples until flushed; filed upstream", ignored.Reason);
        Assert.Contains("vendor SDK keeps samples until flushed", report.ToString());
        Assert.Contains("\"ignored\"", report.ToJson());
    }

    [Fact]
    public void IgnoreByPathPattern_MatchesTheRoot()
    {
        var options = new LeakOptions { Ignore = [LeakIgnore.Path(Targets + "VendorTelemetry.s_samples", "known: the SDK's sample buffer")] };

        LeakReport report = LeakAssert.NoLeaks(VendorTelemetry.Track, options);

        Assert.Contains(report.Ignored, i => i.Type == Targets + "VendorTelemetry+Sample" && i.Reason == "known: the SDK's sample buffer");
    }

    [Fact]
    public void IgnoreRuleForSomethingElse_DoesNotHideALeak()
    {
        var options = new LeakOptions { Ignore = [LeakIgnore.Path("Some.Other.Type.field", "unrelated")] };

        var failure = Assert.Throws<LeakDetectedException>(() => LeakAssert.NoLeaks(AuditTrail.Record, options));

        Assert.Empty(failure.Report.Ignored);
    }

    [Fact]
    public void IgnoreRuleWithoutAReason_IsRejected()
    {
        var error = Assert.Throws<ArgumentException>(() => LeakAssert.NoLeaks(() => { }, new LeakOptions { Ignore = [LeakIgnore.Type("X", " ")] }));

        Assert.Equal("Ignore", error.ParamName);
    }
}
