using System.Text.RegularExpressions;
using LeakHunter.Census;
using Microsoft.Diagnostics.Runtime;

namespace LeakHunter.Inspector.Paths;

/// <summary>A stack local's slot, and the MethodTable of the object it held.</summary>
internal readonly record struct StackSlot(ulong Address, ulong MethodTable);

/// <summary>A GC root, named the way a developer thinks of it, and the node of the object it holds.</summary>
internal readonly record struct NamedRoot(RootKindCode Kind, string Name, int Node)
{
    /// <summary>
    /// For a stack local: whether the same slot of the same running frame held an object of the same type at the mark.
    /// The frame has run since before the mark (a server's Main), so what it holds is long-lived even when the
    /// object has moved since, in a compacting GC of a live process, to an address the mark never saw.
    /// </summary>
    public bool HeldSinceMark { get; init; }

    /// <summary>
    /// An object the runtime never frees, rooted in its own name ahead of every static: a static that holds it merely
    /// shares it, and clearing that static would free nothing.
    /// </summary>
    public bool Immortal { get; init; }

    /// <summary>For a stack local or a thread static: the runtime's thread whose root it is (<c>ClrThread.Address</c>); 0 for other roots.</summary>
    public ulong ThreadAddress { get; init; }

    /// <summary>For a root of a thread started since the mark that is still running: that thread, its name, start and starter.</summary>
    public PathThread? Thread { get; init; }
}

/// <summary>
/// Lists the roots in the order the search must meet them: the immortal keys of weak tables first, then statics and
/// thread statics (named by their field, not by the runtime's pinned array of static slots), then handles, the
/// finalizer queue, and stacks last.
/// </summary>
internal static partial class RootFinder
{
    private const string UnreadableStatics = "static field(s) could not be read, so what they hold is missing from the roots";
    private const string UnreadableThreadStatics = "thread-static field value(s) could not be read, so what they hold is missing from the roots";
    // Dynamic assemblies whose statics are read; past this many, one is being generated per call.
    private const int MaxDynamicModulesWithStatics = 64;

    private const string UnwalkableStacks = "thread stack(s) could not be walked, so their locals are missing from the roots";

    /// <summary>
    /// The roots, in search order; each one that cannot be read is counted in <paramref name="failures"/>. With
    /// <paramref name="stackSlotsAtMark"/>, the stack slots and the types of what they held at the mark, a stack root
    /// says whether its frame held it then.
    /// </summary>
    public static List<NamedRoot> Find(ClrRuntime runtime, HeapGraph graph, FailureTally failures, IReadOnlySet<StackSlot>? stackSlotsAtMark = null)
    {
        var roots = new List<NamedRoot>();
        AddImmortalKeys(runtime, graph, roots);
        AddStatics(runtime, graph, roots, failures);
        AddHandles(runtime, graph, roots);
        AddFinalizerQueue(runtime, graph, roots);
        AddStacks(runtime, graph, roots, failures, stackSlotsAtMark);
        return roots;
    }

    /// <summary>
    /// Objects the runtime never frees that key a <c>ConditionalWeakTable</c>: the <c>Type</c> of a type that cannot
    /// unload, a string literal, anything on the frozen heap. The table's value lives as long as its key, so such a
    /// key is what holds it, forever; a static that happens to point at the same <c>Type</c> (<c>s_type = typeof(X)</c>)
    /// merely shares it. Frozen objects need no root to live, so without these roots their values would look unheld.
    /// </summary>
    private static void AddImmortalKeys(ClrRuntime runtime, HeapGraph graph, List<NamedRoot> roots)
    {
        IEnumerable<int> keys = graph.HiddenEdges.Where(e => e.Value.Exists(edge => edge.Field == HeapGraph.DependentHandleValue)).Select(e => e.Key).Order();
        foreach (int key in keys)
        {
            if (ImmortalName(runtime, graph, key) is string name)
                roots.Add(new NamedRoot(RootKindCode.LoadedAssembly, name, key) { Immortal = true });
        }
    }

