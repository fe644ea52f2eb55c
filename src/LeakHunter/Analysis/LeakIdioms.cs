using System.Text.RegularExpressions;
using LeakHunter.Census;
using LeakHunter.Reports;

namespace LeakHunter.Analysis;

/// <summary>A .NET idiom recognised on a leak's path, and the fix that is right for it.</summary>
/// <param name="Name">The idiom, in the user's terms ("event handler", "timer"), or null when only the root's kind is known.</param>
/// <param name="Hint">The usual fix, in one line.</param>
internal sealed record LeakIdiom(string? Name, string Hint);

/// <summary>
/// Decodes the idiom a path is, from its root, and its objects' types, fields and notes: the most specific idiom on the
/// path wins; the root's kind decides when nothing on the path does.
/// </summary>
/// <remarks>
/// Order matters. Many idioms are built of others: a Task.Delay and a System.Timers.Timer are timers in the runtime's
/// timer queue, a linked token source and a change token's callback are cancellation registrations, and almost all of
/// them hold a delegate through a field, which on its own reads as an event's handler. So each idiom is tested before
/// the ones it is built of.
/// </remarks>
internal static partial class LeakIdioms
{
    private const string TimerQueueTimer = "System.Threading.TimerQueueTimer";
    private const string CallbackNode = "System.Threading.CancellationTokenSource+CallbackNode";

    /// <summary>The idiom of a collectible AssemblyLoadContext that something outside it keeps from unloading.</summary>
    public const string UnloadableContext = "AssemblyLoadContext that cannot unload";

    // The inspector's label for the reference an object of a collectible type holds to its assembly's loader allocator.
    private const string TypesLoaderAllocator = "(its type's loader allocator)";

    // Every idiom's name, most specific first: the order Decode tests them in.
    private static readonly string[] s_bySpecificity =
    [
        UnloadableContext, ThreadNeverEnded, "Task.Delay", "System.Timers.Timer", "timer", "RegisterWaitForSingleObject", "IOptionsMonitor.OnChange", "change token callback",
        "linked CancellationTokenSource", "cancellation token registration", "DI root scope", "Meter registry", "ActivitySource registry",
        "DiagnosticListener registry", "EventListener registry", "AppContext data", "TypeDescriptor provider", "logger category",
        "instrument per call", "MemoryCache without limits", "unread channel", "XName table", "interned string", "XmlSerializer assembly", "dynamic assembly", "assembly loaded per call",
        "ConditionalWeakTable entry",
        "async method", OwnerPerCall, ContainerScope, ForgottenObject, KeyPerCall, "event handler", "closure", WeakReferences, "collection",
    ];

    /// <summary>Where an idiom stands among the others: lower is more specific (a System.Timers.Timer is a timer, not the other way).</summary>
    public static int Specificity(string idiomName)
    {
        int index = Array.IndexOf(s_bySpecificity, idiomName);
        return index < 0 ? s_bySpecificity.Length : index;
    }

    /// <summary>The idiom of a thread started per call that never ends, whose stack holds what grows.</summary>
    public const string ThreadNeverEnded = "thread never ended";

    /// <summary>The idiom of a collection of weak references to objects made per call, kept after they are gone.</summary>
    public const string WeakReferences = "weak references";

    /// <summary>The idiom of an object created per call that has a Dispose (Close, Shutdown, ...) nobody called.</summary>
    public const string ForgottenObject = "never disposed";

    /// <summary>The idiom of a dictionary that gains a new key on every call: a cache or registry keyed by per-call values.</summary>
    public const string KeyPerCall = "new key per call";

    /// <summary>The idiom of one object made per call and never disposed that reaches the runtime through several roots.</summary>
    public const string OwnerPerCall = "one object per call";

    /// <summary>
    /// The type of the first object made during the calls on the path, past the collections that hold it, when it has a
    /// method that releases it (a Dispose, Close, Stop, ...): the per-call object that was never released. Null when the
    /// first new object has none, or a delegate comes first.
    /// </summary>
    public static string? ReleasablePerCallObject(IReadOnlyList<LeakStep> path)
    {
        foreach (LeakStep step in path)
        {
            if (IsDelegate(step))
                return null;
            if (!step.IsNew || IsCollection(step.Type) || IsCollectionPart(step.Type))
                continue;
            return step.Closer is null ? null : step.Type;
        }
        return null;
    }

    /// <summary>The idiom of a container's scope that keeps every disposable it creates until the scope is disposed.</summary>
    public const string ContainerScope = "DI root scope";

    /// <summary>The idiom of one path, from its root to a growing instance.</summary>
    /// <param name="root">The path's root.</param>
    /// <param name="path">The path from the root to a new instance.</param>
    /// <param name="calls">
    /// The calls the check's fragment makes, where known: the object a call of the user's gave back, or the holder a
    /// call of theirs registered with, is named in the fix, in the user's own terms.
    /// </param>
    public static LeakIdiom Decode(LeakRoot root, IReadOnlyList<LeakStep> path, IReadOnlyList<FragmentCall>? calls = null)
    {
        LeakIdiom idiom = DecodeShape(root, path);
        if (calls is null || calls.Count == 0)
            return idiom;
        // What the user's code was given and never released is the story wherever the shape alone tells only the
        // runtime's part of it (a timer, a delay, an event, an inner object, a collection).
        if (idiom.Name is "timer" or "Task.Delay" or ForgottenObject or "event handler" or Collection or null && UserObjectKind(root, path, calls) is { } mine)
            return mine;
        if (idiom.Name is "event handler" or Collection && !idiom.Hint.StartsWith("Call ", StringComparison.Ordinal) && RegistrationKind(root, path, calls) is { } registration)
            return registration;
        if (idiom.Name == ThreadNeverEnded && root.Thread is { } thread && OwnerOfStarter(thread.StartedBy, calls) is { } owner)
            return idiom with { Hint = $"{idiom.Hint} It was started by the {TypeNames.Short(FragmentCalls.TypeName(owner.Made!))} {Given(owner)}: call its {owner.Releaser}() when the work is done (a using block), or create one and share it." };
        return idiom;
    }

