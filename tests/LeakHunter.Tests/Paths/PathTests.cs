using System.Collections;
using System.Reflection;
using System.Runtime.CompilerServices;
using LeakHunter.Tests.Targets;
using Xunit;

namespace LeakHunter.Tests;

/// <summary>
/// The reported paths are checked against the runtime itself: the test follows each path from its root with
/// reflection, cuts the reference into the accumulation point, collects, and the leaked instances must die.
/// </summary>
public sealed class PathTests
{
    private const BindingFlags AnyInstance = BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic;
    private const BindingFlags AnyStatic = BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic;
    private const string Targets = "LeakHunter.Tests.Targets.";

    [Fact]
    public void StaticList_IsHeldByItsField_AndPilesUpInTheListsArray()
    {
        LeakSignature leak = Explain(PathStaticList.Handle, Targets + "PathStaticList+Order");

        Assert.Equal(new LeakRoot(LeakRootKind.StaticField, Targets + "PathStaticList.s_orders"), leak.Root);
        Assert.Equal(
            [("System.Collections.Generic.List<" + Targets + "PathStaticList+Order>", null), (Targets + "PathStaticList+Order[]", "_items"), (Targets + "PathStaticList+Order", "[]")],
            leak.Path.Select(s => (s.Type, s.Field)));
        Assert.Equal(1, leak.AccumulationPoint);
        AssertCuttingFreesTheLeak(PathStaticList.Handle, leak, () => StaticValue(typeof(PathStaticList), "s_orders"));
    }

    [Fact]
    public void StaticEvent_NamesTheEvent_TheHandlerMethod_AndTheUnsubscribeFix()
    {
        LeakSignature leak = Explain(PathStaticEvent.Handle, Targets + "PathStaticEvent+Listener");

        Assert.Equal(new LeakRoot(LeakRootKind.StaticField, Targets + "PathStaticEvent.Tick"), leak.Root);
        Assert.Equal("_invocationList", leak.Path[leak.AccumulationPoint!.Value].Field);
        Assert.Contains(leak.Path, s => s.Note is not null && s.Note.Contains("handler PathStaticEvent+Listener.OnTick", StringComparison.Ordinal));
        Assert.Equal("_target", leak.Path[^1].Field);
        Assert.Contains("Unsubscribe", leak.Hint);
        AssertCuttingFreesTheLeak(PathStaticEvent.Handle, leak, () => StaticValue(typeof(PathStaticEvent), "Tick"));
    }

    [Fact]
    public void DictionaryOfClosures_NamesTheClosureAndTheMethodThatMadeIt()
    {
        LeakSignature leak = Explain(PathClosureDictionary.Handle, Targets + "PathClosureDictionary+Payload");

        Assert.Equal(new LeakRoot(LeakRootKind.StaticField, Targets + "PathClosureDictionary.s_handlers"), leak.Root);
        Assert.Equal("System.Collections.Generic.Dictionary<System.Int32, System.Func<System.Int32>>+Entry[]", leak.Path[leak.AccumulationPoint!.Value].Type);
        Assert.Contains(leak.Path, s => s.Field == "[].value");
        Assert.Contains(leak.Path, s => s.Note == "closure created in PathClosureDictionary.Handle");
        AssertCuttingFreesTheLeak(PathClosureDictionary.Handle, leak, () => StaticValue(typeof(PathClosureDictionary), "s_handlers"));
    }

    [Fact]
    public void ThreadStaticList_IsNamedWithItsThread()
    {
        LeakSignature leak = Explain(PathThreadStatic.Handle, Targets + "PathThreadStatic+Frame");

        Assert.Equal(LeakRootKind.ThreadStatic, leak.Root.Kind);
        Assert.Equal($"{Targets}PathThreadStatic.t_frames (thread {Environment.CurrentManagedThreadId})", leak.Root.Name);
        AssertCuttingFreesTheLeak(PathThreadStatic.Handle, leak, () => StaticValue(typeof(PathThreadStatic), "t_frames"));
    }