    /// <summary>What an object the runtime never frees is, without its contents; null for an object the GC may free.</summary>
    private static string? ImmortalName(ClrRuntime runtime, HeapGraph graph, int node)
    {
        ClrObject obj = runtime.Heap.GetObject(graph.AddressOf(node));
        bool frozen = runtime.Heap.GetSegmentByAddress(obj.Address)?.Kind == GCSegmentKind.Frozen;
        if (obj.Type?.Name == "System.RuntimeType")
        {
            // A collectible type's Type object refers to its loader allocator (m_keepalive), and dies with its context.
            bool collectible = !graph.ReferencesOf(node).IsEmpty;
            if (collectible || !obj.Type.Fields.Any(f => f.Name == "m_handle"))
                return null;
            string? typeName = runtime.GetTypeByMethodTable(obj.ReadField<ulong>("m_handle"))?.Name;
            return $"typeof({typeName ?? "a type"}): a Type object, which the runtime never frees while its assembly is loaded, and an assembly outside a collectible AssemblyLoadContext never unloads";
        }
        if (!frozen)
            return null;
        return obj.Type?.Name == "System.String"
            ? "a string literal, which the runtime keeps on its frozen heap and never frees"
            : $"a {obj.Type?.Name ?? "runtime object"} on the runtime's frozen heap, which it never frees";
    }

    private static void AddStatics(ClrRuntime runtime, HeapGraph graph, List<NamedRoot> roots, FailureTally failures)
    {
        ClrAppDomain? domain = runtime.AppDomains.FirstOrDefault();
        ClrThread[] threads = runtime.Threads.Where(t => t.IsAlive).ToArray();
        var threadStatics = new List<NamedRoot>();
        var openGenericStatics = new List<(ClrType Type, ClrStaticField Field)>();
        ulong sharedAllocator = LoadedAssemblies.SharedAllocator(runtime);
        int dynamicModules = 0;
        foreach (ClrModule module in runtime.EnumerateModules())
        {
            // A collectible type's statics are no root: its loader allocator holds them, and lives only while
            // something outside refers to the context. Listing a module's statics takes the runtime's debugging
            // interface tens of milliseconds, so a process that generated thousands of assemblies (one per call)
            // has the statics of the first few read, and the report says so.
            if (LoadedAssemblies.IsCollectible(module, sharedAllocator))
                continue;
            if (module.IsDynamic && ++dynamicModules > MaxDynamicModulesWithStatics)
                continue;
            foreach (ClrType type in module.EnumerateTypesWithStaticFields())
            {
                if (OpenGenericParameters().IsMatch(type.Name ?? ""))
                {
                    openGenericStatics.AddRange(type.StaticFields.Where(f => f.IsObjectReference).Select(f => (type, f)));
                    continue;
                }
                if (domain is not null)
                {
                    foreach (ClrStaticField field in type.StaticFields)
                    {
                        if (!field.IsObjectReference)
                            continue;
                        ulong address = Try(() => field.IsInitialized(domain) ? field.ReadObject(domain).Address : 0, failures, UnreadableStatics);
                        Add(roots, graph, RootKindCode.StaticField, $"{type.Name}.{MemberName(field.Name)}", address);
                    }
                }
                foreach (ClrThreadStaticField field in type.ThreadStaticFields)
                {
                    if (!field.IsObjectReference)
                        continue;
                    foreach (ClrThread thread in threads)
                    {
                        ulong address = Try(() => field.IsInitialized(thread) ? field.ReadObject(thread).Address : 0, failures, UnreadableThreadStatics);
                        Add(threadStatics, graph, RootKindCode.ThreadStatic, $"{type.Name}.{MemberName(field.Name)} (thread {thread.ManagedThreadId})", address, thread.Address);
                    }
                }
            }
        }
        failures.UnreadDynamicStatics = (Math.Max(0, dynamicModules - MaxDynamicModulesWithStatics), dynamicModules);
        AddClosedGenericStatics(runtime, graph, roots, openGenericStatics);
        roots.AddRange(threadStatics);
    }

