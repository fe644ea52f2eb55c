using LeakHunter.Analysis;
using LeakHunter.Tests.Targets;
using LeakHunter.Xunit;
using Xunit;

namespace LeakHunter.Tests;

/// <summary>
/// Leaks the GC heap does not show, counted at every census beside the objects: threads, GC handles, file
/// descriptors, native memory and assemblies, each against real leaky and clean code, with the rate asserted.
/// These counters are the whole process's, so the tests run in the collection that is never parallel to another:
/// a test class running beside them loads assemblies, opens files and starts threads within the counted intervals.
/// </summary>
[Collection(LeakTests.Collection)]
public sealed class ResourceTests
{
    // A leaked thread or assembly keeps managed objects too, which confirmation would multiply by thousands.
    private static readonly LeakOptions s_counted = new() { ConfirmGrowth = false };

    [Fact]
    public void AThreadStartedPerCallThatNeverEnds_GrowsThreadsByOnePerIteration()
    {
        try
        {
            LeakReport report = LeakDetector.Run(ResourceThreads.Leak, s_counted);

            ResourceUsage threads = AssertGrows(report, LeakResourceNames.Threads, perIteration: 1);
            Assert.InRange(threads.Details["managed"][^1] - threads.Details["managed"][0], 40, 60);
            Assert.Contains("resources grew: threads", report.ToString(), StringComparison.Ordinal);

            // Each new thread told by its name, its start method and the top of its stack, with the fix.
            ResourceFinding leaked = AssertFinding(threads, "thread", "thread \"leaked worker\", started at lambda in ResourceThreads.Leak");
            Assert.Equal(Calls(report), leaked.Count);
            Assert.Contains(leaked.Details, frame => frame.Contains("ManualResetEventSlim.Wait", StringComparison.Ordinal));
            Assert.Contains("Join", leaked.Hint, StringComparison.Ordinal);
            Assert.Equal("System.Threading.Thread", leaked.OwnerType);
            Assert.Contains("What the new threads are:", report.ToString(), StringComparison.Ordinal);
            Assert.Contains("\"findings\": [", report.ToJson(), StringComparison.Ordinal);

            // Each live thread holds two handles of the runtime's to its Thread object: they are told as the threads',
            // never as handles to free, and the runtime's own churn (a type cache's weak handle) is no group of its own.
            ResourceUsage handles = Assert.Single(report.Resources, r => r.Name == LeakResourceNames.GcHandles);
            Assert.True(handles.Growing, Counted(report));
            Assert.NotEmpty(handles.Findings);
            Assert.All(handles.Findings, f => Assert.Equal("System.Threading.Thread", f.OwnerType));
            Assert.All(handles.Findings, f => Assert.Contains("End the threads", f.Hint, StringComparison.Ordinal));
        }
        finally
        {
            ResourceThreads.Release();
        }
    }

    [Fact]
    public void TheThreadPoolGrowingToWhatBlockingWorkNeeds_IsNoLeak() => AssertFlat(LeakDetector.Run(ResourceThreadPool.Work), LeakResourceNames.Threads);

    [Fact]
    public void ThreadsThatFinish_AreNoLeak() => AssertFlat(LeakDetector.Run(ResourceThreads.Clean, s_counted), LeakResourceNames.Threads);

