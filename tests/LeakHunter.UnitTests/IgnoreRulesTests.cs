using LeakHunter.Analysis;
using Xunit;

namespace LeakHunter.Tests;

/// <summary><see cref="LeakOptions.Ignore"/>: what each kind of rule leaves out of the verdict, and what it must not.</summary>
public sealed class IgnoreRulesTests
{
    private static readonly TypeGrowth s_order = Growth("Acme.Orders.Order");
    private static readonly TypeGrowth s_orderArray = Growth("Acme.Orders.Order[]");
    private static readonly TypeGrowth s_entry = Growth("Acme.Cache.Entry");

    private static readonly LeakSignature s_orderInArchive = Signature("Acme.Orders.Order", "Acme.Orders.OrderArchive.s_orders",
        ("System.Collections.Generic.List<Acme.Orders.Order>", null), ("Acme.Orders.Order[]", "_items"), ("Acme.Orders.Order", "[]"));

    private static readonly LeakSignature s_orderInAudit = Signature("Acme.Orders.Order", "Acme.Audit.Log.s_seen",
        ("Acme.Audit.Log", null), ("Acme.Orders.Order", "_last"));

    private static readonly LeakSignature s_entryInCache = Signature("Acme.Cache.Entry", "Acme.Cache.Store.s_entries",
        ("Acme.Cache.Entry[]", null), ("Acme.Cache.Entry", "[]"));

    [Fact]
    public void TypeRule_WithAWildcard_IgnoresTheMatchingTypes_WithItsReason_AndKeepsTheRest()
    {
        (List<TypeGrowth> kept, List<IgnoredLeak> ignored, _) = IgnoreRules.Apply(
            [LeakIgnore.Type("Acme.Cache.*", "bounded by design")], [s_order, s_entry], null);

        Assert.Equal([s_order], kept);
        Assert.Equal([new IgnoredLeak("Acme.Cache.Entry", "bounded by design", "Acme.Cache.*")], ignored);
    }

    [Fact]
    public void TypeRule_MatchesTheWholeName_NotAPart()
    {
        (List<TypeGrowth> kept, List<IgnoredLeak> ignored, _) = IgnoreRules.Apply(
            [LeakIgnore.Type("Acme.Orders", "only the namespace")], [s_order], null);

        Assert.Equal([s_order], kept);
        Assert.Empty(ignored);
    }

    [Fact]
    public void PathRule_OnTheRoot_IgnoresTheType_AndRemovesItsPathsAndReferrers()
    {
        var explanation = new LeakExplanation([s_entryInCache, s_orderInArchive],
            [new TypeReferrers("Acme.Cache.Entry", [new Referrer("Acme.Cache.Entry[]", "[]", 4)]), new TypeReferrers("Acme.Orders.Order", [])], null);

        (List<TypeGrowth> kept, List<IgnoredLeak> ignored, LeakExplanation? remaining) = IgnoreRules.Apply(
            [LeakIgnore.Path("Acme.Cache.Store.s_entries", "a cache")], [s_order, s_entry], explanation);

        Assert.Equal([s_order], kept);
        Assert.Equal("Acme.Cache.Entry", Assert.Single(ignored).Type);
        Assert.Equal([s_orderInArchive], remaining!.Leaks);
        Assert.Equal("Acme.Orders.Order", Assert.Single(remaining.Referrers).Type);
    }

    [Fact]
    public void PathRule_OnAField_MatchesTheHoldingTypeAndField()
    {
        var explanation = new LeakExplanation([s_orderInArchive], [], null);

        (List<TypeGrowth> kept, List<IgnoredLeak> ignored, _) = IgnoreRules.Apply(
            [LeakIgnore.Path("System.Collections.Generic.List<*>._items", "any list")], [s_order], explanation);

        Assert.Empty(kept);
        Assert.Equal("any list", Assert.Single(ignored).Reason);
    }

