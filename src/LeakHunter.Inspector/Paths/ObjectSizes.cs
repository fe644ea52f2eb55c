namespace LeakHunter.Inspector.Paths;

/// <summary>
/// Each node's size in bytes: in two bytes where it fits, as nearly every object's does, and in a table beside for
/// the rest (arrays and strings of 64 KiB and more, which are few).
/// </summary>
internal sealed class ObjectSizes
{
    private const ushort Large = ushort.MaxValue;

    private readonly ushort[] _small;
    private readonly Dictionary<int, uint> _large = new();

    public ObjectSizes(int count) => _small = new ushort[count];

    public int Count => _small.Length;

    public long MemoryBytes => _small.LongLength * sizeof(ushort) + _large.Count * 24L;

    public uint this[int node]
    {
        get => _small[node] is var size && size != Large ? size : _large[node];
        set
        {
            if (value < Large)
                _small[node] = (ushort)value;
            else
            {
                _small[node] = Large;
                _large[node] = value;
            }
        }
    }

    public static ObjectSizes Of(IReadOnlyList<uint> sizes)
    {
        var result = new ObjectSizes(sizes.Count);
        for (int node = 0; node < sizes.Count; node++)
            result[node] = sizes[node];
        return result;
    }
}