    [Fact]
    public void AWeakGcHandleNeverFreed_GrowsTheWeakHandles_WhileTheHeapStaysFlat()
    {
        try
        {
            LeakReport report = LeakDetector.Run(ResourceGcHandles.Leak);

            ResourceUsage handles = AssertGrows(report, LeakResourceNames.GcHandles, perIteration: 1);
            // A thread that ends frees the weak handle the runtime keeps to its Thread object: the thread pool retires
            // threads that an earlier test's blocking work made, 20 s after they idle, whenever that falls.
            long threadsEnded = Math.Max(0, -(Threads(report)[^1] - Threads(report)[0]));
            Assert.InRange(handles.Details["weak"][^1] - handles.Details["weak"][0] + threadsEnded, Calls(report), Calls(report) + 5);
            Assert.Empty(report.GrowingTypes);

            ResourceFinding weak = Assert.Single(handles.Findings);
            Assert.Equal(("weak", "weak GC handle to an Object"), (weak.Kind, weak.What));
            // One per call; the runtime may take or drop a handle of its own meanwhile (a type cache's), in no group of the leak's.
            // A handle is told new by its address: one that reuses the slot an ended thread's weak handle freed looks as
            // old as the slot, so the group may miss one per thread that ended.
            Assert.InRange(weak.Count, Calls(report) - threadsEnded, Calls(report));
            Assert.Equal("System.Object", weak.OwnerType);
            // The object the handles point at, and what holds it: the code that allocates them works on it.
            Assert.Contains("its target is held by static field ResourceGcHandles.s_settings -> Object", weak.Details);
            Assert.Contains("Free()", weak.Hint, StringComparison.Ordinal);
        }
        finally
        {
            ResourceGcHandles.Release();
        }
    }

    [Fact]
    public void AWeakGcHandleWhoseObjectDied_NeverFreed_StillCounts()
    {
        try
        {
            LeakReport report = LeakDetector.Run(ResourceEmptiedGcHandles.Leak);

            ResourceUsage handles = AssertGrows(report, LeakResourceNames.GcHandles, perIteration: 1);
            long threadsEnded = Math.Max(0, -(Threads(report)[^1] - Threads(report)[0]));
            Assert.InRange(handles.Details["weak"][^1] - handles.Details["weak"][0] + threadsEnded, Calls(report), Calls(report) + 5);
            Assert.Empty(report.GrowingTypes);

            // Nothing to trace: the handles are told by their kind and number, with the fix.
            ResourceFinding emptied = Assert.Single(handles.Findings, f => f.What == "weak GC handle whose object was collected");
            Assert.InRange(emptied.Count, Calls(report) - threadsEnded, Calls(report) + 5);
            Assert.Contains("Free()", emptied.Hint, StringComparison.Ordinal);
        }
        finally
        {
            ResourceEmptiedGcHandles.Release();
        }
    }

    [Fact]
    public void WeakGcHandlesToObjectsThatDie_Freed_AreNoLeak() => AssertFlat(LeakDetector.Run(ResourceEmptiedGcHandles.Clean), LeakResourceNames.GcHandles);

    [Fact]
    public void GcHandlesFreed_AreNoLeak() => AssertFlat(LeakDetector.Run(ResourceGcHandles.Clean), LeakResourceNames.GcHandles);

    [Fact]
    public void AFileOpenedThroughPInvokeAndNeverClosed_GrowsTheFileDescriptors()
    {
        try
        {
            LeakReport report = LeakDetector.Run(ResourceFileDescriptors.Leak);

            ResourceUsage descriptors = AssertGrows(report, LeakResourceNames.FileDescriptors, perIteration: 1);
            // The runtime may open a file of its own meanwhile (its first read of a /proc file): the leak's are one group.
            Assert.InRange(descriptors.Details["file"][^1] - descriptors.Details["file"][0], Calls(report), Calls(report) + 5);

            // What each descriptor points to, and that no managed object owns it: the number was all the code kept.
            ResourceFinding file = AssertFinding(descriptors, "file", "/dev/null");
            Assert.Equal(Calls(report), file.Count);
            Assert.Null(file.OwnerType);
            Assert.Contains(file.Details, d => d.StartsWith("no SafeHandle owns it", StringComparison.Ordinal));
            Assert.Contains("close()", file.Hint, StringComparison.Ordinal);
        }
        finally
        {
            ResourceFileDescriptors.Release();
        }
    }

