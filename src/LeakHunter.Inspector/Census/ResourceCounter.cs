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

    /// <summary>
    /// What the runtime holds, read from the runtime of a process that is held still, and what identifies each thread,
    /// handle and assembly, so a later explanation can tell the ones made since.
    /// </summary>
    /// <remarks>Where the runtime's handle table cannot be read, <see cref="ResourceIdentities.Warning"/> says why.</remarks>
    public static (List<ResourceReading> Readings, ResourceIdentities Identities) OfRuntime(ClrRuntime runtime)
    {
        var readings = new List<ResourceReading>();
        var identities = new ResourceIdentities();
        var handles = ResourceNames.KindsOf(ResourceNames.GcHandles).ToDictionary(kind => kind, _ => 0L);
        List<ClrHandle> listed = runtime.EnumerateHandles().ToList();
        // The table's own slots where it reads, so a handle whose object died still counts; the listed handles where not.
        IEnumerable<(ulong Address, ClrHandleKind Kind)> inUse = HandleTableSlots.Read(runtime, listed, out string? unread) is List<HandleTableSlots.Slot> slots
            ? slots.Select(s => (s.Address, s.Kind))
            : listed.Select(h => (h.Address, h.HandleKind));
        foreach ((ulong address, ClrHandleKind handleKind) in inUse)
        {
            if (HandleKind(handleKind) is string kind)
            {
                handles[kind]++;
                identities.Handles.Add(address);
            }
        }
        Add(readings, ResourceNames.GcHandles, handles);
        if (unread is not null)
            identities.Warning = $"GC handles were counted from the runtime's debugging interface alone, which lists only handles whose object is alive: {unread}.";

        readings.Add(new ResourceReading(ResourceNames.FinalizationQueue, Total, runtime.Heap.EnumerateFinalizerRoots().LongCount()));
        foreach (ClrThread thread in runtime.Threads.Where(t => t.IsAlive))
            identities.Threads.Add(thread.Address);
        readings.Add(new ResourceReading(ResourceNames.Threads, "managed", identities.Threads.Count));

        ulong sharedAllocator = LoadedAssemblies.SharedAllocator(runtime);
        var assemblies = new Dictionary<string, long> { ["loaded"] = 0, ["dynamic"] = 0, ["collectible"] = 0 };
        var contexts = new HashSet<ulong>();
        foreach (ClrModule module in runtime.EnumerateModules().DistinctBy(m => m.Address))
        {
            bool collectible = LoadedAssemblies.IsCollectible(module, sharedAllocator);
            if (collectible)
                contexts.Add(module.LoaderAllocator);
            assemblies[module.IsDynamic ? "dynamic" : collectible ? "collectible" : "loaded"]++;
            identities.Modules.Add(module.Address);
        }
        Add(readings, ResourceNames.Assemblies, assemblies);
        // Not part of the total: a collectible context's assemblies are counted above; this is how many contexts hold them.
        readings.Add(new ResourceReading(ResourceNames.Assemblies, "collectibleContexts", contexts.Count));

        long gcCommitted = runtime.Heap.Segments.Sum(s => (long)s.CommittedMemory.Length);
        readings.Add(new ResourceReading(ResourceNames.NativeMemory, "gcHeapCommitted", gcCommitted));
        return (readings, identities);
    }

    /// <summary>The kind a census counts a handle under, or null for one it does not count.</summary>
    public static string? HandleKind(ClrHandle handle) => HandleKind(handle.HandleKind);

    /// <summary>The kind a census counts a handle of the runtime's <paramref name="kind"/> under, or null for one it does not count.</summary>
    public static string? HandleKind(ClrHandleKind kind) => kind switch
    {
        ClrHandleKind.Strong or ClrHandleKind.SizedRef => "strong",
        ClrHandleKind.Pinned or ClrHandleKind.AsyncPinned => "pinned",
        ClrHandleKind.WeakShort or ClrHandleKind.WeakLong or ClrHandleKind.WeakWinRT => "weak",
        ClrHandleKind.Dependent => "dependent",
        ClrHandleKind.RefCounted => "refCounted",
        _ => null,
    };

    /// <summary>
    /// What the system holds for the process, merged into <paramref name="runtimeReadings"/>: its threads, its file
    /// descriptors, and its anonymous memory outside the GC's pages, which is native memory. Nothing is added where
    /// the system could not tell (a dump file of a process that is gone).
    /// </summary>
    public static List<ResourceReading> WithSystem(List<ResourceReading> runtimeReadings, ResourceIdentities identities, SystemResources? system)
    {
        if (system is null)
            return runtimeReadings;
        identities.Tasks = system.Tasks;
        identities.Descriptors = system.Descriptors;
        var readings = new List<ResourceReading>(runtimeReadings);
        readings.Add(new ResourceReading(ResourceNames.Threads, Total, system.Tasks.Count));
        readings.Add(new ResourceReading(ResourceNames.Threads, "os", system.Tasks.Count));
        Add(readings, ResourceNames.FileDescriptors, system.FileDescriptors);
        readings.Add(new ResourceReading(ResourceNames.NativeMemory, "anonymous", system.AnonymousBytes));
        readings.Add(new ResourceReading(ResourceNames.NativeMemory, "fileBacked", system.FileBackedBytes));
        readings.Add(new ResourceReading(ResourceNames.NativeMemory, Total, system.NativeBytes));
        return readings;
    }

    private static void Add(List<ResourceReading> readings, string resource, IReadOnlyDictionary<string, long> byKind)
    {
        readings.Add(new ResourceReading(resource, Total, byKind.Values.Sum()));
        readings.AddRange(byKind.Select(k => new ResourceReading(resource, k.Key, k.Value)));
    }
}

