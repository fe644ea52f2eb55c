using System.Globalization;
using System.Text.RegularExpressions;
using LeakHunter.Census;
using LeakHunter.Inspector.Census;
using LeakHunter.Inspector.Platform;
using LeakHunter.Reports;
using Microsoft.Diagnostics.Runtime;

namespace LeakHunter.Inspector.Paths;

/// <summary>
/// Tells what the new items of a grown resource are: the threads, GC handles, descriptors and assemblies a process
/// has now and had not at an earlier census, grouped by what they share, each group with the managed type that owns
/// it when one does. Only names, kinds and counts are read: never a file's contents or a string's value beyond a
/// thread's name.
/// </summary>
internal static partial class ResourceExplainer
{
    // Groups shown per resource, most items first: more is a list nobody reads.
    private const int MaxGroups = 5;

    // Frames of a thread's stack shown, innermost first: enough to see what it waits on.
    private const int TopFrames = 4;

    /// <summary>The groups of new items of <paramref name="resources"/> since <paramref name="since"/>.</summary>
    /// <param name="runtime">The process's runtime, held still.</param>
    /// <param name="scanner">Reads the heap, for the paths to the targets of new GC handles.</param>
    /// <param name="types">The type names the scanner numbers.</param>
    /// <param name="since">What the earlier census identified.</param>
    /// <param name="resources">The resources to explain, as <see cref="ResourceNames"/> names them.</param>
    /// <param name="livePid">The process, when the system can be asked about it (not a dump file's).</param>
    public static List<ResourceFindingMessage> Explain(ClrRuntime runtime, HeapScanner scanner, TypeTable types, ResourceIdentities since, IReadOnlyList<string> resources,
        int? livePid)
    {
        var findings = new List<ResourceFindingMessage>();
        foreach (string resource in resources.Distinct())
        {
            IEnumerable<ResourceFindingMessage> groups = resource switch
            {
                ResourceNames.Threads => Threads(runtime, since, livePid),
                ResourceNames.GcHandles => Handles(runtime, scanner, types, since),
                ResourceNames.FileDescriptors when livePid is int pid && since.Descriptors is not null => Descriptors(runtime, since.Descriptors, pid),
                ResourceNames.Assemblies => Assemblies(runtime, since),
                ResourceNames.FinalizationQueue => FinalizationQueue(runtime),
                // Native memory has no items to tell apart: the managed objects that grew beside it, which the check knows, are its owners.
                _ => [],
            };
            findings.AddRange(groups.OrderByDescending(g => g.Count).ThenBy(g => g.What, StringComparer.Ordinal).Take(MaxGroups));
        }
        return findings;
    }

    private static IEnumerable<ResourceFindingMessage> Threads(ClrRuntime runtime, ResourceIdentities since, int? livePid)
    {
        Dictionary<ulong, ClrObject> threadObjects = ThreadStacks.ThreadObjects(runtime);
        var stacksByThread = new List<(string What, string[] Top)>();
        var managed = new HashSet<int>();
        foreach (ClrThread thread in runtime.Threads.Where(t => t.IsAlive && !since.Threads.Contains(t.Address)))
        {
            managed.Add((int)thread.OSThreadId);
            string[] frames = ThreadStacks.Frames(thread).ToArray();
            string? start = ThreadStacks.StartMethod(frames);
            string? name = threadObjects.TryGetValue(thread.Address, out ClrObject obj) ? ThreadStacks.ThreadName(obj) : null;
            string what = (name is null ? "thread with no name" : $"thread \"{name}\"") + (start is null ? "" : $", started at {start}");
            stacksByThread.Add((what, frames.Take(TopFrames).ToArray()));
        }
        // One group per name and start method: the top of the stack is where each thread happens to be at this moment
        // (spinning before it blocks, or blocked), so the group shows the top most of its threads share.
        foreach (IGrouping<string, (string What, string[] Top)> group in stacksByThread.GroupBy(t => t.What, StringComparer.Ordinal))
        {
            string[] top = group.GroupBy(t => string.Join("|", t.Top), StringComparer.Ordinal).OrderByDescending(g => g.Count()).First().First().Top;
            yield return new ResourceFindingMessage(ResourceNames.Threads, "thread", group.Key, group.Count(), "System.Threading.Thread", top.Select(f => $"at {f}").ToArray());
        }

        // OS threads no managed thread stands for: native code's, known only by the name the system keeps.
        if (livePid is not int pid || since.Tasks is null)
            yield break;
        foreach (IGrouping<string, int> native in InspectorPlatform.Current.Tasks(pid).Where(t => !since.Tasks.Contains(t) && !managed.Contains(t))
            .GroupBy(t => InspectorPlatform.Current.TaskName(pid, t) ?? "?", StringComparer.Ordinal))
        {
            yield return new ResourceFindingMessage(ResourceNames.Threads, "native thread", $"native thread \"{native.Key}\" (no managed Thread: started by native code)",
                native.Count(), null, []);
        }
    }