    [Fact]
    public void ASocketConnectedPerCallAndNeverClosed_IsToldByItsPeer_AndItsOwnersCause()
    {
        try
        {
            int port = ResourceSockets.Listener.Port;
            LeakReport report = LeakDetector.Run(ResourceSockets.Leak, s_counted);

            ResourceUsage descriptors = AssertGrows(report, LeakResourceNames.FileDescriptors, perIteration: 1);
            Assert.InRange(descriptors.Details["socket"][^1] - descriptors.Details["socket"][0], Calls(report), Calls(report) + 5);
            // The listener's port is the kernel's pick, as is each connection's own: both show as '*', and one connection's real ports follow.
            ResourceFinding socket = AssertFinding(descriptors, "socket", "tcp 127.0.0.1:");
            Assert.Contains("-> 127.0.0.1:", socket.What, StringComparison.Ordinal);
            Assert.Contains("(established)", socket.What, StringComparison.Ordinal);
            Assert.Equal(Calls(report), socket.Count);
            Assert.Contains(socket.Details, d => d.Contains($"-> 127.0.0.1:{port} (established)", StringComparison.Ordinal));
            Assert.Equal("System.Net.Sockets.SafeSocketHandle", socket.OwnerType);
            Assert.Contains("owned by a SafeSocketHandle", socket.Details);
            // The Socket objects grow too, held by the test's array: that cause is the socket's owner's.
            Assert.NotNull(socket.Cause);
            Assert.Contains(report.Causes[socket.Cause!.Value].Types, t => t.Type == "System.Net.Sockets.SafeSocketHandle");
            Assert.Contains("ResourceSockets.s_leaked", report.Causes[socket.Cause.Value].Root.Name, StringComparison.Ordinal);
        }
        finally
        {
            ResourceSockets.Release();
        }
    }

    [Fact]
    public void SocketsClosed_AreNoLeak()
    {
        try
        {
            _ = ResourceSockets.Listener;
            AssertFlat(LeakDetector.Run(ResourceSockets.Clean), LeakResourceNames.FileDescriptors);
        }
        finally
        {
            ResourceSockets.Release();
        }
    }

    [Fact]
    public void FilesClosed_AreNoLeak() => AssertFlat(LeakDetector.Run(ResourceFileDescriptors.Clean), LeakResourceNames.FileDescriptors);

    [Fact]
    public void NativeMemoryNeverFreed_GrowsNativeMemoryByWhatEachCallKeeps()
    {
        try
        {
            NativeHeap.ReturnFreedMemory();
            LeakReport report = LeakDetector.Run(ResourceNativeMemory.Leak);

            ResourceUsage native = AssertGrows(report, LeakResourceNames.NativeMemory, perIteration: 1024 * 1024, tolerance: 0.2);
            Assert.Empty(report.GrowingTypes);

            ResourceFinding unowned = Assert.Single(native.Findings);
            Assert.Equal("unowned", unowned.Kind);
            Assert.Contains("with no managed object growing beside it", unowned.What, StringComparison.Ordinal);
            Assert.Contains("AllocHGlobal", unowned.Hint, StringComparison.Ordinal);
        }
        finally
        {
            ResourceNativeMemory.Release();
        }
    }

    [Fact]
    public void NativeMemoryOwnedByAManagedObject_IsToldByTheObjectThatGrewBesideIt_AndItsCause()
    {
        try
        {
            // Confirmed, so a type that rose in the counted intervals by chance is not told as the memory's owner.
            NativeHeap.ReturnFreedMemory();
            LeakReport report = LeakDetector.Run(ResourceOwnedNativeMemory.Leak);

            ResourceUsage native = AssertGrows(report, LeakResourceNames.NativeMemory, perIteration: 1024 * 1024, tolerance: 0.2);
            ResourceFinding alongside = Assert.Single(native.Findings);
            Assert.Equal("alongside", alongside.Kind);
            Assert.Contains("beside ResourceOwnedNativeMemory+NativeBlock", alongside.What, StringComparison.Ordinal);
            Assert.Equal(Targets + "ResourceOwnedNativeMemory+NativeBlock", alongside.OwnerType);
            Assert.NotNull(alongside.Cause);
            Assert.Equal(Targets + "ResourceOwnedNativeMemory.s_kept", report.Causes[alongside.Cause!.Value].Root.Name);
        }
        finally
        {
            ResourceOwnedNativeMemory.Release();
        }
    }