    /// <summary>
    /// The statics of a closed generic type (<c>Registry&lt;Plugin&gt;.s_items</c>) are not in any module's type map, only
    /// their slots in the runtime's statics arrays. A slot's object is matched against the declared type of each open
    /// generic static field, which recovers the type arguments: a <c>List&lt;Plugin&gt;</c> in a slot, against
    /// <c>Registry&lt;T&gt;.s_items</c> declared as <c>List&lt;T&gt;</c>, is <c>Registry&lt;Plugin&gt;.s_items</c>.
    /// </summary>
    private static void AddClosedGenericStatics(ClrRuntime runtime, HeapGraph graph, List<NamedRoot> roots, List<(ClrType Type, ClrStaticField Field)> openStatics)
    {
        if (openStatics.Count == 0)
            return;
        var named = new HashSet<int>(roots.Select(r => r.Node));
        var patterns = openStatics
            .Select(s => (s.Type, s.Field, Declared: DeclaredFieldTypes.Of(runtime, s.Field)))
            .Select(s => (s.Type, s.Field, s.Declared, Pattern: FieldTypePattern(s.Type.Name!, s.Declared)))
            .Where(s => s.Pattern is not null)
            .ToList();
        // Many slots hold objects of one type (the Type objects of every loaded type): each type is named and matched
        // once, and the slots are the bucket's references in the graph, so no slot is read from the process again.
        var namesByType = new Dictionary<int, string[]>();
        foreach (ClrObject bucket in StaticsBuckets(runtime))
        {
            int bucketNode = graph.IndexOf(bucket.Address);
            if (bucketNode < 0)
                continue;
            foreach (int node in graph.ReferencesOf(bucketNode))
            {
                if (named.Contains(node))
                    continue;
                if (!namesByType.TryGetValue(graph.Types[node], out string[]? candidates))
                    namesByType[graph.Types[node]] = candidates = StaticsHolding(runtime.Heap.GetObject(graph.AddressOf(node)).Type?.Name, patterns);
                if (candidates.Length == 0)
                    continue;
                roots.Add(new NamedRoot(RootKindCode.StaticField, string.Join(" or ", candidates), node));
                named.Add(node);
            }
        }
    }

    /// <summary>
    /// The closed generic statics an object of <paramref name="valueType"/> may be the value of. The most specific
    /// declared type wins (List&lt;T&gt; over a bare T); when two fit equally, the name says so.
    /// </summary>
    private static string[] StaticsHolding(string? valueType, List<(ClrType Type, ClrStaticField Field, string? Declared, Regex? Pattern)> patterns)
    {
        if (valueType is null || s_runtimesOwnSlots.Contains(valueType))
            return [];
        // The buckets also hold the runtime's literal and interned strings: a string is no bare T's value.
        bool isString = valueType == "System.String";
        var fits = patterns
            .Where(p => !isString || Specificity(p.Declared!) > 0)
            .Select(p => (p, Match: p.Pattern!.Match(valueType)))
            .Where(c => c.Match.Success)
            .Select(c => (Name: $"{ClosedName(c.p.Type.Name!, c.Match)}.{MemberName(c.p.Field.Name)}", Specificity: Specificity(c.p.Declared!)))
            .ToList();
        int best = fits.Count == 0 ? 0 : fits.Max(f => f.Specificity);
        return fits.Where(f => f.Specificity == best).Select(f => f.Name).Distinct().ToArray();
    }

    // The same buckets hold the objects the runtime exposes for its loaded assemblies: they are no generic static's,
    // whatever a static typed by a bare type parameter (CallSite<T>.s_value) would match.
    private static readonly HashSet<string> s_runtimesOwnSlots = new(StringComparer.Ordinal)
    {
        "System.Reflection.RuntimeAssembly", "System.Reflection.RuntimeModule", "System.Reflection.LoaderAllocator",
    };

    /// <summary>
    /// The pinned <c>Object[]</c> buckets that hold the statics' slots, each kept by one handle of the runtime's. Only
    /// when no handle holds one (the debugging interface's handle walk can miss it) are they found from the modules,
    /// which resolves each module's statics base by walking its segment: with thousands of collectible assemblies
    /// loaded, each with a bucket of its own, that takes minutes.
    /// </summary>
    private static IEnumerable<ClrObject> StaticsBuckets(ClrRuntime runtime)
    {
        List<ClrObject> held = runtime.EnumerateHandles()
            .Where(h => h.HandleKind is ClrHandleKind.Strong or ClrHandleKind.Pinned && h.Object.IsValid && h.Object.Type?.Name == "System.Object[]")
            .Select(h => h.Object)
            .DistinctBy(o => o.Address)
            .ToList();
        return held.Count > 0
            ? held
            : runtime.Heap.EnumerateAdditionalRoots().Where(r => r.RootKind == ClrRootKind.StaticVar).Select(r => r.Object);
    }

