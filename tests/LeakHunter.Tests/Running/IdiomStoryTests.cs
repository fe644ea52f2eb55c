using LeakHunter.Analysis;
using LeakHunter.Tests.Targets;
using Xunit;

namespace LeakHunter.Tests;

/// <summary>
/// Each .NET leak idiom, written against the real library as a user writes it: the report must name the owner, the
/// idiom and the fix that is right for it, and the same code with that fix applied must not leak.
/// </summary>
public sealed class IdiomStoryTests
{
    private const string Targets = "LeakHunter.Tests.Targets.";

    [Fact]
    public void EventNeverUnsubscribed_IsAnEventHandler_FixedByUnsubscribing()
    {
        LeakStory story = Story(IdiomEvent.Leak, Targets + "IdiomEvent+Subscriber");

        story.AssertOwner(LeakRootKind.StaticField, Targets + "IdiomEvent.Changed");
        story.AssertIdiom("event handler", "Unsubscribe", "-=");
    }

    [Fact]
    public void EventUnsubscribed_IsClean() => AssertClean(IdiomEvent.Fixed);

    [Fact]
    public void TokenRegistrationNeverDisposed_IsARegistration_FixedByDisposingIt()
    {
        LeakStory story = Story(IdiomTokenRegistration.Leak, Targets + "IdiomTokenRegistration+Worker");

        story.AssertOwner(LeakRootKind.StaticField, Targets + "IdiomTokenRegistration.s_shutdown");
        story.AssertIdiom("cancellation token registration", "Dispose the CancellationTokenRegistration");
    }

    [Fact]
    public void TokenRegistrationDisposed_IsClean() => AssertClean(IdiomTokenRegistration.Fixed);

    [Fact]
    public void LinkedSourceNeverDisposed_IsALinkedSource_FixedByDisposingIt()
    {
        LeakStory story = Story(IdiomLinkedSource.Leak, Targets + "IdiomLinkedSource+Job");

        story.AssertOwner(LeakRootKind.StaticField, Targets + "IdiomLinkedSource.s_shutdown");
        story.AssertIdiom("linked CancellationTokenSource", "Dispose the CancellationTokenSource that CreateLinkedTokenSource returns");
        // The parent's registrations of the linked sources are the same cause, whichever of them a report shows first.
        LeakStory registrations = story.Of("System.Threading.CancellationTokenSource+Linked1CancellationTokenSource");
        registrations.AssertIdiom("linked CancellationTokenSource", "CreateLinkedTokenSource");
    }

    [Fact]
    public void LinkedSourceDisposed_IsClean() => AssertClean(IdiomLinkedSource.Fixed);

    [Fact]
    public void DelayThatLostTheRace_IsATaskDelay_FixedByCancellingIt_NotByDisposingATimer()
    {
        LeakStory story = Story(IdiomTaskDelay.Leak, "System.Threading.Tasks.Task+DelayPromise");

        story.AssertOwner(LeakRootKind.StaticField, "System.Threading.TimerQueue.Instances");
        story.AssertIdiom("Task.Delay", "Cancel the Task.Delay", "CancellationToken", "Task.WhenAny");
        Assert.DoesNotContain("Dispose the Timer", story.Leak.Hint);
        // The queue's entries themselves are the delays' timers: the same story, not a Timer's.
        story.Of("System.Threading.TimerQueueTimer").AssertIdiom("Task.Delay", "Cancel the Task.Delay");
        // Each fires once, an hour on: far past what a check waits, so it is a leak and no census waits for it.
        Assert.Equal(TimeSpan.FromHours(1), story.Leak.Path.First(s => s.Type == "System.Threading.TimerQueueTimer").FiresOnceAfter);
        Assert.DoesNotContain(story.Report.Censuses, c => c.Phase == CensusPhase.AfterDelays);
    }

    [Fact]
    public void DelayCancelledWhenTheOtherTaskWins_IsClean() => AssertClean(IdiomTaskDelay.Fixed);