    // Handles of a group whose targets are traced: they share a type and, nearly always, a story.
    private const int TracedHandlesPerGroup = 10;

    // How long tracing the handles' targets may take: past it, the groups are told without their targets' paths.
    private static readonly TimeSpan s_targetPathsLimit = TimeSpan.FromSeconds(20);

    private static IEnumerable<ResourceFindingMessage> Handles(ClrRuntime runtime, HeapScanner scanner, TypeTable types, ResourceIdentities since)
    {
        List<ClrHandle> listed = runtime.EnumerateHandles().ToList();
        var groups = listed
            .Where(h => !since.Handles.Contains(h.Address))
            .Select(h => (h.Address, Kind: ResourceCounter.HandleKind(h), Target: h.Object.IsValid ? h.Object.Type?.Name : null))
            .Where(h => h.Kind is not null)
            .GroupBy(h => (Kind: h.Kind!, h.Target))
            .OrderByDescending(g => g.Count())
            .Take(MaxGroups)
            .ToArray();
        // Handles in use whose object the GC collected: no object to trace, only their kind and number to tell. Where
        // the runtime's own handles grew (threads', contexts'), so did the ones it keeps beside them whose objects died.
        bool runtimeOwn = groups.Any(g => g.Key.Target is string target && ResourceNames.RuntimeOwnHandleTargets.Contains(target));
        List<HandleTableSlots.Slot> slots = runtimeOwn ? [] : HandleTableSlots.Read(runtime, listed, out _) ?? [];
        ResourceFindingMessage[] emptied = slots
            .Where(s => s.Emptied && !since.Handles.Contains(s.Address) && ResourceCounter.HandleKind(s.Kind) is not null)
            .GroupBy(s => ResourceCounter.HandleKind(s.Kind)!)
            .Select(g => new ResourceFindingMessage(ResourceNames.GcHandles, g.Key, $"{g.Key} GC handle whose object was collected", g.Count(), null, []))
            .ToArray();
        if (groups.Length == 0)
            return emptied;
        // What holds a handle's target besides the handle: the object the code that allocates the handles works on.
        Explanation traced = LeakExplainer.ExplainWatched(runtime, scanner, types,
            groups.SelectMany(g => g.Take(TracedHandlesPerGroup).Select(h => h.Address)).ToArray(), s_targetPathsLimit);
        return groups.Select(g => new ResourceFindingMessage(ResourceNames.GcHandles, g.Key.Kind,
            $"{g.Key.Kind} GC handle to {(g.Key.Target is null ? "an object" : WithArticle(TypeNames.Short(g.Key.Target)))}", g.Count(), g.Key.Target,
            traced.Leaks.Where(l => l.Type == g.Key.Target).OrderByDescending(l => l.Instances).Take(1).Select(TargetHeldBy).ToArray()))
            .Concat(emptied);
    }

