using LeakHunter.Tests.Targets;
using Xunit;

namespace LeakHunter.Tests;

/// <summary>
/// Leaks the GC heap does not show, counted at every census beside the objects: threads, GC handles, file
/// descriptors, native memory and assemblies, each against real leaky and clean code, with the rate asserted.
/// </summary>
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

            ResourceUsage threads = AssertGrows(report, "threads", perIteration: 1);
            Assert.InRange(threads.Details["managed"][^1] - threads.Details["managed"][0], 40, 60);
            Assert.Contains("resources grew: threads", report.ToString(), StringComparison.Ordinal);
        }
        finally
        {
            ResourceThreads.Release();
        }
    }

    [Fact]
    public void ThreadsThatFinish_AreNoLeak() => AssertFlat(LeakDetector.Run(ResourceThreads.Clean, s_counted), "threads");

    [Fact]
    public void AWeakGcHandleNeverFreed_GrowsTheWeakHandles_WhileTheHeapStaysFlat()
    {
        try
        {
            LeakReport report = LeakDetector.Run(ResourceGcHandles.Leak);

            ResourceUsage handles = AssertGrows(report, "gcHandles", perIteration: 1);
            Assert.Equal(handles.Counts[^1] - handles.Counts[0], handles.Details["weak"][^1] - handles.Details["weak"][0]);
            Assert.Empty(report.GrowingTypes);
        }
        finally
        {
            ResourceGcHandles.Release();
        }
    }

    [Fact]
    public void GcHandlesFreed_AreNoLeak() => AssertFlat(LeakDetector.Run(ResourceGcHandles.Clean), "gcHandles");

    [Fact]
    public void AFileOpenedThroughPInvokeAndNeverClosed_GrowsTheFileDescriptors()
    {
        try
        {
            LeakReport report = LeakDetector.Run(ResourceFileDescriptors.Leak);

            ResourceUsage descriptors = AssertGrows(report, "fileDescriptors", perIteration: 1);
            Assert.Equal(descriptors.Counts[^1] - descriptors.Counts[0], descriptors.Details["file"][^1] - descriptors.Details["file"][0]);
        }
        finally
        {
            ResourceFileDescriptors.Release();
        }
    }

    [Fact]
    public void FilesClosed_AreNoLeak() => AssertFlat(LeakDetector.Run(ResourceFileDescriptors.Clean), "fileDescriptors");

    [Fact]
    public void NativeMemoryNeverFreed_GrowsNativeMemoryByWhatEachCallKeeps()
    {
        try
        {
            LeakReport report = LeakDetector.Run(ResourceNativeMemory.Leak);

            ResourceUsage native = AssertGrows(report, "nativeMemory", perIteration: 1024 * 1024, tolerance: 0.2);
            Assert.Empty(report.GrowingTypes);
        }
        finally
        {
            ResourceNativeMemory.Release();
        }
    }

    [Fact]
    public void NativeMemoryFreed_IsNoLeak() => AssertFlat(LeakDetector.Run(ResourceNativeMemory.Clean), "nativeMemory");

    [Fact]
    public void AnAssemblyGeneratedPerCall_GrowsTheDynamicAssemblies()
    {
        LeakReport report = LeakDetector.Run(ResourceAssemblies.Leak, s_counted);

        ResourceUsage assemblies = AssertGrows(report, "assemblies", perIteration: 1);
        Assert.Equal(assemblies.Counts[^1] - assemblies.Counts[0], assemblies.Details["dynamic"][^1] - assemblies.Details["dynamic"][0]);
    }

    [Fact]
    public void XmlSerializerOfATypePerCall_ReusesItsAssembly_AndIsNoLeak() =>
        AssertFlat(LeakDetector.Run(ResourceAssemblies.Clean), "assemblies");

    [Fact]
    public void AResourceIgnoredWithAReason_IsShownButLeftOutOfTheVerdict()
    {
        try
        {
            LeakReport report = LeakDetector.Run(ResourceGcHandles.Leak,
                new LeakOptions { Ignore = [LeakIgnore.Resource("gcHandles", "a pool of handles the vendor SDK grows on its own")] });

            ResourceUsage handles = Assert.Single(report.Resources, r => r.Name == "gcHandles");
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

        Assert.Equal(["threads", "nativeMemory"], report.Resources.Select(r => r.Name));
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

    private static void AssertFlat(LeakReport report, string name)
    {
        ResourceUsage resource = Assert.Single(report.Resources, r => r.Name == name);
        Assert.False(resource.Growing, Counted(report));
        Assert.False(report.HasLeaks, Counted(report));
    }

    /// <summary>The report, with every resource's count at each census: the text report names the flat ones only.</summary>
    private static string Counted(LeakReport report) =>
        report + string.Concat(report.Resources.Select(r => $"\n{r.Name}: {string.Join(" ", r.Counts)} at iterations {string.Join(" ", report.Censuses.Select(c => c.Iteration))}"));
}