    [Fact]
    public void GcHandleNeverFreed_IsAStrongHandleRoot()
    {
        LeakSignature leak = Explain(PathGcHandle.Handle, Targets + "PathGcHandle+NativeBuffer");

        Assert.Equal(LeakRootKind.StrongHandle, leak.Root.Kind);
        Assert.Equal([Targets + "PathGcHandle+NativeBuffer"], leak.Path.Select(s => s.Type));
        Assert.Contains("GCHandle.Free", leak.Hint);
        // The handle is the root itself: freeing it is the cut.
        AssertCuttingFreesTheLeak(PathGcHandle.Handle, leak, root: null, cutRoot: PathGcHandle.FreeAll);
    }

    [Fact]
    public void TimerCapturingItsOwner_IsHeldByTheTimerQueue()
    {
        LeakSignature leak = Explain(PathTimer.Handle, Targets + "PathTimer+Poller");

        Assert.Equal(new LeakRoot(LeakRootKind.StaticField, "System.Threading.TimerQueue.Instances"), leak.Root);
        Assert.Contains(leak.Path, s => s.Type == "System.Threading.TimerQueueTimer" && s.Note!.Contains("timer callback", StringComparison.Ordinal));
        Assert.Contains("Dispose the Timer", leak.Hint);
        Assert.Equal("System.Threading.TimerQueueTimer", leak.Path[leak.AccumulationPoint!.Value].Type);
        Assert.Contains("a chain of these, linked by _next", leak.Path[leak.AccumulationPoint.Value].Note);

        // The accumulation point is a chain linked both ways, which the process's other live timers share: a cut of the
        // queue's head alone leaves the leaked timers reachable from their live neighbours. So the cut unlinks each
        // leaked timer from the chain, as Dispose would.
        AssertCuttingFreesTheLeak(PathTimer.Handle, leak, root: null, cutRoot: () =>
        {
            var queues = (Array)StaticValue(Type.GetType("System.Threading.TimerQueue")!, "Instances");
            foreach (object queue in queues)
            {
                foreach (string list in new[] { "_shortTimers", "_longTimers" })
                {
                    var leakedTimers = new List<object>();
                    for (object? timer = FieldOf(queue, list)!.GetValue(queue); timer is not null; timer = FieldOf(timer, "_next")!.GetValue(timer))
                    {
                        if ((FieldOf(timer, "_timerCallback")!.GetValue(timer) as Delegate)?.Target is PathTimer.Poller)
                            leakedTimers.Add(timer);
                    }
                    foreach (object timer in leakedTimers)
                        (timer.GetType().GetMethod("Close", AnyInstance, Type.EmptyTypes) ?? timer.GetType().GetMethod("Dispose", AnyInstance, Type.EmptyTypes))!.Invoke(timer, null);
                }
            }
        });
    }

    [Fact]
    public void CancellationRegistrationNeverDisposed_IsNamedAsSuch()
    {
        LeakSignature leak = Explain(PathCancellation.Handle, Targets + "PathCancellation+Watcher");

        Assert.Equal(new LeakRoot(LeakRootKind.StaticField, Targets + "PathCancellation.s_shutdown"), leak.Root);
        Assert.Contains(leak.Path, s => s.Note is not null && s.Note.StartsWith("CancellationToken registration", StringComparison.Ordinal));
        Assert.Contains("CancellationTokenRegistration", leak.Hint);
        AssertCuttingFreesTheLeak(PathCancellation.Handle, leak, () => StaticValue(typeof(PathCancellation), "s_shutdown"));
    }

    [Fact]
    public void ResurrectingFinalizer_IsHeldByTheFinalizerQueue()
    {
        try
        {
            LeakSignature leak = Explain(PathFinalizer.Handle, Targets + "PathFinalizer+Zombie");

            Assert.Equal(LeakRootKind.FinalizerQueue, leak.Root.Kind);
            Assert.Equal([Targets + "PathFinalizer+Zombie"], leak.Path.Select(s => s.Type));
            Assert.Contains("finalizer", leak.Hint);
            // The queue is the root: letting the finalizers finish is the cut.
            AssertCuttingFreesTheLeak(PathFinalizer.Handle, leak, root: null, cutRoot: () => PathFinalizer.StopResurrecting = true);
        }
        finally
        {
            PathFinalizer.StopResurrecting = true;
        }
    }