    /// <summary>"an Object", "a Thread": a type's name with its article, as a sentence reads it.</summary>
    private static string WithArticle(string type) => ("AEIOU".Contains(type[0], StringComparison.Ordinal) ? "an " : "a ") + type;

    /// <summary><c>Acme.Settings.s_current</c> as <c>Settings.s_current</c>: the type's short name, then the member.</summary>
    private static string ShortMember(string name)
    {
        int dot = name.LastIndexOf('.');
        return dot < 0 || name.Contains(' ', StringComparison.Ordinal) ? name : $"{TypeNames.Short(name[..dot])}.{name[(dot + 1)..]}";
    }

    /// <summary>"its target is held by static field Settings.s_current -> Settings": the path from a root, in short names.</summary>
    private static string TargetHeldBy(LeakPath path)
    {
        string root = path.RootKind switch
        {
            RootKindCode.StaticField => "static field ",
            RootKindCode.ThreadStatic => "thread-static field ",
            RootKindCode.Stack => "a local of ",
            _ => "",
        } + ShortMember(path.RootName);
        IEnumerable<string> steps = path.Steps.Select(step => step.Field is null ? TypeNames.Short(step.Type) : $".{step.Field} {TypeNames.Short(step.Type)}");
        return path.RootKind == RootKindCode.Unknown
            ? "no root LeakHunter sees holds its target besides the handle"
            : $"its target is held by {root} -> {string.Join(" ", steps)}";
    }

    private static IEnumerable<ResourceFindingMessage> Descriptors(ClrRuntime runtime, IReadOnlyDictionary<int, string?> since, int pid)
    {
        IReadOnlyDictionary<int, string?> now = InspectorPlatform.Current.Descriptors(pid);
        int[] added = now.Where(d => d.Value is not null && (!since.TryGetValue(d.Key, out string? was) || was != d.Value)).Select(d => d.Key).ToArray();
        if (added.Length == 0)
            return [];
        Dictionary<int, string> owners = SafeHandleOwners(runtime, added);
        return added
            .Select(d => (Kind: InspectorPlatform.Current.DescriptorKind(now[d]), Full: InspectorPlatform.Current.DescribeDescriptor(pid, now[d]!), Owner: owners.GetValueOrDefault(d)))
            .GroupBy(d => (d.Kind, What: EphemeralPort().Replace(d.Full, m => int.Parse(m.Groups[1].ValueSpan, CultureInfo.InvariantCulture) >= FirstEphemeralPort ? ":*" : m.Value), d.Owner))
            .Select(g => new ResourceFindingMessage(ResourceNames.FileDescriptors, g.Key.Kind, g.Key.What, g.Count(), g.Key.Owner,
            [
                g.Key.Owner is null ? "no SafeHandle owns it: opened by native code, or by a P/Invoke whose result was kept as a number" : $"owned by {WithArticle(TypeNames.Short(g.Key.Owner))}",
                .. g.First().Full == g.Key.What ? Array.Empty<string>() : [$"for one: {g.First().Full}"],
            ]));
    }

    // The kernel hands out ports from here up to connections that name none: such a port tells one socket from another,
    // not what it is, so the sockets to one peer are one group.
    private const int FirstEphemeralPort = 32768;

    [GeneratedRegex(@":(\d{5})\b")]
    private static partial Regex EphemeralPort();

    /// <summary>The type of the SafeHandle that holds each of <paramref name="descriptors"/>, where one does.</summary>
    private static Dictionary<int, string> SafeHandleOwners(ClrRuntime runtime, int[] descriptors)
    {
        var wanted = descriptors.ToHashSet();
        var owners = new Dictionary<int, string>();
        var isSafeHandle = new Dictionary<ulong, bool>();
        foreach (ClrObject obj in runtime.Heap.EnumerateObjects())
        {
            if (obj.Type is not ClrType type)
                continue;
            if (!isSafeHandle.TryGetValue(type.MethodTable, out bool safeHandle))
                isSafeHandle[type.MethodTable] = safeHandle = !s_notDescriptors.Contains(type.Name ?? "") && DerivesFrom(type, "System.Runtime.InteropServices.SafeHandle");
            if (!safeHandle || (obj.ReadField<int>("_state") & ClosedState) != 0)
                continue;
            long value = obj.ReadField<long>("handle");
            if (value is >= 0 and <= int.MaxValue && wanted.Contains((int)value))
                owners.TryAdd((int)value, type.Name ?? "System.Runtime.InteropServices.SafeHandle");
        }
        return owners;
    }