    [Fact]
    public void NativeMemoryLeakedFromMemoryFreedBefore_StartsFlat_AndIsFoundOnceItRises()
    {
        try
        {
            // Its thirty reused megabytes are the only resident memory its calls may be handed: what earlier tests freed
            // and the allocator kept would serve the later calls too, and nothing would ever rise.
            NativeHeap.ReturnFreedMemory();
            LeakReport report = LeakDetector.Run(ResourceNativeMemoryReused.Leak);

            ResourceUsage native = AssertGrows(report, LeakResourceNames.NativeMemory, perIteration: 1024 * 1024, tolerance: 0.2);
            // The premise: no call of the first counted interval was handed fresh memory (what it was handed was resident
            // already). The process's own work may move resident memory meanwhile, by far less than one call's megabyte.
            Assert.True(Math.Abs(native.Counts[1] - native.Counts[0]) < ResourceNativeMemory.Size / 4, Counted(report));
            Assert.Equal("unowned", Assert.Single(native.Findings).Kind);
        }
        finally
        {
            ResourceNativeMemoryReused.Release();
        }
    }

    [Fact]
    public void MallocNeverFreedAndNeverWritten_IsFoundByTheAllocatorsOwnCount_ThoughNothingOfItIsResident()
    {
        try
        {
            LeakReport report = LeakDetector.Run(ResourceUntouchedMalloc.Leak);

            ResourceUsage native = AssertGrows(report, LeakResourceNames.NativeMemory, perIteration: ResourceUntouchedMalloc.Size, tolerance: 0.2);
            Assert.Equal(native.Details["mallocInUse"], native.Counts);
            // The premise: resident memory alone does not show it.
            IReadOnlyList<long> resident = native.Details["anonymous"];
            Assert.True(resident[^1] - resident[0] < (report.Censuses[^1].Iteration - report.Censuses[0].Iteration) * ResourceUntouchedMalloc.Size / 4, Counted(report));
            Assert.Equal("unowned", Assert.Single(native.Findings).Kind);
        }
        finally
        {
            ResourceUntouchedMalloc.Release();
        }
    }

    [Fact]
    public void MallocFreedEachCall_IsNoLeak() => AssertFlat(LeakDetector.Run(ResourceUntouchedMalloc.Clean), LeakResourceNames.NativeMemory);

    [Fact]
    public void AManagedHeapThatGrows_IsNotNativeMemory()
    {
        try
        {
            LeakReport report = LeakDetector.Run(ResourceManagedArrays.Leak, s_counted);

            // A megabyte a call on the GC heap, every page of it written: forty megabytes over the counted calls, while
            // the GC gives back other memory as it settles and the process's own allocators move a megabyte or so.
            // Native memory, what lies outside the GC's own pages, gains none of the forty. Other byte arrays of this
            // process may die meanwhile (the shared array pool drops buffers left unused when a full GC runs), so the
            // arrays' growth is about a megabyte a call, not at least one.
            Assert.Contains(report.GrowingTypes, t => t.Type == "System.Byte[]" && t.BytesPerIteration >= 0.9 * ResourceManagedArrays.Size);
            ResourceUsage native = Assert.Single(report.Resources, r => r.Name == LeakResourceNames.NativeMemory);
            Assert.False(native.Growing, Counted(report));
            long kept = (long)Calls(report) * ResourceManagedArrays.Size;
            Assert.True(native.Counts.Max() - native.Counts.Min() < kept / 8,
                $"native memory moved by {native.Counts.Max() - native.Counts.Min():N0} bytes beside {kept:N0} bytes of managed arrays\n" +
                $"anonymous memory: {string.Join(" ", native.Details["anonymous"])}\n{Counted(report)}");
        }
        finally
        {
            ResourceManagedArrays.Release();
        }
    }