    [Fact]
    public void ConditionalWeakTableValue_IsReachedFromItsKeyThroughTheDependentHandle()
    {
        LeakSignature leak = Explain(PathWeakTable.Handle, Targets + "PathWeakTable+Attachment");

        Assert.Equal(new LeakRoot(LeakRootKind.StaticField, Targets + "PathWeakTable.s_keys"), leak.Root);
        Assert.Equal((Targets + "PathWeakTable+Attachment", "(ConditionalWeakTable value)"), (leak.Path[^1].Type, leak.Path[^1].Field));
        Assert.Equal(Targets + "PathWeakTable+Key[]", leak.Path[leak.AccumulationPoint!.Value].Type);
        AssertCuttingFreesTheLeak(PathWeakTable.Handle, leak, () => StaticValue(typeof(PathWeakTable), "s_keys"));
    }

    [Fact]
    public void ConditionalWeakTableKeyedOnAType_IsRootedAtTheTypeObject_NotAtAStaticThatMerelySharesIt()
    {
        GC.KeepAlive(PathImmortalKeyAlias.s_widgetType);
        try
        {
            LeakSignature leak = Explain(PathImmortalKey.Handle, Targets + "PathImmortalKey+Tag");

            Assert.Equal(LeakRootKind.LoadedAssembly, leak.Root.Kind);
            Assert.StartsWith("typeof(" + Targets + "PathImmortalKey+Widget)", leak.Root.Name, StringComparison.Ordinal);
            Assert.Equal("System.RuntimeType", leak.Path[0].Type);
            Assert.Equal(("System.Collections.Generic.List<" + Targets + "PathImmortalKey+Tag>", "(ConditionalWeakTable value)"), (leak.Path[1].Type, leak.Path[1].Field));
            Assert.Equal(2, leak.AccumulationPoint);
            Assert.Contains("ConditionalWeakTable value lives as long as its key", leak.Hint, StringComparison.Ordinal);
        }
        finally
        {
            PathImmortalKey.Release();
        }
    }

    [Fact]
    public void SingletonsInstanceFields_AreFollowedTwoLevelsDeep()
    {
        LeakSignature leak = Explain(PathSingleton.Handle, Targets + "PathSingleton+Session");

        Assert.Equal(new LeakRoot(LeakRootKind.StaticField, Targets + "PathSingleton.Instance"), leak.Root);
        Assert.Equal([null, "_store", "_sessions", "_items", "[]"], leak.Path.Select(s => s.Field));
        Assert.Equal(3, leak.AccumulationPoint);
        AssertCuttingFreesTheLeak(PathSingleton.Handle, leak, () => PathSingleton.Instance);
    }

    [Fact]
    public void StaticFieldOfAGenericType_IsSpelledWithItsTypeArguments()
    {
        LeakSignature leak = Explain(PathGenericRegistry<Plugin>.Handle, Targets + "Plugin");

        Assert.Equal(new LeakRoot(LeakRootKind.StaticField, $"{Targets}PathGenericRegistry<{Targets}Plugin>.s_items"), leak.Root);
        AssertCuttingFreesTheLeak(PathGenericRegistry<Plugin>.Handle, leak, () => PathGenericRegistry<Plugin>.s_items);
    }

    [Fact]
    public void StaticFieldOfAGenericType_WhoseFieldTypeReordersItsParameters_IsSpelledWithTheArgumentsInDeclaredOrder()
    {
        LeakSignature leak = Explain(PathGenericIndex<Plugin, PluginKey>.Handle, Targets + "Plugin");

        Assert.Equal(new LeakRoot(LeakRootKind.StaticField, $"{Targets}PathGenericIndex<{Targets}Plugin, {Targets}PluginKey>.s_byKey"), leak.Root);
        AssertCuttingFreesTheLeak(PathGenericIndex<Plugin, PluginKey>.Handle, leak, () => PathGenericIndex<Plugin, PluginKey>.s_byKey);
    }