    private static LeakIdiom DecodeShape(LeakRoot root, IReadOnlyList<LeakStep> path)
    {
        if (UnloadableContextKind(root, path) is { } context)
            return context;
        if (root.Kind == LeakRootKind.Thread && root.Thread is { } thread)
            return ThreadKind(thread);
        if (TimerKind(path) is { } timer)
            return timer;
        if (Has(path, "System.Threading.RegisteredWaitHandle"))
            return new("RegisterWaitForSingleObject", "Call Unregister on the RegisteredWaitHandle that ThreadPool.RegisterWaitForSingleObject returns once the wait is no longer needed: the thread pool's wait thread holds the callback and its state until then.");
        if (path.Any(s => IsOptionsMonitor(s.Type)) && path.Any(s => s.Field == "_onChange" || s.Type.EndsWith("+ChangeTrackerDisposable", StringComparison.Ordinal)))
            return new("IOptionsMonitor.OnChange", "Dispose the IDisposable that IOptionsMonitor.OnChange returns when the listener is done: the monitor, a singleton, holds every listener until then.");
        if (path.Any(s => IsChangeToken(s.Type)))
            return new("change token callback", "Dispose the IDisposable that IChangeToken.RegisterChangeCallback (or ChangeToken.OnChange) returns when the listener is done: until the token fires, it holds every callback registered on it, and a token that never fires holds them forever.");
        if (CancellationKind(path) is { } cancellation)
            return cancellation;
        if (path.Any(s => s.Type == "Microsoft.Extensions.DependencyInjection.ServiceLookup.ServiceProviderEngineScope") && path.Any(s => s.Field == "_disposables"))
            return new("DI root scope", "Resolve disposable transient and scoped services from a scope (IServiceScopeFactory.CreateScope) and dispose the scope when the work is done: the root ServiceProvider keeps every IDisposable it creates until the provider itself is disposed.");
        if (RegistryKind(root, path) is { } registry)
            return registry;
        if (path.Select((step, i) => (step, i)).Any(p => p.step.Type == "System.Diagnostics.Metrics.Meter" && p.i + 1 < path.Count && path[p.i + 1].Field == "_instruments"))
            return new("instrument per call", "Create each instrument (counter, histogram, observable gauge) once, when the Meter is created, and keep it in a field: a Meter keeps every instrument created on it, with its callback and all the callback captures, until the Meter is disposed.");
        if (path.Any(s => s.Type == "Microsoft.Extensions.Logging.LoggerFactory") && path.Any(s => s.Field == "_loggers"))
            return new("logger category", "Use a fixed set of logger category names (a type's name or a constant) and put the per-call value in the message or a scope: the LoggerFactory caches one logger per category name for as long as it lives.");
        if (Has(path, "Microsoft.Extensions.Caching.Memory.MemoryCache"))
            return new("MemoryCache without limits", "Bound the MemoryCache: set MemoryCacheOptions.SizeLimit (and each entry's Size), or give entries an expiration (AbsoluteExpirationRelativeToNow, SlidingExpiration); without either, an entry stays until it is removed.");
        if (path.Any(s => UnboundedChannel().IsMatch(s.Type)))
            return new("unread channel", "Nothing reads the channel: read it (a consumer loop over Reader.ReadAllAsync), or create it with Channel.CreateBounded so writers wait, or drop, when it is full.");
        if (Has(path, "System.Xml.Linq.XNamespace") && path.Any(s => s.Type == "System.Xml.Linq.XName"))
            return new("XName table", "Do not make element or attribute names from data (ids, keys): every XName is kept in its XNamespace's table for as long as the namespace lives; put the data in an element's or attribute's value instead.");
        // The assembly XmlSerializer generates is never unloaded; the runtime holds it, and its types, by handles of its own.
        if (path.Any(s => s.Note?.Contains(XmlSerializerTypes, StringComparison.Ordinal) == true)
            || (root.Kind == LeakRootKind.LoadedAssembly && root.Name.Contains(XmlSerializerTypes, StringComparison.Ordinal)))
            return new("XmlSerializer assembly", "Create the XmlSerializer once and keep it (a static field per type and root): this constructor generates a new assembly every time, and an assembly is never unloaded; only XmlSerializer(Type) and XmlSerializer(Type, string) reuse theirs.");
        // A library that generates code (a proxy generator, a serializer, a script compiler) made per call emits a new
        // dynamic assembly each time, and something of the library's keeps the builder: the assembly never unloads.
        if (path.Select((step, i) => (step, i)).FirstOrDefault(p => p.step.IsNew && p.step.Type.StartsWith("System.Reflection.Emit.", StringComparison.Ordinal)
            && p.step.Type.EndsWith("AssemblyBuilder", StringComparison.Ordinal), (null!, -1)) is { i: > 0 } emitted)
            return new("dynamic assembly", $"Each call generates a new dynamic assembly, and {Holder(root, path, emitted.i)} keeps its builder: an assembly is never unloaded. Create the object that generates it once and share it (a library's proxy generator, serializer or script compiler, not one per call), or define the assembly with AssemblyBuilderAccess.RunAndCollect.");
        if (root.Name == RootNames.RuntimeHandleTable)
        {
            return path[^1].Type == "System.String"
                ? new("interned string", "string.Intern keeps every string it is given for as long as the process lives: do not intern per-call data (ids, keys, user input); intern only a fixed vocabulary, or keep a pool of your own that can be cleared.")
                : new(null, "The runtime keeps these in its own table of references (statics, interned strings, loaded assemblies' objects), not in a GC handle of your code's: look for what adds a per-call object there.");
        }
        if (path.Any(s => s.Field == "(ConditionalWeakTable value)"))
            return new("ConditionalWeakTable entry", "A ConditionalWeakTable value lives as long as its key, and this key lives forever: remove the entry, or key it on an object that dies.");
        if (root.Kind == LeakRootKind.LoadedAssembly)
        {
            return root.Name.StartsWith("dynamic assembly", StringComparison.Ordinal)
                ? new("dynamic assembly", "Generate the assembly once and reuse it: an assembly made with AssemblyBuilderAccess.Run is never unloaded. Define it with AssemblyBuilderAccess.RunAndCollect, or in a collectible AssemblyLoadContext, when it must come and go.")
                : new("assembly loaded per call", "Load the assembly once and keep the Assembly: Assembly.Load(byte[]) and a load from a new path add a copy every time, and an assembly outside a collectible AssemblyLoadContext is never unloaded. Load plugins into a collectible AssemblyLoadContext, and Unload it when done.");
        }
        if (AsyncKind(path) is { } asyncMethod)
            return asyncMethod;
        if (ContainerScopeKind(path) is { } scope)
            return scope;
        if (ForgottenObjectKind(root, path) is { } forgotten)
            return forgotten;
        if (KeyPerCallKind(root, path) is { } keyed)
            return keyed;
        // A delegate held by a field, not by a collection's slot, is an event's handler.
        bool eventHoldsOneHandler = path.Select((s, i) => (s, i)).Any(p =>
            (p.s.Note?.StartsWith("handler ", StringComparison.Ordinal) ?? false) && (p.i == 0 || p.s.Field?.StartsWith('[') == false));
        if (eventHoldsOneHandler || path.Any(s => s.Field == "_invocationList" || (s.Note?.StartsWith("delegate with", StringComparison.Ordinal) ?? false)))
        {
            // A subscriber made per call that has a Dispose (or Stop, Close) is a library's object that subscribed itself and
            // lets go in that method: calling it is the fix in the user's code, not a -= they cannot write.
            return SubscriberThatReleases(path) is { } subscriber
                ? new("event handler", $"Call {subscriber.Closer} on each {TypeNames.Short(subscriber.Type)} when it is done (or dispose the object of yours that created it): it subscribed its handler to {EventOwner(root, path)} and removes it there; until then the event keeps it, and all it holds.")
                : new("event handler", "Unsubscribe the handler (-=) when the subscriber is done, or give the event's owner the subscriber's lifetime.");
        }
        if (path.Select(s => s.Note).FirstOrDefault(n => n?.StartsWith(ClosureNote, StringComparison.Ordinal) == true) is { } closure)
            return new("closure", $"The lambda made in {closure[ClosureNote.Length..]} captures per-call objects, and something long-lived keeps the delegate: remove the delegate when its work is done, or capture only the values it needs.");
        if (WeakReferencesKind(root, path) is { } weak)
            return weak;
        return root.Kind switch
        {
            LeakRootKind.StrongHandle or LeakRootKind.PinnedHandle or LeakRootKind.RefCountedHandle =>
                new(null, "Free the GC handle (GCHandle.Free) once native code is done with the object."),
            LeakRootKind.FinalizerQueue =>
                new(null, "A finalizer is blocked or resurrects its object: keep finalizers short, never wait in them, and never store 'this' from one."),
            LeakRootKind.ThreadStatic =>
                new(null, "Clear the [ThreadStatic] field when the work on that thread is done: pool threads live as long as the process."),
            LeakRootKind.Stack =>
                new(null, "A method still running holds these in a local: a long-running loop, or a frame that never returns."),
            LeakRootKind.Unknown =>
                new(null, "No root LeakHunter can see reaches these: look for native code or unmanaged callbacks that hold them."),
            _ when path.Any(s => IsCollection(s.Type)) =>
                new(Collection, $"Remove the entries from {CollectionHolder(root, path)} when they are done, or bound it (an eviction policy, a size limit)."),
            _ => new(null, "Clear the static field, or stop storing per-call objects in it."),
        };
    }

