using LeakHunter.Platform;
using LeakHunter.Platform.Unsupported;
using Xunit;

namespace LeakHunter.Tests;

/// <summary>
/// The public front door for another process or a dump, driven the way a tool that wraps LeakHunter drives it,
/// against a real process that leaks orders into a static list (or, "clean", keeps none).
/// </summary>
public sealed class HeapInspectorTests
{
    private static readonly TimeSpan s_generous = TimeSpan.FromMinutes(2);

    [Fact]
    public void Census_OfALiveProcess_CountsItsTypes_AndSelectsByPatternAndOrder()
    {
        using TargetProcess target = TargetProcess.StartServing("leak");
        using HeapInspector inspector = HeapInspector.Open(InspectionTarget.Process(target.Id));

        CensusReport census = inspector.TakeCensus(reachableOnly: true);

        Assert.StartsWith($"process {target.Id} (", census.Target);
        Assert.Contains(census.Types, t => t.Type == "ArchivedOrder" && t.Count > 0);
        Assert.Equal(census.Types.OrderByDescending(t => t.Bytes).Select(t => t.Bytes), census.Types.Select(t => t.Bytes));
        CensusReport orders = census.Select("Archived*", CensusOrder.Count, top: 1);
        Assert.Equal("ArchivedOrder", Assert.Single(orders.Types).Type);
        Assert.Equal(census.Objects, orders.Objects);
    }

    [Fact]
    public void FindPaths_NamesTheStaticThatHoldsTheInstances_AndAPatternThatMatchesNothingSuggestsCloseNames()
    {
        using TargetProcess target = TargetProcess.StartServing("leak");
        target.WaitForOrdersAbove(5, s_generous);
        using HeapInspector inspector = HeapInspector.Open(InspectionTarget.Process(target.Id));

        PathsReport paths = inspector.FindPaths("Archived*");
        var missing = Assert.Throws<LeakHunterException>(() => inspector.FindPaths("ArchivedOrdr"));

        Assert.Contains("ArchivedOrder", paths.Types);
        Assert.All(paths.Types, t => Assert.StartsWith("Archived", t));
        Assert.True(paths.Instances > 0);
        Assert.Contains(paths.Leaks, l => l.Type == "ArchivedOrder" && l.Root.Name == "OrderArchive.s_orders");
        // Stopped only while its memory was copied: the paths were traced in the image.
        Assert.True(paths.TargetPauseMs > 0);
        Assert.Equal(LeakHunterFailure.TypeNotFound, missing.Failure);
        Assert.Contains("'ArchivedOrder'", missing.Message);
    }

    [Fact]
    public void Watch_OfALeakingProcess_GivesRatesPerSecond_AndOfACleanOneFindsNothing()
    {
        using TargetProcess leaking = TargetProcess.StartServing("leak");
        using TargetProcess clean = TargetProcess.StartServing("clean");
        var progress = new Lines();

        WatchReport leak;
        using (HeapInspector inspector = HeapInspector.Open(InspectionTarget.Process(leaking.Id)))
            leak = inspector.Watch(TimeSpan.FromSeconds(1), samples: 3, progress);
        WatchReport none;
        using (HeapInspector inspector = HeapInspector.Open(InspectionTarget.Process(clean.Id)))
            none = inspector.Watch(TimeSpan.FromSeconds(1), samples: 3);

        Assert.True(leak.HasLeaks);
        Assert.Equal(3, leak.Samples.Count);
        TypeRate orders = Assert.Single(leak.GrowingTypes, t => t.Type == "ArchivedOrder");
        double seconds = leak.Samples[^1].ElapsedSeconds - leak.Samples[0].ElapsedSeconds;
        Assert.True(seconds >= 2, $"three samples a second apart span {seconds} s");
        Assert.Equal((orders.Counts[^1] - orders.Counts[0]) / seconds, orders.InstancesPerSecond, 6);
        Assert.Contains(leak.Leaks, l => l.Root.Name == "OrderArchive.s_orders");
        Assert.Contains(progress.Received, l => l.Contains("census 3 of 3", StringComparison.Ordinal));
        Assert.False(none.HasLeaks, none.ToString());
    }

    [Fact]
    public void Watch_Cancelled_StopsWithOperationCanceled_AndLeavesTheProcessRunning()
    {
        using TargetProcess target = TargetProcess.StartServing("leak");
        using HeapInspector inspector = HeapInspector.Open(InspectionTarget.Process(target.Id));
        using var cancellation = new CancellationTokenSource();
        var progress = new Lines(line =>
        {
            if (line.StartsWith("waiting", StringComparison.Ordinal))
                cancellation.Cancel();
        });

        Assert.ThrowsAny<OperationCanceledException>(() => inspector.Watch(TimeSpan.FromMinutes(10), samples: 3, progress, cancellation.Token));

        long held = target.WaitForOrdersAbove(0, s_generous);
        target.WaitForOrdersAbove(held, s_generous); // still serving: nothing left it frozen
    }