/// <summary>What the system shows of a process at one moment: its threads, its descriptors, and its memory mappings.</summary>
/// <param name="Tasks">Its threads' ids.</param>
/// <param name="Descriptors">Its open descriptors, each with what it points to (null when it closed while being read).</param>
/// <param name="Mappings">Its memory mappings, each with its resident private and anonymous bytes.</param>
/// <param name="AnonymousBytes">Its anonymous memory in RAM, the GC's included.</param>
/// <param name="FileBackedBytes">The pages of files it maps that are in RAM: code and data read in as it runs.</param>
internal sealed record SystemSnapshot(IReadOnlySet<int> Tasks, IReadOnlyDictionary<int, string?> Descriptors, IReadOnlyList<MemoryMapping> Mappings,
    long AnonymousBytes, long FileBackedBytes);

/// <summary>One memory mapping that can hold pages: its address range.</summary>
internal readonly record struct MemoryMapping(ulong Start, ulong End);

/// <summary>What the operating system says a process holds.</summary>
/// <param name="Tasks">Its threads' ids, managed or not.</param>
/// <param name="Descriptors">Its open file descriptors, each with what it points to (null when it closed while being read).</param>
/// <param name="FileDescriptors">Its open file descriptors by kind: <c>file</c>, <c>socket</c>, <c>pipe</c>, <c>other</c>.</param>
/// <param name="AnonymousBytes">Its anonymous memory in RAM, the GC's included.</param>
/// <param name="FileBackedBytes">The pages of files it maps that are in RAM: code and data read in as it runs.</param>
/// <param name="NativeBytes">Its anonymous memory in RAM outside the GC's pages: native memory.</param>
internal sealed record SystemResources(IReadOnlySet<int> Tasks, IReadOnlyDictionary<int, string?> Descriptors, IReadOnlyDictionary<string, long> FileDescriptors,
    long AnonymousBytes, long FileBackedBytes, long NativeBytes);

/// <summary>
/// What identifies each thread, GC handle, assembly, OS thread and descriptor at one census: a resource that grew is
/// explained by the items a later census has and this one had not.
/// </summary>
internal sealed class ResourceIdentities
{
    /// <summary>The addresses of the runtime's live threads.</summary>
    public HashSet<ulong> Threads { get; } = new();

    /// <summary>The addresses of the GC handles counted.</summary>
    public HashSet<ulong> Handles { get; } = new();

    /// <summary>The addresses of the loaded modules.</summary>
    public HashSet<ulong> Modules { get; } = new();

    /// <summary>What could not be counted as it should, for the census's warnings; null when everything was.</summary>
    public string? Warning { get; set; }

    /// <summary>The OS threads' ids; null where the system cannot tell (a dump file).</summary>
    public IReadOnlySet<int>? Tasks { get; set; }

    /// <summary>The open descriptors and what they point to; null where the system cannot tell.</summary>
    public IReadOnlyDictionary<int, string?>? Descriptors { get; set; }
}