    [Fact]
    public void NativeMemoryFreed_IsNoLeak() => AssertFlat(LeakDetector.Run(ResourceNativeMemory.Clean), LeakResourceNames.NativeMemory);

    [Fact]
    public void AnAssemblyGeneratedPerCall_GrowsTheDynamicAssemblies()
    {
        LeakReport report = LeakDetector.Run(ResourceAssemblies.Leak, s_counted);

        ResourceUsage assemblies = AssertGrows(report, LeakResourceNames.Assemblies, perIteration: 1);
        Assert.InRange(assemblies.Details["dynamic"][^1] - assemblies.Details["dynamic"][0], Calls(report), Calls(report) + 5);
    }

    [Fact]
    public void XmlSerializerOfATypePerCall_ReusesItsAssembly_AndIsNoLeak() =>
        AssertFlat(LeakDetector.Run(ResourceAssemblies.Clean), LeakResourceNames.Assemblies);

    [Fact]
    public void XmlSerializerWithARootPerCall_GrowsTheAssemblies_ToldAsTheSerializersAssembly()
    {
        // Each call generates an assembly (milliseconds, and about 60 KiB of native memory): 500 calls confirm the growth.
        LeakReport report = LeakDetector.Run(IdiomXmlSerializer.Leak, new LeakOptions { ConfirmationIterations = 500 });

        ResourceUsage assemblies = AssertGrows(report, LeakResourceNames.Assemblies, perIteration: 1);
        ResourceFinding generated = AssertFinding(assemblies, "XmlSerializer", "dynamic assembly defining Microsoft.Xml.Serialization.GeneratedAssembly.");
        Assert.Equal(Calls(report), generated.Count);
        Assert.Contains("XmlSerializer(Type, string)", generated.Hint, StringComparison.Ordinal);
        // The assembly's own objects grow too, and their cause is the same story.
        Assert.NotNull(generated.Cause);
        Assert.Equal("XmlSerializer assembly", report.Causes[generated.Cause!.Value].Idiom);
    }

    [Fact]
    public void ACollectibleContextThatCannotUnload_GrowsTheContexts_AndNamesWhatKeepsIt()
    {
        LeakReport report;
        try
        {
            report = LeakDetector.Run(IdiomPluginContext.Leak, new LeakOptions { ConfirmationIterations = 500 });
        }
        finally
        {
            IdiomPluginContext.RemoveLeftHandlers();
        }

        ResourceUsage assemblies = AssertGrows(report, LeakResourceNames.Assemblies, perIteration: 1);
        Assert.Equal(Calls(report), assemblies.Details["collectibleContexts"][^1] - assemblies.Details["collectibleContexts"][0]);
        ResourceFinding plugin = AssertFinding(assemblies, "collectible", "assembly LeakHunter.TestPlugin");
        Assert.Equal(Calls(report), plugin.Count);
        Assert.NotNull(plugin.Cause);
        LeakCause keeper = report.Causes[plugin.Cause!.Value];
        Assert.Equal(LeakIdioms.UnloadableContext, keeper.Idiom);
        Assert.Equal("System.AppDomain.s_domain", keeper.Root.Name);
        // The runtime holds each context asked to unload by handles of its own: told as the contexts', never as handles to free.
        ResourceUsage handles = Assert.Single(report.Resources, r => r.Name == LeakResourceNames.GcHandles);
        Assert.All(handles.Findings, f => Assert.DoesNotContain("GCHandle.Alloc", f.Hint, StringComparison.Ordinal));
        Assert.True(handles.Findings.Any(f => f.OwnerType == "System.Runtime.Loader.AssemblyLoadContext" && f.Cause == plugin.Cause),
            $"no handle finding owned by the contexts, of {handles.Findings.Count}\n{Counted(report)}");
    }

