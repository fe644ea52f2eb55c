using LeakHunter.Census;
using LeakHunter.Inspector.Census;
using Microsoft.Diagnostics.Runtime;

namespace LeakHunter.Inspector.Paths;

/// <summary>
/// The assemblies the runtime keeps loaded, as roots named by the assembly. A non-collectible assembly is never
/// unloaded: the runtime holds its <c>RuntimeModule</c> and <c>RuntimeAssembly</c> objects through handles of its own,
/// and its types' <c>Type</c> objects may live outside the collected heap altogether. Told as "strong GC handle",
/// an assembly generated per call (an <c>XmlSerializer</c>'s, a Reflection.Emit proxy's) would send a user to free a
/// handle no user code allocated.
/// </summary>
internal static class LoadedAssemblies
{
    private const string TypeItDefines = "(a type it defines)";

    /// <summary>
    /// Adds a root for each non-collectible module's <c>RuntimeModule</c> object, ahead of the handles, and links
    /// each <c>Type</c> object among <paramref name="targets"/> to its module's object. A collectible assembly is no
    /// root: its objects hang off its loader allocator, which lives only while something outside refers to it.
    /// </summary>
    public static void AddRoots(ClrRuntime runtime, HeapGraph graph, TypeTable types, List<NamedRoot> roots, IEnumerable<int> targets)
    {
        int moduleType = types.GetIndex("System.Reflection.RuntimeModule");
        ulong sharedAllocator = SharedAllocator(runtime);
        int typeObjectType = types.GetIndex("System.RuntimeType");
        Dictionary<ulong, ClrModule> modules = runtime.EnumerateModules().Where(m => m.Address != 0).GroupBy(m => m.Address).ToDictionary(g => g.Key, g => g.First());

        var moduleNodes = new Dictionary<ulong, int>();
        var loaded = new List<NamedRoot>();
        for (int node = 0; node < graph.Count; node++)
        {
            if (graph.Types[node] != moduleType)
                continue;
            ClrObject moduleObject = runtime.Heap.GetObject(graph.AddressOf(node));
            if (!moduleObject.IsValid || !moduleObject.Type!.Fields.Any(f => f.Name == "m_pData"))
                continue;
            if (!modules.TryGetValue(moduleObject.ReadField<ulong>("m_pData"), out ClrModule? module))
                continue;
            moduleNodes.TryAdd(module.Address, node);
            if (!IsCollectible(module, sharedAllocator))
                loaded.Add(new NamedRoot(RootKindCode.LoadedAssembly, Describe(module), node));
        }

        foreach (int target in targets)
        {
            if (graph.Types[target] != typeObjectType)
                continue;
            ClrObject typeObject = runtime.Heap.GetObject(graph.AddressOf(target));
            ClrModule? module = typeObject.IsValid && typeObject.Type!.Fields.Any(f => f.Name == "m_handle")
                ? runtime.GetTypeByMethodTable(typeObject.ReadField<ulong>("m_handle"))?.Module
                : null;
            if (module is not null && moduleNodes.TryGetValue(module.Address, out int moduleNode))
                graph.AddHiddenEdge(moduleNode, target, TypeItDefines);
        }

        // After the statics: what a static holds is the static's, even an assembly's objects.
        int firstHandle = roots.FindIndex(r => !r.Immortal && r.Kind is not (RootKindCode.StaticField or RootKindCode.ThreadStatic));
        roots.InsertRange(firstHandle < 0 ? roots.Count : firstHandle, loaded);
    }

    /// <summary>
    /// Whether the module's assembly can be unloaded: its loader allocator is its own, not the one every assembly
    /// outside a collectible context shares with the core library.
    /// </summary>
    public static bool IsCollectible(ClrModule module, ulong sharedAllocator) =>
        module.LoaderAllocator != 0 && sharedAllocator != 0 && module.LoaderAllocator != sharedAllocator;

    /// <summary>The loader allocator every assembly outside a collectible context shares with the core library.</summary>
    public static ulong SharedAllocator(ClrRuntime runtime) => runtime.BaseClassLibrary.LoaderAllocator;

    /// <summary>
    /// <c>assembly Acme.Plugins</c>, or for a dynamic assembly, which has no file, <c>dynamic assembly defining
    /// Microsoft.Xml.Serialization.GeneratedAssembly.XmlSerializationWriterOrder</c>: its first type says who made it.
    /// </summary>
    public static string? Name(ClrModule module)
    {
        string? name = module.AssemblyName is { Length: > 0 } assembly ? Path.GetFileNameWithoutExtension(assembly) : module.Name;
        if (!module.IsDynamic)
            return string.IsNullOrEmpty(name) ? null : $"assembly {name}";
        if (!string.IsNullOrEmpty(name))
            return $"dynamic assembly {name}";
        string? firstType = module.EnumerateTypeDefToMethodTableMap().OrderBy(t => t.Token)
            .Select(t => module.AppDomain.Runtime.GetTypeByMethodTable(t.MethodTable)?.Name)
            .FirstOrDefault(n => !string.IsNullOrEmpty(n) && n != "<Module>");
        return firstType is null ? "dynamic assembly" : $"dynamic assembly defining {firstType}";
    }

    private static string Describe(ClrModule module) =>
        $"{Name(module) ?? "an assembly"} (never unloaded: it is in no collectible AssemblyLoadContext)";
}
