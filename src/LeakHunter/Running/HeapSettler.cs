namespace LeakHunter.Running;

/// <summary>
/// Settles this process's heap before each census: full blocking GCs with the finalizers run between them. Once
/// instances are marked, it settles without compacting so the marked ones stay where they were, and notes when a GC
/// may have moved them all the same.
/// </summary>
internal sealed class HeapSettler(CancellationToken cancellationToken)
{
    // The last full blocking GC this settler made after the mark, to tell when another one (the runtime's own, which
    // may compact) ran since.
    private long _ownFullGc;

    /// <summary>Whether the finalizer thread was found blocked in any settle.</summary>
    public bool FinalizerBlocked { get; private set; }

    /// <summary>
    /// Whether a full GC that may have compacted ran since the last <see cref="SettleForMark"/>: marked objects may then
    /// have moved and look new, and the mark is taken again.
    /// </summary>
    public bool MarkMayHaveMoved { get; private set; }

    /// <summary>
    /// A settled heap: a full blocking GC, finalizers run, and a second full GC for what they released. Finalizers
    /// queued by earlier collections run first, so the second GC is needed only when the first found finalizable
    /// garbage of its own: otherwise it would find the very same heap, at the cost of a whole extra GC per census.
    /// The runtime's own callbacks that renew themselves at every full GC (the array pools' trimming, a
    /// <c>Gen2GcCallback</c> each) are always pending after one, so they are no reason for a second GC: their number is
    /// learned as the fewest objects found pending after any second GC, when nothing else can be.
    /// </summary>
    /// <returns>False when the finalizer thread is blocked: the finalizers pending did not finish within <see cref="FinalizerWaiter.Limit"/>.</returns>
    public static bool SettleHeap()
    {
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        bool finalized = FinalizerWaiter.Wait(FinalizerWaiter.Limit);
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true);
        long pending = GC.GetGCMemoryInfo(GCKind.FullBlocking).FinalizationPendingCount;
        if (!finalized || pending == 0 || pending <= Interlocked.Read(ref s_selfRenewing))
        {
            CheckTimings.AddSettle(started, 1);
            return finalized;
        }
        finalized = FinalizerWaiter.Wait(FinalizerWaiter.Limit);
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true);
        long renewing = GC.GetGCMemoryInfo(GCKind.FullBlocking).FinalizationPendingCount;
        long known = Interlocked.Read(ref s_selfRenewing);
        if (finalized && (known < 0 || renewing < known))
            Interlocked.Exchange(ref s_selfRenewing, renewing);
        CheckTimings.AddSettle(started, 2);
        return finalized;
    }

    // The fewest objects pending finalization after a second full GC in a row: the ones that renew themselves; -1
    // until a settle has made a second GC.
    private static long s_selfRenewing = -1;

    /// <summary>Settles the heap, compacting as the GC sees fit, and notes a blocked finalizer thread.</summary>
    public void Settle()
    {
        cancellationToken.ThrowIfCancellationRequested();
        FinalizerBlocked |= !SettleHeap();
    }

    /// <summary>Settles the heap the way <paramref name="compacting"/> asks.</summary>
    public void Settle(bool compacting)
    {
        if (compacting)
            Settle();
        else
            SettleWithoutCompacting();
    }

    /// <summary>
    /// The GC right before a mark. One more full GC puts every survivor in gen2, where no young-generation GC moves it,
    /// and the settles after the mark do not compact. This one does, so that the old generation has no gaps for a later
    /// GC to close.
    /// </summary>
    public void SettleForMark()
    {
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        _ownFullGc = LastFullBlockingGc();
        MarkMayHaveMoved = false;
    }

    /// <summary>
    /// Collects what the last iterations left, keeping every survivor where it is, so marked addresses stay true. A GC
    /// asked not to compact may compact all the same, and does whenever a full GC meets young objects that mostly
    /// died: it then moves the old generation too, where every marked object is. So the young generations are
    /// collected first, by a GC that never touches the old one; a full GC that still compacted (an old generation
    /// left too fragmented) is noted, and the mark is taken again.
    /// </summary>
    public void SettleWithoutCompacting()
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (LastFullBlockingGc() != _ownFullGc)
            MarkMayHaveMoved = true;
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        for (int i = 0; i < 2; i++)
        {
            FinalizerBlocked |= !FinalizerWaiter.Wait(FinalizerWaiter.Limit);
            CollectWithoutCompacting(1);
            CollectWithoutCompacting(GC.MaxGeneration);
        }
        CheckTimings.AddSettle(started, 2);
        _ownFullGc = LastFullBlockingGc();
    }

    /// <summary>A blocking GC of <paramref name="generation"/> that does not ask to compact; one that became a compacting full GC is noted.</summary>
    private void CollectWithoutCompacting(int generation)
    {
        long before = LastFullBlockingGc();
        GC.Collect(generation, GCCollectionMode.Forced, blocking: true, compacting: false);
        GCMemoryInfo full = GC.GetGCMemoryInfo(GCKind.FullBlocking);
        if (full.Index != before && full.Compacted)
            MarkMayHaveMoved = true;
    }

    private static long LastFullBlockingGc() => GC.GetGCMemoryInfo(GCKind.FullBlocking).Index;
}