    /// <summary>
    /// A collection of weak references to objects made per call (a registry of every service provider built): the
    /// references stay after what they point at is gone, until the collection's owner prunes them, so the collection
    /// grows with every object made. The fix is the object's own release method, read from its type, which such a
    /// registry's owner hooks to drop the entry; or one object made once and shared.
    /// </summary>
    private static LeakIdiom? WeakReferencesKind(LeakRoot root, IReadOnlyList<LeakStep> path)
    {
        if (!path.Any(s => IsCollection(s.Type)) || path.Select(s => WeakTarget(s.Type)).FirstOrDefault(t => t is not null) is not { } target)
            return null;
        string made = TypeNames.Short(target);
        string holder = CollectionHolder(root, path);
        string? releaser = AppDomain.CurrentDomain.GetAssemblies().Select(a => a.GetType(target, throwOnError: false)).FirstOrDefault(t => t is not null) is { } type
            ? FragmentCalls.ReleaserOf(type)
            : null;
        return new(WeakReferences, $"{char.ToUpperInvariant(holder[0])}{holder[1..]} keeps a WeakReference to every {made} made, and keeps it after the {made} is gone: your code makes a {made} per call. " +
            (releaser is null ? $"Create one {made} and share it." : $"Call {releaser} on each {made} when it is done (a using block), which lets the owner drop its entry, or create one and share it."));
    }

    /// <summary>The T of the first <c>System.WeakReference&lt;T&gt;</c> in a type's name, or null.</summary>
    private static string? WeakTarget(string type)
    {
        const string Weak = "System.WeakReference<";
        int start = type.IndexOf(Weak, StringComparison.Ordinal);
        if (start < 0)
            return null;
        start += Weak.Length;
        int depth = 1;
        for (int i = start; i < type.Length; i++)
        {
            depth += type[i] == '<' ? 1 : type[i] == '>' ? -1 : 0;
            if (depth == 0)
                return type[start..i];
        }
        return null;
    }

    /// <summary>A thread per call: the fix is to release what started it, read from the starter's own type.</summary>
    private static LeakIdiom ThreadKind(LeakThread thread)
    {
        string starter = TypeNames.Short(thread.StartedBy);
        string threads = thread.Threads > 1 ? $" ({thread.Threads:N0} of them were running)" : "";
        string release = thread.StopMethod is { } stop
            ? $"call {starter}.{stop}() when the work is done (or dispose the object of yours that created it: disposing it stops its {starter}), so its thread ends; or create one and share it."
            : $"stop the thread when the work is done (signal its loop to end), or start one {starter} and share it.";
        // A method's name is no type's: only the type before it is shortened (Serilog.Sinks.Async.BackgroundWorkerSink.Pump).
        string method = thread.StartMethod.StartsWith(thread.StartedBy + ".", StringComparison.Ordinal)
            ? $"{starter}.{thread.StartMethod[(thread.StartedBy.Length + 1)..]}"
            : thread.StartMethod;
        return new(ThreadNeverEnded, $"Each call starts a thread that runs {method} and never ends{threads}; its stack holds these for as long as it runs: {release}");
    }