    [Fact]
    public async Task AsyncMethods_AnswerAsTheBlockingOnes_AndCancellationStopsThem_LeavingTheProcessRunning()
    {
        using TargetProcess target = TargetProcess.StartServing("leak");
        target.WaitForOrdersAbove(5, s_generous);
        using HeapInspector inspector = HeapInspector.Open(InspectionTarget.Process(target.Id));

        CensusReport census = await inspector.TakeCensusAsync(reachableOnly: true);
        PathsReport paths = await inspector.FindPathsAsync("ArchivedOrder", maxInstancesPerType: 20);
        WatchReport watch = await inspector.WatchAsync(TimeSpan.FromSeconds(1), samples: 3);

        Assert.Contains(census.Types, t => t.Type == "ArchivedOrder" && t.Count > 0);
        Assert.Contains(paths.Leaks, l => l.Type == "ArchivedOrder" && l.Root.Name == "OrderArchive.s_orders");
        Assert.True(watch.HasLeaks, watch.ToString());
        Assert.Contains(watch.Leaks, l => l.Root.Name == "OrderArchive.s_orders");

        using var cancellation = new CancellationTokenSource();
        var progress = new Lines(line =>
        {
            if (line.StartsWith("waiting", StringComparison.Ordinal))
                cancellation.Cancel();
        });
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => inspector.WatchAsync(TimeSpan.FromMinutes(10), samples: 3, progress, cancellation.Token));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => inspector.TakeCensusAsync(cancellationToken: cancellation.Token));
        await Assert.ThrowsAsync<ArgumentException>(() => inspector.FindPathsAsync(" "));

        long held = target.WaitForOrdersAbove(0, s_generous);
        target.WaitForOrdersAbove(held, s_generous); // still serving: nothing left it frozen
    }

    [Fact]
    public async Task Diff_OfTwoDumpsOfALeakingProcess_ShowsTheGrowth_AndTellsWhatHoldsItOnlyWhenAsked()
    {
        using TargetProcess target = TargetProcess.StartServing("leak");
        string folder = Directory.CreateTempSubdirectory("leakhunter-diff-test-").FullName;
        try
        {
            InspectionTarget first = WriteDump(target, Path.Combine(folder, "first.dmp"));
            target.WaitForOrdersAbove(target.LatestOrders(s_generous) + 10, s_generous);
            InspectionTarget second = WriteDump(target, Path.Combine(folder, "second.dmp"));

            CensusDiffReport counted = HeapInspector.Diff(first, second, order: CensusOrder.Count);
            CensusDiffReport explained = await HeapInspector.DiffAsync(first, second, explainGrowth: true);
            CensusDiffReport unchanged = HeapInspector.Diff(first, first);

            Assert.True(counted.HasGrowth);
            Assert.Contains(counted.Changes, c => c.Type == "ArchivedOrder" && c.CountChange >= 10);
            Assert.Equal(counted.Changes.OrderByDescending(c => c.CountChange).Select(c => c.CountChange), counted.Changes.Select(c => c.CountChange));
            Assert.Empty(counted.Causes);
            Assert.Contains(explained.Causes, c => c.Types.Any(t => t.Type == "ArchivedOrder") && c.Root.Name == "OrderArchive.s_orders");
            Assert.False(unchanged.HasGrowth, unchanged.ToString());
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => HeapInspector.DiffAsync(first, second, cancellationToken: new CancellationToken(canceled: true)));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static InspectionTarget WriteDump(TargetProcess target, string path)
    {
        new Microsoft.Diagnostics.NETCore.Client.DiagnosticsClient(target.Id).WriteDump(Microsoft.Diagnostics.NETCore.Client.DumpType.WithHeap, path);
        return InspectionTarget.Dump(path);
    }

    [Fact]
    public void Targets_ThatCannotBeInspected_FailNamingWhatToGiveInstead()
    {
        string missingDump = Path.Combine(Path.GetTempPath(), $"leakhunter-no-such-{Guid.NewGuid():N}.dmp");

        var noProcess = Assert.Throws<LeakHunterException>(() => InspectionTarget.Process(int.MaxValue));
        var noDump = Assert.Throws<LeakHunterException>(() => InspectionTarget.Parse(missingDump));
        var self = Assert.Throws<LeakHunterException>(() => HeapInspector.Open(InspectionTarget.Process(Environment.ProcessId)));

        Assert.Equal(LeakHunterFailure.InvalidTarget, noProcess.Failure);
        Assert.Contains("leakhunter ps", noProcess.Message);
        Assert.Equal(LeakHunterFailure.InvalidTarget, noDump.Failure);
        Assert.Contains("neither a process id nor a dump file", noDump.Message);
        Assert.Equal(LeakHunterFailure.InvalidTarget, self.Failure);
        Assert.Contains("LeakDetector", self.Message);
    }

    [Fact]
    public void OnAnUnsupportedSystem_EveryLiveFrontDoorFailsWithOneClearError_ThatSaysWhatWorks()
    {
        LeakHunterException[] failures;
        using (HostPlatform.Use(new UnsupportedPlatform()))
        {
            failures =
            [
                Assert.Throws<LeakHunterException>(() => LeakDetector.Run(() => { })),
                Assert.Throws<LeakHunterException>(() => LeakAssert.NoInstances<HeapInspectorTests>()),
                Assert.Throws<LeakHunterException>(() => InspectionTarget.Process(Environment.ProcessId)),
                Assert.Throws<LeakHunterException>(() => InspectionTarget.DotnetProcesses()),
            ];
        }

        Assert.All(failures, f =>
        {
            Assert.Equal(LeakHunterFailure.PlatformNotSupported, f.Failure);
            Assert.Contains("Linux only", f.Message);
            Assert.Contains("What works here: reading dump files", f.Message);
        });
        Assert.False(LeakDetector.Run(() => { }, new LeakOptions { ConfirmGrowth = false }).HasLeaks, "back on Linux, checks run again");
    }


    /// <summary>Progress lines as they come, on the watch's own thread (unlike <see cref="Progress{T}"/>, which posts them).</summary>
    private sealed class Lines(Action<string>? onLine = null) : IProgress<string>
    {
        public List<string> Received { get; } = new();

        public void Report(string value)
        {
            lock (Received)
                Received.Add(value);
            onLine?.Invoke(value);
        }
    }
}
