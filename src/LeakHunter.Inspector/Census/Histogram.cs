using System.Runtime.CompilerServices;

namespace LeakHunter.Inspector.Census;

/// <summary>Type names, each given a dense index so a census is two arrays rather than a dictionary.</summary>
internal sealed class TypeTable
{
    private readonly Dictionary<string, int> _indexByName = new(StringComparer.Ordinal);
    private readonly List<string> _names = new();

    public int Count => _names.Count;

    public string this[int index] => _names[index];

    public int GetIndex(string name)
    {
        if (!_indexByName.TryGetValue(name, out int index))
        {
            index = _names.Count;
            _names.Add(name);
            _indexByName.Add(name, index);
        }
        return index;
    }
}

/// <summary>Live objects of one census: count and bytes per type index.</summary>
internal sealed class Histogram
{
    private long[] _counts = new long[1024];
    private long[] _bytes = new long[1024];

    public int Length { get; private set; }

    /// <summary>Makes room for every type index below <paramref name="typeCount"/>, so the scan's hot loop adds without checks.</summary>
    public void EnsureCapacity(int typeCount)
    {
        if (typeCount > _counts.Length)
        {
            int length = Math.Max(_counts.Length * 2, typeCount);
            Array.Resize(ref _counts, length);
            Array.Resize(ref _bytes, length);
        }
        Length = Math.Max(Length, typeCount);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Add(int typeIndex, long size)
    {
        _counts[typeIndex]++;
        _bytes[typeIndex] += size;
    }

    /// <summary>Adds <paramref name="count"/> items, which take no bytes of their own: their collection's array has them.</summary>
    public void AddItems(int typeIndex, long count) => _counts[typeIndex] += count;

    public void AddAll(Histogram other)
    {
        EnsureCapacity(other.Length);
        for (int i = 0; i < other.Length; i++)
        {
            _counts[i] += other._counts[i];
            _bytes[i] += other._bytes[i];
        }
    }

    public long CountOf(int typeIndex) => typeIndex < Length ? _counts[typeIndex] : 0;

    public long BytesOf(int typeIndex) => typeIndex < Length ? _bytes[typeIndex] : 0;

    public long TotalObjects => Sum(_counts.AsSpan(0, Length));

    public long TotalBytes => Sum(_bytes.AsSpan(0, Length));

    private static long Sum(ReadOnlySpan<long> values)
    {
        long sum = 0;
        foreach (long value in values)
            sum += value;
        return sum;
    }
}