    // SafeHandle's state bit for a handle already released: its number may be a new descriptor's by now.
    private const int ClosedState = 1;

    // SafeHandles whose small numbers are the runtime's own handles or process ids, not descriptors.
    private static readonly HashSet<string> s_notDescriptors = new(StringComparer.Ordinal)
    {
        "Microsoft.Win32.SafeHandles.SafeWaitHandle", "Microsoft.Win32.SafeHandles.SafeProcessHandle",
    };

    private static bool DerivesFrom(ClrType type, string baseName)
    {
        for (ClrType? t = type; t is not null; t = t.BaseType)
        {
            if (t.Name == baseName)
                return true;
        }
        return false;
    }

    private static IEnumerable<ResourceFindingMessage> Assemblies(ClrRuntime runtime, ResourceIdentities since)
    {
        ulong sharedAllocator = LoadedAssemblies.SharedAllocator(runtime);
        return runtime.EnumerateModules().DistinctBy(m => m.Address)
            .Where(m => !since.Modules.Contains(m.Address))
            .Select(m => (Name: LoadedAssemblies.Name(m) ?? "an assembly with no name", Kind: AssemblyKind(m, LoadedAssemblies.IsCollectible(m, sharedAllocator))))
            .GroupBy(a => (a.Kind, What: Numbered().Replace(a.Name, "N")))
            .Select(g => new ResourceFindingMessage(ResourceNames.Assemblies, g.Key.Kind, g.Key.What, g.Count(), "System.Reflection.RuntimeAssembly",
            [
                .. g.First().Name == g.Key.What ? Array.Empty<string>() : [$"for one: {g.First().Name}"],
                AssemblyNote(g.Key.Kind),
            ]));
    }

    private static string AssemblyKind(ClrModule module, bool collectible) =>
        (LoadedAssemblies.Name(module) ?? "").Contains("Microsoft.Xml.Serialization.GeneratedAssembly", StringComparison.Ordinal) ? "XmlSerializer"
        : collectible ? "collectible"
        : module.IsDynamic ? "dynamic"
        : "loaded";

    private static string AssemblyNote(string kind) => kind switch
    {
        "XmlSerializer" => "made by an XmlSerializer, which generates an assembly for each serializer it does not cache; it is never unloaded",
        "collectible" => "in a collectible AssemblyLoadContext that has not unloaded: something outside it still refers to one of its objects",
        "dynamic" => "generated at run time (Reflection.Emit) outside a collectible context: it is never unloaded",
        _ => "loaded outside a collectible AssemblyLoadContext: it is never unloaded",
    };

    private static IEnumerable<ResourceFindingMessage> FinalizationQueue(ClrRuntime runtime) =>
        runtime.Heap.EnumerateFinalizerRoots()
            .Select(r => r.Object.IsValid ? r.Object.Type?.Name : null)
            .GroupBy(t => t ?? "?", StringComparer.Ordinal)
            .Select(g => new ResourceFindingMessage(ResourceNames.FinalizationQueue, "finalizable", $"{TypeNames.Short(g.Key)} waiting for its finalizer", g.Count(),
                g.Key == "?" ? null : g.Key, []));

    // A number in a generated name (Generated17, a context's id): the group is the maker, not the instance.
    [GeneratedRegex(@"\d+")]
    private static partial Regex Numbered();
}
