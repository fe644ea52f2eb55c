using System.Text.RegularExpressions;
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

    [GeneratedRegex(@"^<(.+)>b__\d+")]
    private static partial Regex LambdaName();

    // The class the compiler puts a lambda in: Worker+<>c, or Worker+<>c__DisplayClass3_0 for one that captures.
    [GeneratedRegex(@"\+<>c(__DisplayClass\d+_\d+)?$")]
    private static partial Regex CompilerClass();
}