    [Fact]
    public void ObjectsHeldBySecondLongDelays_AreReleasedWhenTheyFire_AndAreNoLeak()
    {
        LeakReport report = LeakDetector.Run(IdiomShortDelay.HeldForASecond);

        Assert.False(report.HasLeaks, report.ToString());
        Assert.Empty(report.Causes);
        // The check waited the delays out and counted again: the sessions were gone.
        Assert.Equal(CensusPhase.AfterDelays, report.Censuses[^1].Phase);
        Assert.True(report.Censuses[^1].Objects < report.Censuses[^2].Objects, report.ToString());
        string said = Assert.Single(report.Warnings, w => w.Contains("released when they fired", StringComparison.Ordinal));
        Assert.Contains("after up to 1 s", said, StringComparison.Ordinal);
        Assert.Contains("IdiomShortDelay+Session", said, StringComparison.Ordinal);
    }

    [Fact]
    public void ThreadingTimerNeverDisposed_IsATimer_FixedByDisposingIt()
    {
        try
        {
            LeakStory story = Story(IdiomThreadingTimer.Leak, Targets + "IdiomThreadingTimer+Poller");

            story.AssertOwner(LeakRootKind.StaticField, "System.Threading.TimerQueue.Instances");
            story.AssertIdiom("timer", "Dispose the Timer");
        }
        finally
        {
            IdiomThreadingTimer.Release();
        }
    }

    [Fact]
    public void ThreadingTimerDisposed_IsClean() => AssertClean(IdiomThreadingTimer.Fixed);

    [Fact]
    public void TimersTimerNeverStopped_IsNamedAsSystemTimersTimer_FixedByStopAndDispose()
    {
        try
        {
            LeakStory story = Story(IdiomTimersTimer.Leak, Targets + "IdiomTimersTimer+Monitor");

            story.AssertOwner(LeakRootKind.StaticField, "System.Threading.TimerQueue.Instances");
            story.AssertIdiom("System.Timers.Timer", "Stop and Dispose the System.Timers.Timer");
            story.Of("System.Timers.Timer").AssertIdiom("System.Timers.Timer", "Stop and Dispose");
            story.Of("System.Threading.TimerQueueTimer").AssertIdiom("System.Timers.Timer", "Stop and Dispose");
        }
        finally
        {
            IdiomTimersTimer.Release();
        }
    }

    [Fact]
    public void TimersTimerStoppedAndDisposed_IsClean() => AssertClean(IdiomTimersTimer.Fixed);

    [Fact]
    public void WaitNeverUnregistered_IsRegisterWaitForSingleObject_FixedByUnregister()
    {
        LeakStory story = Story(IdiomRegisteredWait.Leak, Targets + "IdiomRegisteredWait+Listener");

        story.AssertOwner(LeakRootKind.StaticField, "System.Threading.PortableThreadPool.ThreadPoolInstance");
        story.AssertIdiom("RegisterWaitForSingleObject", "Unregister", "RegisteredWaitHandle");
        Assert.DoesNotContain("-=", story.Leak.Hint);
    }

    [Fact]
    public void WaitUnregistered_IsClean() => AssertClean(IdiomRegisteredWait.Fixed);

    [Fact]
    public void CancellationChangeTokenCallbackNeverDisposed_IsAChangeTokenCallback()
    {
        LeakStory story = Story(IdiomCancellationChangeToken.Leak, Targets + "IdiomCancellationChangeToken+Reloader");

        story.AssertOwner(LeakRootKind.StaticField, Targets + "IdiomCancellationChangeToken.s_token");
        story.AssertIdiom("change token callback", "Dispose the IDisposable that IChangeToken.RegisterChangeCallback");
        // The callbacks' list is reached through its head and through a node's next: one token, one cause.
        Assert.True(story.Report.Causes.Count == 1, story.Report.ToString());
    }

    [Fact]
    public void CancellationChangeTokenCallbackDisposed_IsClean() => AssertClean(IdiomCancellationChangeToken.Fixed);

    [Fact]
    public void ConfigurationReloadTokenCallbackNeverDisposed_IsAChangeTokenCallback()
    {
        LeakStory story = Story(IdiomReloadToken.Leak, Targets + "IdiomReloadToken+Reader");

        story.AssertOwner(LeakRootKind.StaticField, Targets + "IdiomReloadToken.s_configuration");
        Assert.Contains(story.Leak.Path, s => s.Type == "Microsoft.Extensions.Configuration.ConfigurationReloadToken");
        story.AssertIdiom("change token callback", "RegisterChangeCallback");
    }