    /// <summary>
    /// A regex for the declared field type with each of the containing type's parameters captured by its position:
    /// <c>List&lt;!0&gt;</c> becomes <c>^List&lt;(?&lt;p0&gt;.+?)&gt;$</c>, and a parameter met again must repeat its argument.
    /// </summary>
    private static Regex? FieldTypePattern(string openTypeName, string? fieldTypeName)
    {
        if (fieldTypeName is null || Parameters(openTypeName).Length == 0)
            return null;
        MatchCollection tokens = ParameterToken().Matches(fieldTypeName);
        if (tokens.Count == 0)
            return null; // the field's type does not depend on the type arguments, so it cannot tell instantiations apart
        var seen = new HashSet<string>();
        var pattern = new System.Text.StringBuilder("^");
        int at = 0;
        foreach (Match token in tokens)
        {
            pattern.Append(Regex.Escape(fieldTypeName[at..token.Index]));
            string group = "p" + token.Groups[1].Value;
            pattern.Append(seen.Add(group) ? $"(?<{group}>.+?)" : $@"\k<{group}>");
            at = token.Index + token.Length;
        }
        pattern.Append(Regex.Escape(fieldTypeName[at..])).Append('$');
        return new Regex(pattern.ToString());
    }

    /// <summary>How much of a declared type is fixed text rather than type parameters.</summary>
    private static int Specificity(string fieldTypeName) =>
        fieldTypeName.Length - ParameterToken().Matches(fieldTypeName).Sum(m => m.Length);

    private static string ClosedName(string openTypeName, Match match)
    {
        string[] parameters = Parameters(openTypeName);
        var arguments = parameters.Select((_, i) => match.Groups[$"p{i}"] is { Success: true } g ? g.Value : "?");
        int open = openTypeName.LastIndexOf('<');
        return $"{openTypeName[..open]}<{string.Join(", ", arguments)}>";
    }

    // A containing type's parameter in a declared type, as DeclaredFieldTypes spells it: !0, !1.
    [GeneratedRegex(@"!(\d+)")]
    private static partial Regex ParameterToken();

    private static string[] Parameters(string openTypeName) =>
        OpenGenericParameters().Match(openTypeName) is { Success: true } m ? m.Groups[1].Value.Split(',', StringSplitOptions.TrimEntries) : [];

    // The last generic parameter list of a type definition: Registry<T>, Cache<TKey, TValue>.
    [GeneratedRegex(@"<((?:T[A-Za-z0-9]*|[A-Z])(?:,\s*(?:T[A-Za-z0-9]*|[A-Z]))*)>$")]
    private static partial Regex OpenGenericParameters();

    private static void AddHandles(ClrRuntime runtime, HeapGraph graph, List<NamedRoot> roots)
    {
        foreach (ClrHandle handle in runtime.EnumerateHandles())
        {
            (RootKindCode kind, string name) = handle.HandleKind switch
            {
                ClrHandleKind.Strong => (RootKindCode.StrongHandle, "strong GC handle (GCHandle.Alloc, or a runtime-owned handle)"),
                ClrHandleKind.SizedRef => (RootKindCode.StrongHandle, "sized-ref GC handle"),
                ClrHandleKind.Pinned => (RootKindCode.PinnedHandle, "pinned GC handle (GCHandle.Alloc pinned, fixed buffers)"),
                ClrHandleKind.AsyncPinned => (RootKindCode.PinnedHandle, "async-pinned GC handle (overlapped I/O)"),
                ClrHandleKind.RefCounted when handle.ReferenceCount > 0 => (RootKindCode.RefCountedHandle, "ref-counted GC handle (COM or native interop)"),
                _ => (RootKindCode.Unknown, ""),
            };
            // User code allocates handles on its own objects; an Object[] under one is the runtime's table of references.
            if (kind is RootKindCode.StrongHandle or RootKindCode.PinnedHandle && handle.Object.Type?.Name == "System.Object[]")
                name = RootNames.RuntimeHandleTable;
            if (kind != RootKindCode.Unknown)
                Add(roots, graph, kind, name, handle.Object.Address);
        }
    }