    [Fact]
    public void PathRule_ThatMatchesOnlySomeOfATypesPaths_KeepsTheType()
    {
        // The archive is known, but the audit log holding orders too is a leak of its own.
        var explanation = new LeakExplanation([s_orderInArchive, s_orderInAudit], [], null);

        (List<TypeGrowth> kept, List<IgnoredLeak> ignored, LeakExplanation? remaining) = IgnoreRules.Apply(
            [LeakIgnore.Path("Acme.Orders.OrderArchive.s_orders", "known")], [s_order], explanation);

        Assert.Equal([s_order], kept);
        Assert.Empty(ignored);
        Assert.Equal(2, remaining!.Leaks.Count);
    }

    [Fact]
    public void PathRule_WithNoExplanation_IgnoresNothing()
    {
        (List<TypeGrowth> kept, List<IgnoredLeak> ignored, _) = IgnoreRules.Apply(
            [LeakIgnore.Path("*", "everything")], [s_order], null);

        Assert.Equal([s_order], kept);
        Assert.Empty(ignored);
    }

    [Fact]
    public void ATypeOnAnIgnoredPath_WithNoPathOfItsOwn_GoesWithIt()
    {
        // The list's array grows in bytes with the orders it holds; it has no signature of its own.
        var explanation = new LeakExplanation([s_orderInArchive], [], null);

        (List<TypeGrowth> kept, List<IgnoredLeak> ignored, _) = IgnoreRules.Apply(
            [LeakIgnore.Type("Acme.Orders.Order", "known")], [s_order, s_orderArray], explanation);

        Assert.Empty(kept);
        Assert.Equal(["Acme.Orders.Order", "Acme.Orders.Order[]"], ignored.Select(i => i.Type));
        Assert.All(ignored, i => Assert.Equal("known", i.Reason));
    }

    [Fact]
    public void ATypeOnAnIgnoredPath_ThatHasAPathOfItsOwn_StaysInTheVerdict()
    {
        LeakSignature arrayHeldElsewhere = Signature("Acme.Orders.Order[]", "Acme.Orders.Backup.s_copy", ("Acme.Orders.Order[]", null));
        var explanation = new LeakExplanation([s_orderInArchive, arrayHeldElsewhere], [], null);

        (List<TypeGrowth> kept, _, _) = IgnoreRules.Apply(
            [LeakIgnore.Type("Acme.Orders.Order", "known")], [s_order, s_orderArray], explanation);

        Assert.Equal([s_orderArray], kept);
    }

    [Fact]
    public void NoRules_LeaveEverythingAsItWas()
    {
        var explanation = new LeakExplanation([s_orderInArchive], [], null);

        (List<TypeGrowth> kept, List<IgnoredLeak> ignored, LeakExplanation? remaining) = IgnoreRules.Apply([], [s_order], explanation);

        Assert.Equal([s_order], kept);
        Assert.Empty(ignored);
        Assert.Same(explanation, remaining);
    }

    [Fact]
    public void RuntimeCaches_AreIgnoredUnlessTurnedOff()
    {
        var mine = LeakIgnore.Type("Acme.*", "mine");

        IReadOnlyList<LeakIgnore> withCaches = IgnoreRules.For(new LeakOptions { Ignore = [mine] });
        IReadOnlyList<LeakIgnore> without = IgnoreRules.For(new LeakOptions { Ignore = [mine], IgnoreRuntimeCaches = false });

        Assert.Contains(withCaches, r => r.Pattern == "System.Runtime.CompilerServices.CastHelpers.s_table");
        Assert.Contains(withCaches, r => r.Pattern == "System.Threading.ThreadPoolWorkQueue+WorkStealingQueueList.s_queues");
        Assert.Contains(mine, withCaches);
        Assert.Equal([mine], without);
    }

    private static TypeGrowth Growth(string type) => new(type, [1, 2, 3], [10, 20, 30], 0.1, 1);

    private static LeakSignature Signature(string type, string root, params (string Type, string? Field)[] path) =>
        new(type, 10, new LeakRoot(LeakRootKind.StaticField, root), path.Select(p => new LeakStep(p.Type, p.Field, null)).ToArray(), null, "fix");
}
