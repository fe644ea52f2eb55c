using System.Text.RegularExpressions;
using LeakHunter.Reports;
using Microsoft.Diagnostics.Runtime;

namespace LeakHunter.Inspector.Paths;

/// <summary>
/// Names the steps of a path: the field through which each object is reached, and what .NET idiom an object is
/// (a delegate and the method it calls, a closure and the method that made it, an async state machine, a timer).
/// Only the objects on reported paths are ever looked at, so the costs here do not scale with the heap.
/// </summary>
internal sealed partial class StepNamer(ClrRuntime runtime, HeapGraph graph, FailureTally failures)
{
    private const string UnresolvedReflection = "reflection object(s) on the paths could not be resolved to the type or assembly they stand for, so they are shown by type only";
    private const string UnresolvedDelegates = "delegate(s) on the paths could not be resolved to the method they call, so they are shown by type only";

    public const string ArrayElement = "[]";

    private readonly Dictionary<int, Dictionary<ulong, string>> _fieldsByReferrer = new();
    private readonly Dictionary<int, string?> _notes = new();
    private readonly Dictionary<ulong, Dictionary<int, string?>> _namesBySlot = new();
    private ClrModule[]? _modules;
    private ulong? _sharedAllocator;

    private readonly Dictionary<int, List<string>> _keyShapes = new();

    /// <summary>The shapes of the newest keys of the dictionary entries array at <paramref name="node"/>; empty for anything else.</summary>
    public List<string> KeyShapesOf(int node)
    {
        if (!_keyShapes.TryGetValue(node, out List<string>? shapes))
            _keyShapes[node] = shapes = KeyShapes.Of(runtime, graph.AddressOf(node));
        return shapes;
    }

    /// <summary>The public method that releases the object at <paramref name="node"/> (its Dispose, Close, Shutdown, ...), or null.</summary>
    public string? CloserOf(int node) =>
        runtime.Heap.GetObjectType(graph.AddressOf(node)) is { } type ? Closers.Of(type) : null;

    /// <summary>
    /// For a timer of the runtime's queue set to fire once (a Task.Delay's, a Timer started without a period), the
    /// milliseconds it was set to fire after; otherwise -1. What it holds is released when it fires.
    /// </summary>
    public int OneShotDelayOf(int node)
    {
        ClrObject obj = runtime.Heap.GetObject(graph.AddressOf(node));
        if (obj.Type?.Name != "System.Threading.TimerQueueTimer" || obj.Type.GetFieldByName("_dueTime") is null || obj.Type.GetFieldByName("_period") is null)
            return -1;
        // uint.MaxValue is the runtime's "never": a timer not scheduled, or one with no period.
        uint dueTime = obj.ReadField<uint>("_dueTime"), period = obj.ReadField<uint>("_period");
        return period == uint.MaxValue && dueTime < int.MaxValue ? (int)dueTime : -1;
    }

    /// <summary>The field of <paramref name="from"/> that holds <paramref name="to"/>: <c>_items</c>, <c>[]</c>, <c>[].value</c>.</summary>
    public string FieldBetween(int from, int to)
    {
        if (graph.HiddenField(from, to) is { } hidden)
            return hidden;
        if (!_fieldsByReferrer.TryGetValue(from, out Dictionary<ulong, string>? fields))
        {
            ClrObject referrer = runtime.Heap.GetObject(graph.AddressOf(from));
            // Every reference an array of references holds is an element: no need to walk a million of them.
            if (referrer.Type is { IsArray: true, ComponentType.IsObjectReference: true })
                return ArrayElement;
            _fieldsByReferrer[from] = fields = FieldsOf(referrer, from);
        }
        return fields.GetValueOrDefault(graph.AddressOf(to), "?");
    }

