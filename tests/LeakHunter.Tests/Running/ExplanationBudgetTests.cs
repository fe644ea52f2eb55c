using LeakHunter.Census;
using Xunit;

namespace LeakHunter.Tests;

/// <summary>
/// A process whose image, or whose heap's graph, would not fit in what the inspector may take (here its GC's limit):
/// the explanation says what it left out and why, with the counts it has, instead of failing for want of memory.
/// </summary>
public sealed class ExplanationBudgetTests
{
    private static readonly TimeSpan s_generous = TimeSpan.FromMinutes(2);

    // Four million objects more: their graph and its search need some 100 MiB on top of about 30 MiB of nodes.
    private static readonly Dictionary<string, string> s_bigHeap = new() { ["LEAKHUNTER_TEST_BALLAST"] = "4000000" };

    [Fact]
    public void AProcessWhoseImageWouldNotFit_IsNotHeld_AndTheExplanationSaysSo()
    {
        using TargetProcess target = TargetProcess.StartServingDetached("leak", s_bigHeap);
        // A limit below the process's written memory.
        using InspectorClient client = InspectorClient.StartFor(target.Id, Limit(96L << 20));

        (Explanation explanation, double pauseMs) = ExplainNewOrders(target, client);

        Assert.Empty(explanation.Leaks);
        Assert.StartsWith("no paths were traced: an image of process", explanation.PartialReason);
        Assert.Contains("so the process was not held", explanation.PartialReason, StringComparison.Ordinal);
        Assert.Equal(0, pauseMs);
        AssertAnInspectorThatMayTakeWhatItNeeds_ExplainsTheSameProcessInFull(target);
    }

    [Fact]
    public void AHeapWhoseGraphWouldNotFit_IsExplainedInPart_WithItsCountsOfNewInstances()
    {
        using TargetProcess target = TargetProcess.StartServingDetached("leak", s_bigHeap);
        target.WaitForOrdersAbove(5, s_generous);
        // Room for the image (about the process's anonymous memory) and the inspector itself, not for the graph.
        using InspectorClient client = InspectorClient.StartFor(target.Id, Limit(AnonymousMemory(target.Id) + (64L << 20)));

        (Explanation explanation, double pauseMs) = ExplainNewOrders(target, client);

        Assert.Empty(explanation.Leaks);
        Assert.StartsWith("no paths were traced: the heap's ", explanation.PartialReason);
        Assert.Contains("more memory for the graph of their references and its search", explanation.PartialReason, StringComparison.Ordinal);
        Assert.True(explanation.NewInstances >= 10, $"{explanation.NewInstances} new instances counted");
        Assert.True(pauseMs > 0);
        AssertAnInspectorThatMayTakeWhatItNeeds_ExplainsTheSameProcessInFull(target);
    }

    private static (Explanation Explanation, double PauseMs) ExplainNewOrders(TargetProcess target, InspectorClient client)
    {
        target.WaitForOrdersAbove(5, s_generous);
        Assert.Equal(InspectorStatus.Ok, client.Mark(["ArchivedOrder"], everyInstanceIsNew: false, 1, CensusRoute.Attach, s_generous).Status);
        target.WaitForOrdersAbove(target.LatestOrders(s_generous) + 20, s_generous);
        (InspectorStatus status, string? message, Explanation? explanation, double pauseMs) = client.Explain(2, CensusRoute.Attach, s_generous, 10, s_generous, ["ArchivedOrder"]);
        Assert.True(status == InspectorStatus.Ok, message);
        // The inspector is whole: it answers the next request.
        client.Reset();
        return (explanation!, pauseMs);
    }

    private static void AssertAnInspectorThatMayTakeWhatItNeeds_ExplainsTheSameProcessInFull(TargetProcess target)
    {
        using InspectorClient unbounded = InspectorClient.StartFor(target.Id);
        (Explanation explanation, _) = ExplainNewOrders(target, unbounded);
        Assert.Null(explanation.PartialReason);
        Assert.Contains(explanation.Leaks, l => l.Type == "ArchivedOrder" && l.RootName.Contains("s_orders", StringComparison.Ordinal));
    }

    private static Dictionary<string, string> Limit(long bytes) => new() { ["DOTNET_GCHeapHardLimit"] = $"0x{bytes:X}" };

    private static long AnonymousMemory(int processId)
    {
        string line = File.ReadLines($"/proc/{processId}/status").Single(l => l.StartsWith("RssAnon:", StringComparison.Ordinal));
        return long.Parse(line["RssAnon:".Length..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture) * 1024;
    }
}