    /// <summary>
    /// A container's scope that keeps the disposables it creates, recognised by shape rather than by library: an object
    /// whose type is a scope, a container or a service provider, holding (through something named for disposables) new
    /// objects that have a Dispose. Resolved from the root scope, a disposable transient stays until the container does.
    /// </summary>
    private static LeakIdiom? ContainerScopeKind(IReadOnlyList<LeakStep> path)
    {
        int scope = -1;
        for (int i = 0; i < path.Count - 1; i++)
        {
            string type = TypeNames.Short(path[i].Type);
            // The scope nearest the disposables: a container holds its root scope, and the scope holds the list.
            if ((scope < 0 || !NamedForDisposables(path[i], type)) && (type.Contains("Scope", StringComparison.Ordinal) || type.Contains("Container", StringComparison.Ordinal)
                || type.Contains("ServiceProvider", StringComparison.Ordinal) || type.Contains("Injector", StringComparison.Ordinal)))
                scope = i;
            if (scope < 0 || !NamedForDisposables(path[i], type))
                continue;
            int disposable = Enumerable.Range(i + 1, path.Count - i - 1).FirstOrDefault(j => path[j].Closer is "Dispose" or "DisposeAsync" && !IsCollection(path[j].Type), -1);
            if (disposable < 0)
                return null;
            string service = TypeNames.Short(path[disposable].Type);
            return new(ContainerScope,
                $"Resolve {service} from a scope that is disposed when the work is done (create a child scope per unit of work, and dispose it), or do not register a disposable type as transient: " +
                $"{TypeNames.Short(path[scope].Type)} keeps every IDisposable it creates until it is disposed itself, and this one is the container's root, which lives as long as the container.");
        }
        return null;
    }

    private static bool NamedForDisposables(LeakStep step, string shortType) =>
        step.Field?.Contains("dispos", StringComparison.OrdinalIgnoreCase) == true || shortType.Contains("Dispos", StringComparison.Ordinal);

    /// <summary>
    /// The first object made during the calls on the path, past the collections that hold it, has a method to release
    /// it and is still held: it was created per call and never released. The fix names that method on that type, and
    /// what keeps the objects until then. A delegate on the way first is an event's handler, told as such.
    /// </summary>
    private static LeakIdiom? ForgottenObjectKind(LeakRoot root, IReadOnlyList<LeakStep> path)
    {
        for (int i = 1; i < path.Count; i++)
        {
            LeakStep step = path[i];
            if (IsDelegate(step))
                return null;
            if (!step.IsNew || IsCollection(step.Type) || IsCollectionPart(step.Type))
                continue;
            if (step.Closer is not { } closer)
                return null;
            string type = TypeNames.Short(step.Type);
            string returned = IsHandleLike(type)
                ? $" It is the IDisposable (a subscription or registration) that a call of yours was given back: keep it, and dispose it when done."
                : $" Or create one {type} and share it.";
            string scope = closer switch { "Dispose" => " (a using block)", "DisposeAsync" => " (an await using block)", _ => "" };
            return new(ForgottenObject, $"Call {closer} on each {type} when the work is done{scope}: {Holder(root, path, i)} keeps every one made per call until then, and nothing calls it.{returned}");
        }
        return null;
    }

    /// <summary>
    /// The new instances pile up in a dictionary whose newest keys differ: each call adds a key, so the key set grows
    /// without bound. The shapes say which key it is (<c>tenant-N</c>) without any key's value.
    /// </summary>
    private static LeakIdiom? KeyPerCallKind(LeakRoot root, IReadOnlyList<LeakStep> path)
    {
        int point = Enumerable.Range(0, path.Count).FirstOrDefault(i => path[i].KeyShapes is { Count: > 0 }, -1);
        if (point < 0)
            return null;
        IReadOnlyList<string> shapes = path[point].KeyShapes!;
        string like = string.Join(", ", shapes.Select(shape => $"`{shape}`"));
        string holder = CollectionHolder(root, path);
        // A dynamic module's table of the types defined in it: a type generated per call, in an assembly never unloaded.
        if (Enumerable.Range(0, point).Any(i => path[i].Type.EndsWith("ModuleBuilder", StringComparison.Ordinal)))
            return new("dynamic assembly", $"Each call generates a new type, like {like}, in a dynamic module that is never unloaded, and {holder} keeps every one: use a fixed set of shapes (the same members on every call) so the generator's cache reuses its types, or generate them in a collectible AssemblyLoadContext.");
        // A cache keyed by command text that has the call's values written into it: the values belong in parameters.
        if (shapes.Any(shape => SqlText().IsMatch(shape)))
            return new(KeyPerCall, $"Pass the values as parameters (@id) instead of writing them into the SQL text: {holder} caches every distinct command text, and every call makes a new one, like {like}, so it grows without bound.");
        bool loggers = Enumerable.Range(0, point).Any(i => TypeNames.Short(path[i].Type).Contains("Log", StringComparison.Ordinal));
        return loggers
            ? new(KeyPerCall, $"Use a fixed logger name (a type's name or a constant) and put the per-call value in the message or a scope: {holder} keeps one entry per logger name, and every call adds a new name, like {like}, so it grows without bound.")
            : new(KeyPerCall, $"Use a fixed set of keys, or bound the collection and expire its entries: {holder} gains a new key on every call, like {like}, so its key set grows without bound.");
    }

    /// <summary>The first delegate's target on the path, when it was made per call and has a method that releases it.</summary>
    private static LeakStep? SubscriberThatReleases(IReadOnlyList<LeakStep> path)
    {
        // The delegate that calls the subscriber may sit in an invocation list, and reach it through a closure or another
        // delegate: the subscriber is the first object past them.
        int handler = Enumerable.Range(0, path.Count).FirstOrDefault(i => IsDelegateType(path[i]), -1);
        if (handler < 0)
            return null;
        for (int i = handler + 1; i < path.Count; i++)
        {
            LeakStep step = path[i];
            if (IsDelegateType(step) || step.Type.Contains("<>c__DisplayClass", StringComparison.Ordinal) || IsCollection(step.Type))
                continue;
            return step.IsNew && step.Closer is not null ? step : null;
        }
        return null;
    }

    private static bool IsDelegateType(LeakStep step) =>
        IsDelegate(step) || step.Type.StartsWith("System.EventHandler", StringComparison.Ordinal) || step.Type.StartsWith("System.Action", StringComparison.Ordinal)
        || step.Type.StartsWith("System.Func<", StringComparison.Ordinal) || step.Type.EndsWith("Handler", StringComparison.Ordinal) || step.Type.EndsWith("Callback", StringComparison.Ordinal);

