namespace LeakHunter.Analysis;

/// <summary>A .NET idiom recognised on a leak's path, and the fix that is right for it.</summary>
/// <param name="Name">The idiom, in the user's terms ("event handler", "timer"), or null when only the root's kind is known.</param>
/// <param name="Hint">The usual fix, in one line.</param>
internal sealed record LeakIdiom(string? Name, string Hint);

/// <summary>
/// Decodes the idiom a path is, from its objects' types, fields and notes: the most specific idiom on the path wins;
/// the root's kind decides when nothing on the path does.
/// </summary>
internal static class LeakIdioms
{
    /// <summary>The idiom of one path, from its root to a growing instance.</summary>
    public static LeakIdiom Decode(LeakRoot root, IReadOnlyList<LeakStep> path)
    {
        if (path.Any(s => s.Type == "System.Threading.TimerQueueTimer"))
            return new("timer", "Dispose the Timer when its owner is done: the runtime's timer queue holds the callback, and the callback holds the owner.");
        if (path.Any(s => s.Type == "System.Threading.CancellationTokenSource+CallbackNode"))
            return new("cancellation token registration", "Dispose the CancellationTokenRegistration that Register returns: the token source holds the callback until then.");
        if (path.Any(s => s.Field == "(ConditionalWeakTable value)"))
            return new("ConditionalWeakTable entry", "A ConditionalWeakTable value lives as long as its key, and this key lives forever: remove the entry, or key it on an object that dies.");
        // A delegate held by a field, not by a collection's slot, is an event's handler.
        bool eventHoldsOneHandler = path.Select((s, i) => (s, i)).Any(p =>
            (p.s.Note?.StartsWith("handler ", StringComparison.Ordinal) ?? false) && (p.i == 0 || p.s.Field?.StartsWith('[') == false));
        if (eventHoldsOneHandler || path.Any(s => s.Field == "_invocationList" || (s.Note?.StartsWith("delegate with", StringComparison.Ordinal) ?? false)))
            return new("event handler", "Unsubscribe the handler (-=) when the subscriber is done, or give the event's owner the subscriber's lifetime.");
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
                new("collection", "Remove the entries from the collection when they are done, or bound it (an eviction policy, a size limit)."),
            _ => new(null, "Clear the static field, or stop storing per-call objects in it."),
        };
    }

    private static bool IsCollection(string type) =>
        type.EndsWith(']') || type.StartsWith("System.Collections.", StringComparison.Ordinal);
}
