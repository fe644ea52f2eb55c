using LeakHunter.Census;
using LeakHunter.Reports;

namespace LeakHunter.Analysis;

/// <summary>
/// Turns the inspector's groups of a grown resource's new items into the report's findings, each with its fix; tells
/// native memory by the managed types that grew beside it; and ties each finding to the cause that keeps its owner.
/// </summary>
internal static class ResourceFindings
{
    // The assemblies' own objects: a cause that keeps one of them keeps the assembly loaded.
    private static readonly string[] s_assemblyTypes =
    [
        "System.Reflection.RuntimeAssembly", "System.Reflection.Emit.RuntimeAssemblyBuilder", "System.Reflection.RuntimeModule",
        "System.Reflection.LoaderAllocator", "System.Runtime.Loader.AssemblyLoadContext",
    ];

    /// <summary>
    /// The usages with their findings: the inspector's groups for the resources that grew, and for native memory the
    /// managed types that grew beside it (<paramref name="growingTypes"/>, with their bytes per iteration or second).
    /// </summary>
    public static IReadOnlyList<ResourceUsage> Explained(IReadOnlyList<ResourceUsage> usages, IReadOnlyList<ResourceFindingMessage> found,
        IReadOnlyList<(string Type, double BytesPerUnit)> growingTypes, string unit)
    {
        return usages.Select(usage => !usage.Growing ? usage : usage with
        {
            Findings = usage.Name == ResourceNames.NativeMemory
                ? [NativeMemory(usage, growingTypes, unit)]
                : Leading(found.Where(f => f.Resource == usage.Name).ToArray(), usage.Counts[^1] - usage.Counts[0])
                    .Select(f => new ResourceFinding(f.Kind, f.What, f.Count, f.Details, Hint(f.Resource, f.Kind, f.OwnerType)) { OwnerType = f.OwnerType })
                    .ToArray(),
        }).ToArray();
    }

    // A group with fewer new items than this share of what the resource gained cannot be what each call adds: it is the
    // runtime's own churn (a type cache's weak handle, a thread pool worker), and told beside the leak it is a false lead.
    private const double MinShareOfRise = 0.1;

    /// <summary>The groups that can be the growth: those with at least a tenth of what the resource gained; the largest one at least.</summary>
    private static IEnumerable<ResourceFindingMessage> Leading(ResourceFindingMessage[] groups, long rise) =>
        groups.Where((g, i) => i == 0 || g.Count >= MinShareOfRise * rise);

    /// <summary>
    /// Native memory has no items to tell apart. The managed objects that grew beside it usually own it (a SafeHandle,
    /// a buffer's wrapper); when none did, the memory is held by a bare pointer or by native code.
    /// </summary>
    private static ResourceFinding NativeMemory(ResourceUsage usage, IReadOnlyList<(string Type, double BytesPerUnit)> growingTypes, string unit)
    {
        string rate = $"{Bytes(usage.PerIteration)} per {unit}";
        if (growingTypes.Count == 0)
        {
            return new ResourceFinding("unowned", $"{rate}, with no managed object growing beside it", 0, [],
                "Memory allocated outside the GC heap is never freed, and no managed object owns it: a Marshal.AllocHGlobal, NativeMemory.Alloc or native library " +
                "allocation whose pointer is kept as a number. Free it in a finally, or wrap it in a SafeHandle whose owner is disposed.");
        }
        (string Type, double BytesPerUnit)[] beside = growingTypes.OrderByDescending(t => t.BytesPerUnit).ToArray();
        return new ResourceFinding("alongside", $"{rate}, beside {string.Join(", ", beside.Take(3).Select(t => TypeNames.Short(t.Type)))}{(beside.Length > 3 ? ", ..." : "")}",
            beside.Length, beside.Select(t => $"{TypeNames.Short(t.Type)}: {Bytes(t.BytesPerUnit)} of managed heap per {unit}").ToArray(),
            "The managed objects that grow beside it usually own the native memory (a SafeHandle, a native buffer's wrapper): fix what keeps them, or Dispose them " +
            "when done so they free what they hold.")
        {
            OwnerType = beside[0].Type,
        };
    }

    /// <summary>Each finding tied to the cause that keeps its owner type, or for assemblies, one of the assembly's own objects.</summary>
    public static IReadOnlyList<ResourceUsage> LinkedToCauses(IReadOnlyList<ResourceUsage> usages, IReadOnlyList<LeakCause> causes)
    {
        if (causes.Count == 0 || usages.All(u => u.Findings.Count == 0))
            return usages;
        int? CauseOf(string resource, ResourceFinding finding)
        {
            string[] owners = resource == ResourceNames.Assemblies ? s_assemblyTypes
                : resource == ResourceNames.NativeMemory ? finding.Details.Count == 0 ? [] : [finding.OwnerType!]
                : finding.OwnerType is null ? [] : [finding.OwnerType];
            int index = causes.Select((c, i) => (c, i)).FirstOrDefault(p => p.c.Types.Any(t => owners.Contains(t.Type, StringComparer.Ordinal)), (null!, -1)).Item2;
            return index < 0 ? null : index;
        }
        return usages.Select(u => u.Findings.Count == 0 ? u : u with { Findings = u.Findings.Select(f => OwnWeakReferences(u.Name, f, causes) ?? f with { Cause = CauseOf(u.Name, f) }).ToArray() }).ToArray();
    }

