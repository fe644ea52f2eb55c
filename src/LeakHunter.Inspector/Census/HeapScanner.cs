using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.Diagnostics.Runtime;

namespace LeakHunter.Inspector.Census;

/// <summary>
/// Counts objects by type with one bulk read per heap window instead of one read per object:
/// ClrMD's object-by-object enumeration costs several full GCs on a large heap, a linear parse of
/// the segments' bytes costs less than one.
/// </summary>
/// <remarks>
/// Sizes come from the MethodTable's GC-visible header (flags, component size, base size), the same
/// fields the GC itself reads. Names come from ClrMD, once per MethodTable for the life of the inspector:
/// a non-collectible MethodTable is never freed, so its address names the same type in every census.
/// Collectible types can be unloaded and their addresses reused, so they are looked up again each census.
/// </remarks>
internal sealed unsafe class HeapScanner
{
    private const int WindowBytes = 8 << 20;
    private const int ObjectHeaderBytes = 16;
    private const ulong MinObjectSize = 24;
    private const int RecentSlots = 4096;

    // The EE-GC contract: the MethodTable starts with { uint flags (low 16 bits: component size), uint baseSize }.
    private const uint HasComponentSizeFlag = 0x80000000;
    private const uint CollectibleFlag = 0x00200000;

    private readonly TypeTable _types;
    private readonly Dictionary<ulong, MethodTableInfo> _methodTables = new();
    private readonly List<ulong> _collectibleMethodTables = new();
    private readonly MethodTableInfo[] _recent = new MethodTableInfo[RecentSlots];
    private readonly byte[] _window = GC.AllocateUninitializedArray<byte>(WindowBytes, pinned: true);

    public HeapScanner(TypeTable types) => _types = types;

    public ScanTotals Scan(ClrRuntime runtime, Histogram histogram)
    {
        ClrHeap heap = runtime.Heap;
        if (!heap.CanWalkHeap)
            throw new InspectorException(LeakHunter.Census.InspectorStatus.HeapNotWalkable,
                "The heap of the process under test was caught in the middle of a garbage collection, again and again, and could not be walked.");

        ForgetCollectibleMethodTables();
        histogram.EnsureCapacity(_types.Count);
        (ulong[] contextStarts, ulong[] contextEnds) = AllocationContexts(heap);

        var context = new ScanContext(heap, runtime.DataTarget.DataReader, histogram);
        foreach (ClrSegment segment in heap.Segments)
        {
            MemoryRange range = segment.ObjectRange;
            if (range.Length != 0)
                ScanSegment(ref context, range.Start, range.End, contextStarts, contextEnds);
        }

        return new ScanTotals { Objects = histogram.TotalObjects, Bytes = histogram.TotalBytes, UnreadableBytes = context.UnreadableBytes };
    }

    private static (ulong[] Starts, ulong[] Ends) AllocationContexts(ClrHeap heap)
    {
        MemoryRange[] contexts = heap.EnumerateAllocationContexts().Where(r => r.Start != 0)
            .DistinctBy(r => r.Start).OrderBy(r => r.Start).ToArray();
        return (contexts.Select(r => r.Start).ToArray(), contexts.Select(r => r.End).ToArray());
    }

    private void ForgetCollectibleMethodTables()
    {
        foreach (ulong methodTable in _collectibleMethodTables)
            _methodTables.Remove(methodTable);
        _collectibleMethodTables.Clear();
        Array.Clear(_recent);
    }

