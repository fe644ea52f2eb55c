using LeakHunter.Tests.Targets;
using Xunit;

namespace LeakHunter.Tests;

/// <summary>Real leaky code must be reported with its type and rate; real clean code must not.</summary>
public sealed class LeakDetectionTests
{
    [Fact]
    public void ItemsAppendedToStaticList_AreReported_OnePerIteration()
    {
        LeakReport report = LeakDetector.Run(StaticListLeak.Handle);

        AssertGrows(report, "LeakHunter.Tests.Targets.StaticListLeak+Item", perIteration: 1.0);
    }

    [Fact]
    public void HandlersAddedToStaticEvent_AreReported_WithTheSubscriberAndTheDelegate()
    {
        LeakReport report = LeakDetector.Run(StaticEventLeak.Handle);

        AssertGrows(report, "LeakHunter.Tests.Targets.StaticEventLeak+Subscriber", perIteration: 1.0);
        AssertGrows(report, "System.EventHandler", perIteration: 1.0);
    }

    [Fact]
    public void ClosuresStoredUnderFreshKeys_AreReported_AsTheirDisplayClass()
    {
        LeakReport report = LeakDetector.Run(ClosureCache.Handle);

        TypeGrowth closure = Assert.Single(report.GrowingTypes, t => t.Type.StartsWith("LeakHunter.Tests.Targets.ClosureCache+<>c__DisplayClass", StringComparison.Ordinal));
        Assert.Equal(1.0, closure.InstancesPerIteration, 0.05);
        AssertGrows(report, "System.Func<System.Int32>", perIteration: 1.0);
    }

    [Fact]
    public async Task AsyncFragmentLeakingThroughConcurrentQueue_IsReported()
    {
        LeakReport report = await LeakDetector.RunAsync(AsyncQueueLeak.HandleAsync);

        AssertGrows(report, "LeakHunter.Tests.Targets.AsyncQueueLeak+Message", perIteration: 1.0);
    }

    [Fact]
    public void SameObjectReAddedToList_IsReported_AsGrowthInBytesOnly()
    {
        LeakReport report = LeakDetector.Run(RepeatedItemLeak.Handle);

        Assert.True(report.HasLeaks, report.ToString());
        TypeGrowth array = Assert.Single(report.GrowingTypes, t => t.Type == "LeakHunter.Tests.Targets.RepeatedItemLeak+Item[]");
        Assert.Equal(0.0, array.InstancesPerIteration);
        // One 8-byte slot per call, give or take the list's doubling.
        Assert.InRange(array.BytesPerIteration, 4.0, 16.0);
        Assert.DoesNotContain(report.GrowingTypes, t => t.Type == "LeakHunter.Tests.Targets.RepeatedItemLeak+Item");
    }

    [Fact]
    public void SlowLeak_OneObjectEverySecondCall_IsCaughtByTheDefaults()
    {
        LeakReport report = LeakDetector.Run(SlowLeak.Handle);

        AssertGrows(report, "LeakHunter.Tests.Targets.SlowLeak+Item", perIteration: 0.5);
    }

    [Fact]
    public void TransientGarbage_IsNotALeak() => AssertClean(LeakDetector.Run(() => TransientGarbage.Handle()));

    [Fact]
    public void BoundedCacheStillFillingWhenCountingBegins_IsConfirmedBounded()
    {
        LeakReport report = LeakDetector.Run(BoundedCache.Handle);

        AssertClean(report);
        // It did grow during counting; only the confirmation runs could clear it.
        Assert.Contains(report.Censuses, c => c.Phase == CensusPhase.Confirmation);
    }

    [Theory]
    [InlineData(400)]
    [InlineData(1024)]
    [InlineData(3000)]
    public void BoundedCacheOfThousandsOfEntries_FillsAndStops_IsNotALeak(int capacity)
    {
        BoundedEntryCache cache = capacity switch { 400 => BoundedEntryCache.Of400, 1024 => BoundedEntryCache.Of1024, _ => BoundedEntryCache.Of3000 };

        LeakReport report = LeakDetector.Run(cache.Handle);

        AssertClean(report);
        // It grew in every counted interval: the confirmation rounds ran past its bound and saw it stop.
        Assert.Contains("nothing kept growing", report.Confirmation.Decision);
        Assert.True(report.Iterations > capacity, report.ToString());
        Assert.Contains("\"decision\": \"nothing kept growing", report.ToJson());
    }

