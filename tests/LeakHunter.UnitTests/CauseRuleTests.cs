using LeakHunter.Analysis;
using LeakHunter.Census;
using Xunit;

namespace LeakHunter.Tests;

/// <summary>
/// The rules that tell causes from the paths the inspector gives: one cause per owner, the most specific idiom, and no
/// second cause from instances a GC moved or from a bigger shard of another type's growth.
/// </summary>
public sealed class CauseRuleTests
{
    [Theory]
    [InlineData("System.Timers.Timer", "timer")]
    [InlineData("Task.Delay", "timer")]
    [InlineData("linked CancellationTokenSource", "cancellation token registration")]
    [InlineData("IOptionsMonitor.OnChange", "event handler")]
    [InlineData("async method", "event handler")]
    [InlineData("event handler", "collection")]
    public void ACauseIsToldByItsMostSpecificIdiom(string specific, string general) =>
        Assert.True(LeakIdioms.Specificity(specific) < LeakIdioms.Specificity(general), $"{specific} must win over {general}");

    [Fact]
    public void InstancesAtNewAddressesBeyondTheGrowth_AreNoSecondCause()
    {
        // 6,400 calls each added one handler to one event; an older event's 2,406 handlers, moved by a compacting GC
        // since the mark, were traced as new too. Only 6,400 grew, and the event that holds them all is the one cause.
        LeakCauses.Result result = LeakCauses.Build(
            new LeakExplanation([HandlerIn("Acme.Quotes.Changed", 6406, cause: 0), HandlerIn("Acme.Legacy.Changed", 2406, cause: 1)], [], null),
            [new LeakCauses.Growth("System.EventHandler", 1, 64)], explainedSpan: 6400);

        LeakCause cause = Assert.Single(result.Causes);
        Assert.Equal("Acme.Quotes.Changed", cause.Root.Name);
        Assert.Equal(1, cause.InstancesPerIteration, 0.01);
        Assert.Null(result.Signatures.Single(s => s.Root.Name == "Acme.Legacy.Changed").Cause);
    }

    [Fact]
    public void MovedHandlersOutnumberingTheLeak_AreNoCause_TheLeakKeepsItsSubscribersAndHandlers()
    {
        // Another event's 12,800 old handlers were moved since the mark; the leak added 6,400 handlers and subscribers.
        LeakSignature subscriber = new("Acme.Quotes.Subscriber", 6400, new LeakRoot(LeakRootKind.StaticField, "Acme.Quotes.Changed"),
            [new LeakStep("System.EventHandler", null, null), new LeakStep("System.Object[]", "_invocationList", null), new LeakStep("System.EventHandler", "[]", null),
             new LeakStep("Acme.Quotes.Subscriber", "_target", null)], 1, "fix") { Cause = 0 };
        LeakCauses.Result result = LeakCauses.Build(
            new LeakExplanation([HandlerIn("Acme.Quotes.Changed", 6400, cause: 0), subscriber, HandlerIn("Acme.Legacy.Changed", 12800, cause: 1)], [], null),
            [new LeakCauses.Growth("System.EventHandler", 1, 64), new LeakCauses.Growth("Acme.Quotes.Subscriber", 1, 24)], explainedSpan: 6400);

        LeakCause cause = Assert.Single(result.Causes);
        Assert.Equal("Acme.Quotes.Changed", cause.Root.Name);
        Assert.Equal(2, cause.InstancesPerIteration, 0.01);
    }

    [Fact]
    public void TheObjectABlockedFinalizerIsFinalizing_WaitsForFinalizationLikeTheQueueBehindIt()
    {
        LeakRoot queue = new(LeakRootKind.FinalizerQueue, "registered for finalization");
        LeakRoot finalizing = new(LeakRootKind.Stack, "local in Acme.Net.Connection.Finalize (thread 2)");
        LeakSignature Waiting(LeakRoot root, int instances) => new("Acme.Net.Connection", instances, root, [new LeakStep("Acme.Net.Connection", null, null)], null, "fix");

        LeakCauses.Result result = LeakCauses.Build(
            new LeakExplanation([Waiting(queue, 399), Waiting(finalizing, 1)], [], null) { FinalizerThreadBlocked = true },
            [new LeakCauses.Growth("Acme.Net.Connection", 1, 24)], explainedSpan: 400);

        Assert.Empty(result.Causes);
        Assert.Contains("finalizer thread is blocked", Assert.Single(result.Unexplained).Reason);
    }

