using LeakHunter.Census;
using Microsoft.Diagnostics.Runtime;

namespace LeakHunter.Inspector.Paths;

/// <summary>A GC root, named the way a developer thinks of it, and the node of the object it holds.</summary>
internal readonly record struct NamedRoot(RootKindCode Kind, string Name, int Node);

/// <summary>
/// Lists the roots in the order the search must meet them: statics and thread statics first (named by their field,
/// not by the runtime's pinned array of static slots), then handles, the finalizer queue, and stacks last.
/// </summary>
internal static class RootFinder
{
    public static List<NamedRoot> Find(ClrRuntime runtime, HeapGraph graph)
    {
        var roots = new List<NamedRoot>();
        AddStatics(runtime, graph, roots);
        AddHandles(runtime, graph, roots);
        AddFinalizerQueue(runtime, graph, roots);
        AddStacks(runtime, graph, roots);
        return roots;
    }

    private static void AddStatics(ClrRuntime runtime, HeapGraph graph, List<NamedRoot> roots)
    {
        ClrAppDomain? domain = runtime.AppDomains.FirstOrDefault();
        ClrThread[] threads = runtime.Threads.Where(t => t.IsAlive).ToArray();
        var threadStatics = new List<NamedRoot>();
        foreach (ClrModule module in runtime.EnumerateModules())
        {
            foreach (ClrType type in module.EnumerateTypesWithStaticFields())
            {
                if (domain is not null)
                {
                    foreach (ClrStaticField field in type.StaticFields)
                    {
                        if (!field.IsObjectReference)
                            continue;
                        ulong address = Try(() => field.IsInitialized(domain) ? field.ReadObject(domain).Address : 0);
                        Add(roots, graph, RootKindCode.StaticField, $"{type.Name}.{MemberName(field.Name)}", address);
                    }
                }
                foreach (ClrThreadStaticField field in type.ThreadStaticFields)
                {
                    if (!field.IsObjectReference)
                        continue;
                    foreach (ClrThread thread in threads)
                    {
                        ulong address = Try(() => field.IsInitialized(thread) ? field.ReadObject(thread).Address : 0);
                        Add(threadStatics, graph, RootKindCode.ThreadStatic, $"{type.Name}.{MemberName(field.Name)} (thread {thread.ManagedThreadId})", address);
                    }
                }
            }
        }
        roots.AddRange(threadStatics);
    }

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
            if (kind != RootKindCode.Unknown)
                Add(roots, graph, kind, name, handle.Object.Address);
        }
    }

    private static void AddFinalizerQueue(ClrRuntime runtime, HeapGraph graph, List<NamedRoot> roots)
    {
        foreach (ClrRoot root in runtime.Heap.EnumerateFinalizerRoots())
            Add(roots, graph, RootKindCode.FinalizerQueue, "finalizer queue (ready for finalization, or a finalizer that is blocked)", root.Object.Address);
    }

    private static void AddStacks(ClrRuntime runtime, HeapGraph graph, List<NamedRoot> roots)
    {
        foreach (ClrThread thread in runtime.Threads.Where(t => t.IsAlive))
        {
            IEnumerable<ClrStackRoot> stackRoots;
            try
            {
                stackRoots = thread.EnumerateStackRoots().OfType<ClrStackRoot>().ToArray();
            }
            catch (Exception)
            {
                continue; // a thread whose stack cannot be walked contributes no roots; its objects show as unknown
            }
            foreach (ClrStackRoot root in stackRoots)
            {
                string method = root.StackFrame?.Method is { } m ? $"{m.Type?.Name}.{m.Name}" : root.StackFrame?.FrameName ?? "an unknown frame";
                Add(roots, graph, RootKindCode.Stack, $"local in {method} (thread {thread.ManagedThreadId})", root.Object.Address);
            }
        }
    }

    private static void Add(List<NamedRoot> roots, HeapGraph graph, RootKindCode kind, string name, ulong address)
    {
        if (address == 0)
            return;
        int node = graph.IndexOf(address);
        if (node >= 0)
            roots.Add(new NamedRoot(kind, name, node));
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

    private static ulong Try(Func<ulong> read)
    {
        try
        {
            return read();
        }
        catch (Exception)
        {
            return 0; // an unreadable static (a type still being initialised) holds nothing we can follow
        }
    }
}