    [Fact]
    public void ACollectibleContextUnloaded_IsNoLeak() => AssertFlat(LeakDetector.Run(IdiomPluginContext.Fixed), LeakResourceNames.Assemblies);

    [Fact]
    public void AResourceIgnoredWithAReason_IsShownButLeftOutOfTheVerdict()
    {
        try
        {
            LeakReport report = LeakDetector.Run(ResourceGcHandles.Leak,
                new LeakOptions { Ignore = [LeakIgnore.Resource(LeakResourceNames.GcHandles, "a pool of handles the vendor SDK grows on its own")] });

            ResourceUsage handles = Assert.Single(report.Resources, r => r.Name == LeakResourceNames.GcHandles);
            Assert.True(handles.Growing, Counted(report));
            Assert.Equal("a pool of handles the vendor SDK grows on its own", handles.IgnoredReason);
            Assert.False(report.HasLeaks, report.ToString());
        }
        finally
        {
            ResourceGcHandles.Release();
        }
    }

    [Fact]
    public void OnlyTheResourcesSelected_AreCounted()
    {
        LeakReport report = LeakDetector.Run(ResourceGcHandles.Clean, new LeakOptions { Resources = LeakResources.Threads | LeakResources.NativeMemory });

        Assert.Equal([LeakResourceNames.Threads, LeakResourceNames.NativeMemory], report.Resources.Select(r => r.Name));
        Assert.Contains("\"resources\": [", report.ToJson(), StringComparison.Ordinal);
    }

    private static ResourceUsage AssertGrows(LeakReport report, string name, double perIteration, double tolerance = 0.05)
    {
        ResourceUsage resource = Assert.Single(report.Resources, r => r.Name == name);
        Assert.True(resource.Growing, Counted(report));
        Assert.True(report.HasLeaks, Counted(report));
        Assert.True(Math.Abs(resource.PerIteration - perIteration) <= perIteration * tolerance, $"{name} grew {resource.PerIteration:0.##} per iteration, not {perIteration}\n{Counted(report)}");
        Assert.Equal(report.Censuses.Count, resource.Counts.Count);
        return resource;
    }

    private const string Targets = "LeakHunter.Tests.Targets.";

    /// <summary>The calls between the first counted census and the last: each leaks one item, and the findings count the items made since the first.</summary>
    private static int Calls(LeakReport report) => report.Censuses[^1].Iteration - report.Censuses[0].Iteration;

    /// <summary>The process's threads at each counted census.</summary>
    private static IReadOnlyList<long> Threads(LeakReport report) => Assert.Single(report.Resources, r => r.Name == LeakResourceNames.Threads).Counts;

    /// <summary>The one finding of <paramref name="kind"/> whose description has <paramref name="what"/>; its failure lists every finding.</summary>
    private static ResourceFinding AssertFinding(ResourceUsage resource, string kind, string what) =>
        Assert.Single(resource.Findings, f => f.Kind == kind && f.What.Contains(what, StringComparison.Ordinal) && f.Count > 0);

    private static void AssertFlat(LeakReport report, string name)
    {
        ResourceUsage resource = Assert.Single(report.Resources, r => r.Name == name);
        Assert.False(resource.Growing, Counted(report));
        Assert.False(report.HasLeaks, Counted(report));
    }

    /// <summary>The report, with every resource's count at each census: the text report names the flat ones only.</summary>
    private static string Counted(LeakReport report) =>
        report + string.Concat(report.Resources.Select(r => $"\n{r.Name}: {string.Join(" ", r.Counts)} at iterations {string.Join(" ", report.Censuses.Select(c => c.Iteration))}"
            + string.Concat(r.Details.Select(d => $"\n  {d.Key}: {string.Join(" ", d.Value)}"))));
}
