using LeakHunter.Reports;
using Microsoft.Diagnostics.Runtime;

namespace LeakHunter.Inspector.Paths;

/// <summary>What a thread of the process under test is doing, told by its managed frames.</summary>
internal static class ThreadStacks
{
    // Enough to show the finalizer and what it waits on; the runtime's own loop lies below.
    private const int MaxFrames = 16;

    /// <summary>The finalizer thread's managed frames, innermost first, as <c>Type.Method</c>; none when there is no such thread.</summary>
    public static string[] OfFinalizer(ClrRuntime runtime)
    {
        ClrThread? finalizer = runtime.Threads.FirstOrDefault(t => t.IsFinalizer && t.IsAlive);
        if (finalizer is null)
            return [];
        return finalizer.EnumerateStackTrace()
            .Select(frame => frame.Method is { } method ? $"{TypeNames.Short(method.Type?.Name)}.{method.Name}" : null)
            .OfType<string>()
            .Take(MaxFrames)
            .ToArray();
    }
}