    [Fact]
    public void OptionsMonitorListenerNeverDisposed_IsOnChange_FixedByDisposingItsResult()
    {
        LeakStory story = Story(IdiomOptionsMonitor.Leak, Targets + "IdiomOptionsMonitor+Consumer");

        story.AssertOwner(LeakRootKind.StaticField, Targets + "IdiomOptionsMonitor.s_monitor");
        story.AssertIdiom("IOptionsMonitor.OnChange", "Dispose the IDisposable that IOptionsMonitor.OnChange returns");
        // Every part of the listener's chain tells the same story, the monitor's own event included.
        foreach (LeakSignature leak in story.Report.Leaks.Where(l => l.Root.Name == Targets + "IdiomOptionsMonitor.s_monitor" && l.Instances >= 10))
            Assert.Equal("IOptionsMonitor.OnChange", story.Report.Causes[leak.Cause!.Value].Idiom);
    }

    [Fact]
    public void OptionsMonitorListenerDisposed_IsClean() => AssertClean(IdiomOptionsMonitor.Fixed);

    [Fact]
    public void DisposableTransientFromTheRootProvider_IsTheDiRootScope_FixedByAScope()
    {
        LeakStory story = Story(IdiomDiRoot.Leak, Targets + "IdiomDiRoot+Connection");

        story.AssertOwner(LeakRootKind.StaticField, Targets + "IdiomDiRoot.s_services");
        Assert.Equal("_disposables", story.Leak.Path[story.Leak.AccumulationPoint!.Value - 1].Field);
        story.AssertIdiom("DI root scope", "CreateScope", "dispose the scope");
    }

    [Fact]
    public void DisposableTransientFromADisposedScope_IsClean() => AssertClean(IdiomDiRoot.Fixed);

    [Fact]
    public void MeterPerCall_IsTheMeterRegistry_FixedByDisposingIt()
    {
        LeakStory story = Story(IdiomMeter.Leak, "System.Diagnostics.Metrics.Meter");

        story.AssertOwner(LeakRootKind.StaticField, "System.Diagnostics.Metrics.Meter.s_allMeters");
        story.AssertIdiom("Meter registry", "Dispose the Meter");
        story.Of("System.Diagnostics.Metrics.Counter<System.Int32>").AssertIdiom("Meter registry", "Dispose the Meter");
    }

    [Fact]
    public void MeterDisposed_IsClean() => AssertClean(IdiomMeter.Fixed);

    [Fact]
    public void ActivitySourcePerCall_IsTheActivitySourceRegistry()
    {
        LeakStory story = Story(IdiomActivitySource.Leak, "System.Diagnostics.ActivitySource");

        story.AssertOwner(LeakRootKind.StaticField, "System.Diagnostics.ActivitySource.s_activeSources");
        story.AssertIdiom("ActivitySource registry", "Dispose the ActivitySource");
    }

    [Fact]
    public void DiagnosticListenerPerCall_IsTheDiagnosticListenerRegistry()
    {
        LeakStory story = Story(IdiomDiagnosticListener.Leak, "System.Diagnostics.DiagnosticListener");

        story.AssertOwner(LeakRootKind.StaticField, "System.Diagnostics.DiagnosticListener.s_allListeners");
        story.AssertIdiom("DiagnosticListener registry", "Dispose the DiagnosticListener");
    }

    [Fact]
    public void EventListenerPerCall_IsTheEventListenerRegistry_InEveryEventSourceToo()
    {
        LeakStory story = Story(IdiomEventListener.Leak, Targets + "IdiomEventListener+OrderEventListener");

        story.AssertOwner(LeakRootKind.StaticField, "System.Diagnostics.Tracing.EventListener.s_Listeners");
        story.AssertIdiom("EventListener registry", "Dispose the EventListener");
        // Each EventSource keeps a dispatcher per listener: those are the same cause.
        story.Of("System.Diagnostics.Tracing.EventDispatcher").AssertIdiom("EventListener registry", "Dispose the EventListener");
    }

    [Fact]
    public void AppContextDataPerKey_IsAppContextData_FixedByAFixedSetOfKeys()
    {
        LeakStory story = Story(IdiomAppContext.Leak, Targets + "IdiomAppContext+Setting");

        story.AssertOwner(LeakRootKind.StaticField, "System.AppContext.s_dataStore");
        story.AssertIdiom("AppContext data", "fixed set of AppContext.SetData keys");
    }

