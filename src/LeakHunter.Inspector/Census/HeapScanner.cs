using System.Runtime.CompilerServices;
using Microsoft.Diagnostics.Runtime;

namespace LeakHunter.Inspector.Census;

/// <summary>
/// Counts objects by type with one bulk read per heap window instead of one read per object:
/// ClrMD's object-by-object enumeration costs several full GCs on a large heap, a linear parse of
/// the segments' bytes costs less than one.
/// </summary>
internal sealed unsafe class HeapScanner
{
    private const int WindowBytes = 8 << 20;
    private const int ObjectHeaderBytes = 16;
    private const ulong MinObjectSize = 24;

    private readonly TypeTable _types;
    private readonly Dictionary<ulong, MethodTableInfo> _methodTables = new();
    private readonly byte[] _window = GC.AllocateUninitializedArray<byte>(WindowBytes, pinned: true);

    public HeapScanner(TypeTable types) => _types = types;

    public ScanTotals Scan(ClrRuntime runtime, Histogram histogram)
    {
        ClrHeap heap = runtime.Heap;
        if (!heap.CanWalkHeap)
            throw new InspectorException(LeakHunter.Census.InspectorStatus.HeapNotWalkable,
                "The heap of the process under test was caught in the middle of a garbage collection, again and again, and could not be walked.");

        // MethodTables stay valid across censuses, but a new runtime instance means new ClrType objects.
        _methodTables.Clear();
        ulong[] contextStarts = heap.EnumerateAllocationContexts().Select(r => r.Start).Where(s => s != 0).ToArray();
        ulong[] contextEnds = new ulong[contextStarts.Length];
        Dictionary<ulong, ulong> ends = heap.EnumerateAllocationContexts().Where(r => r.Start != 0)
            .GroupBy(r => r.Start).ToDictionary(g => g.Key, g => g.First().End);
        Array.Sort(contextStarts);
        for (int i = 0; i < contextStarts.Length; i++)
            contextEnds[i] = ends[contextStarts[i]];

        IDataReader reader = runtime.DataTarget.DataReader;
        var totals = new ScanTotals();
        foreach (ClrSegment segment in heap.Segments)
        {
            MemoryRange range = segment.ObjectRange;
            if (range.Length == 0)
                continue;
            ScanSegment(heap, reader, segment, range.Start, range.End, contextStarts, contextEnds, histogram, ref totals);
        }

        return totals;
    }

    private void ScanSegment(ClrHeap heap, IDataReader reader, ClrSegment segment, ulong start, ulong end,
        ulong[] contextStarts, ulong[] contextEnds, Histogram histogram, ref ScanTotals totals)
    {
        int nextContext = Array.BinarySearch(contextStarts, start);
        if (nextContext < 0)
            nextContext = ~nextContext;

        ulong windowStart = 0, windowEnd = 0;
        ulong address = start;
        fixed (byte* window = _window)
        {
            while (address < end)
            {
                while (nextContext < contextStarts.Length && contextStarts[nextContext] < address)
                    nextContext++;
                if (nextContext < contextStarts.Length && contextStarts[nextContext] == address)
                {
                    // An allocation context is not yet formatted as objects; the GC keeps one free object's room after it.
                    address = contextEnds[nextContext] + MinObjectSize;
                    nextContext++;
                    continue;
                }

                if (address + ObjectHeaderBytes > windowEnd)
                {
                    int length = (int)Math.Min((ulong)WindowBytes, end - address);
                    if (length < ObjectHeaderBytes)
                        break;
                    int read = reader.Read(address, new Span<byte>(window, length));
                    if (read < ObjectHeaderBytes)
                    {
                        totals.UnreadableBytes += end - address;
                        break;
                    }
                    windowStart = address;
                    windowEnd = address + (ulong)read;
                }

                byte* header = window + (address - windowStart);
                ulong methodTable = *(ulong*)header & ~3UL;
                if (!TryGetMethodTable(heap, methodTable, out MethodTableInfo info))
                {
                    // Lost the object chain (a torn gap or an unformatted area): let ClrMD find the next valid object.
                    ulong next = heap.FindNextObjectOnSegment(address);
                    if (next == 0 || next <= address || next >= end)
                    {
                        totals.UnreadableBytes += end - address;
                        break;
                    }
                    totals.UnreadableBytes += next - address;
                    address = next;
                    continue;
                }

                ulong size = info.BaseSize;
                if (info.ComponentSize != 0)
                    size += (ulong)info.ComponentSize * *(uint*)(header + 8);
                size = (size + 7) & ~7UL;

                if (info.TypeIndex >= 0)
                {
                    histogram.Add(info.TypeIndex, (long)size);
                    totals.Objects++;
                    totals.Bytes += (long)size;
                }
                address += size;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool TryGetMethodTable(ClrHeap heap, ulong methodTable, out MethodTableInfo info)
    {
        if (_methodTables.TryGetValue(methodTable, out info))
            return true;
        if (methodTable == 0)
            return false;

        ClrType? type = heap.GetTypeByMethodTable(methodTable);
        if (type is null || type.StaticSize <= 0)
            return false;

        int typeIndex = type.IsFree ? -1 : _types.GetIndex(type.Name ?? $"<unknown type 0x{methodTable:x}>");
        ulong baseSize = (ulong)type.StaticSize;
        // ClrMD leaves out a string's terminating char, which the runtime allocates (and ClrObject.Size adds back).
        if (type.IsString)
            baseSize += sizeof(char);
        info = new MethodTableInfo(baseSize, (uint)type.ComponentSize, typeIndex);
        _methodTables.Add(methodTable, info);
        return true;
    }

    private readonly record struct MethodTableInfo(ulong BaseSize, uint ComponentSize, int TypeIndex);
}

internal struct ScanTotals
{
    public long Objects;
    public long Bytes;
    public ulong UnreadableBytes;
}
