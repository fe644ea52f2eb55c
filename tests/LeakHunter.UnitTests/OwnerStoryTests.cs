extern alias inspector;

using LeakHunter.Analysis;
using Microsoft.Extensions.DependencyInjection;
using Xunit;
using KeyShapes = inspector::LeakHunter.Inspector.Paths.KeyShapes;

namespace LeakHunter.Tests;

/// <summary>
/// The general rules that read a fix from the leaked objects themselves, on paths as the inspector gives them: the
/// release method a new object's type has, a container's list of disposables, a dictionary gaining a key per call, a
/// thread started per call. Each rule is shown with the path it reads and a near twin it must not claim.
/// </summary>
public sealed class OwnerStoryTests
{
    private static readonly LeakRoot s_repository = new(LeakRootKind.StaticField, "Quartz.Impl.SchedulerRepository.Instance");

    private static LeakStep Step(string type, string? field, bool isNew = false, string? closer = null, string? note = null, IReadOnlyList<string>? keys = null) =>
        new(type, field, note) { IsNew = isNew, Closer = closer, KeyShapes = keys };

    [Fact]
    public void ANewObjectWithAShutdown_HeldPastACollection_IsToldByItsOwnShutdown()
    {
        LeakStep[] path =
        [
            Step("Quartz.Impl.SchedulerRepository", null),
            Step("System.Collections.Generic.Dictionary<System.String, Quartz.IScheduler>", "schedulers"),
            Step("System.Collections.Generic.Dictionary<System.String, Quartz.IScheduler>+Entry[]", "_entries", isNew: true),
            Step("Quartz.Impl.StdScheduler", "[].value", isNew: true, closer: "Shutdown"),
        ];

        LeakIdiom idiom = LeakIdioms.Decode(s_repository, path);

        Assert.Equal(LeakIdioms.ForgottenObject, idiom.Name);
        Assert.Contains("Call Shutdown on each StdScheduler", idiom.Hint);
        Assert.Contains("SchedulerRepository.schedulers keeps every one", idiom.Hint);
        // Only Dispose is a using block.
        Assert.DoesNotContain("using", idiom.Hint);
    }

    [Fact]
    public void TheSameObject_ThatExistedBeforeTheCalls_IsNoForgottenObject()
    {
        LeakStep[] path =
        [
            Step("Acme.Registry", null),
            Step("System.Collections.Generic.List<Acme.Order>", "_orders"),
            Step("Acme.Order[]", "_items", isNew: true),
            Step("Acme.Order", "[]", isNew: false, closer: "Dispose"),
        ];

        LeakIdiom idiom = LeakIdioms.Decode(new LeakRoot(LeakRootKind.StaticField, "Acme.Registry.s_instance"), path);

        Assert.Equal("collection", idiom.Name);
        Assert.Contains("the List<Order> in Registry._orders", idiom.Hint);
    }

    [Fact]
    public void ANewObjectWithNoReleaseMethod_IsLeftToTheCollectionsRule()
    {
        LeakStep[] path = [Step("System.Collections.Generic.List<Acme.Order>", null), Step("Acme.Order[]", "_items", isNew: true), Step("Acme.Order", "[]", isNew: true)];

        LeakIdiom idiom = LeakIdioms.Decode(new LeakRoot(LeakRootKind.StaticField, "Acme.Archive.s_orders"), path);

        Assert.Equal("collection", idiom.Name);
        Assert.Contains("the List<Order> in Archive.s_orders", idiom.Hint);
    }

    [Fact]
    public void AnyContainersScopeThatKeepsDisposables_IsTheRootScope_FixedByAScope()
    {
        LeakStep[] path =
        [
            Step("Acme.Ioc.Container", null),
            Step("Acme.Ioc.LifetimeScope", "_root"),
            Step("Acme.Ioc.Disposer", "_disposer"),
            Step("System.Collections.Generic.Stack<System.Object>", "_items"),
            Step("System.Object[]", "_array", isNew: true),
            Step("Acme.ReportWriter", "[]", isNew: true, closer: "Dispose"),
        ];

        LeakIdiom idiom = LeakIdioms.Decode(new LeakRoot(LeakRootKind.StaticField, "Acme.App.s_container"), path);

        Assert.Equal(LeakIdioms.ContainerScope, idiom.Name);
        Assert.Contains("Resolve ReportWriter from a scope that is disposed", idiom.Hint);
        Assert.Contains("LifetimeScope keeps every IDisposable", idiom.Hint);
    }