    [Fact]
    public void TheSameCacheWithNoBound_IsALeak_ConfirmedToTheDefaultIterations()
    {
        LeakReport report = LeakDetector.Run(BoundedEntryCache.Unbounded.Handle);

        AssertGrows(report, "LeakHunter.Tests.Targets.BoundedEntryCache+Entry", perIteration: 1);
        Assert.Contains("kept growing at their counted rate", report.Confirmation.Decision);
        Assert.True(report.Iterations >= new LeakOptions().ConfirmationIterations, report.ToString());
        Assert.Contains("confirmation: ", report.ToString());
    }

    [Fact]
    public void ServiceProviderBuiltAndDisposedPerCall_IsNotALeak() => AssertClean(LeakDetector.Run(ProviderPerCall.Handle));

    [Fact]
    public void EventSourceMadeAndDisposedPerCall_IsNotALeak() => AssertClean(LeakDetector.Run(EventSourcePerCall.Handle));

    [Fact]
    public void LazySingleton_IsNotALeak() => AssertClean(LeakDetector.Run(() => LazySingleton.Handle()));

    [Fact]
    public void ArrayPoolRentAndReturn_IsNotALeak() => AssertClean(LeakDetector.Run(PooledBuffers.Handle));

    [Fact]
    public void StringBuilderReusedAndCleared_IsNotALeak() => AssertClean(LeakDetector.Run(() => ReusedBuilder.Handle()));

    [Fact]
    public void SystemTextJsonWithDefaultOptions_IsNotALeak() => AssertClean(LeakDetector.Run(() => JsonRoundTrip.Handle()));

    [Fact]
    public async Task TaskRunWithAwait_IsNotALeak() => AssertClean(await LeakDetector.RunAsync(PoolWork.HandleAsync));

    [Fact]
    public void GrowthFromAnotherThread_IsNotBlamedOnTheFragment()
    {
        LeakReport report;
        using (new BackgroundGrowth())
            report = LeakDetector.Run(() => TransientGarbage.Handle());

        Assert.False(report.HasLeaks, report.ToString());
        Assert.Contains(report.BackgroundTypes, t => t.Type == "LeakHunter.Tests.Targets.BackgroundGrowth+Item");
    }

    [Fact]
    public void HeavyAllocationOnOtherThreads_IsWarnedAbout()
    {
        using var stop = new CancellationTokenSource();
        var noise = new Thread(() =>
        {
            while (!stop.IsCancellationRequested)
                GC.KeepAlive(new byte[256 * 1024]);
        }) { IsBackground = true };
        noise.Start();
        LeakReport report;
        try
        {
            report = LeakDetector.Run(StaticListLeak.Handle);
        }
        finally
        {
            stop.Cancel();
            noise.Join();
        }

        // Threads stopped in the middle of an allocation may also leave a census a stretch it could not parse; that is
        // warned about on its own. The warning this test is about is the one that names the fix.
        Assert.Single(report.Warnings, w => w.Contains("without parallel tests", StringComparison.Ordinal));
        Assert.Contains("Warning:", report.ToString());
    }

    internal static void AssertGrows(LeakReport report, string type, double perIteration)
    {
        Assert.True(report.HasLeaks, report.ToString());
        TypeGrowth growth = Assert.Single(report.GrowingTypes, t => t.Type == type);
        Assert.Equal(perIteration, growth.InstancesPerIteration, 0.05);
        Assert.True(growth.BytesPerIteration > 0, report.ToString());
        Assert.Empty(report.Warnings);
    }

    internal static void AssertClean(LeakReport report)
    {
        Assert.False(report.HasLeaks, report.ToString());
        Assert.Empty(report.GrowingTypes);
        Assert.Empty(report.Warnings);
        Assert.DoesNotContain(report.BackgroundTypes, t => t.Type.StartsWith("LeakHunter.", StringComparison.Ordinal));
    }
}