    private static void AddFinalizerQueue(ClrRuntime runtime, HeapGraph graph, List<NamedRoot> roots)
    {
        foreach (ClrRoot root in runtime.Heap.EnumerateFinalizerRoots())
            Add(roots, graph, RootKindCode.FinalizerQueue, "finalizer queue (ready for finalization, or a finalizer that is blocked)", root.Object.Address);
    }

    /// <summary>Every stack local's slot and the MethodTable of the object it holds; slots of threads that cannot be walked are left out.</summary>
    public static HashSet<StackSlot> StackSlots(ClrRuntime runtime) =>
        // The mark does without the slots of a thread that cannot be walked: what its frames hold counts by address alone.
        StackRoots(runtime, failures: null).Select(r => SlotOf(r.Root)).ToHashSet();

    private static void AddStacks(ClrRuntime runtime, HeapGraph graph, List<NamedRoot> roots, FailureTally failures, IReadOnlySet<StackSlot>? slotsAtMark)
    {
        foreach ((ClrThread thread, ClrStackRoot root) in StackRoots(runtime, failures))
        {
            string method = root.StackFrame?.Method is { } m ? $"{m.Type?.Name}.{m.Name}" : root.StackFrame?.FrameName ?? "an unknown frame";
            int node = root.Object.Address == 0 ? -1 : graph.IndexOf(root.Object.Address);
            if (node >= 0)
            {
                roots.Add(new NamedRoot(RootKindCode.Stack, $"local in {method} (thread {thread.ManagedThreadId})", node)
                {
                    HeldSinceMark = slotsAtMark?.Contains(SlotOf(root)) == true,
                    ThreadAddress = thread.Address,
                });
            }
        }
    }

    private static StackSlot SlotOf(ClrStackRoot root) => new(root.Address, root.Object.Type?.MethodTable ?? 0);

    /// <summary>
    /// Every live thread's stack roots. A thread whose stack cannot be walked contributes none (what only it holds
    /// shows as unknown), and is counted in <paramref name="failures"/> when given.
    /// </summary>
    private static IEnumerable<(ClrThread Thread, ClrStackRoot Root)> StackRoots(ClrRuntime runtime, FailureTally? failures)
    {
        foreach (ClrThread thread in runtime.Threads.Where(t => t.IsAlive))
        {
            ClrStackRoot[] stackRoots;
            try
            {
                stackRoots = thread.EnumerateStackRoots().OfType<ClrStackRoot>().ToArray();
            }
            catch (Exception e)
            {
                failures?.Add(UnwalkableStacks, e);
                continue;
            }
            foreach (ClrStackRoot root in stackRoots)
                yield return (thread, root);
        }
    }

    private static void Add(List<NamedRoot> roots, HeapGraph graph, RootKindCode kind, string name, ulong address, ulong threadAddress = 0)
    {
        if (address == 0)
            return;
        int node = graph.IndexOf(address);
        if (node >= 0)
            roots.Add(new NamedRoot(kind, name, node) { ThreadAddress = threadAddress });
    }

    /// <summary>An auto-property's backing field is spelled as the property.</summary>
    public static string MemberName(string? field)
    {
        if (field is null)
            return "?";
        const string BackingSuffix = ">k__BackingField";
        return field.StartsWith('<') && field.EndsWith(BackingSuffix, StringComparison.Ordinal)
            ? field[1..^BackingSuffix.Length]
            : field;
    }

    private static ulong Try(Func<ulong> read, FailureTally failures, string kind)
    {
        try
        {
            return read();
        }
        catch (Exception e)
        {
            // An unreadable static (a type still being initialised) holds nothing we can follow; the report says how many.
            failures.Add(kind, e);
            return 0;
        }
    }
}