    private void ScanSegment(ref ScanContext context, ulong start, ulong end, ulong[] contextStarts, ulong[] contextEnds)
    {
        int nextContext = Array.BinarySearch(contextStarts, start);
        if (nextContext < 0)
            nextContext = ~nextContext;
        ulong nextContextStart = nextContext < contextStarts.Length ? contextStarts[nextContext] : ulong.MaxValue;

        MethodTableInfo[] recent = _recent;
        Histogram histogram = context.Histogram;
        ulong windowStart = 0, windowEnd = 0;
        ulong address = start;
        fixed (byte* window = _window)
        {
            while (address < end)
            {
                if (address >= nextContextStart)
                {
                    if (address == nextContextStart)
                    {
                        // An allocation context is not yet formatted as objects; the GC keeps one free object's room after it.
                        address = contextEnds[nextContext] + MinObjectSize;
                    }
                    nextContext++;
                    nextContextStart = nextContext < contextStarts.Length ? contextStarts[nextContext] : ulong.MaxValue;
                    continue;
                }

                if (address + ObjectHeaderBytes > windowEnd)
                {
                    int length = (int)Math.Min((ulong)WindowBytes, end - address);
                    if (length < ObjectHeaderBytes)
                        break;
                    int read = context.Reader.Read(address, new Span<byte>(window, length));
                    if (read < ObjectHeaderBytes)
                    {
                        context.UnreadableBytes += end - address;
                        break;
                    }
                    windowStart = address;
                    windowEnd = address + (ulong)read;
                }

                byte* header = window + (address - windowStart);
                ulong methodTable = *(ulong*)header & ~3UL;
                ref MethodTableInfo info = ref recent[(int)(methodTable >> 3) & (RecentSlots - 1)];
                if (info.MethodTable != methodTable || methodTable == 0)
                {
                    if (!TryResolve(ref context, methodTable, out MethodTableInfo resolved))
                    {
                        // Lost the object chain (a torn gap or an unformatted area): let ClrMD find the next valid object.
                        ulong next = context.Heap.FindNextObjectOnSegment(address);
                        if (next == 0 || next <= address || next >= end)
                        {
                            context.UnreadableBytes += end - address;
                            break;
                        }
                        context.UnreadableBytes += next - address;
                        address = next;
                        continue;
                    }
                    info = resolved;
                }

                ulong size = info.BaseSize;
                if (info.ComponentSize != 0)
                    size += info.ComponentSize * *(uint*)(header + 8);
                size = (size + 7) & ~7UL;

                if (info.TypeIndex >= 0)
                    histogram.Add(info.TypeIndex, (long)size);
                address += size;
            }
        }
    }

    private bool TryResolve(ref ScanContext context, ulong methodTable, out MethodTableInfo info)
    {
        if (_methodTables.TryGetValue(methodTable, out info))
            return true;
        if (methodTable == 0)
            return false;

        Span<uint> gcHeader = stackalloc uint[2];
        if (context.Reader.Read(methodTable, MemoryMarshal.AsBytes(gcHeader)) != sizeof(ulong))
            return false;
        ClrType? type = context.Heap.GetTypeByMethodTable(methodTable);
        if (type is null || gcHeader[1] < ObjectHeaderBytes)
            return false;

        uint flags = gcHeader[0];
        int typeIndex = type.IsFree ? -1 : _types.GetIndex(type.Name ?? $"<unknown type 0x{methodTable:x}>");
        context.Histogram.EnsureCapacity(_types.Count);
        info = new MethodTableInfo(methodTable, gcHeader[1], (flags & HasComponentSizeFlag) != 0 ? flags & 0xFFFF : 0, typeIndex);
        _methodTables.Add(methodTable, info);
        if ((flags & CollectibleFlag) != 0)
            _collectibleMethodTables.Add(methodTable);
        return true;
    }

    private readonly record struct MethodTableInfo(ulong MethodTable, ulong BaseSize, ulong ComponentSize, int TypeIndex);

    private struct ScanContext(ClrHeap heap, IDataReader reader, Histogram histogram)
    {
        public readonly ClrHeap Heap = heap;
        public readonly IDataReader Reader = reader;
        public readonly Histogram Histogram = histogram;
        public ulong UnreadableBytes;
    }
}

internal struct ScanTotals
{
    public long Objects;
    public long Bytes;
    public ulong UnreadableBytes;
}