    /// <summary>
    /// The name of the field through which <paramref name="referrer"/> holds each object it refers to, by address.
    /// Each reference's slot is found in the object's own bytes and named from its type's field offsets, once per type
    /// and slot. ClrMD's own naming of references sizes every field, which resolves the field's type, by name in every
    /// loaded module when that type is not loaded: in a process that generated hundreds of assemblies, that took a
    /// second per dictionary type on the paths.
    /// </summary>
    private Dictionary<ulong, string> FieldsOf(ClrObject referrer, int node)
    {
        var fields = new Dictionary<ulong, string>();
        if (referrer.Type is not { } type)
            return fields;
        var targets = new HashSet<ulong>();
        foreach (int target in graph.ReferencesOf(node))
            targets.Add(graph.AddressOf(target));
        if (!_namesBySlot.TryGetValue(type.MethodTable, out Dictionary<int, string?>? names))
            _namesBySlot[type.MethodTable] = names = new Dictionary<int, string?>();
        ClrType? element = type is { IsArray: true, ComponentType.IsValueType: true, ComponentSize: > 0 } ? type.ComponentType : null;

        // Read in pieces: a big dictionary's entries array can be tens of megabytes.
        byte[] buffer = new byte[(int)Math.Min(graph.Sizes[node], 1 << 20)];
        for (ulong start = 0; start < graph.Sizes[node]; start += (ulong)buffer.Length)
        {
            int read = runtime.DataTarget.DataReader.Read(referrer.Address + start, buffer);
            for (int at = start == 0 ? sizeof(long) : 0; at + sizeof(long) <= read; at += sizeof(long))
            {
                ulong value = BitConverter.ToUInt64(buffer, at);
                if (!targets.Contains(value) || fields.ContainsKey(value))
                    continue;
                // Offsets count from past the method table pointer, as ClrMD's field offsets do.
                int offset = (int)(start + (ulong)at) - sizeof(long);
                // An array's elements start past its length: a slot is the offset within its element.
                int slot = element is null ? offset : -1 - (offset - sizeof(long)) % type.ComponentSize;
                if (!names.TryGetValue(slot, out string? name))
                {
                    name = element is null ? FieldAt(type, offset) : FieldAt(element, -1 - slot) is { } inner ? ArrayElement + "." + inner : null;
                    names[slot] = name ??= ClrMdFieldName(referrer, value);
                }
                if (name is not null)
                    fields[value] = name;
            }
        }
        return fields;
    }

    /// <summary>The reference field at <paramref name="offset"/>, looking into the struct field that spans it: <c>_state.Dictionary</c>.</summary>
    private static string? FieldAt(ClrType type, int offset, int depth = 0)
    {
        ClrInstanceField? spanning = null;
        foreach (ClrInstanceField field in type.Fields)
        {
            if (field.Offset == offset && field.IsObjectReference)
                return RootFinder.MemberName(field.Name);
            if (field.ElementType == ClrElementType.Struct && field.Offset <= offset && (spanning is null || field.Offset > spanning.Offset))
                spanning = field;
        }
        return spanning is not null && depth < 8 && spanning.Type is { } inner && FieldAt(inner, offset - spanning.Offset, depth + 1) is { } innerName
            ? RootFinder.MemberName(spanning.Name) + "." + innerName
            : null;
    }

    /// <summary>ClrMD's own name for the reference to <paramref name="target"/>, for a slot the field offsets did not explain.</summary>
    private static string? ClrMdFieldName(ClrObject referrer, ulong target)
    {
        StructElement? element = StructElement.Of(referrer.Type);
        foreach (ClrReference reference in referrer.EnumerateReferencesWithFields(carefully: false, considerDependantHandles: false))
        {
            if (reference.Object.Address == target)
                return Describe(reference, element);
        }
        return null;
    }

    private static string Describe(ClrReference reference, StructElement? element)
    {
        string? inner = reference.InnerField is { Field: { } innerField } ? "." + RootFinder.MemberName(innerField.Name) : element?.FieldAt(reference);
        if (reference.IsArrayElement)
            return ArrayElement + inner;
        if (reference.IsField)
            return RootFinder.MemberName(reference.Field?.Name) + inner;
        return "?";
    }

    /// <summary>
    /// The fields of an array's struct elements by offset, looked up once per array: an array's references are many,
    /// and the field that holds one (<c>[].value</c> in a dictionary's entries) follows from its offset alone, past the
    /// array's length and modulo the element's size.
    /// </summary>
    private sealed class StructElement(int size, Dictionary<int, string> fieldsByOffset)
    {
        public static StructElement? Of(ClrType? arrayType) =>
            arrayType?.ComponentType is { IsValueType: true } element && arrayType.ComponentSize > 0
                ? new StructElement(arrayType.ComponentSize, element.Fields.GroupBy(f => f.Offset).ToDictionary(g => g.Key, g => "." + RootFinder.MemberName(g.First().Name)))
                : null;

