using Microsoft.Diagnostics.Runtime;

namespace LeakHunter.Inspector.Paths;

/// <summary>
/// The method a type offers to release what it holds: its <c>Dispose</c>, <c>Close</c>, <c>Shutdown</c>, <c>Stop</c>
/// or <c>Unsubscribe</c>. A new object that has one and is still held by something long-lived was created per call and
/// never released, whatever library it comes from: that method is the fix, read from the type itself, not from a list.
/// </summary>
internal static class Closers
{
    // Most telling first: a type with both Dispose and Stop is released by Dispose.
    private static readonly string[] s_names = ["Dispose", "DisposeAsync", "Shutdown", "ShutdownAsync", "Stop", "StopAsync", "Close", "CloseAsync", "Unsubscribe"];

    // Types whose Dispose is not how they are released: a task is done when it completes, and the runtime's own
    // lock-free types are released by what owns them.
    private static readonly string[] s_notReleasedByCloser = ["System.Threading.Tasks.Task", "System.Threading.Tasks.ValueTask", "System.Runtime.CompilerServices."];

    private static readonly Dictionary<ulong, string?> s_byMethodTable = new();

    /// <summary>The releasing method of <paramref name="type"/> or of a base type, or null when it has none.</summary>
    public static string? Of(ClrType type)
    {
        lock (s_byMethodTable)
        {
            if (!s_byMethodTable.TryGetValue(type.MethodTable, out string? closer))
                s_byMethodTable[type.MethodTable] = closer = Find(type);
            return closer;
        }
    }

    private static string? Find(ClrType type)
    {
        if (type.IsArray || type.IsString || type.Name is not { } name || s_notReleasedByCloser.Any(p => name.StartsWith(p, StringComparison.Ordinal)) || IsDelegate(type))
            return null;
        int best = s_names.Length;
        try
        {
            for (ClrType? t = type; t is not null && t.Name != "System.Object"; t = t.BaseType)
            {
                // The runtime lists only the methods it has prepared, so an interface method nobody called yet (a
                // Shutdown never called is the leak) is missing there: the module's metadata lists them all.
                foreach (string declared in ModuleMetadata.PublicMethodNames(t) ?? t.Methods.Select(m => m.Name ?? ""))
                {
                    // An explicit implementation (System.IDisposable.Dispose) is reached through the interface.
                    string methodName = declared.LastIndexOf('.') is int dot and >= 0 ? declared[(dot + 1)..] : declared;
                    int rank = Array.IndexOf(s_names, methodName);
                    if (rank >= 0 && rank < best)
                        best = rank;
                }
            }
            if (best == s_names.Length)
            {
                foreach (ClrInterface iface in type.EnumerateInterfaces())
                {
                    if (iface.Name == "System.IDisposable")
                        best = Math.Min(best, 0);
                    else if (iface.Name == "System.IAsyncDisposable")
                        best = Math.Min(best, 1);
                }
            }
        }
        catch (Exception)
        {
            // A type whose methods cannot be read has no closer LeakHunter can name.
            return null;
        }
        return best < s_names.Length ? s_names[best] : null;
    }

    private static bool IsDelegate(ClrType type)
    {
        for (ClrType? t = type.BaseType; t is not null; t = t.BaseType)
        {
            if (t.Name is "System.MulticastDelegate" or "System.Delegate")
                return true;
        }
        return false;
    }
}