    [Fact]
    public void TypeDescriptorAttributesPerCall_IsATypeDescriptorProvider_FixedByRemoveProvider()
    {
        LeakStory story = Story(IdiomTypeDescriptor.LeakAttributes, Targets + "IdiomTypeDescriptor+TagAttribute");

        story.AssertOwner(LeakRootKind.StaticField, "System.ComponentModel.TypeDescriptor.s_providerTable");
        story.AssertIdiom("TypeDescriptor provider", "TypeDescriptor.RemoveProvider", "AddAttributes");
    }

    [Fact]
    public void TypeDescriptorProviderPerCall_IsATypeDescriptorProvider_FixedByRemoveProvider()
    {
        LeakStory story = Story(IdiomTypeDescriptor.LeakProvider, Targets + "IdiomTypeDescriptor+WidgetProvider");

        story.AssertOwner(LeakRootKind.StaticField, "System.ComponentModel.TypeDescriptor.s_providerTable");
        story.AssertIdiom("TypeDescriptor provider", "TypeDescriptor.RemoveProvider", "AddProvider");
    }

    [Fact]
    public void LoggerCategoryPerCall_IsALoggerCategory_FixedByAFixedSetOfNames()
    {
        LeakStory story = Story(IdiomLoggerFactory.Leak, "Microsoft.Extensions.Logging.Logger");

        story.AssertOwner(LeakRootKind.StaticField, Targets + "IdiomLoggerFactory.s_loggers");
        story.AssertIdiom("logger category", "fixed set of logger category names");
    }

    [Fact]
    public void MemoryCacheWithoutLimits_IsNamed_FixedBySizeLimitOrExpiration()
    {
        LeakStory story = Story(IdiomMemoryCache.Leak, Targets + "IdiomMemoryCache+Quote");

        story.AssertOwner(LeakRootKind.StaticField, Targets + "IdiomMemoryCache.s_cache");
        story.AssertIdiom("MemoryCache without limits", "SizeLimit", "expiration");
    }

    [Fact]
    public void MemoryCacheWithASizeLimit_IsClean() => AssertClean(IdiomMemoryCache.Fixed);

    [Fact]
    public void ChannelNobodyReads_IsAnUnreadChannel_FixedByReadingOrBounding()
    {
        LeakStory story = Story(IdiomChannel.Leak, Targets + "IdiomChannel+Message");

        story.AssertOwner(LeakRootKind.StaticField, Targets + "IdiomChannel.s_outbox");
        story.AssertIdiom("unread channel", "read it", "Channel.CreateBounded");
        // The queue's items are reached through its head segment and through its tail: one channel, one cause.
        Assert.True(story.Report.Causes.Count == 1, story.Report.ToString());
    }

    [Fact]
    public void ChannelThatIsRead_IsClean() => AssertClean(IdiomChannel.Fixed);

    [Fact]
    public void ChannelOfValuesNobodyReads_GrowsByItsItems_AndIsAnUnreadChannel()
    {
        LeakStory story = Story(IdiomValueChannel.Leak, "items of System.Collections.Concurrent.ConcurrentQueueSegment<System.Int32>");

        story.AssertOwner(LeakRootKind.StaticField, Targets + "IdiomValueChannel.s_readings");
        story.AssertIdiom("unread channel", "read it", "Channel.CreateBounded");
        Assert.True(story.Report.Causes.Count == 1, story.Report.ToString());
        // An item a call, and no object: the items are what grows.
        TypeGrowth items = Assert.Single(story.Report.GrowingTypes);
        Assert.InRange(items.InstancesPerIteration, 0.95, 1.05);
    }

    [Fact]
    public void ChannelOfValuesThatIsRead_IsClean() => AssertClean(IdiomValueChannel.Fixed);

    [Fact]
    public void ListOfValuesThatGrowsPerCall_GrowsByItsItems_HeldByItsStatic()
    {
        LeakStory story = Story(IdiomValueList.Leak, "items of System.Collections.Generic.List<System.Guid>");

        story.AssertOwner(LeakRootKind.StaticField, Targets + "IdiomValueList.s_seen");
        Assert.True(story.Report.Causes.Count == 1, story.Report.ToString());
        // The last resort names the call of the user's code that fills the list.
        Assert.Contains("It is filled by your call to List<Guid>.Add in IdiomValueList.Leak.", story.Report.Causes[0].Hint);
    }