    [Fact]
    public void TwoEventsThatBothGrow_AreTwoCauses_EachWithItsShare()
    {
        LeakCauses.Result result = LeakCauses.Build(
            new LeakExplanation([HandlerIn("Acme.Quotes.Changed", 6400, cause: 0), HandlerIn("Acme.Prices.Changed", 6400, cause: 1)], [], null),
            [new LeakCauses.Growth("System.EventHandler", 2, 128)], explainedSpan: 6400);

        Assert.Equal(["Acme.Prices.Changed", "Acme.Quotes.Changed"], result.Causes.Select(c => c.Root.Name).Order());
        Assert.All(result.Causes, c => Assert.Equal(1, c.InstancesPerIteration, 0.01));
    }

    [Fact]
    public void BetweenTwoHeaps_EachPathIsGivenWhatItHoldsBeyondWhatItHeldBefore_AndOnlyTheGrowingPathIsACause()
    {
        LeakSignature quotes = HandlerIn("Acme.Quotes.Changed", 900, cause: 0);
        LeakSignature prices = HandlerIn("Acme.Prices.Changed", 300, cause: 1);
        // The same paths in the first heap; a note that carries a count does not make another path.
        var before = new LeakExplanation(
            [quotes with { Instances = 400, Path = [quotes.Path[0] with { Note = "delegate with 400 targets" }, .. quotes.Path.Skip(1)] }, prices], [], null);

        LeakExplanation gained = LeakExplanations.GainedSince(new LeakExplanation([quotes, prices], [], null), before);
        LeakCauses.Result result = LeakCauses.Build(gained, [new LeakCauses.Growth("System.EventHandler", 500, 32_000)], explainedSpan: 1);

        LeakSignature only = Assert.Single(gained.Leaks);
        Assert.Equal(500, only.Instances);
        LeakCause cause = Assert.Single(result.Causes);
        Assert.Equal("Acme.Quotes.Changed", cause.Root.Name);
        Assert.Equal(500, cause.InstancesPerIteration, 0.01);
    }

    [Fact]
    public void AnArrayMovedByACompactingGC_IsNoCauseOfABytesOnlyGrowth_TheReplacedInvocationListIs()
    {
        // The event's handler list was replaced by a bigger one (51 KB); another test's list array of 60 KB, moved since
        // the mark, looks as new. Object[] gained 10 bytes per call over the 1,000 traced calls.
        LeakSignature handlers = HandlerIn("Acme.Quotes.Changed", 1000, cause: 0);
        LeakSignature invocationList = new LeakSignature("System.Object[]", 1, handlers.Root, handlers.Path.Take(2).ToArray(), 1, "fix") { Cause = 0, Bytes = 51_224 };
        LeakSignature movedArray = new LeakSignature("System.Object[]", 1, new LeakRoot(LeakRootKind.StaticField, "Acme.Gate.s_waiting"),
            [new LeakStep("System.Collections.Generic.List<System.Object>", null, null), new LeakStep("System.Object[]", "_items", null)], 1, "fix") { Cause = 1, Bytes = 60_000 };

        LeakCauses.Result result = LeakCauses.Build(new LeakExplanation([handlers, invocationList, movedArray], [], null),
            [new LeakCauses.Growth("System.EventHandler", 1, 64), new LeakCauses.Growth("System.Object[]", 0, 10)], explainedSpan: 1000);

        LeakCause cause = Assert.Single(result.Causes);
        Assert.Equal("Acme.Quotes.Changed", cause.Root.Name);
        Assert.Contains(cause.Types, t => t.Type == "System.Object[]");
    }