        public string? FieldAt(ClrReference reference) =>
            reference.IsArrayElement && fieldsByOffset.TryGetValue((reference.Offset - sizeof(long)) % size, out string? field) ? field : null;
    }

    /// <summary>What a developer would call this object, when it is more than its type: null for plain objects.</summary>
    public string? NoteFor(int node)
    {
        if (_notes.TryGetValue(node, out string? note))
            return note;
        ClrObject obj = runtime.Heap.GetObject(graph.AddressOf(node));
        note = Describe(obj, failures) ?? DescribeReflection(obj);
        _notes[node] = note;
        return note;
    }

    private static string? Describe(ClrObject obj, FailureTally failures)
    {
        string name = obj.Type?.Name ?? "";
        try
        {
            if (obj.IsDelegate)
            {
                ClrDelegate @delegate = obj.AsDelegate();
                if (@delegate.HasMultipleTargets)
                    return $"delegate with {@delegate.EnumerateDelegateTargets().Count()} targets (an event's handler list)";
                ClrDelegateTarget? target = @delegate.GetDelegateTarget();
                if (target?.Method is { } method)
                {
                    string on = target.TargetObject.IsValid && target.TargetObject.Type is { } targetType && !targetType.Name!.Contains("<>c", StringComparison.Ordinal)
                        ? $", target {TypeNames.Short(targetType.Name)}"
                        : "";
                    return $"handler {TypeNames.Short(method.Type?.Name)}.{method.Name}{on}";
                }
            }
        }
        catch (Exception e)
        {
            // A delegate whose target cannot be resolved is still shown by its type; the report says how many were.
            failures.Add(UnresolvedDelegates, e);
        }

        if (ClosureName().Match(name) is { Success: true } closure)
        {
            string? creator = obj.Type!.Methods.Select(m => LambdaName().Match(m.Name ?? "")).FirstOrDefault(m => m.Success)?.Groups[1].Value;
            return creator is null ? "closure" : $"closure created in {TypeNames.Short(closure.Groups[1].Value)}.{creator}";
        }
        if (StateMachineName().Match(name) is { Success: true } stateMachine)
            return $"async state machine of {TypeNames.Short(stateMachine.Groups[1].Value)}.{stateMachine.Groups[2].Value}";
        return name switch
        {
            "System.Threading.CancellationTokenSource+CallbackNode" => TypeOfField(obj, "CallbackState")?.StartsWith("System.Threading.CancellationTokenSource+Linked", StringComparison.Ordinal) == true
                ? "registration of a linked CancellationTokenSource (CreateLinkedTokenSource's result never disposed)"
                : "CancellationToken registration (Register's result never disposed)",
            "System.Threading.TimerQueueTimer" => TimerNote(obj),
            "System.Threading.TimerQueue" => "the runtime's timer queue",
            _ => null,
        };
    }

    /// <summary>
    /// The type or assembly a reflection object stands for. Generated code (an XmlSerializer's assembly, a dynamic
    /// proxy) is held by the runtime itself, so its name is all that tells who made it.
    /// </summary>
    private string? DescribeReflection(ClrObject obj)
    {
        try
        {
            switch (obj.Type?.Name)
            {
                case "System.RuntimeType":
                    return runtime.GetTypeByMethodTable(obj.ReadField<ulong>("m_handle"))?.Name is { } type ? $"the Type object of {type}" : null;
                case "System.Reflection.RuntimeAssembly":
                    return DescribeAssembly(obj.ReadField<ulong>("m_assembly"), m => m.AssemblyAddress);
                case "System.Reflection.RuntimeModule":
                    return DescribeAssembly(obj.ReadField<ulong>("m_pData"), m => m.Address);
                default:
                    return DescribeLoader(obj);
            }
        }
        catch (Exception e)
        {
            failures.Add(UnresolvedReflection, e);
        }
        return null;
    }

    private string? DescribeAssembly(ulong address, Func<ClrModule, ulong> addressOf)
    {
        ClrModule? module = Modules.FirstOrDefault(m => address != 0 && addressOf(m) == address);
        if (module is null || LoadedAssemblies.Name(module) is not { } name)
            return null;
        _sharedAllocator ??= LoadedAssemblies.SharedAllocator(runtime);
        return LoadedAssemblies.IsCollectible(module, _sharedAllocator.Value) ? $"collectible {name}" : name;
    }