    [Fact]
    public void ADictionaryGainingAKeyPerCall_ShowsTheKeysShape_AndAFixedKeyAsTheFix()
    {
        LeakStep[] path =
        [
            Step("Acme.Logging.LogFactory", null),
            Step("System.Collections.Generic.Dictionary<System.String, Acme.Logging.Logger>", "_loggers"),
            Step("System.Collections.Generic.Dictionary<System.String, Acme.Logging.Logger>+Entry[]", "_entries", isNew: true, keys: ["tenant-N"]),
            Step("Acme.Logging.Logger", "[].value", isNew: true),
        ];

        LeakIdiom idiom = LeakIdioms.Decode(new LeakRoot(LeakRootKind.StaticField, "Acme.Logging.LogManager.s_factory"), path);

        Assert.Equal(LeakIdioms.KeyPerCall, idiom.Name);
        Assert.Contains("Use a fixed logger name", idiom.Hint);
        Assert.Contains("`tenant-N`", idiom.Hint);
    }

    [Fact]
    public void AThreadStartedPerCall_IsTheOwner_FixedByItsStartersStop()
    {
        var root = new LeakRoot(LeakRootKind.Thread, "thread \"sink\" started at Acme.Sinks.Pump.Run")
        {
            Thread = new LeakThread("sink", "Acme.Sinks.Pump.Run", "Acme.Sinks.Pump", "Stop", 40),
        };

        LeakIdiom idiom = LeakIdioms.Decode(root, [Step("System.Threading.Thread", null, isNew: true)]);

        Assert.Equal(LeakIdioms.ThreadNeverEnded, idiom.Name);
        Assert.Contains("Pump.Run and never ends (40 of them were running)", idiom.Hint);
        Assert.Contains("call Pump.Stop()", idiom.Hint);
    }

    [Fact]
    public void AnEventsSubscriberThatReleasesItself_IsFixedByItsDispose_AndAPlainSubscriberByMinusEquals()
    {
        LeakStep[] Path(string? closer) =>
        [
            Step("System.EventHandler", null, isNew: true, note: "delegate with 40 targets (an event's handler list)"),
            Step("System.Object[]", "_invocationList", isNew: true),
            Step("System.EventHandler", "[]", isNew: true, note: "handler Lifetime.OnSignal"),
            Step("Acme.Hosting.Lifetime", "_target", isNew: true, closer: closer),
        ];
        var root = new LeakRoot(LeakRootKind.StaticField, "Acme.Signals.Raised");

        LeakIdiom releasing = LeakIdioms.Decode(root, Path("Dispose"));
        LeakIdiom plain = LeakIdioms.Decode(root, Path(null));

        Assert.Equal(("event handler", "event handler"), (releasing.Name, plain.Name));
        Assert.Contains("Call Dispose on each Lifetime", releasing.Hint);
        Assert.Contains("-=", plain.Hint);
    }

    [Fact]
    public void KeyShapes_KeepWhatAllKeysShare_AndTellTheRestByKind()
    {
        Assert.Equal(["tenant-N"], KeyShapes.Shapes(["tenant-12", "tenant-7", "tenant-3"]));
        Assert.Equal(["order:{guid}"], KeyShapes.Shapes(["order:1b4e28ba-2fa1-11d2-883f-0016d3cca427", "order:6fa459ea-ee8a-3ca4-894e-db77e160355e"]));
        // The shared part ends where a word does: the 4 both keys start with is data.
        Assert.Equal(["tenant-N"], KeyShapes.Shapes(["tenant-4", "tenant-43"]));
    }

    [Fact]
    public void KeyShapes_OfAFixedVocabulary_AreNone()
    {
        Assert.Empty(KeyShapes.Shapes(["Data Source", "Mode", "Cache"]));
        Assert.Empty(KeyShapes.Shapes([]));
    }

    [Fact]
    public void KeyShapes_NeverCarryASecret_EvenOneAllKeysShare()
    {
        List<string> shapes = KeyShapes.Shapes(["Server=db;Password=hunter2;Database=tenant-1", "Server=db;Password=hunter2;Database=tenant-2"]);

        string shape = Assert.Single(shapes);
        Assert.Equal("Server=db;Password=…;Database=tenant-N", shape);
        Assert.DoesNotContain("hunter2", shape);
    }