    [Fact]
    public void Referrers_AreGroupedByTypeAndField_AndJsonCarriesTheExplanation()
    {
        LeakReport report = LeakDetector.Run(() => ExplainedRegistry.Handle());

        TypeReferrers referrers = Assert.Single(report.Referrers, r => r.Type == Targets + "ExplainedRegistry+Entry");
        Referrer from = Assert.Single(referrers.From);
        Assert.Equal((Targets + "ExplainedRegistry+Entry[]", "[]"), (from.Type, from.Field));
        Assert.True(from.Count >= 10, $"{from.Count} referrers");

        using var json = System.Text.Json.JsonDocument.Parse(report.ToJson());
        System.Text.Json.JsonElement leak = json.RootElement.GetProperty("leaks").EnumerateArray()
            .First(l => l.GetProperty("type").GetString() == Targets + "ExplainedRegistry+Entry");
        Assert.Equal("staticField", leak.GetProperty("root").GetProperty("kind").GetString());
        Assert.Equal(Targets + "ExplainedRegistry.Current", leak.GetProperty("root").GetProperty("name").GetString());
        Assert.Equal(System.Text.Json.JsonValueKind.Null, leak.GetProperty("path")[0].GetProperty("field").ValueKind);
        Assert.Equal("_entries", leak.GetProperty("path")[1].GetProperty("field").GetString());
        Assert.Equal(2, leak.GetProperty("accumulationPoint").GetInt32());
        Assert.Contains("accumulates here", report.ToString());
        Assert.Contains("static field " + Targets + "ExplainedRegistry.Current", report.ToString());
    }

    [Fact]
    public void ExplanationPastItsTimeLimit_ReturnsWhatItHas_FlaggedAsPartial()
    {
        LeakReport report = LeakDetector.Run(() => ExplainedList.Handle(), new LeakOptions { ExplanationTimeLimit = TimeSpan.FromTicks(1) });

        Assert.True(report.HasLeaks, report.ToString());
        Assert.True(report.ExplanationIsPartial, report.ToString());
        Assert.Contains("time limit", report.ExplanationNote);
        // Whatever the search had not reached when it stopped is reported as unknown, never dropped.
        Assert.Contains(report.Leaks, l => l.Type == Targets + "ExplainedList+Item");
        Assert.Contains("partial", report.ToString());
        using var json = System.Text.Json.JsonDocument.Parse(report.ToJson());
        Assert.True(json.RootElement.GetProperty("explanationPartial").GetBoolean());
    }

    [Fact]
    public void DumpRoute_ExplainsTheSameWay()
    {
        LeakReport report = LeakDetector.Run(() => ExplainedRegistry.Handle(), new LeakOptions { Strategy = CensusStrategy.Dump });

        Assert.Equal(CensusStrategy.Dump, report.Strategy);
        LeakSignature leak = report.Leaks.Where(l => l.Type == Targets + "ExplainedRegistry+Entry").MaxBy(l => l.Instances)!;
        Assert.Equal(new LeakRoot(LeakRootKind.StaticField, Targets + "ExplainedRegistry.Current"), leak.Root);
        Assert.Equal([null, "_entries", "_items", "[]"], leak.Path.Select(s => s.Field));
    }

    [Fact]
    public void ExplainLeaksOff_GivesTheVerdictAlone()
    {
        LeakReport report = LeakDetector.Run(() => ExplainedList.Handle(), new LeakOptions { ExplainLeaks = false });

        Assert.True(report.HasLeaks, report.ToString());
        Assert.Empty(report.Leaks);
        Assert.Empty(report.Referrers);
    }

    [Fact]
    public void LocalOfARunningThread_IsAStackRoot_NamingTheMethodAndTheThread()
    {
        LeakSignature leak = Explain(PathStackLocal.Handle, Targets + "PathStackLocal+Message");

        Assert.Equal(LeakRootKind.Stack, leak.Root.Kind);
        Assert.Equal($"local in {Targets}PathStackLocal.Work (thread {PathStackLocal.WorkerThreadId})", leak.Root.Name);
        Assert.Equal("System.Collections.Generic.List<" + Targets + "PathStackLocal+Message>", leak.Path[0].Type);
    }

