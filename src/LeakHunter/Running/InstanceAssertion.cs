using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using LeakHunter.Analysis;

namespace LeakHunter.Running;

/// <summary>
/// The object and instance assertions, through the stages a check runs: settle the heap, take a census (or ask the
/// weak handles), judge against what was expected, and trace the paths to what should have gone.
/// </summary>
internal static class InstanceAssertion
{
    // Settles a survivor gets before it counts as held: one object whose finalizer frees another needs a second.
    private const int SettlesForSurvivors = 3;

    /// <summary>What holds the objects <paramref name="factory"/> created that survive a settled heap; null when none does.</summary>
    public static PathsReport? Survivors(Func<IEnumerable<object?>> factory, LeakOptions options) =>
        CheckGate.Exclusive(() =>
        {
            GCHandle[] watched = Watch(factory);
            try
            {
                IntPtr[] survivors = SettledSurvivors(watched);
                if (survivors.Length == 0)
                    return null;
                using InspectionSession session = InspectionSession.OfThisProcess(options);
                LeakExplanation explanation = session.ExplainWatched(survivors);
                string[] types = explanation.Leaks.Select(l => l.Type).Distinct(StringComparer.Ordinal).ToArray();
                return ReportAssembler.Paths(
                    $"LeakHunter: {survivors.Length} of {watched.Length} watched object(s) survived a full GC, and should have been collected",
                    session.Target, "watched objects", types, survivors.Length, explanation);
            }
            finally
            {
                foreach (GCHandle handle in watched)
                    handle.Free();
            }
        });

    /// <summary>The paths to the instances of exactly <paramref name="type"/> alive after a settled heap when more than <paramref name="max"/> are; else null.</summary>
    public static PathsReport? MoreThan(string type, int max, LeakOptions options) =>
        CheckGate.Exclusive(() =>
        {
            using InspectionSession session = InspectionSession.OfThisProcess(options);
            _ = HeapSettler.SettleHeap();
            int census = session.Take().Id;
            long alive = session.Histograms([census]).FirstOrDefault(s => s.Type == type)?.Counts[0] ?? 0;
            if (alive <= max)
                return null;
            return session.TraceEveryInstance([type], type, options.MaxPathsPerType,
                _ => $"LeakHunter: {alive:N0} instance(s) of {type} are alive after a full GC; at most {max} were expected");
        });

    // The factory's frame ends here, before any GC: nothing it made is held by a local of the caller's.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static GCHandle[] Watch(Func<IEnumerable<object?>> factory) =>
        factory().Where(o => o is not null).Select(o => GCHandle.Alloc(o, GCHandleType.Weak)).ToArray();

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static IntPtr[] SettledSurvivors(GCHandle[] watched)
    {
        for (int i = 0; i < SettlesForSurvivors && watched.Any(IsAlive); i++)
            _ = HeapSettler.SettleHeap();
        return watched.Where(IsAlive).Select(GCHandle.ToIntPtr).ToArray();
    }

    private static bool IsAlive(GCHandle handle) => handle.Target is not null;
}
