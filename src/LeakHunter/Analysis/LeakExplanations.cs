using LeakHunter.Census;

namespace LeakHunter.Analysis;

/// <summary>Turns the inspector's paths into the report's signatures, each with the usual fix for its shape.</summary>
internal static class LeakExplanations
{
    public static LeakExplanation FromInspector(Explanation explanation) => new(
        explanation.Leaks.Select(ToSignature).ToArray(),
        explanation.Referrers.Select(t => new TypeReferrers(t.Type, t.From.Select(f => new Referrer(f.Type, f.Field, f.Count)).ToArray())).ToArray(),
        explanation.PartialReason) { Warnings = explanation.Warnings };

    private static LeakSignature ToSignature(LeakPath path)
    {
        var root = new LeakRoot((LeakRootKind)path.RootKind, path.RootName);
        LeakStep[] steps = path.Steps.Select(s => new LeakStep(s.Type, s.Field, s.Note)).ToArray();
        int? accumulationPoint = path.AccumulationPoint >= 0 && path.AccumulationPoint < steps.Length ? path.AccumulationPoint : null;
        return new LeakSignature(path.Type, path.Instances, root, steps, accumulationPoint, HintFor(root, steps));
    }

    /// <summary>The fix for the most specific idiom on the path; the root's kind decides when nothing on the path does.</summary>
    internal static string HintFor(LeakRoot root, IReadOnlyList<LeakStep> path)
    {
        if (path.Any(s => s.Type == "System.Threading.TimerQueueTimer"))
            return "Dispose the Timer when its owner is done: the runtime's timer queue holds the callback, and the callback holds the owner.";
        if (path.Any(s => s.Type == "System.Threading.CancellationTokenSource+CallbackNode"))
            return "Dispose the CancellationTokenRegistration that Register returns: the token source holds the callback until then.";
        if (path.Any(s => s.Field == "(ConditionalWeakTable value)"))
            return "A ConditionalWeakTable value lives as long as its key, and this key lives forever: remove the entry, or key it on an object that dies.";
        // A delegate held by a field, not by a collection's slot, is an event's handler.
        bool eventHoldsOneHandler = path.Select((s, i) => (s, i)).Any(p =>
            (p.s.Note?.StartsWith("handler ", StringComparison.Ordinal) ?? false) && (p.i == 0 || p.s.Field?.StartsWith('[') == false));
        if (eventHoldsOneHandler || path.Any(s => s.Field == "_invocationList" || (s.Note?.StartsWith("delegate with", StringComparison.Ordinal) ?? false)))
            return "Unsubscribe the handler (-=) when the subscriber is done, or give the event's owner the subscriber's lifetime.";
        return root.Kind switch
        {
            LeakRootKind.StrongHandle or LeakRootKind.PinnedHandle or LeakRootKind.RefCountedHandle =>
                "Free the GC handle (GCHandle.Free) once native code is done with the object.",
            LeakRootKind.FinalizerQueue =>
                "A finalizer is blocked or resurrects its object: keep finalizers short, never wait in them, and never store 'this' from one.",
            LeakRootKind.ThreadStatic =>
                "Clear the [ThreadStatic] field when the work on that thread is done: pool threads live as long as the process.",
            LeakRootKind.Stack =>
                "A method still running holds these in a local: a long-running loop, or a frame that never returns.",
            LeakRootKind.Unknown =>
                "No root LeakHunter can see reaches these: look for native code or unmanaged callbacks that hold them.",
            _ when path.Any(s => IsCollection(s.Type)) =>
                "Remove the entries from the collection when they are done, or bound it (an eviction policy, a size limit).",
            _ => "Clear the static field, or stop storing per-call objects in it.",
        };
    }

    private static bool IsCollection(string type) =>
        type.EndsWith(']') || type.StartsWith("System.Collections.", StringComparison.Ordinal);
}