    /// <summary>Where the path's event lives: the object before the first delegate, past the collections that hold it.</summary>
    private static string EventOwner(LeakRoot root, IReadOnlyList<LeakStep> path)
    {
        int handler = Enumerable.Range(0, path.Count).First(i => IsDelegate(path[i]));
        return handler == 0 ? "an event" : Holder(root, path, handler);
    }

    /// <summary>The object and field that hold step <paramref name="index"/>, past the collections on the way: <c>SchedulerRepository.schedulers</c>.</summary>
    private static string Holder(LeakRoot root, IReadOnlyList<LeakStep> path, int index)
    {
        int holder = index - 1;
        while (holder > 0 && (IsCollection(path[holder].Type) || IsCollectionPart(path[holder].Type)))
            holder--;
        // A static collection is told by its field: StrongNameUtil.signedAssemblyCache, not Dictionary<Assembly, Boolean>.
        if (holder == 0 && (IsCollection(path[0].Type) || IsCollectionPart(path[0].Type)) && StaticFieldName(root) is { } staticField)
            return staticField;
        string field = holder + 1 < path.Count ? path[holder + 1].Field ?? "" : "";
        return holder + 1 < index || field.Length > 0
            ? $"{TypeNames.Short(path[holder].Type)}.{(field.StartsWith('[') ? "" : field)}".TrimEnd('.')
            : TypeNames.Short(path[holder].Type);
    }

    /// <summary>The library type, and its field, that holds the collection the path runs through: the last resort's owner.</summary>
    private static string CollectionHolder(LeakRoot root, IReadOnlyList<LeakStep> path)
    {
        int collection = Enumerable.Range(0, path.Count).First(i => IsCollection(path[i].Type));
        int holder = collection;
        while (holder > 0 && (IsCollection(path[holder - 1].Type) || IsCollectionPart(path[holder - 1].Type)))
            holder--;
        if (holder > 0)
            return $"the {TypeNames.Short(path[holder].Type)} in {TypeNames.Short(path[holder - 1].Type)}.{path[holder].Field}";
        return StaticFieldName(root) is { } field
            ? $"the {TypeNames.Short(path[0].Type)} in {field}"
            : $"the {TypeNames.Short(path[collection].Type)}";
    }

    /// <summary>"that your code creates in Cases.Leak", "that your call to Builder.Build in Cases.Leak returns".</summary>
    private static string Given(FragmentCall call) => call.Method == ".ctor"
        ? $"that your code creates in {call.Caller}"
        : $"that your call to {TypeNames.Short(call.Type)}.{call.Method} in {call.Caller} returns";

    /// <summary>
    /// The object the user's code was given (a constructor's, or a call's result) that is new on the path and has a
    /// release method nobody called: the fix names it, and the call that gave it. Failing that, an object of the same
    /// library the user's code was given, which owns the new one the path keeps (a server that started a processing
    /// server): disposing the user's object releases the library's.
    /// </summary>
    private static LeakIdiom? UserObjectKind(LeakRoot root, IReadOnlyList<LeakStep> path, IReadOnlyList<FragmentCall> calls)
    {
        FragmentCall[] given = calls.Where(c => c.Made is not null && c.Releaser is not null).ToArray();
        if (given.Length == 0)
            return null;
        (int Index, FragmentCall Call, int Rank)? best = null;
        for (int i = 1; i < path.Count; i++)
        {
            if (!path[i].IsNew || path[i].Closer is null)
                continue;
            foreach (FragmentCall call in given)
            {
                // The very type first, then a class it derives from, then an interface it implements (an IDisposable a
                // Subscribe returns): the closer the match, the surer it is the user's object.
                int rank = LoadedTypes.Find(path[i].Type) == call.Made ? 0
                    : !call.Made!.IsInterface && LoadedTypes.Is(path[i].Type, call.Made) ? 1
                    : call.Made.IsInterface && call.Made != typeof(IDisposable) && LoadedTypes.Is(path[i].Type, call.Made) ? 2
                    : call.Made == typeof(IDisposable) && IsHandleLike(path[i].Type) && LoadedTypes.Is(path[i].Type, call.Made) ? 3
                    : -1;
                if (rank >= 0 && (best is null || rank < best.Value.Rank))
                    best = (i, call, rank);
            }
        }
        if (best is var (index, madeBy, _))
        {
            LeakStep step = path[index];
            string type = TypeNames.Short(step.Type);
            string handle = IsHandleLike(type)
                ? " It is the IDisposable (a subscription or registration) that a call of yours was given back: keep it, and dispose it when done."
                : $" Or create one {type} and share it.";
            // Deep in a path the object's own holder is some callback's field; the root is what the reader knows.
            string keeps = StaticFieldName(root) ?? Holder(root, path, index);
            return new(ForgottenObject, $"Call {step.Closer} on each {type} {Given(madeBy)} when the work is done{Scope(step.Closer!)}: {keeps} keeps every one made per call until then, and nothing calls it.{handle}");
        }
        // The library's own object on the path, owned by one the user's code was given.
        for (int i = 1; i < path.Count; i++)
        {
            if (!path[i].IsNew || path[i].Closer is null || path[i].Type.StartsWith("System.", StringComparison.Ordinal))
                continue;
            if (OwnerOfStarter(path[i].Type, given) is { } owner)
            {
                string made = TypeNames.Short(FragmentCalls.TypeName(owner.Made!));
                return new(ForgottenObject, $"Call {owner.Releaser} on each {made} {Given(owner)} when the work is done{Scope(owner.Releaser!)}: it owns the {TypeNames.Short(path[i].Type)} that {StaticFieldName(root) ?? Holder(root, path, i)} keeps, and releasing it releases that; until then nothing does. Or create one {made} and share it.");
            }
            break;
        }
        return null;
    }

    /// <summary>The object of the user's, from the same library as <paramref name="type"/> and not of it, that owns it: a class the user's code was given.</summary>
    private static FragmentCall? OwnerOfStarter(string type, IReadOnlyList<FragmentCall> calls) =>
        calls.FirstOrDefault(c => c.Made is { IsInterface: false } made && c.Releaser is not null && !made.Namespace!.StartsWith("System", StringComparison.Ordinal)
            && SameLibrary(type, FragmentCalls.TypeName(made)) && LoadedTypes.Find(type) != made);

