using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using LeakHunter.Census;
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
    private const int WindowBytes = 4 << 20;
    private const ulong PageMask = 4095;
    private const int ObjectHeaderBytes = 16;
    private const ulong MinObjectSize = 24;
    private const int RecentSlots = 4096;

    // The EE-GC contract: the MethodTable starts with { uint flags (low 16 bits: component size), uint baseSize }.
    private const uint HasComponentSizeFlag = 0x80000000;
    private const uint CollectibleFlag = 0x00200000;

    private readonly TypeTable _types;
    private readonly Dictionary<ulong, MethodTableInfo> _methodTables = new();
    private readonly List<ulong> _collectibleMethodTables = new();
    // The type indices that count items, each with the collection type whose items they are.
    private readonly Dictionary<int, int> _collectionOfItems = new();
    // ClrMD's type lookups and the tables above are shared by the workers; the hot loop never takes this lock.
    private readonly Lock _resolveGate = new();
    private readonly ScanWorker[] _workers;

    public HeapScanner(TypeTable types)
    {
        _types = types;
        // The process under test is stopped while the scan runs, so every core is ours to use.
        _workers = Enumerable.Range(0, Math.Clamp(Environment.ProcessorCount, 1, 4)).Select(_ => new ScanWorker()).ToArray();
    }

    /// <summary>Type indices handed out so far: every index a walk reports is below it.</summary>
    public int TypeCount => _types.Count;

    public ScanTotals Scan(ClrRuntime runtime, Histogram histogram)
    {
        ClrHeap heap = runtime.Heap;
        (ulong[] contextStarts, ulong[] contextEnds) = StartWalk(heap);
        // Largest first, so no worker is left with one big segment while the others idle.
        MemoryRange[] ranges = heap.Segments.Select(s => s.ObjectRange).Where(r => r.Length != 0).OrderByDescending(r => r.Length).ToArray();
        IDataReader reader = runtime.DataTarget.DataReader;

        foreach (ScanWorker worker in _workers)
            worker.StartCensus(_types.Count);
        int nextRange = -1;
        Parallel.For(0, Math.Min(_workers.Length, Math.Max(1, ranges.Length)), new ParallelOptions { MaxDegreeOfParallelism = _workers.Length }, w =>
        {
            ScanWorker worker = _workers[w];
            var counter = new CensusCounter(worker.Histogram);
            for (int r; (r = Interlocked.Increment(ref nextRange)) < ranges.Length;)
                ScanRange(worker, heap, reader, ranges[r].Start, ranges[r].End, contextStarts, contextEnds, ref counter);
        });

        ulong unreadable = 0;
        histogram.EnsureCapacity(_types.Count);
        foreach (ScanWorker worker in _workers)
        {
            histogram.AddAll(worker.Histogram);
            unreadable += worker.UnreadableBytes;
        }
        long items = _collectionOfItems.Keys.Sum(histogram.CountOf);
        return new ScanTotals { Objects = histogram.TotalObjects - items, Bytes = histogram.TotalBytes, UnreadableBytes = unreadable };
    }

    /// <summary>Whether <paramref name="typeIndex"/> counts the items of a collection type, and which.</summary>
    public bool CountsItemsOf(int typeIndex, out int collectionType)
    {
        lock (_resolveGate)
            return _collectionOfItems.TryGetValue(typeIndex, out collectionType);
    }

    /// <summary>The items in the collection at <paramref name="address"/>, or null where it is none whose items are counted.</summary>
    public long? ItemsIn(IDataReader reader, ulong address)
    {
        Span<byte> bytes = stackalloc byte[256];
        if (reader.Read(address, bytes[..sizeof(ulong)]) != sizeof(ulong))
            return null;
        MethodTableInfo info;
        lock (_resolveGate)
        {
            if (!_methodTables.TryGetValue(MemoryMarshal.Read<ulong>(bytes) & ~3UL, out info))
                return null;
        }
        if (info.ItemsIndex < 0 || info.Items.Span > bytes.Length || reader.Read(address, bytes[..info.Items.Span]) != info.Items.Span)
            return null;
        return info.Items.Items(bytes);
    }

    /// <summary>
    /// Visits every live-or-not-yet-collected object once, in address order, on one thread, with the whole
    /// object's bytes at hand. Free space is skipped.
    /// </summary>
    public ulong Walk<TVisitor>(ClrRuntime runtime, ref TVisitor visitor) where TVisitor : struct, IObjectVisitor
    {
        ClrHeap heap = runtime.Heap;
        (ulong[] contextStarts, ulong[] contextEnds) = StartWalk(heap);
        ScanWorker worker = _workers[0];
        worker.StartCensus(_types.Count);
        foreach (MemoryRange range in heap.Segments.Select(s => s.ObjectRange).Where(r => r.Length != 0).OrderBy(r => r.Start))
            ScanRange(worker, heap, runtime.DataTarget.DataReader, range.Start, range.End, contextStarts, contextEnds, ref visitor);
        return worker.UnreadableBytes;
    }

    /// <summary>Checks that the heap can be walked now, and returns its allocation contexts, sorted, to step over.</summary>
    private (ulong[] Starts, ulong[] Ends) StartWalk(ClrHeap heap)
    {
        if (!heap.CanWalkHeap)
            throw new InspectorException(LeakHunter.Census.InspectorStatus.HeapNotWalkable,
                "The heap of the process under test was caught in the middle of a garbage collection, again and again, and could not be walked.");
        ForgetCollectibleMethodTables();
        return AllocationContexts(heap);
    }

    /// <remarks>
    /// Each thread's context is taken from the thread itself as well as from the heap: ClrMD's heap enumeration
    /// leaves out a context that is used up (its pointer at its limit), yet the GC still keeps one free object's room
    /// after it unformatted. Missing it loses the object chain there, and with it every object the region's threads
    /// allocate after it until the next GC: counts that stop growing on a live process that is still allocating.
    /// </remarks>
    private static (ulong[] Starts, ulong[] Ends) AllocationContexts(ClrHeap heap)
    {
        MemoryRange[] contexts = heap.EnumerateAllocationContexts()
            .Concat(heap.Runtime.Threads.Select(t => t.AllocationContext))
            .Where(r => r.Start != 0 && r.End >= r.Start)
            .GroupBy(r => r.Start)
            .Select(g => new MemoryRange(g.Key, g.Max(r => r.End)))
            .OrderBy(r => r.Start).ToArray();
        return (contexts.Select(r => r.Start).ToArray(), contexts.Select(r => r.End).ToArray());
    }

    private void ForgetCollectibleMethodTables()
    {
        foreach (ulong methodTable in _collectibleMethodTables)
            _methodTables.Remove(methodTable);
        _collectibleMethodTables.Clear();
    }

    private void ScanRange<TVisitor>(ScanWorker worker, ClrHeap heap, IDataReader reader, ulong start, ulong end,
        ulong[] contextStarts, ulong[] contextEnds, ref TVisitor visitor) where TVisitor : struct, IObjectVisitor
    {
        int nextContext = Array.BinarySearch(contextStarts, start);
        if (nextContext < 0)
            nextContext = ~nextContext;
        ulong nextContextStart = nextContext < contextStarts.Length ? contextStarts[nextContext] : ulong.MaxValue;

        MethodTableInfo[] recent = worker.Recent;
        ulong windowStart = 0, windowEnd = 0;
        ulong address = start;
        byte* window = worker.Window;
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
                if (end - address < ObjectHeaderBytes)
                    break;
                // Read from the start of the object's page into the page-aligned window: a read whose source and
                // destination sit at different offsets in their pages copies at a third of the speed.
                ulong from = address & ~PageMask;
                int length = (int)Math.Min((ulong)WindowBytes, end - from);
                int read = reader.Read(from, new Span<byte>(window, length));
                if (read < (int)(address - from) + ObjectHeaderBytes)
                {
                    worker.UnreadableBytes += end - address;
                    break;
                }
                windowStart = from;
                windowEnd = from + (ulong)read;
            }

            byte* header = window + (address - windowStart);
            ulong methodTable = *(ulong*)header & ~3UL;
            if (methodTable == 0)
            {
                // Zeroed memory where an object should start: an allocation caught between moving its thread's
                // allocation pointer and writing the MethodTable, or the room the GC keeps after a context. It is
                // nobody's object yet; the next one starts after the zeros.
                address += sizeof(ulong);
                continue;
            }
            ref MethodTableInfo info = ref recent[(int)(methodTable >> 3) & (RecentSlots - 1)];
            if (info.MethodTable != methodTable)
            {
                MethodTableInfo resolved;
                ulong next = 0;
                lock (_resolveGate)
                {
                    if (TryResolve(heap, reader, methodTable, out resolved))
                        worker.Histogram.EnsureCapacity(_types.Count);
                    else
                        next = heap.FindNextObjectOnSegment(address);
                }
                if (resolved.MethodTable == 0)
                {
                    // Lost the object chain (a torn gap or an unformatted area): ClrMD found the next valid object.
                    if (next == 0 || next <= address || next >= end)
                    {
                        worker.UnreadableBytes += end - address;
                        break;
                    }
                    worker.UnreadableBytes += next - address;
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
            {
                if (info.ItemsIndex >= 0 && typeof(TVisitor) == typeof(CensusCounter))
                    worker.Histogram.AddItems(info.ItemsIndex, ItemsAt(reader, info.Items, address, header, windowEnd));
                if (!TVisitor.NeedsWholeObject)
                {
                    visitor.Visit(address, info.MethodTable, info.TypeIndex, size, default);
                }
                else if (address + size <= windowEnd)
                {
                    visitor.Visit(address, info.MethodTable, info.TypeIndex, size, new ReadOnlySpan<byte>(header, (int)size));
                }
                else if (size + (address & PageMask) <= WindowBytes && windowStart != (address & ~PageMask))
                {
                    // The object runs past the window: read again from its start.
                    windowEnd = 0;
                    continue;
                }
                else
                {
                    byte[] large = GC.AllocateUninitializedArray<byte>(checked((int)size));
                    if (reader.Read(address, large) == large.Length)
                        visitor.Visit(address, info.MethodTable, info.TypeIndex, size, large);
                    else
                        worker.UnreadableBytes += size;
                }
            }
            address += size;
        }
    }

    /// <summary>The items of the collection at <paramref name="address"/>, from the window where its fields are in it.</summary>
    private static long ItemsAt(IDataReader reader, ItemCounter counter, ulong address, byte* header, ulong windowEnd)
    {
        if (address + (ulong)counter.Span <= windowEnd)
            return counter.Items(new ReadOnlySpan<byte>(header, counter.Span));
        Span<byte> fields = stackalloc byte[counter.Span];
        return reader.Read(address, fields) == fields.Length ? counter.Items(fields) : 0;
    }

    private bool TryResolve(ClrHeap heap, IDataReader reader, ulong methodTable, out MethodTableInfo info)
    {
        if (_methodTables.TryGetValue(methodTable, out info))
            return true;

        Span<uint> gcHeader = stackalloc uint[2];
        if (reader.Read(methodTable, MemoryMarshal.AsBytes(gcHeader)) != sizeof(ulong))
            return false;
        ClrType? type = heap.GetTypeByMethodTable(methodTable);
        if (type is null || gcHeader[1] < ObjectHeaderBytes)
            return false;

        uint flags = gcHeader[0];
        int typeIndex = type.IsFree ? -1 : _types.GetIndex(type.Name ?? $"<unknown type 0x{methodTable:x}>");
        (int itemsIndex, ItemCounter items) = (-1, default);
        if (typeIndex >= 0 && ItemCounter.For(type) is ItemCounter counter && counter.Span <= 256)
        {
            (itemsIndex, items) = (_types.GetIndex(ItemCounts.Of(type.Name!)), counter);
            _collectionOfItems[itemsIndex] = typeIndex;
        }
        info = new MethodTableInfo(methodTable, gcHeader[1], (flags & HasComponentSizeFlag) != 0 ? flags & 0xFFFF : 0, typeIndex, itemsIndex, items);
        _methodTables.Add(methodTable, info);
        if ((flags & CollectibleFlag) != 0)
            _collectibleMethodTables.Add(methodTable);
        return true;
    }

    /// <summary>Counts each object into one worker's histogram; needs only the header.</summary>
    private readonly struct CensusCounter(Histogram histogram) : IObjectVisitor
    {
        public static bool NeedsWholeObject => false;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Visit(ulong address, ulong methodTable, int typeIndex, ulong size, ReadOnlySpan<byte> objectBytes) =>
            histogram.Add(typeIndex, (long)size);
    }

    private readonly record struct MethodTableInfo(ulong MethodTable, ulong BaseSize, ulong ComponentSize, int TypeIndex, int ItemsIndex = -1, ItemCounter Items = default);

    /// <summary>One scanning thread's window, type cache and counts, kept for the inspector's life.</summary>
    private sealed class ScanWorker
    {
        // Page aligned, and kept for the inspector's life as the worker is.
        public readonly byte* Window = (byte*)NativeMemory.AlignedAlloc(WindowBytes, (nuint)(PageMask + 1));
        public readonly MethodTableInfo[] Recent = new MethodTableInfo[RecentSlots];
        public Histogram Histogram = new();
        public ulong UnreadableBytes;

        public void StartCensus(int typeCount)
        {
            // Collectible types may have been unloaded since the last census, and their addresses reused.
            Array.Clear(Recent);
            Histogram = new Histogram();
            Histogram.EnsureCapacity(typeCount);
            UnreadableBytes = 0;
        }
    }
}

/// <summary>What a heap walk does with each object it finds.</summary>
internal interface IObjectVisitor
{
    /// <summary>Whether <see cref="Visit"/> needs the object's bytes, or only its address, type and size.</summary>
    static abstract bool NeedsWholeObject { get; }

    void Visit(ulong address, ulong methodTable, int typeIndex, ulong size, ReadOnlySpan<byte> objectBytes);
}

internal struct ScanTotals
{
    public long Objects;
    public long Bytes;
    public ulong UnreadableBytes;

    /// <summary>What could not be read while counting, each kind once with its count; null when nothing failed.</summary>
    public IReadOnlyList<string>? Warnings;
}