    [Fact]
    public void ListOfValuesKeptBounded_IsClean() => AssertClean(IdiomValueList.Fixed);

    [Fact]
    public void XNamesMadeFromData_AreTheXNameTable()
    {
        LeakStory story = Story(IdiomXName.Leak, "System.Xml.Linq.XName");

        story.AssertOwner(LeakRootKind.StaticField, Targets + "IdiomXName.s_root");
        Assert.Contains(story.Leak.Path, s => s.Type == "System.Xml.Linq.XNamespace");
        story.AssertIdiom("XName table", "Do not make element or attribute names from data");
    }

    [Fact]
    public void XmlSerializerWithARootPerCall_IsTheAssemblyItGenerates()
    {
        // Each call generates an assembly (milliseconds, and about 60 KiB of native memory): 500 calls confirm the growth.
        LeakReport report = LeakDetector.Run(IdiomXmlSerializer.Leak, new LeakOptions { ConfirmationIterations = 500 });
        Assert.True(report.HasLeaks, report.ToString());
        Assert.False(report.ExplanationIsPartial, report.ExplanationNote);
        LeakStory story = new(report, Signature(report, "System.Reflection.RuntimeModule"));

        // The runtime holds a loaded assembly by handles of its own: the owner is the assembly, named by the types
        // it defines, never a GC handle for the user to free.
        Assert.Equal(LeakRootKind.LoadedAssembly, story.Leak.Root.Kind);
        Assert.StartsWith("dynamic assembly defining Microsoft.Xml.Serialization.GeneratedAssembly.", story.Leak.Root.Name);
        story.AssertIdiom("XmlSerializer assembly", "Create the XmlSerializer once", "XmlSerializer(Type, string)");
        // The assembly object and its types' Type objects are the same cause as its module.
        story.Of("System.Reflection.RuntimeAssembly").AssertIdiom("XmlSerializer assembly");
        story.Of("System.RuntimeType").AssertIdiom("XmlSerializer assembly");
        Assert.DoesNotContain("Free the GC handle", report.ToString());
        Assert.Empty(report.Unexplained);
    }

    [Fact]
    public void StringsInternedPerCall_AreTheRuntimesInternTable_NotAHandleToFree()
    {
        LeakStory story = Story(IdiomInternedString.Leak, "System.String");

        Assert.Equal(LeakRootKind.StrongHandle, story.Leak.Root.Kind);
        Assert.StartsWith("the runtime's own handle table", story.Leak.Root.Name);
        story.AssertIdiom("interned string", "string.Intern", "per-call data");
        Assert.DoesNotContain("Free the GC handle", story.Report.ToString());
    }

    [Fact]
    public void AFixedVocabularyInterned_IsClean() => AssertClean(IdiomInternedString.Fixed);

    [Fact]
    public void XmlSerializerMadeOnce_IsClean() => AssertClean(IdiomXmlSerializer.Fixed);

    [Fact]
    public void PluginHandlerOnProcessExit_KeepsItsCollectibleContextLoaded_NamingTheHandlerToRemove()
    {
        // Loading an assembly costs milliseconds and about 50 KiB of native memory: 500 calls confirm the growth.
        LeakStory story;
        try
        {
            story = Story(IdiomPluginContext.Leak, "System.Runtime.Loader.AssemblyLoadContext", new LeakOptions { ConfirmationIterations = 500 });
        }
        finally
        {
            // The contexts the leak kept would slow every later explanation in this process.
            IdiomPluginContext.RemoveLeftHandlers();
        }

        story.AssertOwner(LeakRootKind.StaticField, "System.AppDomain.s_domain");
        // The path runs into the plugin's object, and from it to the context its type's loader allocator keeps.
        Assert.Contains(story.Leak.Path, s => s.Type == "LeakHunter.TestPlugin.ShutdownFlusher");
        Assert.Contains(story.Leak.Path, s => s.Field == "(its type's loader allocator)" && s.Type == "System.Reflection.LoaderAllocator"
            && s.Note == "loader allocator of collectible assembly LeakHunter.TestPlugin");
        Assert.Contains("collectible AssemblyLoadContext of assembly LeakHunter.TestPlugin (Unload called", story.Leak.Path[^1].Note);
        story.AssertIdiom(LeakIdioms.UnloadableContext, "ShutdownFlusher", "collectible assembly LeakHunter.TestPlugin", "remove its handler from AppDomain.ProcessExit (-=)", "Unload");
        // The context's runtime objects and the plugin's own are one cause, told once.
        foreach (string type in new[] { "System.Reflection.LoaderAllocator", "System.Reflection.RuntimeAssembly", "LeakHunter.TestPlugin.ShutdownFlusher", "System.EventHandler" })
            story.Of(type).AssertIdiom(LeakIdioms.UnloadableContext);
        Assert.DoesNotContain("Free the GC handle", story.Report.ToString());
    }