    [Fact]
    public void OlderInstancesOfTheGrowingType_StayWhereTheMarkSawThem_AndAreNotTraced()
    {
        // Each call leaves young garbage around the one payload it keeps, which makes a full GC compact; the older
        // payloads behind the gaps each call leaves would move, and a moved payload looks made since the mark.
        LeakReport report;
        try
        {
            report = LeakDetector.Run(() => PathBesideOldInstances.Handle());
        }
        finally
        {
            PathBesideOldInstances.Release();
        }

        Assert.True(report.HasLeaks, report.ToString());
        string payload = Targets + "PathBesideOldInstances+Payload";
        Assert.All(report.Leaks.Where(l => l.Type == payload),
            l => Assert.Equal(new LeakRoot(LeakRootKind.StaticField, Targets + "PathBesideOldInstances.s_leaked"), l.Root));
        Assert.DoesNotContain(report.Referrers.Single(r => r.Type == payload).From, r => r.Type == "System.Object[]");
        Assert.DoesNotContain(report.Warnings, w => w.Contains("compacted", StringComparison.Ordinal));
    }

    [Fact]
    public void AFragmentThatCompactsTheHeap_IsExplainedOverAFewIntervals_AndTheReportSaysInstancesMayHaveMoved()
    {
        LeakReport report;
        try
        {
            report = LeakDetector.Run(() => PathCompactingFragment.Handle(), new LeakOptions { ConfirmationIterations = 200 });
        }
        finally
        {
            PathCompactingFragment.Release();
        }

        Assert.True(report.HasLeaks, report.ToString());
        LeakSignature leak = Assert.Single(report.Leaks, l => l.Type == Targets + "PathCompactingFragment+Item");
        Assert.Equal(Targets + "PathCompactingFragment.s_kept", leak.Root.Name);
        Assert.Single(report.Warnings, w => w.StartsWith("A GC compacted the heap in each of the 3 intervals run to explain the growth", StringComparison.Ordinal));
        // Each of the 3 intervals the explanation runs on its own is as long as the last confirmation round, not one
        // census interval: what other threads make in it weighs as little as in the rounds.
        int[] confirmed = report.Censuses.Where(c => c.Phase == CensusPhase.Confirmation).Select(c => c.Iteration).ToArray();
        int lastRound = confirmed[^1] - confirmed[^2];
        Assert.True(lastRound > LeakOptions.Default.IterationsPerCensus, report.ToString());
        Assert.Equal(3 * lastRound, report.Iterations - confirmed[^1]);
    }

    [Fact]
    public void AsyncMethodWaitingForever_IsNamedByItsStateMachine()
    {
        LeakSignature leak;
        try
        {
            leak = Explain(PathAsync.Handle, Targets + "PathAsync+Request");
        }
        finally
        {
            // Thousands of waiting calls left behind would be another test's pollution: a compacting GC moving their list.
            PathAsync.Release();
        }

        Assert.Equal(new LeakRoot(LeakRootKind.StaticField, Targets + "PathAsync.s_gate"), leak.Root);
        Assert.Contains(leak.Path, s => s.Note == "async state machine of PathAsync.WaitAsync");
    }

    [Fact]
    public void CleanCode_HasNoExplanation()
    {
        LeakReport report = LeakDetector.Run(() => TransientGarbage.Handle());

        Assert.False(report.HasLeaks, report.ToString());
        Assert.Empty(report.Leaks);
        Assert.Empty(report.Referrers);
    }

    [Fact]
    public void MoreNewInstancesThanTheReferrerLimit_TheReportSaysTheCountsAreASample()
    {
        try
        {
            LeakReport report = LeakDetector.Run(() => PathBulkImport.Handle());

            Assert.True(report.HasLeaks, report.ToString());
            string type = Targets + "PathBulkImport+Row";
            Assert.Contains(report.Warnings, w => w.StartsWith($"Referrers of {type} were counted for its first 100,000 references only", StringComparison.Ordinal));
            Assert.Equal(100_000, report.Referrers.Single(r => r.Type == type).From.Sum(f => f.Count));
            Assert.Contains("counted for its first 100,000 references only", report.ToString());
        }
        finally
        {
            PathBulkImport.Clear();
        }
    }