    [Fact]
    public void ACausesOwner_IsTheSignatureHoldingItsOwnTypesGrowth_NotTheBiggestShardOfAFasterType()
    {
        // One EventListener per call: the registry's chain holds every listener, and each of sixteen EventSources keeps a
        // dispatcher per listener, traced as a few signatures of sixteen-fold counts. The registry is the owner.
        LeakSignature listeners = new("Acme.OrderEventListener", 6400, new LeakRoot(LeakRootKind.StaticField, "System.Diagnostics.Tracing.EventListener.s_Listeners"),
            [new LeakStep("Acme.OrderEventListener", null, "a chain of these, linked by m_Next"), new LeakStep("Acme.OrderEventListener", "m_Next", null)], 0, "fix") { Cause = 0 };
        LeakSignature Dispatchers(string source, int instances) =>
            new("System.Diagnostics.Tracing.EventDispatcher", instances, new LeakRoot(LeakRootKind.StaticField, source),
                [new LeakStep("System.Diagnostics.Tracing.EventSource", null, null), new LeakStep("System.Diagnostics.Tracing.EventDispatcher", "m_Dispatchers", "a chain of these, linked by m_Next"),
                 new LeakStep("System.Diagnostics.Tracing.EventDispatcher", "m_Next", null)], 1, "fix") { Cause = 0 };

        LeakCauses.Result result = LeakCauses.Build(
            new LeakExplanation([Dispatchers("System.Net.NetEventSource.Log", 40_960), Dispatchers("System.Diagnostics.Tracing.RuntimeEventSource.s_RuntimeEventSource", 20_480),
                Dispatchers("System.Diagnostics.Tracing.NativeRuntimeEventSource.Log", 20_480), Dispatchers("Acme.Telemetry.Log", 20_480), listeners], [], null),
            [new LeakCauses.Growth("System.Diagnostics.Tracing.EventDispatcher", 16, 640), new LeakCauses.Growth("Acme.OrderEventListener", 1, 48)], explainedSpan: 6400);

        LeakCause cause = Assert.Single(result.Causes);
        Assert.Equal("System.Diagnostics.Tracing.EventListener.s_Listeners", cause.Root.Name);
        Assert.Equal(2, cause.Types.Count);
    }

    [Fact]
    public void AChainOfTimersSplitBetweenTwoRoots_IsOneTimerCause_HeldByTheQueue()
    {
        // One interval subscription per call: each keeps a timer in the runtime's queue, a chain linked both ways. The
        // library's own clock-change timer, made since the mark, sits in the same chain, so the search gives half the
        // leaked timers to the queue's head and half to the library's static, at one rate: one chain, not one object
        // per call registered twice.
        LeakRoot queue = new(LeakRootKind.StaticField, "System.Threading.TimerQueue.Instances");
        LeakRoot clock = new(LeakRootKind.StaticField, "System.Reactive.PlatformServices.SystemClock._systemClockChangedHandlerCollector");
        LeakStep Timer(string field, bool isNew) =>
            new("System.Threading.TimerQueueTimer", field, "timer callback (a Timer never disposed); a chain of these, linked by _next") { Closer = "Dispose", IsNew = isNew };
        LeakStep PeriodicTimer(string? field) => new("System.Reactive.Concurrency.ConcurrencyAbstractionLayerImpl+PeriodicTimer", field, null) { Closer = "Dispose", IsNew = true };
        LeakStep[] fromQueue = [new("System.Threading.TimerQueue[]", null, null), new("System.Threading.TimerQueue", "[]", "the runtime's timer queue"), Timer("_longTimers", isNew: true)];
        LeakStep[] fromClock = [PeriodicTimer(null), new("System.Threading.Timer", "_timer", null) { Closer = "Dispose", IsNew = true },
            new("System.Threading.TimerHolder", "_timer", null) { Closer = "Dispose", IsNew = true }, Timer("_timer", isNew: true)];
        LeakSignature Held(LeakRoot root, LeakStep[] path, string type, int cause) =>
            new(type, 3200, root, type == path[^1].Type ? path : [.. path, type == "System.Action" ? new LeakStep(type, "_timerCallback", null) : PeriodicTimer("_state")], path.Length - 1, "fix") { Cause = cause };
        string[] types = ["System.Threading.TimerQueueTimer", "System.Reactive.Concurrency.ConcurrencyAbstractionLayerImpl+PeriodicTimer", "System.Action"];

        LeakCauses.Result result = LeakCauses.Build(
            new LeakExplanation([.. types.Select(t => Held(queue, fromQueue, t, 0)), .. types.Select(t => Held(clock, fromClock, t, 1))], [], null),
            [new LeakCauses.Growth(types[0], 1, 96), new LeakCauses.Growth(types[1], 1, 32), new LeakCauses.Growth(types[2], 1, 64)], explainedSpan: 6400);

        LeakCause cause = Assert.Single(result.Causes);
        Assert.Equal("timer", cause.Idiom);
        Assert.Equal(queue, cause.Root);
        Assert.Equal(clock, Assert.Single(cause.HeldThrough).Root);
        Assert.Equal(1, cause.Types.Single(t => t.Type == types[0]).InstancesPerIteration, 0.01);
    }

