using System.Buffers.Binary;
using Microsoft.Diagnostics.Runtime;

namespace LeakHunter.Inspector.Paths;

/// <summary>Receives the references an object holds: the referenced address and the offset it was read from.</summary>
internal interface IReferenceSink
{
    void Add(ulong target, int offset);
}

/// <summary>
/// Where an object's references lie, read from the GCDesc that sits just before its MethodTable: the description
/// the GC itself walks. Reading it once per type lets every object be walked in the bytes already read in bulk.
/// </summary>
internal sealed class GcLayout
{
    private const int PointerSize = 8;

    // Positive series count: runs of references at fixed offsets, each as long as the object minus a constant.
    private readonly (long Offset, long SizeLessObject)[] _series;

    // Negative series count (arrays of structs holding references): a repeating pattern of (references, bytes to skip).
    private readonly long _repeatStart;
    private readonly (int Pointers, int Skip)[] _pattern;

    private GcLayout((long, long)[] series, long repeatStart, (int, int)[] pattern)
    {
        _series = series;
        _repeatStart = repeatStart;
        _pattern = pattern;
    }

    public static GcLayout? Read(IDataReader reader, ulong methodTable)
    {
        Span<byte> count = stackalloc byte[PointerSize];
        if (reader.Read(methodTable - PointerSize, count) != PointerSize)
            return null;
        long series = BinaryPrimitives.ReadInt64LittleEndian(count);
        if (series == 0 || Math.Abs(series) > 1 << 16)
            return null;

        if (series > 0)
        {
            // Series descend in memory from just below the count: { size less the object's size, start offset }.
            var data = new byte[series * 2 * PointerSize];
            if (reader.Read(methodTable - PointerSize - (ulong)data.Length, data) != data.Length)
                return null;
            var runs = new (long, long)[series];
            for (int i = 0; i < series; i++)
            {
                int at = data.Length - (i + 1) * 2 * PointerSize;
                runs[i] = (BinaryPrimitives.ReadInt64LittleEndian(data.AsSpan(at + PointerSize)), BinaryPrimitives.ReadInt64LittleEndian(data.AsSpan(at)));
            }
            return new GcLayout(runs, 0, []);
        }

        // One start offset below the count, then the pattern's items descending below it, each { pointers, skip }.
        int items = (int)-series;
        var pattern = new byte[PointerSize + items * PointerSize];
        if (reader.Read(methodTable - PointerSize - (ulong)pattern.Length, pattern) != pattern.Length)
            return null;
        long start = BinaryPrimitives.ReadInt64LittleEndian(pattern.AsSpan(pattern.Length - PointerSize));
        var repeat = new (int, int)[items];
        for (int i = 0; i < items; i++)
        {
            int at = pattern.Length - 2 * PointerSize - i * PointerSize;
            repeat[i] = (BinaryPrimitives.ReadInt32LittleEndian(pattern.AsSpan(at)), BinaryPrimitives.ReadInt32LittleEndian(pattern.AsSpan(at + 4)));
        }
        return new GcLayout([], start, repeat);
    }

    public void Walk<TSink>(ReadOnlySpan<byte> objectBytes, int size, ref TSink sink) where TSink : struct, IReferenceSink
    {
        foreach ((long offset, long sizeLessObject) in _series)
        {
            long stop = Math.Min(offset + sizeLessObject + size, size);
            for (long at = offset; at < stop; at += PointerSize)
                Emit(objectBytes, (int)at, ref sink);
        }

        if (_pattern.Length == 0)
            return;
        long cursor = _repeatStart;
        while (cursor < size - PointerSize)
        {
            foreach ((int pointers, int skip) in _pattern)
            {
                long stop = Math.Min(cursor + pointers * PointerSize, size);
                for (; cursor < stop; cursor += PointerSize)
                    Emit(objectBytes, (int)cursor, ref sink);
                cursor += skip;
            }
        }
    }

    private static void Emit<TSink>(ReadOnlySpan<byte> objectBytes, int offset, ref TSink sink) where TSink : struct, IReferenceSink
    {
        ulong target = BinaryPrimitives.ReadUInt64LittleEndian(objectBytes.Slice(offset));
        if (target != 0)
            sink.Add(target, offset);
    }
}

/// <summary>
/// The layouts of the types met so far (types without references have none), and which types are collectible: the
/// two flags the GC itself reads from a MethodTable.
/// </summary>
internal sealed class GcLayouts(ClrRuntime runtime)
{
    private const uint ContainsPointersFlag = 0x01000000;
    private const uint CollectibleFlag = 0x00200000;
    private readonly IDataReader _reader = runtime.DataTarget.DataReader;
    private readonly Dictionary<ulong, (GcLayout? Layout, bool Collectible)> _byMethodTable = new();

    /// <param name="methodTable">The type's MethodTable.</param>
    /// <param name="collectible">Whether the type comes from a collectible assembly, whose loader allocator its objects keep alive.</param>
    public GcLayout? Get(ulong methodTable, out bool collectible)
    {
        if (!_byMethodTable.TryGetValue(methodTable, out (GcLayout? Layout, bool Collectible) known))
        {
            Span<byte> flags = stackalloc byte[4];
            uint read = _reader.Read(methodTable, flags) == 4 ? BinaryPrimitives.ReadUInt32LittleEndian(flags) : 0;
            known = ((read & ContainsPointersFlag) != 0 ? GcLayout.Read(_reader, methodTable) : null, (read & CollectibleFlag) != 0);
            _byMethodTable[methodTable] = known;
        }
        collectible = known.Collectible;
        return known.Layout;
    }

    /// <summary>The loader allocator and the AssemblyLoadContext of a collectible type; zeros when the runtime does not say.</summary>
    public CollectibleOwner OwnerOf(ulong methodTable)
    {
        ClrType? type = runtime.Heap.GetTypeByMethodTable(methodTable);
        if (type is null || type.LoaderAllocatorHandle == 0)
            return default;
        return new CollectibleOwner(_reader.ReadPointer(type.LoaderAllocatorHandle), type.AssemblyLoadContextAddress);
    }
}

/// <summary>What a collectible type's objects keep alive: its assembly's loader allocator, and through it the AssemblyLoadContext.</summary>
internal readonly record struct CollectibleOwner(ulong LoaderAllocator, ulong Context);

/// <summary>A reference the GC follows that no field holds, and the label it is shown by.</summary>
internal readonly record struct HiddenEdge(int Target, string Field);