    private static LeakSignature Explain(Func<object> fragment, string type)
    {
        LeakReport report = LeakDetector.Run(() => fragment());
        Assert.True(report.HasLeaks, report.ToString());
        Assert.False(report.ExplanationIsPartial, report.ExplanationNote);
        LeakSignature? leak = report.Leaks.Where(l => l.Type == type).MaxBy(l => l.Instances);
        Assert.True(leak is not null, $"no path for {type}:\n{report}");
        Assert.Equal(type, leak.Path[^1].Type);
        return leak;
    }

    /// <summary>
    /// Follows the path from the root's object with reflection to the object that holds the accumulation point, cuts
    /// that reference (or calls <paramref name="cutRoot"/> when the root itself is the accumulation point), and
    /// checks that fresh leaked instances die.
    /// </summary>
    private static void AssertCuttingFreesTheLeak(Func<object> fragment, LeakSignature leak, Func<object>? root, Action? cutRoot = null)
    {
        WeakReference[] leaked = LeakSome(fragment, 20);
        Assert.All(leaked, w => Assert.True(w.IsAlive));

        if (root is null || leak.AccumulationPoint is null or 0)
        {
            Assert.NotNull(cutRoot);
            cutRoot();
        }
        else
        {
            int point = leak.AccumulationPoint.Value;
            // The root is read after the fresh instances exist: an event's field holds a new delegate after each +=.
            List<object> holders = Follow(root(), leak.Path, 1, point - 1).ToList();
            Assert.NotEmpty(holders);
            foreach (object holder in holders)
                Cut(holder, leak.Path[point].Field!);
        }

        for (int i = 0; i < 5 && leaked.Any(w => w.IsAlive); i++)
            Running.HeapSettler.SettleHeap();
        string path = string.Join(" -> ", leak.Path.Select(s => $"{s.Field} {s.Type}"));

        Assert.All(leaked, w => Assert.False(w.IsAlive, $"a leaked instance survived the cut at {leak.AccumulationPoint} of {path}"));
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static WeakReference[] LeakSome(Func<object> fragment, int count) =>
        Enumerable.Range(0, count).Select(_ => new WeakReference(fragment())).ToArray();

    /// <summary>The objects reached from <paramref name="current"/> through path steps <paramref name="from"/>..<paramref name="to"/>; an array step tries every element.</summary>
    private static IEnumerable<object> Follow(object current, IReadOnlyList<LeakStep> path, int from, int to)
    {
        if (from > to)
        {
            yield return current;
            yield break;
        }
        string field = path[from].Field!;
        IEnumerable<object?> next = field == "[]" ? ((IEnumerable)current).Cast<object?>() : [FieldOf(current, field)?.GetValue(current)];
        foreach (object? value in next)
        {
            if (value is null || (field == "[]" && from < to && FieldOf(value, path[from + 1].Field!) is null))
                continue;
            foreach (object reached in Follow(value, path, from + 1, to))
                yield return reached;
        }
    }

    private static void Cut(object holder, string field)
    {
        if (field == "[]")
        {
            Array.Clear((Array)holder);
            return;
        }
        FieldInfo info = FieldOf(holder, field) ?? throw new InvalidOperationException($"{holder.GetType()} has no field {field}");
        info.SetValue(holder, null);
    }

    private static FieldInfo? FieldOf(object target, string name)
    {
        for (Type? type = target.GetType(); type is not null; type = type.BaseType)
        {
            if ((type.GetField(name, AnyInstance) ?? type.GetField($"<{name}>k__BackingField", AnyInstance)) is { } field)
                return field;
        }
        return null;
    }

    private static object StaticValue(Type type, string name) =>
        (type.GetField(name, AnyStatic) ?? type.GetField($"<{name}>k__BackingField", AnyStatic))!.GetValue(null)
        ?? throw new InvalidOperationException($"{type}.{name} is null");
}