    [Fact]
    public void TwoListsOfOneElementType_HeldByTwoStatics_AreTwoCauses()
    {
        // Arrays are not chains: two static lists that each gain an order per call are two owners, whatever they hold.
        LeakSignature Orders(string list, int cause) =>
            new("Acme.Order", 6400, new LeakRoot(LeakRootKind.StaticField, list),
                [new LeakStep("System.Collections.Generic.List<Acme.Order>", null, null), new LeakStep("Acme.Order[]", "_items", null), new LeakStep("Acme.Order", "[]", null) { IsNew = true }], 1, "fix") { Cause = cause };

        LeakCauses.Result result = LeakCauses.Build(
            new LeakExplanation([Orders("Acme.Shop.s_pending", 0), Orders("Acme.Shop.s_audit", 1)], [], null),
            [new LeakCauses.Growth("Acme.Order", 2, 64)], explainedSpan: 6400);

        Assert.Equal(["Acme.Shop.s_audit", "Acme.Shop.s_pending"], result.Causes.Select(c => c.Root.Name).Order());
    }

    [Fact]
    public void WeakHandlesWhoseObjectsAreGone_BesideACauseKeepingWeakReferences_AreThoseReferencesOwn_AndPointToTheCause()
    {
        var root = new LeakRoot(LeakRootKind.StaticField, "Acme.Registry.s_seen");
        var keepsReferences = new LeakCause(root, [new LeakStep("System.Collections.Generic.List<System.WeakReference<Acme.Quote>>", null, null)], 0,
            [new CausedGrowth("System.WeakReference<Acme.Quote>", 6400, 1, 24)], 1, 24, "fix", LeakIdioms.WeakReferences);
        var handles = new ResourceUsage(ResourceNames.GcHandles, [10, 20, 30], 1, true, new Dictionary<string, IReadOnlyList<long>>())
        {
            Findings = [new ResourceFinding("weak", "weak GC handle whose object was collected", 6400, [], ResourceFindings.Hint(ResourceNames.GcHandles, "weak"))],
        };
        var pinned = handles with { Findings = [new ResourceFinding("pinned", "pinned GC handle", 6400, [], ResourceFindings.Hint(ResourceNames.GcHandles, "pinned"))] };

        ResourceFinding weak = ResourceFindings.LinkedToCauses([handles], [keepsReferences])[0].Findings[0];
        ResourceFinding other = ResourceFindings.LinkedToCauses([pinned], [keepsReferences])[0].Findings[0];

        Assert.Equal(0, weak.Cause);
        Assert.StartsWith("These are the handles of the WeakReference objects that cause 1 keeps", weak.Hint);
        Assert.DoesNotContain("GCHandle.Alloc", weak.Hint);
        // A pinned handle is the code's own, whatever else grows.
        Assert.Null(other.Cause);
        Assert.StartsWith("A pinned GCHandle is never freed", other.Hint);
    }

    private static LeakSignature HandlerIn(string @event, int instances, int cause) =>
        new("System.EventHandler", instances, new LeakRoot(LeakRootKind.StaticField, @event),
            [new LeakStep("System.EventHandler", null, "delegate with many targets (an event's handler list)"), new LeakStep("System.Object[]", "_invocationList", null),
             new LeakStep("System.EventHandler", "[]", null)], 1, "fix") { Cause = cause };
}
