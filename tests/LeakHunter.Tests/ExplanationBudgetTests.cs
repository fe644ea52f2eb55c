using LeakHunter.Census;
using Xunit;

namespace LeakHunter.Tests;

/// <summary>
/// A heap whose graph would not fit in what the inspector may take: the explanation says what it left out and why,
/// with the counts it has, instead of failing for want of memory.
/// </summary>
public sealed class ExplanationBudgetTests
{
    private static readonly TimeSpan s_generous = TimeSpan.FromMinutes(2);

    [Fact]
    public void AHeapTooBigForTheInspectorsMemory_IsExplainedInPart_SayingWhatWasLeftOutAndWhy()
    {
        // Four million objects more need some 110 MiB for the graph and its search on top of 64 MiB of nodes; the
        // inspector's GC may take 128 MiB in all.
        using TargetProcess target = TargetProcess.StartServingDetached("leak", new Dictionary<string, string> { ["LEAKHUNTER_TEST_BALLAST"] = "4000000" });
        target.WaitForOrdersAbove(5, s_generous);
        using InspectorClient client = InspectorClient.StartFor(target.Id, new Dictionary<string, string> { ["DOTNET_GCHeapHardLimit"] = "0x8000000" });
        Assert.Equal(InspectorStatus.Ok, client.Mark(["ArchivedOrder"], everyInstanceIsNew: false, 1, CensusRoute.Attach, s_generous).Status);
        target.WaitForOrdersAbove(target.LatestOrders(s_generous) + 20, s_generous);

        (InspectorStatus status, string? message, Explanation? explanation, _) = client.Explain(2, CensusRoute.Attach, s_generous, 10, s_generous, ["ArchivedOrder"]);

        Assert.True(status == InspectorStatus.Ok, message);
        Assert.NotNull(explanation);
        Assert.Empty(explanation.Leaks);
        Assert.StartsWith("no paths were traced: ", explanation.PartialReason);
        Assert.Contains("memory", explanation.PartialReason, StringComparison.Ordinal);
        Assert.True(explanation.NewInstances >= 10, $"{explanation.NewInstances} new instances counted");
        // The inspector is whole, and the same heap is explained in full by one that may take what it needs.
        client.Reset();
        using InspectorClient unbounded = InspectorClient.StartFor(target.Id);
        Assert.Equal(InspectorStatus.Ok, unbounded.Mark(["ArchivedOrder"], everyInstanceIsNew: false, 1, CensusRoute.Attach, s_generous).Status);
        target.WaitForOrdersAbove(target.LatestOrders(s_generous) + 20, s_generous);
        (status, message, explanation, _) = unbounded.Explain(2, CensusRoute.Attach, s_generous, 10, s_generous, ["ArchivedOrder"]);
        Assert.True(status == InspectorStatus.Ok, message);
        Assert.Null(explanation!.PartialReason);
        Assert.Contains(explanation.Leaks, l => l.Type == "ArchivedOrder" && l.RootName.Contains("s_orders", StringComparison.Ordinal));
    }
}
