using LeakHunter.Census;
using LeakHunter.Inspector.Paths;
using LeakHunter.Inspector.Platform;
using Microsoft.Diagnostics.Runtime;

namespace LeakHunter.Inspector.Census;

/// <summary>
/// Counts what a process holds besides its objects, at each census: what the runtime knows (GC handles by kind, the
/// finalization queue, managed threads, assemblies) read while the process is held still, and what the system knows
/// (threads, file descriptors, private memory) read from outside. Each resource comes as a <c>total</c> reading and
/// its breakdown by kind.
/// </summary>
internal static class ResourceCounter
{
    private const string Total = ResourceNames.Total;

    /// <summary>What the runtime holds, read from the runtime of a process that is held still.</summary>
    public static List<ResourceReading> OfRuntime(ClrRuntime runtime)
    {
        var readings = new List<ResourceReading>();
        var handles = ResourceNames.KindsOf(ResourceNames.GcHandles).ToDictionary(kind => kind, _ => 0L);
        foreach (ClrHandle handle in runtime.EnumerateHandles())
        {
            string? kind = handle.HandleKind switch
            {
                ClrHandleKind.Strong or ClrHandleKind.SizedRef => "strong",
                ClrHandleKind.Pinned or ClrHandleKind.AsyncPinned => "pinned",
                ClrHandleKind.WeakShort or ClrHandleKind.WeakLong or ClrHandleKind.WeakWinRT => "weak",
                ClrHandleKind.Dependent => "dependent",
                ClrHandleKind.RefCounted => "refCounted",
                _ => null,
            };
            if (kind is not null)
                handles[kind]++;
        }
        Add(readings, ResourceNames.GcHandles, handles);

        readings.Add(new ResourceReading(ResourceNames.FinalizationQueue, Total, runtime.Heap.EnumerateFinalizerRoots().LongCount()));
        readings.Add(new ResourceReading(ResourceNames.Threads, "managed", runtime.Threads.LongCount(t => t.IsAlive)));

        ulong sharedAllocator = LoadedAssemblies.SharedAllocator(runtime);
        var assemblies = new Dictionary<string, long> { ["loaded"] = 0, ["dynamic"] = 0, ["collectible"] = 0 };
        var contexts = new HashSet<ulong>();
        foreach (ClrModule module in runtime.EnumerateModules().DistinctBy(m => m.Address))
        {
            bool collectible = LoadedAssemblies.IsCollectible(module, sharedAllocator);
            if (collectible)
                contexts.Add(module.LoaderAllocator);
            assemblies[module.IsDynamic ? "dynamic" : collectible ? "collectible" : "loaded"]++;
        }
        Add(readings, ResourceNames.Assemblies, assemblies);
        // Not part of the total: a collectible context's assemblies are counted above; this is how many contexts hold them.
        readings.Add(new ResourceReading(ResourceNames.Assemblies, "collectibleContexts", contexts.Count));

        long gcCommitted = runtime.Heap.Segments.Sum(s => (long)s.CommittedMemory.Length);
        readings.Add(new ResourceReading(ResourceNames.NativeMemory, "gcHeapCommitted", gcCommitted));
        return readings;
    }

    /// <summary>The GC heap's reserved address ranges, sorted and merged: the mappings there are the GC's, not native memory.</summary>
    public static List<(ulong Start, ulong End)> GcHeapRanges(ClrRuntime runtime)
    {
        var ranges = new List<(ulong Start, ulong End)>();
        foreach ((ulong start, ulong end) in runtime.Heap.Segments.Select(s => (s.ReservedMemory.Start, s.ReservedMemory.End)).Where(r => r.End > r.Start).OrderBy(r => r.Start))
        {
            if (ranges.Count > 0 && start <= ranges[^1].End)
                ranges[^1] = (ranges[^1].Start, Math.Max(ranges[^1].End, end));
            else
                ranges.Add((start, end));
        }
        return ranges;
    }

    /// <summary>
    /// What the system holds for <paramref name="processId"/>, merged into <paramref name="runtimeReadings"/>: its
    /// threads, its file descriptors, and its private memory outside the GC heap's mappings, which is native memory. Nothing is
    /// added where the system cannot tell (a dump file of a process that is gone).
    /// </summary>
    public static List<ResourceReading> WithSystem(List<ResourceReading> runtimeReadings, IReadOnlyList<(ulong Start, ulong End)> gcHeap, int processId)
    {
        SystemResources? system = InspectorPlatform.Current.Resources(processId, gcHeap);
        if (system is null)
            return runtimeReadings;
        var readings = new List<ResourceReading>(runtimeReadings);
        readings.Add(new ResourceReading(ResourceNames.Threads, Total, system.Threads));
        readings.Add(new ResourceReading(ResourceNames.Threads, "os", system.Threads));
        Add(readings, ResourceNames.FileDescriptors, system.FileDescriptors);
        readings.Add(new ResourceReading(ResourceNames.NativeMemory, "privateResident", system.PrivateResidentBytes));
        readings.Add(new ResourceReading(ResourceNames.NativeMemory, Total, system.PrivateResidentOutsideGcHeapBytes));
        return readings;
    }

    private static void Add(List<ResourceReading> readings, string resource, IReadOnlyDictionary<string, long> byKind)
    {
        readings.Add(new ResourceReading(resource, Total, byKind.Values.Sum()));
        readings.AddRange(byKind.Select(k => new ResourceReading(resource, k.Key, k.Value)));
    }
}

/// <summary>What the operating system says a process holds.</summary>
/// <param name="Threads">Its threads, managed or not.</param>
/// <param name="FileDescriptors">Its open file descriptors by kind: <c>file</c>, <c>socket</c>, <c>pipe</c>, <c>other</c>.</param>
/// <param name="PrivateResidentBytes">Its memory in RAM that no other process shares (the GC heap included).</param>
/// <param name="PrivateResidentOutsideGcHeapBytes">The same, outside the mappings that hold the GC heap: native memory.</param>
internal sealed record SystemResources(long Threads, IReadOnlyDictionary<string, long> FileDescriptors, long PrivateResidentBytes, long PrivateResidentOutsideGcHeapBytes);