    [Fact]
    public void PluginStoppedBeforeUnload_IsClean() => AssertClean(IdiomPluginContext.Fixed);

    [Fact]
    public void LambdaKeptInAStaticList_IsAClosure_NamingTheMethodThatMadeIt()
    {
        LeakStory story = Story(IdiomClosure.Leak, Targets + "IdiomClosure+Payload");

        story.AssertOwner(LeakRootKind.StaticField, Targets + "IdiomClosure.s_callbacks");
        story.AssertIdiom("closure", "The lambda made in IdiomClosure.Leak", "remove the delegate");
    }

    [Fact]
    public void LambdaRemovedWhenDone_IsClean() => AssertClean(IdiomClosure.Fixed);

    [Fact]
    public void AsyncMethodAwaitingForever_NamesTheMethodAndWhatItAwaits()
    {
        LeakStory story = Story(IdiomAsync.Leak, Targets + "IdiomAsync+Envelope");

        story.AssertOwner(LeakRootKind.StaticField, Targets + "IdiomAsync.s_ready");
        story.AssertIdiom("async method", "IdiomAsync.SendWhenReadyAsync", "awaits a TaskCompletionSource's task that never completes");
        Assert.DoesNotContain("-=", story.Leak.Hint);
        // The continuation's delegate is the same await, not an event's handler.
        story.Of("System.Action").AssertIdiom("async method", "IdiomAsync.SendWhenReadyAsync");
    }

    private static LeakStory Story(Action fragment, string type, LeakOptions? options = null)
    {
        LeakReport report = LeakDetector.Run(fragment, options ?? new LeakOptions());
        Assert.True(report.HasLeaks, report.ToString());
        Assert.False(report.ExplanationIsPartial, report.ExplanationNote);
        return new LeakStory(report, Signature(report, type));
    }

    private static LeakSignature Signature(LeakReport report, string type)
    {
        LeakSignature? leak = report.Leaks.Where(l => l.Type == type).MaxBy(l => l.Instances);
        Assert.True(leak is not null, $"no path for {type}:\n{report}");
        return leak;
    }

    private static void AssertClean(Action fragment)
    {
        LeakReport report = LeakDetector.Run(fragment);
        Assert.False(report.HasLeaks, report.ToString());
    }

    private sealed record LeakStory(LeakReport Report, LeakSignature Leak)
    {
        public LeakStory Of(string type) => this with { Leak = Signature(Report, type) };

        /// <summary>The cause the report tells this signature under: every growing type's story is a cause's.</summary>
        private LeakCause Cause
        {
            get
            {
                Assert.True(Leak.Cause is not null, $"{Leak.Type} under {Leak.Root.Name} is in no cause:\n{Report}");
                return Report.Causes[Leak.Cause!.Value];
            }
        }

        public void AssertOwner(LeakRootKind kind, string name)
        {
            Assert.Equal(new LeakRoot(kind, name), Leak.Root);
            Assert.True(new LeakRoot(kind, name) == Cause.Root, $"the cause of {Leak.Type} is held by {Cause.Root.Name}, not {name}:\n{Report}");
        }

        /// <summary>The type's cause is told as the idiom, with its fix, and the signature carries the same fix: one story per leak.</summary>
        public void AssertIdiom(string name, params string[] hintWords)
        {
            Assert.True(name == Cause.Idiom, $"the cause of {Leak.Type} is told as '{Cause.Idiom}', not '{name}':\n{Report}");
            Assert.Equal(Cause.Hint, Leak.Hint);
            Assert.Contains(Cause.Hint, Report.ToString());
            foreach (string word in hintWords)
                Assert.Contains(word, Cause.Hint);
        }
    }
}