    [Fact]
    public void TheLastResort_NamesTheUsersCallIntoTheLibraryThatHoldsTheCollection()
    {
        LeakStep[] path =
        [
            Step("Acme.Telemetry.Registry", null),
            Step("System.Collections.Generic.List<Acme.Telemetry.Sample>", "_samples"),
            Step("Acme.Telemetry.Sample[]", "_items", isNew: true),
        ];
        FragmentCall[] calls =
        [
            new("System.Threading.Interlocked", "Increment", "OrderHandler.Handle", IntoUserCode: false),
            new("Acme.Telemetry.Tracker", "Record", "OrderHandler.Handle", IntoUserCode: false),
        ];

        string? filledBy = LeakIdioms.FilledBy(new LeakRoot(LeakRootKind.StaticField, "Acme.Telemetry.Registry.Default"), path, calls);

        // The call into the library whose types hold the list, not the one into the base class library before it.
        Assert.Equal(" It is filled by your call to Tracker.Record in OrderHandler.Handle.", filledBy);
    }

    [Fact]
    public void TheLastResort_WithoutACallIntoTheHoldersLibrary_NamesTheFragmentsOwnCall_OrNothing()
    {
        LeakStep[] path = [Step("Acme.Registry", null), Step("System.Collections.Generic.List<Acme.Order>", "_orders")];
        var root = new LeakRoot(LeakRootKind.StaticField, "Acme.Registry.s_instance");

        Assert.Equal(" It is filled by your call to OrderService.Place in OrderTests.Leak.",
            LeakIdioms.FilledBy(root, path, [new("Other.Library.Client", "Send", "OrderTests.Leak", false), new("Shop.OrderService", "Place", "OrderTests.Leak", true)]));
        Assert.Null(LeakIdioms.FilledBy(root, path, [new("Other.Library.Client", "Send", "OrderTests.Leak", false)]));
        Assert.Null(LeakIdioms.FilledBy(root, path, null));
    }

    [Fact]
    public void FragmentCalls_AreReadFromTheLambda_TheUsersHelpers_AndAnAsyncMethodsStateMachine()
    {
        var seen = new HashSet<string>();
        IReadOnlyList<FragmentCall> calls = FragmentCalls.Of(() => Remember(seen, "order"));

        // The helper is the user's own code: its calls out are the fragment's too, made in the helper.
        Assert.Contains(calls, c => (c.Type, c.Method, c.Caller, c.IntoUserCode) ==
            ("LeakHunter.Tests.OwnerStoryTests", "Remember", "OwnerStoryTests.FragmentCalls_AreReadFromTheLambda_TheUsersHelpers_AndAnAsyncMethodsStateMachine", true));
        FragmentCall added = Assert.Single(calls, c => c.Type == "System.Collections.Generic.HashSet<System.String>" && c.Method == "Add");
        Assert.Equal(("OwnerStoryTests.Remember", false), (added.Caller, added.IntoUserCode));
        // It works on the set, and gives back a bool: a plain value, as an argument's call would.
        Assert.Equal(typeof(HashSet<string>), added.Receiver);
        Assert.True(added.GivesPlainValue);
        Assert.Null(added.Made);

        IReadOnlyList<FragmentCall> awaited = FragmentCalls.Of(RememberLater);
        Assert.Contains(awaited, c => c.Type == "System.Collections.Generic.List<System.Int32>" && c.Method == "Add" && c.Caller == "OwnerStoryTests.RememberLater");
    }

    private static void Remember(HashSet<string> seen, string key) => seen.Add(key);

    private static readonly List<int> s_later = new();

    private static async Task RememberLater()
    {
        await Task.Yield();
        s_later.Add(1);
    }

    [Fact]
    public void AnObjectTheUsersCallGaveBack_IsNamedWithTheCallThatGaveIt()
    {
        LeakStep[] path =
        [
            Step("Acme.Registry", null),
            Step("System.Collections.Generic.List<System.IO.Stream>", "_open"),
            Step("System.IO.Stream[]", "_items", isNew: true),
            Step("System.IO.MemoryStream", "[]", isNew: true, closer: "Dispose"),
        ];
        FragmentCall opened = new("Acme.Storage", "Open", "ReportTests.Leak", IntoUserCode: false) { Made = typeof(Stream), Releaser = "Dispose" };

        LeakIdiom idiom = LeakIdioms.Decode(new LeakRoot(LeakRootKind.StaticField, "Acme.Registry.s_instance"), path, [opened]);

        Assert.Equal(LeakIdioms.ForgottenObject, idiom.Name);
        Assert.Contains("Call Dispose on each MemoryStream that your call to Storage.Open in ReportTests.Leak returns", idiom.Hint);
        // Without the call, the same path is told by the object alone.
        Assert.DoesNotContain("your call", LeakIdioms.Decode(new LeakRoot(LeakRootKind.StaticField, "Acme.Registry.s_instance"), path).Hint);
    }