    /// <summary>
    /// Weak handles whose objects are gone, beside a cause that keeps WeakReference objects: they are those references'
    /// own handles, which each frees when it is collected. The cause is what to fix, not a GCHandle.Alloc of the code's.
    /// </summary>
    private static ResourceFinding? OwnWeakReferences(string resource, ResourceFinding finding, IReadOnlyList<LeakCause> causes)
    {
        if (resource != ResourceNames.GcHandles || finding.Kind != "weak" || finding.OwnerType is not null)
            return null;
        int cause = causes.Select((c, i) => (c, i)).FirstOrDefault(p => p.c.Types.Any(t => t.Type.StartsWith("System.WeakReference", StringComparison.Ordinal)), (null!, -1)).Item2;
        return cause < 0 ? null : finding with
        {
            Cause = cause,
            Hint = $"These are the handles of the WeakReference objects that cause {cause + 1} keeps: each frees its handle only when it is collected itself. Fix that cause, and they go with it.",
        };
    }

    private static string Bytes(double bytes) => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{bytes:N0} bytes");

    /// <summary>The fix for a group of new items of one kind, owned by <paramref name="ownerType"/> when that is known.</summary>
    public static string Hint(string resource, string kind, string? ownerType = null) => (resource, kind) switch
    {
        (ResourceNames.GcHandles, _) when ownerType == "System.Threading.Thread" =>
            "These are the runtime's own handles to live threads' Thread objects, not handles the code allocated: they go when the threads end. End the threads.",
        (ResourceNames.GcHandles, _) when ownerType is not null && ResourceNames.RuntimeOwnHandleTargets.Contains(ownerType) =>
            "These are the runtime's own handles to collectible AssemblyLoadContexts that were asked to unload and cannot: they go when the contexts unload. " +
            "Release every reference from outside into the contexts (the path above shows one) before Unload.",
        (ResourceNames.Threads, "native thread") =>
            "Native code starts a thread that never ends: call the library's shutdown, close or dispose on what started it, once per use, not per call.",
        (ResourceNames.Threads, _) =>
            "A thread started per call never ends: signal it to stop (a CancellationToken, a completed queue) and Join it when its work is done, " +
            "or give the work to the thread pool (Task.Run) or to one long-lived worker.",
        (ResourceNames.GcHandles, "pinned") =>
            "A pinned GCHandle is never freed, so its object never moves or dies: call Free() in a finally, or pin for a scope only (fixed, Memory<T>.Pin with its MemoryHandle disposed).",
        (ResourceNames.GcHandles, "dependent") =>
            "A DependentHandle (or ConditionalWeakTable entry) is never released: Dispose the DependentHandle, or Remove the table's entry, when the pair is no longer needed.",
        (ResourceNames.GcHandles, "refCounted") =>
            "A COM or WinRT wrapper's handle is never released: call Marshal.ReleaseComObject or Dispose on the wrapper when done.",
        (ResourceNames.GcHandles, _) =>
            "GCHandle.Alloc without Free: call Free() when the handle is no longer needed (in Dispose, or a finally), or hold a WeakReference<T>, which frees its handle with it.",
        (ResourceNames.FileDescriptors, "socket") =>
            "A socket opened per call is never closed: dispose the Socket, TcpClient or HttpClient (using), and share one HttpClient (or IHttpClientFactory) instead of one per request.",
        (ResourceNames.FileDescriptors, "pipe") =>
            "A pipe opened per call is never closed: dispose the Process and its redirected streams, or the pipe stream, when done.",
        (ResourceNames.FileDescriptors, _) =>
            "A file opened per call is never closed: dispose the FileStream or its reader (using); a descriptor from a P/Invoke open needs close(), best owned by a SafeFileHandle so an exception cannot skip it.",
        (ResourceNames.Assemblies, "XmlSerializer") =>
            "Create the XmlSerializer once per type and root, and reuse it: only XmlSerializer(Type) and XmlSerializer(Type, string) are cached by the runtime; " +
            "every other constructor generates and loads an assembly that is never unloaded.",
        (ResourceNames.Assemblies, "collectible") =>
            "A collectible AssemblyLoadContext cannot unload while anything outside it refers to its objects: release every such reference (event handlers, statics, caches, threads) before Unload.",
        (ResourceNames.Assemblies, "dynamic") =>
            "Generate the assembly once and reuse it: an assembly made with AssemblyBuilderAccess.Run is never unloaded. Define it with RunAndCollect, or in a collectible AssemblyLoadContext, when it must come and go.",
        (ResourceNames.Assemblies, _) =>
            "Load the assembly once and keep the Assembly: a load from bytes or a new path adds a copy every time, and an assembly outside a collectible AssemblyLoadContext is never unloaded.",
        (ResourceNames.FinalizationQueue, _) =>
            "Objects wait for their finalizer faster than the finalizer thread runs: Dispose them (and call GC.SuppressFinalize in Dispose), and make sure no finalizer blocks.",
        _ => "Release what each call takes before it returns.",
    };
}