    private ClrModule[] Modules => _modules ??= runtime.EnumerateModules().ToArray();

    /// <summary>The assemblies a loader allocator keeps, found through its scout's native loader allocator: <c>assembly Plugin</c>.</summary>
    private string? AssembliesOf(ClrObject loaderAllocator)
    {
        if (!loaderAllocator.TryReadObjectField("m_scout", out ClrObject scout) || !scout.IsValid || scout.IsNull)
            return null;
        ulong native = scout.ReadField<ulong>("m_nativeLoaderAllocator");
        string[] names = Modules.Where(m => native != 0 && m.LoaderAllocator == native).Select(LoadedAssemblies.Name).OfType<string>().Distinct().ToArray();
        return names.Length == 0 ? null : string.Join(", ", names);
    }

    /// <summary>
    /// What a loader allocator or an AssemblyLoadContext stands for, by the assemblies it holds and whether it is
    /// unloading. The context's name is a string the program chose, so it is not shown; its type and assemblies are.
    /// </summary>
    private string? DescribeLoader(ClrObject obj)
    {
        if (obj.Type?.Name == "System.Reflection.LoaderAllocator")
            return AssembliesOf(obj) is { } assemblies ? $"loader allocator of collectible {assemblies}" : "loader allocator of a collectible assembly";
        if (!IsAssemblyLoadContext(obj.Type))
            return null;
        int node = graph.IndexOf(obj.Address);
        string? assembliesIn = graph.HiddenEdges
            .Where(p => p.Value.Exists(e => e.Target == node && e.Field == HeapGraph.LoaderAllocatorsContext))
            .Select(p => AssembliesOf(runtime.Heap.GetObject(graph.AddressOf(p.Key))))
            .FirstOrDefault(a => a is not null);
        bool collectible = obj.Type!.Fields.Any(f => f.Name == "_isCollectible") && obj.ReadField<bool>("_isCollectible");
        bool unloading = obj.Type.Fields.Any(f => f.Name == "_state") && obj.ReadField<int>("_state") != 0;
        string what = collectible ? "collectible AssemblyLoadContext" : "AssemblyLoadContext";
        string state = unloading ? "Unload called, but it cannot unload" : "not unloaded";
        return assembliesIn is null ? $"{what} ({state})" : $"{what} of {assembliesIn} ({state})";
    }

    private static bool IsAssemblyLoadContext(ClrType? type)
    {
        for (; type is not null; type = type.BaseType)
        {
            if (type.Name == "System.Runtime.Loader.AssemblyLoadContext")
                return true;
        }
        return false;
    }

    // The runtime's timer queue holds the timers of Task.Delay and System.Timers.Timer too, and each has its own fix.
    private static string TimerNote(ClrObject timer)
    {
        if (TypeOfField(timer, "_state")?.StartsWith("System.Threading.Tasks.Task+DelayPromise", StringComparison.Ordinal) == true)
            return "timer of a Task.Delay (a delay never cancelled)";
        if (timer.TryReadObjectField("_timerCallback", out ClrObject callback) && callback.IsValid && TypeOfField(callback, "_target") == "System.Timers.Timer")
            return "timer of a System.Timers.Timer (started, never stopped or disposed)";
        return "timer callback (a Timer never disposed)";
    }

    private static string? TypeOfField(ClrObject obj, string field) =>
        obj.TryReadObjectField(field, out ClrObject value) && value.IsValid && !value.IsNull ? value.Type?.Name : null;

    [GeneratedRegex(@"^(.+)\+<>c__DisplayClass\d+_\d+$")]
    private static partial Regex ClosureName();

    [GeneratedRegex(@"^<(.+)>b__\d+")]
    private static partial Regex LambdaName();

    // Anywhere in the name: a Release build boxes the state machine (AsyncStateMachineBox<Outer+<Method>d__3>).
    [GeneratedRegex(@"([A-Za-z0-9_.+]+)\+<([A-Za-z0-9_]+)>d__\d+")]
    private static partial Regex StateMachineName();
}
