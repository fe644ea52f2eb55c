using Microsoft.Diagnostics.Runtime;

namespace LeakHunter.Inspector.Census;

/// <summary>
/// The GC's address ranges in one process, sorted and merged: its regions, its free regions and its bookkeeping (card
/// and mark tables). The mappings there are the GC's, not native memory: a free region the GC decommits a piece at a
/// time after a big heap shrank, or a card table that follows the heap's size, would otherwise move native memory by
/// megabytes between two censuses.
/// </summary>
/// <remarks>
/// Every region the GC hands out lies inside the one range it reserves at start, so a range once seen stays the GC's,
/// and each census adds the regions in use to what is known. The free regions and the bookkeeping are read once per
/// check: the runtime lists them only after every loader heap of every module, which costs more than the rest of the
/// resource counters together.
/// </remarks>
internal sealed class GcAddressRanges
{
    private List<(ulong Start, ulong End)> _known = new();
    private bool _freeRegionsRead;

    /// <summary>The ranges known from the censuses so far.</summary>
    public IReadOnlyList<(ulong Start, ulong End)> Known => _known;

    /// <summary>Reads the free regions and the bookkeeping again at the next census: a new check has begun.</summary>
    public void Refresh() => _freeRegionsRead = false;

    /// <summary>The ranges known, with the regions <paramref name="runtime"/> has in use now.</summary>
    public IReadOnlyList<(ulong Start, ulong End)> Of(ClrRuntime runtime)
    {
        // A segment's reserved range is only the part past what it has committed: both are the GC's.
        IEnumerable<(ulong Start, ulong End)> seen = runtime.Heap.Segments.SelectMany(s => new[]
        {
            (s.CommittedMemory.Start, s.CommittedMemory.End),
            (s.ReservedMemory.Start, s.ReservedMemory.End),
        });
        if (!_freeRegionsRead)
        {
            seen = seen.Concat(runtime.EnumerateClrNativeHeaps().Where(h => h.Kind is NativeHeapKind.GCFreeRegion or NativeHeapKind.GCBookkeeping)
                .Select(h => (h.MemoryRange.Start, h.MemoryRange.End)));
            _freeRegionsRead = true;
        }
        _known = Merged(_known.Concat(seen));
        return _known;
    }

    private static List<(ulong Start, ulong End)> Merged(IEnumerable<(ulong Start, ulong End)> ranges)
    {
        var merged = new List<(ulong Start, ulong End)>();
        foreach ((ulong start, ulong end) in ranges.Where(r => r.End > r.Start).OrderBy(r => r.Start))
        {
            if (merged.Count > 0 && start <= merged[^1].End)
                merged[^1] = (merged[^1].Start, Math.Max(merged[^1].End, end));
            else
                merged.Add((start, end));
        }
        return merged;
    }
}
