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

        Assert.True(failure.Report!.HasLeaks);
        Assert.Equal(failure.Report!.ToString(), failure.Message);
        Assert.Contains(Targets + "AuditTrail+Entry", failure.Message);
        Assert.Contains("What keeps them alive", failure.Message);
        Assert.Contains("static field " + Targets + "AuditTrail.s_entries", failure.Message);
        Assert.Contains("Fix: ", failure.Message);
    }

    [Fact]
    public async Task NoLeaksAsync_FailsOnALeak()
    {
        var failure = await Assert.ThrowsAsync<LeakDetectedException>(() => LeakAssert.NoLeaksAsync(AuditTrail.RecordAsync));

        Assert.Contains(failure.Report!.GrowingTypes, t => t.Type == Targets + "AuditTrail+Entry");
    }

    [Fact]
    public void NoInstances_OverTheReferrerLimit_SaysTheCountsAreASample()
    {
        ImportBatch.Fill(120_000);
        try
        {
            var failure = Assert.Throws<LeakDetectedException>(() => LeakAssert.NoInstances<ImportBatch.Line>());

            Assert.Contains($"Warning: Referrers of {Targets}ImportBatch+Line were counted for its first 100,000 references only, of its 120,000 new instances", failure.Message);
        }
        finally
        {
            ImportBatch.Clear();
        }
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

        Assert.Empty(failure.Report!.Ignored);
    }

    [Fact]
    public void IgnoreRuleWithoutAReason_IsRejected()
    {
        var error = Assert.Throws<ArgumentException>(() => LeakAssert.NoLeaks(() => { }, new LeakOptions { Ignore = [LeakIgnore.Type("X", " ")] }));

        Assert.Equal("Ignore", error.ParamName);
    }
}

/// <summary>Object watches and instance counts: a survivor fails with its own path from a root.</summary>
public sealed class LeakAssertObjectTests
{
    private const string Targets = "LeakHunter.Tests.Targets.";

    [Fact]
    public void Collected_PassesWhenTheObjectIsReleased()
    {
        LeakAssert.Collected(() =>
        {
            var viewModel = new QuoteViewModel();
            viewModel.Dispose();
            return viewModel;
        });
    }

    [Fact]
    public void Collected_FailsWithThePathOfTheExactSurvivor()
    {
        var failure = Assert.Throws<LeakDetectedException>(() => LeakAssert.Collected(() => new QuoteViewModel()));

        Assert.Null(failure.Report);
        Assert.StartsWith("LeakHunter: 1 of 1 watched object(s) survived", failure.Message);
        LeakSignature leak = Assert.Single(failure.Leaks);
        Assert.Equal(Targets + "QuoteViewModel", leak.Type);
        Assert.Equal(new LeakRoot(LeakRootKind.StaticField, Targets + "PriceTicker.Ticked"), leak.Root);
        Assert.Contains("static field " + Targets + "PriceTicker.Ticked", failure.Message);
        Assert.Contains("Unsubscribe", failure.Message);
        PriceTicker.Tick();
    }

    [Fact]
    public void Collected_OfMany_NamesOnlyTheSurvivors()
    {
        var failure = Assert.Throws<LeakDetectedException>(() => LeakAssert.Collected(() => [new Widget(), SessionRegistry.Open(), new Widget()]));

        Assert.StartsWith("LeakHunter: 1 of 3 watched object(s) survived", failure.Message);
        Assert.Equal(Targets + "UserSession", Assert.Single(failure.Leaks).Type);
        SessionRegistry.CloseAll();
    }

    [Fact]
    public void Collected_IsNotFooledByADebugBuildKeepingLocalsAlive()
    {
        // This test means something only in a Debug build, where the JIT keeps every local alive to the method's end.
        var debuggable = (System.Diagnostics.DebuggableAttribute?)Attribute.GetCustomAttribute(typeof(LeakAssertObjectTests).Assembly, typeof(System.Diagnostics.DebuggableAttribute));
        Assert.True(debuggable?.IsJITOptimizerDisabled == true, "the tests must be built in Debug for this test to prove anything");

        // The probe effect, shown: a local of this method keeps its object alive through a full GC.
        var local = new Widget();
        var weak = new WeakReference(local);
        Running.HeapSettler.SettleHeap();
        Assert.True(weak.IsAlive);

        // The watch creates its object in a frame that has returned before the GC, so it is collected.
        LeakAssert.Collected(() => new Widget());
    }

    [Fact]
    public void NoInstances_PassesWhenNoneAreAlive_AndFailsWithTheirPaths()
    {
        LeakAssert.NoInstances<UserSession>();

        SessionRegistry.Open();
        SessionRegistry.Open();
        try
        {
            var failure = Assert.Throws<LeakDetectedException>(() => LeakAssert.NoInstances<UserSession>());

            Assert.StartsWith($"LeakHunter: 2 instance(s) of {Targets}UserSession are alive after a full GC; at most 0 were expected", failure.Message);
            LeakSignature leak = Assert.Single(failure.Leaks);
            Assert.Equal(2, leak.Instances);
            Assert.Equal(new LeakRoot(LeakRootKind.StaticField, Targets + "SessionRegistry.s_open"), leak.Root);

            LeakAssert.AtMostInstances<UserSession>(2);
            Assert.Throws<LeakDetectedException>(() => LeakAssert.AtMostInstances<UserSession>(1));
        }
        finally
        {
            SessionRegistry.CloseAll();
        }
    }
}
