using System.Text.RegularExpressions;
using LeakHunter.Census;
using LeakHunter.Reports;
using Microsoft.Diagnostics.Runtime;

namespace LeakHunter.Inspector.Paths;

/// <summary>What a thread of the process under test is doing, told by its managed frames.</summary>
internal static partial class ThreadStacks
{
    // Enough to show the finalizer and what it waits on; the runtime's own loop lies below.
    private const int MaxFrames = 16;

    /// <summary>The finalizer thread's managed frames, innermost first, as <c>Type.Method</c>; none when there is no such thread.</summary>
    public static string[] OfFinalizer(ClrRuntime runtime)
    {
        ClrThread? finalizer = runtime.Threads.FirstOrDefault(t => t.IsFinalizer && t.IsAlive);
        return finalizer is null ? [] : Frames(finalizer).Take(MaxFrames).ToArray();
    }

    /// <summary>A thread's managed frames, innermost first, each as <see cref="MethodName"/> spells it.</summary>
    public static IEnumerable<string> Frames(ClrThread thread) =>
        thread.EnumerateStackTrace().Select(frame => frame.Method).OfType<ClrMethod>().Select(MethodName);

    /// <summary><c>Worker.Run</c>, or for a lambda, <c>lambda in Worker.Start</c>: the compiler's names say where it was written.</summary>
    public static string MethodName(ClrMethod method)
    {
        string type = TypeNames.Short(method.Type?.Name);
        if (LambdaName().Match(method.Name ?? "") is { Success: true } lambda)
            return $"lambda in {CompilerClass().Replace(type, "")}.{lambda.Groups[1].Value}";
        return $"{type}.{method.Name}";
    }

    /// <summary>Each live thread's managed <c>Thread</c> object, by the address of the runtime's thread it stands for.</summary>
    public static Dictionary<ulong, ClrObject> ThreadObjects(ClrRuntime runtime)
    {
        // The runtime holds each started thread's Thread object through a handle, so no walk of the heap is needed.
        var objects = new Dictionary<ulong, ClrObject>();
        foreach (ClrHandle handle in runtime.EnumerateHandles())
        {
            ClrObject obj = handle.Object;
            if (obj.IsValid && obj.Type?.Name == "System.Threading.Thread" && obj.Type.GetFieldByName("_DONT_USE_InternalThread") is not null)
                objects.TryAdd(obj.ReadField<ulong>("_DONT_USE_InternalThread"), obj);
        }
        return objects;
    }

    /// <summary>The name a thread was given, or null.</summary>
    public static string? ThreadName(ClrObject thread) =>
        thread.Type?.GetFieldByName("_name") is not null ? thread.ReadStringField("_name") : null;

    /// <summary>
    /// The method a thread was started with: the outermost frame that is not the runtime's own thread start. Frames
    /// come innermost first.
    /// </summary>
    public static string? StartMethod(string[] frames)
    {
        for (int i = frames.Length - 1; i >= 0; i--)
        {
            int dot = frames[i].LastIndexOf('.');
            if (dot < 0 || !s_threadStart.Contains(frames[i][..dot]))
                return frames[i];
        }
        return null;
    }

    // The runtime's own frames below every thread's start method.
    private static readonly HashSet<string> s_threadStart = new(StringComparer.Ordinal) { "Thread", "Thread+StartHelper", "ExecutionContext" };

    /// <summary>
    /// A thread that owns what its stack holds: one that is not the thread pool's (a pool thread runs work in flight,
    /// and goes back to the pool when it is done) and not the finalizer. Told by the code it runs: the outermost frame
    /// outside the runtime's own namespaces is the library's (or the user's) loop that started it. Null for a pool
    /// thread, the finalizer, or a thread with no managed frame.
    /// </summary>
    public static PathThread? Owner(ClrThread thread, string? name)
    {
        if (thread.IsFinalizer)
            return null;
        ClrMethod[] frames;
        try
        {
            frames = thread.EnumerateStackTrace().Select(f => f.Method).OfType<ClrMethod>().ToArray();
        }
        catch (Exception)
        {
            return null;
        }
        if (frames.Length == 0 || frames.Any(m => m.Type?.Name is { } type && s_poolThreadTypes.Any(pool => type.StartsWith(pool, StringComparison.Ordinal))))
            return null;
        ClrMethod start = frames.LastOrDefault(m => m.Type?.Name is { } type && !IsRuntimeType(type))
            ?? frames.Last(m => m.Type?.Name is not { } type || !s_threadStart.Contains(TypeNames.Short(type)));
        string startedBy = CompilerClass().Replace(start.Type?.Name ?? "?", "");
        // The starter's own type, not the compiler's class for its lambdas, is the one whose method stops the thread.
        ClrType? starterType = start.Type is { } t && t.Name != startedBy ? FindType(t, startedBy) : start.Type;
        string method = LambdaName().Match(start.Name ?? "") is { Success: true } lambda ? $"lambda in {lambda.Groups[1].Value}" : start.Name ?? "?";
        return new PathThread(name, $"{startedBy}.{method}", startedBy, starterType is null ? null : Closers.Of(starterType), 1);
    }

    private static ClrType? FindType(ClrType nested, string name) =>
        nested.Module?.EnumerateTypeDefToMethodTableMap().Select(m => nested.Heap.GetTypeByMethodTable(m.MethodTable)).FirstOrDefault(t => t?.Name == name);

    private static bool IsRuntimeType(string type) =>
        type.StartsWith("System.", StringComparison.Ordinal) || type.StartsWith("Microsoft.Win32.", StringComparison.Ordinal) || type.StartsWith("Interop", StringComparison.Ordinal);

    // Frames only the thread pool's threads run: what such a thread holds is a work item's, in flight.
    private static readonly string[] s_poolThreadTypes =
    [
        "System.Threading.PortableThreadPool", "System.Threading.ThreadPoolWorkQueue", "System.Threading.WindowsThreadPool",
        "System.Threading.LowLevelLifoSemaphore",
    ];

    [GeneratedRegex(@"^<(.+)>b__\d+")]
    private static partial Regex LambdaName();

    // The class the compiler puts a lambda in: Worker+<>c, or Worker+<>c__DisplayClass3_0 for one that captures.
    [GeneratedRegex(@"\+<>c(__DisplayClass\d+_\d+)?$")]
    private static partial Regex CompilerClass();
}
