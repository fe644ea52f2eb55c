extern alias inspector;

using System.Diagnostics;
using LeakHunter.Census;
using Microsoft.Diagnostics.Runtime;
using Xunit;
using ImageRoute = inspector::LeakHunter.Census.CensusRoute;
using HeapScanner = inspector::LeakHunter.Inspector.Census.HeapScanner;
using HeapTarget = inspector::LeakHunter.Census.HeapTarget;
using TargetReader = inspector::LeakHunter.Inspector.Census.TargetReader;
using TypeTable = inspector::LeakHunter.Inspector.Census.TypeTable;

namespace LeakHunter.Tests;

/// <summary>
/// The image a live process is held for: whatever happens to the inspector or the process around the capture, the
/// process is left running (or cleanly gone), untraced, and nothing of the capture is left behind.
/// </summary>
public sealed class CaptureSafetyTests
{
    private static readonly TimeSpan s_generous = TimeSpan.FromMinutes(2);

    // A heap of two million objects more: its image takes tens of milliseconds to copy, long enough to be seen held.
    private static readonly Dictionary<string, string> s_bigHeap = new() { ["LEAKHUNTER_TEST_BALLAST"] = "2000000" };

    public enum Moment
    {
        BeforeTheCapture,
        WhileTheProcessIsHeld,
        WhileTheImageIsAnalysed,
        WhileTheImageIsAnalysedFromAFile,
    }

    [Theory]
    [InlineData(Moment.BeforeTheCapture)]
    [InlineData(Moment.WhileTheProcessIsHeld)]
    [InlineData(Moment.WhileTheImageIsAnalysed)]
    [InlineData(Moment.WhileTheImageIsAnalysedFromAFile)]
    public async Task AnInspectorKilled_AtAnyMomentOfACapture_LeavesTheProcessRunningUntraced_AndNothingBehind(Moment moment)
    {
        using TargetProcess target = TargetProcess.StartServingDetached("leak", s_bigHeap);
        target.WaitForOrdersAbove(5, s_generous);
        // Every image of this inspector's goes to a file with no name, as a big heap's would.
        using InspectorClient client = moment == Moment.WhileTheImageIsAnalysedFromAFile
            ? InspectorClient.StartFor(target.Id, new Dictionary<string, string> { [InspectorProtocol.ImageInFileFromVariable] = "0" })
            : InspectorClient.StartFor(target.Id);
        int inspector = client.ProcessId;
        Assert.Equal(InspectorStatus.Ok, client.Mark(["ArchivedOrder"], everyInstanceIsNew: false, 1, CensusRoute.Attach, s_generous).Status);
        // Orders made since the mark, for the explanation to trace.
        target.WaitForOrdersAbove(target.LatestOrders(s_generous) + 20, s_generous);

        if (moment == Moment.BeforeTheCapture)
            TargetProcess.KillAndWait(inspector);
        Task explaining = Task.Run(() => client.Explain(2, CensusRoute.Attach, s_generous, 10, s_generous, ["ArchivedOrder"]));
        if (moment != Moment.BeforeTheCapture)
        {
            // After the mark, the only time the process is held is the capture of its image.
            Assert.True(SpinWait.SpinUntil(() => TargetProcess.StateOf(target.Id) == 't', s_generous), "the process was never seen held for its image");
            if (moment is Moment.WhileTheImageIsAnalysed or Moment.WhileTheImageIsAnalysedFromAFile)
                Assert.True(SpinWait.SpinUntil(() => TargetProcess.StateOf(target.Id) != 't', s_generous), "the process was never released");
            // Moved there once the process runs on, before the analysis: the system frees it when the inspector dies.
            if (moment == Moment.WhileTheImageIsAnalysedFromAFile)
                Assert.True(SpinWait.SpinUntil(() => TargetProcess.UnnamedFilesOf(inspector).Count == 1, s_generous), "the image never went to a file");
            Assert.False(explaining.IsCompleted, "the explanation was answered before the inspector could be killed");
            TargetProcess.KillAndWait(inspector);
        }

        var error = await Assert.ThrowsAsync<LeakHunterException>(() => explaining.WaitAsync(s_generous));
        Assert.Equal(LeakHunterFailure.InspectorExited, error.Failure);
        AssertRunningUntraced(target);
        Assert.Empty(FilesOf(inspector));
    }

