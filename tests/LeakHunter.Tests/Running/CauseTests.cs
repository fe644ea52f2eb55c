using LeakHunter.Analysis;
using LeakHunter.Tests.Targets;
using Xunit;

namespace LeakHunter.Tests;

/// <summary>
/// What grew is told as causes: one per owner that outlives the call, with every growing type it keeps, never a
/// guessed story for a type no path explains.
/// </summary>
public sealed class CauseTests
{
    private const string Targets = "LeakHunter.Tests.Targets.";

    [Fact]
    public void OneMissingUnsubscribe_IsOneCause_KeepingEveryTypeThatGrew()
    {
        LeakReport report = LeakDetector.Run(CauseEventWithBuffer.Handle);

        Assert.True(report.HasLeaks && report.Causes.Count == 1, report.ToString());
        LeakCause cause = report.Causes[0];
        Assert.Equal(new LeakRoot(LeakRootKind.StaticField, Targets + "CauseEventWithBuffer.Changed"), cause.Root);
        Assert.Equal("event handler", cause.Idiom);
        Assert.Contains("Unsubscribe", cause.Hint);
        Assert.Equal("_invocationList", cause.Path[cause.AccumulationPoint!.Value].Field);
        // Every type that grew is kept by the one cause, and none is left unexplained or told under another root.
        Assert.Equal(report.GrowingTypes.Select(t => t.Type).Order(), cause.Types.Select(t => t.Type).Order());
        Assert.Empty(report.Unexplained);
        Assert.Contains(cause.Types, t => t.Type == Targets + "CauseEventWithBuffer+Listener" && Math.Abs(t.InstancesPerIteration - 1) < 0.01);
        Assert.Contains(cause.Types, t => t.Type == Targets + "CauseEventWithBuffer+State" && Math.Abs(t.InstancesPerIteration - 1) < 0.01);
        Assert.InRange(cause.BytesPerIteration, report.GrowingTypes.Sum(t => t.BytesPerIteration) - 0.01, double.MaxValue);
        Assert.All(report.Leaks.Where(l => l.Cause is not null), l => Assert.Equal(0, l.Cause));
        Assert.DoesNotContain(report.Leaks, l => l.Cause is not null && l.Root.Kind is LeakRootKind.StrongHandle or LeakRootKind.Unknown);
    }

    [Fact]
    public void ACausesRetainedBytes_AreWhatItsNewEntriesAloneKeep_EveryDocumentWithItsPages()
    {
        try
        {
            LeakReport report = LeakDetector.Run(CauseRetained.Keep);

            LeakCause cause = Assert.Single(report.Causes);
            CausedGrowth documents = Assert.Single(cause.Types, t => t.Type == Targets + "CauseRetained+Document");
            // A document and its two pages, 32 bytes each, for every document added since LeakHunter marked the heap.
            Assert.True(cause.RetainedBytes is long retained && Math.Abs(retained - 96L * documents.NewInstances) <= 96, report.ToString());
            Assert.Contains("Retains ", report.ToString(), StringComparison.Ordinal);
            Assert.Contains("\"retainedBytes\": " + cause.RetainedBytes, report.ToJson(), StringComparison.Ordinal);
        }
        finally
        {
            CauseRetained.Release();
        }
    }

    [Fact]
    public void EntriesAnotherOwnerAlsoHolds_RetainNothing_ForDroppingThemFreesNothing()
    {
        try
        {
            LeakReport report = LeakDetector.Run(CauseRetained.KeepAndIndex);

            Assert.True(report.HasLeaks, report.ToString());
            Assert.All(report.Causes, c => Assert.Equal(0L, c.RetainedBytes));
        }
        finally
        {
            CauseRetained.Release();
        }
    }

    [Fact]
    public void TheSameEvent_Unsubscribed_HasNoCause() =>
        AssertNoCause(LeakDetector.Run(CauseEventWithBuffer.Unsubscribe));

    [Fact]
    public void TwoOwners_AreTwoCauses_EachWithItsOwnTypes()
    {
        LeakReport report = LeakDetector.Run(CauseTwoOwners.Handle);

        // A one-off step in some runtime array may make a third, small cause; the two owners must never merge.
        Assert.True(report.Causes.Count >= 2, report.ToString());
        LeakCause orders = Assert.Single(report.Causes, c => c.Root.Name == Targets + "CauseTwoOwners.s_orders");
        LeakCause sessions = Assert.Single(report.Causes, c => c.Root.Name == Targets + "CauseTwoOwners.s_sessions");
        Assert.Contains(orders.Types, t => t.Type == Targets + "CauseTwoOwners+Order");
        Assert.DoesNotContain(orders.Types, t => t.Type == Targets + "CauseTwoOwners+Session");
        Assert.Contains(sessions.Types, t => t.Type == Targets + "CauseTwoOwners+Session");
        Assert.Contains(sessions.Types, t => t.Type == Targets + "CauseTwoOwners+SessionState");
        // Bigger causes come first, and each signature points at its own cause.
        Assert.Equal(report.Causes.OrderByDescending(c => c.BytesPerIteration), report.Causes);
        Assert.All(report.Leaks.Where(l => l.Cause is int c && l.Type.EndsWith("+Order", StringComparison.Ordinal)),
            l => Assert.Same(orders, report.Causes[l.Cause!.Value]));
        Assert.Contains("Cause 2", report.ToString());
    }

    [Fact]
    public void CausesAreInTheJson_AndEachLeakNamesItsCause()
    {
        LeakReport report = LeakDetector.Run(CauseEventWithBuffer.Handle);

        using var json = System.Text.Json.JsonDocument.Parse(report.ToJson());
        System.Text.Json.JsonElement cause = Assert.Single(json.RootElement.GetProperty("causes").EnumerateArray());
        Assert.Equal("staticField", cause.GetProperty("root").GetProperty("kind").GetString());
        Assert.Equal("_invocationList", cause.GetProperty("accumulationPoint").GetProperty("field").GetString());
        Assert.Contains(Targets + "CauseEventWithBuffer+Listener", cause.GetProperty("types").EnumerateArray().Select(t => t.GetString()));
        Assert.Equal("event handler", cause.GetProperty("idiom").GetString());
        Assert.Contains(json.RootElement.GetProperty("leaks").EnumerateArray(), l => l.GetProperty("cause").ValueKind == System.Text.Json.JsonValueKind.Number);
    }

    private static void AssertNoCause(LeakReport report)
    {
        Assert.False(report.HasLeaks, report.ToString());
        Assert.Empty(report.Causes);
        Assert.Empty(report.Unexplained);
    }
}