    private static string Scope(string closer) => closer switch { "Dispose" => " (a using block)", "DisposeAsync" => " (an await using block)", _ => "" };

    // The names of the methods a library type has to take back what it was given.
    private static readonly string[] s_removerPrefixes = ["Unregister", "Unsubscribe", "Remove", "Detach", "Delete", "Off"];

    /// <summary>
    /// The library type on the path that the user's code registered something with (the receiver of one of its calls):
    /// the fix names the method that type has to take it back, or says it has none, so the call is to be made once.
    /// </summary>
    private static LeakIdiom? RegistrationKind(LeakRoot root, IReadOnlyList<LeakStep> path, IReadOnlyList<FragmentCall> calls)
    {
        for (int i = 0; i < path.Count; i++)
        {
            // A delegate is what is registered, not what it is registered with.
            if (IsCollection(path[i].Type) || IsCollectionPart(path[i].Type) || IsDelegate(path[i]) || IsDelegateType(path[i])
                || LoadedTypes.Find(path[i].Type) is not { } holder || typeof(Delegate).IsAssignableFrom(holder))
                continue;
            if (calls.FirstOrDefault(c => !c.IntoUserCode && c.Receiver is { } receiver && (receiver == holder || receiver.IsAssignableFrom(holder)
                || (receiver.IsGenericType && holder.IsGenericTypeDefinition && receiver.GetGenericTypeDefinition() == holder))) is not { } call)
                continue;
            string type = TypeNames.Short(path[i].Type);
            string keeps = i == 0 && StaticFieldName(root) is { } field ? field : type;
            string name = path.Any(s => IsDelegate(s) || IsDelegateType(s)) ? "event handler" : "registration";
            string[] removers = holder.GetMethods(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance)
                .Select(m => m.Name).Where(n => s_removerPrefixes.Any(p => n.StartsWith(p, StringComparison.Ordinal))).Distinct().Order(StringComparer.Ordinal).Take(2).ToArray();
            string added = $"your call to {TypeNames.Short(call.Type)}.{call.Method} in {call.Caller}";
            return removers.Length > 0
                ? new(name, $"Make {added} once, when the {type} is set up, not on every call; or call {type}.{string.Join(" (or ", removers)}{(removers.Length > 1 ? ")" : "")} for what it registered once that is done: {keeps} keeps everything registered with it until then, and every call registers another.")
                : new(name, $"Make {added} once, when the {type} is set up, not on every call: {keeps} keeps everything registered with it, and {type} has no method to remove it.");
        }
        return null;
    }

    /// <summary>The generic last resort's name: the owner is a collection, and no rule says more.</summary>
    public const string Collection = "collection";

    /// <summary>
    /// "It is filled by your call to LogManager.GetLogger in NLogCases.Leak.": the public call of the user's code that
    /// reaches the library whose types hold the collection (<paramref name="ownerPath"/>), or the collection's own
    /// method where the user's code calls it; the fragment's first call into the user's own code where neither is
    /// called. Null where the fragment's calls are not known, or none fits.
    /// </summary>
    public static string? FilledBy(LeakRoot root, IReadOnlyList<LeakStep> ownerPath, IReadOnlyList<FragmentCall>? calls)
    {
        if (calls is null || calls.Count == 0)
            return null;
        string? rootType = root.Kind == LeakRootKind.StaticField && root.Name.LastIndexOf('.') is int dot and > 0 ? root.Name[..dot] : null;
        string[] library = ownerPath.Select(s => s.Type).Where(t => !IsCollection(t) && !IsCollectionPart(t)).Prepend(rootType).OfType<string>().ToArray();
        string[] collections = ownerPath.Select(s => s.Type).Where(t => IsCollection(t) && !t.EndsWith(']')).ToArray();
        // The base class library is everyone's: a call into it names the holder only as the collection's own method.
        // A call that gives back a plain value computes another call's argument (a cron expression, a name): that other
        // call is the one that fills.
        FragmentCall? call = calls.Where(c => !c.GivesPlainValue).Concat(calls.Where(c => c.GivesPlainValue))
            .FirstOrDefault(c => !c.IntoUserCode && !c.Type.StartsWith("System.", StringComparison.Ordinal) && library.Any(t => SameLibrary(t, c.Type)))
            ?? calls.FirstOrDefault(c => !c.IntoUserCode && collections.Contains(c.Type, StringComparer.Ordinal))
            ?? calls.FirstOrDefault(c => c.IntoUserCode);
        return call is null ? null : $" It is filled by your call to {TypeNames.Short(call.Type)}.{call.Method} in {call.Caller}.";
    }

    /// <summary>Whether two types' namespaces begin alike: their first two names, or the one a one-name namespace has.</summary>
    private static bool SameLibrary(string a, string b)
    {
        string[] first = Namespace(a).Split('.');
        string[] second = Namespace(b).Split('.');
        int shared = first.Zip(second).TakeWhile(p => p.First == p.Second).Count();
        // System and Microsoft alone are no library: their second names are.
        int needed = first[0] is "System" or "Microsoft" ? 2 : Math.Min(2, Math.Min(first.Length, second.Length));
        return shared > 0 && shared >= needed;
    }

    private static string Namespace(string type)
    {
        string plain = type.Split('<')[0].Split('+')[0];
        int dot = plain.LastIndexOf('.');
        return dot < 0 ? plain : plain[..dot];
    }

    /// <summary>A static field root as a reader names it, its type short: <c>StrongNameUtil.signedAssemblyCache</c>; null for other roots.</summary>
    public static string? StaticFieldName(LeakRoot root) =>
        root.Kind == LeakRootKind.StaticField && root.Name.LastIndexOf('.') is int dot and > 0
            ? $"{TypeNames.Short(root.Name[..dot])}.{root.Name[(dot + 1)..]}"
            : null;

    private static bool IsDelegate(LeakStep step) =>
        step.Note?.StartsWith("handler ", StringComparison.Ordinal) == true || step.Note?.StartsWith("delegate with", StringComparison.Ordinal) == true
        || step.Note?.StartsWith(ClosureNote, StringComparison.Ordinal) == true;