    [Fact]
    public async Task AProcessKilledWhileHeldForItsImage_FailsTheRequestNamingWhy_AndTheInspectorServesOn()
    {
        using TargetProcess target = TargetProcess.StartServingDetached("leak", s_bigHeap);
        target.WaitForOrdersAbove(5, s_generous);
        using InspectorClient client = InspectorClient.StartFor(target.Id);
        Assert.Equal(InspectorStatus.Ok, client.Mark(["ArchivedOrder"], everyInstanceIsNew: false, 1, CensusRoute.Attach, s_generous).Status);

        Task<(InspectorStatus Status, string? Message, Explanation? Explanation, double PauseMs)> explaining =
            Task.Run(() => client.Explain(2, CensusRoute.Attach, s_generous, 10, s_generous, ["ArchivedOrder"]));
        Assert.True(SpinWait.SpinUntil(() => TargetProcess.StateOf(target.Id) == 't', s_generous), "the process was never seen held for its image");
        int processId = target.Id;
        target.Kill();

        (InspectorStatus status, string? message, Explanation? explanation, _) = await explaining.WaitAsync(s_generous);
        Assert.NotEqual(InspectorStatus.Ok, status);
        Assert.Null(explanation);
        Assert.Contains($"process {processId}", message, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("exited", message, StringComparison.Ordinal);
        // The inspector is whole: it answers the next request.
        client.Reset();
        Assert.True(TargetProcess.IsRunning(client.ProcessId));
        Assert.Empty(FilesOf(client.ProcessId));
        Assert.Empty(FilesOf(processId));
    }

    [Fact]
    public void AProcessWithHundredsOfThreads_IsImagedWithEveryThreadsStack()
    {
        const int Parked = 400;
        using TargetProcess target = TargetProcess.StartServingDetached("leak", new Dictionary<string, string> { ["LEAKHUNTER_TEST_THREADS"] = $"{Parked}" });
        var reader = new TargetReader(target.Id, new HeapScanner(new TypeTable()));
        var live = new HeapTarget(ImageRoute.Attach, "", s_generous);

        (StackReading image, double pause) = reader.ReadImage(live, ReadStacks);

        // Every parked thread's registers were saved, so its stack is walked and its ParkedWork is a stack root.
        Assert.True(image.Threads >= Parked + 1, $"{image.Threads} threads in the image");
        Assert.Equal(Parked, image.ParkedWorkOnStacks);
        Assert.True(pause > 0);
        AssertRunningUntraced(target);
    }

    [Fact]
    public void ACaptureRequestedWhileTheProcessCollects_IsTakenBetweenItsGCs()
    {
        // Full blocking GCs of a heap of a million objects more, one after another with a gap between: most requests
        // land in a GC, and the image is taken in a gap.
        using TargetProcess target = TargetProcess.StartServingDetached("leak", new Dictionary<string, string>
        {
            ["LEAKHUNTER_TEST_BALLAST"] = "1000000",
            ["LEAKHUNTER_TEST_COLLECTING"] = "1",
        });
        target.WaitForOrdersAbove(5, s_generous);
        var reader = new TargetReader(target.Id, new HeapScanner(new TypeTable()));
        var live = new HeapTarget(ImageRoute.Attach, "", s_generous);

        for (int capture = 0; capture < 10; capture++)
        {
            (HeapReading image, _) = reader.ReadImage(live, runtime => new HeapReading(
                runtime.Heap.CanWalkHeap,
                runtime.Heap.EnumerateObjects().Count(o => o.Type?.Name == "ArchivedOrder"),
                runtime.Heap.EnumerateObjects().Count(o => !o.IsValid)));

            Assert.True(image.Walkable, $"capture {capture} was taken in the middle of a GC");
            Assert.True(image.Orders > 0, $"capture {capture} has no orders");
            Assert.Equal(0, image.InvalidObjects);
        }
        AssertRunningUntraced(target);
    }

    private sealed record StackReading(int Threads, int ParkedWorkOnStacks);

    private sealed record HeapReading(bool Walkable, int Orders, int InvalidObjects);

    private static StackReading ReadStacks(ClrRuntime runtime) => new(
        runtime.Threads.Count(t => t.IsAlive),
        runtime.Heap.EnumerateRoots().Where(r => r.RootKind == ClrRootKind.Stack && r.Object.Type?.Name == "ParkedWork").Select(r => r.Object.Address).Distinct().Count());

    /// <summary>The process runs on, traced by no one: it keeps serving orders.</summary>
    private static void AssertRunningUntraced(TargetProcess target)
    {
        Assert.True(SpinWait.SpinUntil(() => TracerOf(target.Id) == 0, s_generous), $"process {target.Id} is still traced by {TracerOf(target.Id)}");
        long orders = target.LatestOrders(s_generous);
        Assert.True(target.WaitForOrdersAbove(orders + 20, s_generous) > orders + 20);
        Assert.NotEqual('t', TargetProcess.StateOf(target.Id));
    }

    private static int TracerOf(int processId)
    {
        string status = File.ReadAllText($"/proc/{processId}/status");
        string line = status.Split('\n').Single(l => l.StartsWith("TracerPid:", StringComparison.Ordinal));
        return int.Parse(line["TracerPid:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>What a process left in the temporary folder: a runtime's socket or pipes, a dump, an image.</summary>
    private static string[] FilesOf(int processId) =>
        Directory.EnumerateFileSystemEntries(Path.GetTempPath())
            .Where(f => Path.GetFileName(f).Contains($"-{processId}-", StringComparison.Ordinal) || Path.GetFileName(f).Contains($"-{processId}.", StringComparison.Ordinal))
            .ToArray();

}