    [Fact]
    public void AHandlerRegisteredWithALibraryType_IsFixedByThatTypesOwnRemover_OrByRegisteringOnce()
    {
        LeakStep[] path =
        [
            Step("System.ComponentModel.EventHandlerList", null),
            Step("System.ComponentModel.EventHandlerList+ListEntry", "_head", isNew: true),
            Step("System.EventHandler", "_handler", isNew: true, note: "handler OrderView.OnChanged, target OrderView"),
            Step("Acme.OrderView", "_target", isNew: true),
        ];
        var root = new LeakRoot(LeakRootKind.StaticField, "Acme.Events.s_handlers");
        FragmentCall added = new("System.ComponentModel.EventHandlerList", "AddHandler", "OrderTests.Leak", IntoUserCode: false) { Receiver = typeof(System.ComponentModel.EventHandlerList) };

        LeakIdiom idiom = LeakIdioms.Decode(root, path, [added]);

        Assert.Equal("event handler", idiom.Name);
        Assert.Contains("Make your call to EventHandlerList.AddHandler in OrderTests.Leak once", idiom.Hint);
        Assert.Contains("or call EventHandlerList.RemoveHandler", idiom.Hint);
        Assert.Contains("Events.s_handlers keeps everything registered with it", idiom.Hint);
        // A call that works on another type says nothing of this holder.
        FragmentCall other = added with { Receiver = typeof(Stream) };
        Assert.DoesNotContain("AddHandler", LeakIdioms.Decode(root, path, [other]).Hint);
    }

    [Fact]
    public void AListOfWeakReferencesToObjectsMadePerCall_IsToldAsThoseObjects_WithTheirReleaseMethod()
    {
        // Every ServiceProvider built registers a weak reference with the DI event source, which drops the dead ones
        // only when a provider is disposed: a test that builds one per call and never disposes it grows the list.
        LeakStep[] path =
        [
            new("Microsoft.Extensions.DependencyInjection.DependencyInjectionEventSource", null, null),
            new("System.Collections.Generic.List<System.WeakReference<Microsoft.Extensions.DependencyInjection.ServiceProvider>>", "_providers", null),
            new("System.WeakReference<Microsoft.Extensions.DependencyInjection.ServiceProvider>[]", "_items", null) { IsNew = true },
        ];

        // As in the process whose heap the path came from, the type is loaded, and its release method is read from it.
        using ServiceProvider provider = new ServiceCollection().BuildServiceProvider();
        LeakIdiom idiom = LeakIdioms.Decode(new LeakRoot(LeakRootKind.StaticField, "Microsoft.Extensions.DependencyInjection.DependencyInjectionEventSource.Log"), path);

        Assert.Equal(LeakIdioms.WeakReferences, idiom.Name);
        Assert.StartsWith("The List<WeakReference<ServiceProvider>> in DependencyInjectionEventSource._providers keeps a WeakReference to every ServiceProvider made", idiom.Hint);
        Assert.Contains("Call Dispose on each ServiceProvider when it is done", idiom.Hint);
        Assert.DoesNotContain("Remove the entries", idiom.Hint);
    }

    [Fact]
    public void AListOfWeakReferencesToATypeWithNoReleaseMethod_IsToldToShareOne()
    {
        LeakStep[] path =
        [
            new("System.Collections.Generic.List<System.WeakReference<Acme.Quote>>", null, null),
            new("System.WeakReference<Acme.Quote>[]", "_items", null) { IsNew = true },
        ];

        LeakIdiom idiom = LeakIdioms.Decode(new LeakRoot(LeakRootKind.StaticField, "Acme.Quotes.s_seen"), path);

        Assert.Equal(LeakIdioms.WeakReferences, idiom.Name);
        Assert.EndsWith("your code makes a Quote per call. Create one Quote and share it.", idiom.Hint);
    }
}