    // A collection's own nodes, entries and tables: a linked list's node, a dictionary's entry, a concurrent table.
    private static bool IsCollectionPart(string type) =>
        type.StartsWith("System.Collections.", StringComparison.Ordinal) || type.EndsWith("+Node", StringComparison.Ordinal) || type.EndsWith("+Entry", StringComparison.Ordinal);

    // What a call hands back to be disposed later: a subscription, a registration, a token, a handle.
    private static bool IsHandleLike(string type) => s_handleWords.Any(word => type.Contains(word, StringComparison.Ordinal));

    private static readonly string[] s_handleWords = ["Disposable", "Subscription", "Registration", "Token", "Handle", "Unsubscriber"];

    private const string ClosureNote = "closure created in ";
    // The namespace of the types XmlSerializer generates, which names their assembly too.
    private const string XmlSerializerTypes = " Microsoft.Xml.Serialization.GeneratedAssembly.";

    /// <summary>
    /// A path that runs from outside a collectible AssemblyLoadContext into an object of one of its types, and on
    /// through that type's loader allocator: the reference that keeps the whole context from unloading. The fix names
    /// the object and what holds it (an event's handler, a static, a thread's local).
    /// </summary>
    private static LeakIdiom? UnloadableContextKind(LeakRoot root, IReadOnlyList<LeakStep> path)
    {
        int edge = -1;
        for (int i = 1; i < path.Count && edge < 0; i++)
        {
            if (path[i].Field == TypesLoaderAllocator)
                edge = i;
        }
        if (edge < 0)
            return null;
        string inside = TypeNames.Short(path[edge - 1].Type);
        string assembly = path[edge].Note is { } note && note.StartsWith("loader allocator of ", StringComparison.Ordinal) ? note["loader allocator of ".Length..] : "a collectible assembly";
        int handler = Enumerable.Range(1, edge - 1).FirstOrDefault(i => path[i].Note?.StartsWith("delegate with", StringComparison.Ordinal) == true
            || (path[i].Note?.StartsWith("handler ", StringComparison.Ordinal) == true && path[i].Field?.StartsWith('[') == false && path[i].Field != "_invocationList"));
        string release = handler > 0
            ? $"remove its handler from {TypeNames.Short(path[handler - 1].Type)}.{path[handler].Field} (-=)"
            : root.Kind == LeakRootKind.StaticField
                ? $"clear what static field {root.Name} holds of it"
                : $"drop what {root.Name} holds of it";
        return new(UnloadableContext,
            $"The {inside} held from outside comes from {assembly}: while anything outside its collectible AssemblyLoadContext refers to one of its objects, the context, its assemblies and all their types stay loaded. Before calling Unload, {release}.");
    }

    /// <summary>
    /// The kind of timer the path's last timer-queue entry is. The queue's timers are a chain, and the chain's head may
    /// be anyone's timer: only the last entry on the path is the one that holds the instance.
    /// </summary>
    private static LeakIdiom? TimerKind(IReadOnlyList<LeakStep> path)
    {
        int last = LastIndexOf(path, TimerQueueTimer);
        if (last < 0 && !path.Any(s => IsDelayPromise(s.Type)))
            return null;
        IEnumerable<LeakStep> timer = path.Skip(Math.Max(last, 0));
        if (timer.Any(s => IsDelayPromise(s.Type) || (s.Type == TimerQueueTimer && s.Note?.Contains("Task.Delay", StringComparison.Ordinal) == true)))
        {
            // A library's loop that waits in Task.Delay between rounds, on an object made per call that has a Dispose: the
            // delay is not the user's to cancel, the loop's owner is theirs to dispose.
            if (timer.FirstOrDefault(s => s.Field == "<>4__this" && s.IsNew && s.Closer is not null) is { } loop)
            {
                string owner = TypeNames.Short(loop.Type);
                return new(ForgottenObject, $"Call {loop.Closer} on each {owner} when the work is done (or dispose the object of yours that created it): each one made per call runs a loop that waits in Task.Delay, and the runtime's timer queue keeps the loop, the {owner} and all it holds until it is stopped. Or create one and share it.");
            }
            return new("Task.Delay", "Cancel the Task.Delay when it loses the race: pass it a CancellationToken and cancel that token once the other task wins (Task.WhenAny); until its time is up, the runtime's timer queue keeps the delay and all that waits on it.");
        }
        // A System.Timers.Timer's entry calls its MyTimerCallback; the note names the method's type by its short name only.
        if (timer.Any(s => s.Type == "System.Timers.Timer"
            || (s.Type == TimerQueueTimer && s.Note?.Contains("System.Timers.Timer", StringComparison.Ordinal) == true)
            || (s.Type == "System.Threading.TimerCallback" && s.Note?.StartsWith("handler Timer.MyTimerCallback,", StringComparison.Ordinal) == true)))
            return new("System.Timers.Timer", "Stop and Dispose the System.Timers.Timer when its owner is done: a started System.Timers.Timer stays in the runtime's timer queue, with its Elapsed handlers and their targets, until then.");
        // A library's object made per call that owns the timer (a scheduler's periodic timer, a subscription's): disposing
        // it disposes its timer, and it is what the user's code made or was given back.
        if (timer.Skip(1).FirstOrDefault(s => s.IsNew && s.Closer is not null && !s.Type.StartsWith("System.Threading.", StringComparison.Ordinal)) is { } timerOwner)
        {
            string type = TypeNames.Short(timerOwner.Type);
            return new("timer", $"Dispose the Timer's owner when it is done: each {type} made per call keeps a timer in the runtime's queue until its {timerOwner.Closer} is called. Call {type}.{timerOwner.Closer}(), or dispose the IDisposable a call of yours was given back (a subscription, a registration) that owns it; or create one and share it.");
        }
        return new("timer", "Dispose the Timer when its owner is done: the runtime's timer queue holds the callback, and the callback holds the owner.");
    }

    private static LeakIdiom? CancellationKind(IReadOnlyList<LeakStep> path)
    {
        int last = LastIndexOf(path, CallbackNode);
        bool linked = path.Any(s => s.Type.StartsWith("System.Threading.CancellationTokenSource+Linked", StringComparison.Ordinal))
            || (last >= 0 && path[last].Note?.Contains("linked CancellationTokenSource", StringComparison.Ordinal) == true);
        if (linked)
            return new("linked CancellationTokenSource", "Dispose the CancellationTokenSource that CreateLinkedTokenSource returns when the operation ends: until then the parent token's source holds it, and every callback registered on its token.");
        if (last >= 0)
            return new("cancellation token registration", "Dispose the CancellationTokenRegistration that Register returns: the token source holds the callback until then.");
        return null;
    }

    /// <summary>The process-wide registries the runtime keeps: each holds what is added to it until it is removed or disposed.</summary>
    private static LeakIdiom? RegistryKind(LeakRoot root, IReadOnlyList<LeakStep> path)
    {
        string owner = root.Kind == LeakRootKind.StaticField ? root.Name : "";
        if (owner == "System.Diagnostics.Metrics.Meter.s_allMeters")
            return new("Meter registry", "Dispose the Meter when its owner is done, or create it once and keep it (IMeterFactory, or a static field): every Meter stays registered with the process until it is disposed.");
        if (owner == "System.Diagnostics.ActivitySource.s_activeSources")
            return new("ActivitySource registry", "Dispose the ActivitySource when its owner is done, or create one per library and keep it in a static field: every ActivitySource stays registered with the process until it is disposed.");
        if (owner == "System.Diagnostics.DiagnosticListener.s_allListeners")
            return new("DiagnosticListener registry", "Dispose the DiagnosticListener when its owner is done, or create one per component and keep it in a static field: every DiagnosticListener stays in the process-wide list until it is disposed.");
        if (owner == "System.Diagnostics.Tracing.EventListener.s_Listeners" || Has(path, "System.Diagnostics.Tracing.EventDispatcher"))
            return new("EventListener registry", "Dispose the EventListener when it is done: every EventListener stays registered with the process and with each of its EventSources until it is disposed.");
        if (owner == "System.AppContext.s_dataStore")
            return new("AppContext data", "Use a fixed set of AppContext.SetData keys and keep per-call data in your own objects: AppContext keeps every key, and its value, for the life of the process, and has no way to remove one.");
        if (owner == "System.ComponentModel.TypeDescriptor.s_providerTable" || Has(path, "System.ComponentModel.TypeDescriptor+TypeDescriptionNode"))
            return new("TypeDescriptor provider", "Call TypeDescriptor.RemoveProvider with the provider that AddProvider was given (or that AddAttributes returned) once it is done, or add it only once: TypeDescriptor keeps every provider added to a type for the life of the process.");
        return null;
    }

    /// <summary>An await that never completes: the awaited task holds the method's continuation, and so its state machine.</summary>
    private static LeakIdiom? AsyncKind(IReadOnlyList<LeakStep> path)
    {
        int continuation = path.Select((s, i) => (s, i)).FirstOrDefault(p => p.s.Field == "m_continuationObject", (null!, -1)).Item2;
        string? method = path.Select(s => s.Note).Select(StateMachineMethod).FirstOrDefault(m => m is not null)
            ?? path.Select(s => StateMachineMethod(s.Type)).FirstOrDefault(m => m is not null);
        if (continuation < 0 && method is null)
            return null;
        string awaited = continuation switch
        {
            < 1 => "a task",
            > 1 when path[continuation - 2].Type.StartsWith("System.Threading.Tasks.TaskCompletionSource", StringComparison.Ordinal) => "a TaskCompletionSource's task",
            _ => $"a {TypeNames.Short(path[continuation - 1].Type)}",
        };
        string who = method is null ? "An async method" : $"The async method {method}";
        return new("async method", $"{who} awaits {awaited} that never completes, so its state machine and all it holds stay alive: complete or cancel what it awaits (TrySetResult, TrySetCanceled), or stop waiting with a CancellationToken or a timeout (Task.WaitAsync).");
    }

    /// <summary>The method an async state machine runs, from a note ("async state machine of Acme.Orders.SendAsync") or a type name.</summary>
    private static string? StateMachineMethod(string? text)
    {
        if (text is null)
            return null;
        if (text.StartsWith(StateMachineNote, StringComparison.Ordinal))
            return text[StateMachineNote.Length..];
        if (StateMachineName().Match(text) is not { Success: true } match)
            return null;
        string type = match.Groups[1].Value;
        return $"{type[(type.LastIndexOf('.') + 1)..]}.{match.Groups[2].Value}";
    }

    private const string StateMachineNote = "async state machine of ";

    private static bool IsDelayPromise(string type) => type.StartsWith("System.Threading.Tasks.Task+DelayPromise", StringComparison.Ordinal);

    private static bool IsOptionsMonitor(string type) => type.StartsWith("Microsoft.Extensions.Options.OptionsMonitor<", StringComparison.Ordinal);

    // CancellationChangeToken, ConfigurationReloadToken, CompositeChangeToken, the file providers' tokens, and the
    // registration ChangeToken.OnChange makes.
    private static bool IsChangeToken(string type) =>
        type.StartsWith("Microsoft.Extensions.", StringComparison.Ordinal)
        && (type.EndsWith("ChangeToken", StringComparison.Ordinal) || type.EndsWith("ReloadToken", StringComparison.Ordinal)
            || type.StartsWith("Microsoft.Extensions.Primitives.ChangeToken+ChangeTokenRegistration<", StringComparison.Ordinal));

    private static bool Has(IReadOnlyList<LeakStep> path, string type) => path.Any(s => s.Type == type);

    private static int LastIndexOf(IReadOnlyList<LeakStep> path, string type)
    {
        for (int i = path.Count - 1; i >= 0; i--)
        {
            if (path[i].Type == type)
                return i;
        }
        return -1;
    }

    /// <summary>Whether the type is an array or one of the base library's collections.</summary>
    internal static bool IsCollection(string type) =>
        type.EndsWith(']') || type.StartsWith("System.Collections.", StringComparison.Ordinal);

    [GeneratedRegex(@"^\s*(select|insert|update|delete|merge|with|exec|call)\s", RegexOptions.IgnoreCase)]
    private static partial Regex SqlText();

    [GeneratedRegex(@"^System\.Threading\.Channels\.(SingleConsumer)?Unbounded(Prioritized)?Channel<")]
    private static partial Regex UnboundedChannel();

    // Anywhere in the name: a Release build boxes the state machine (AsyncStateMachineBox<Outer+<Method>d__3>).
    [GeneratedRegex(@"([A-Za-z0-9_.+]+)\+<([A-Za-z0-9_]+)>d__\d+")]
    private static partial Regex StateMachineName();
}
