using System.Numerics;

namespace LeakHunter.Inspector.Paths;

/// <summary>
/// Where the heap's objects start, one bit per pointer-sized slot of each segment's objects, with the count of
/// objects before every 4 KiB of them: an address's node (its rank in address order) in constant time, with no
/// search, and for about a byte per object where a sorted array of addresses takes eight.
/// </summary>
internal sealed class ObjectIndex
{
    private const int WordsPerBlock = 8;

    // Segments are found by the 4 MiB unit of the address: a region's size and alignment. A heap whose segments lie
    // farther apart than this many units (some terabytes) is searched by segment instead.
    private const int UnitShift = 22;
    private const long MaxUnits = 1 << 22;

    private readonly int _slotShift;
    private readonly ulong[] _segmentStarts;
    private readonly ulong[] _segmentEnds;
    private readonly long[] _segmentWords;
    private readonly ulong[] _bits;
    private readonly int[] _blockRanks;
    private readonly ulong _unitBase;
    private readonly int[]? _unitSegments;

    /// <param name="ranges">The object ranges of the heap's segments, in address order, none empty.</param>
    /// <param name="pointerSize">The process's pointer size: objects start at multiples of it.</param>
    public ObjectIndex(IReadOnlyList<(ulong Start, ulong End)> ranges, int pointerSize)
    {
        _slotShift = BitOperations.Log2((uint)pointerSize);
        _segmentStarts = ranges.Select(r => r.Start).ToArray();
        _segmentEnds = ranges.Select(r => r.End).ToArray();
        _segmentWords = new long[ranges.Count + 1];
        for (int s = 0; s < ranges.Count; s++)
        {
            long slots = (long)((ranges[s].End - ranges[s].Start) >> _slotShift) + 1;
            long words = (slots + 63) / 64;
            // Whole blocks per segment, so a block's rank never spans two segments.
            _segmentWords[s + 1] = _segmentWords[s] + (words + WordsPerBlock - 1) / WordsPerBlock * WordsPerBlock;
        }
        _bits = new ulong[_segmentWords[^1]];
        _blockRanks = new int[_bits.Length / WordsPerBlock + 1];

        if (ranges.Count > 0)
        {
            _unitBase = ranges[0].Start >> UnitShift << UnitShift;
            long units = (long)((ranges[^1].End - 1 - _unitBase) >> UnitShift) + 1;
            if (units <= MaxUnits)
            {
                _unitSegments = new int[units];
                int segment = 0;
                for (long unit = 0; unit < units; unit++)
                {
                    ulong unitStart = _unitBase + ((ulong)unit << UnitShift);
                    while (segment < ranges.Count && _segmentEnds[segment] <= unitStart)
                        segment++;
                    _unitSegments[unit] = segment;
                }
            }
        }
    }

    /// <summary>An empty index over the object ranges of <paramref name="runtime"/>'s heap segments, for a walk to fill.</summary>
    public static ObjectIndex ForHeap(Microsoft.Diagnostics.Runtime.ClrRuntime runtime)
    {
        (ulong Start, ulong End)[] ranges = runtime.Heap.Segments.Select(s => s.ObjectRange).Where(r => r.Length != 0).OrderBy(r => r.Start)
            .Select(r => (r.Start, r.End)).ToArray();
        return new ObjectIndex(ranges, runtime.DataTarget.DataReader.PointerSize);
    }

    /// <summary>Objects indexed, as a node number can count them: <see cref="Objects"/> when that is at most <see cref="int.MaxValue"/>.</summary>
    public int Count => (int)Math.Min(Objects, int.MaxValue);

    /// <summary>Objects indexed; past <see cref="int.MaxValue"/>, <see cref="Contains"/> still answers, but nodes are not numbered.</summary>
    public long Objects { get; private set; }

    public long MemoryBytes => _bits.LongLength * sizeof(ulong) + _blockRanks.LongLength * sizeof(int) + (_unitSegments?.LongLength ?? 0) * sizeof(int);

    /// <summary>Notes an object start; called in address order, every object once, before any lookup.</summary>
    public void Add(ulong address)
    {
        int segment = SegmentOf(address);
        if (segment < 0)
            return;
        long slot = (long)((address - _segmentStarts[segment]) >> _slotShift);
        _bits[_segmentWords[segment] + (slot >> 6)] |= 1UL << (int)(slot & 63);
        Objects++;
    }

    /// <summary>Counts the objects before each block: after the last <see cref="Add"/>, before the first lookup.</summary>
    public void Seal()
    {
        long rank = 0;
        for (int block = 0; block < _blockRanks.Length - 1; block++)
        {
            _blockRanks[block] = (int)Math.Min(rank, int.MaxValue);
            for (int word = block * WordsPerBlock; word < (block + 1) * WordsPerBlock; word++)
                rank += BitOperations.PopCount(_bits[word]);
        }
        _blockRanks[^1] = (int)Math.Min(rank, int.MaxValue);
    }

    /// <summary>The node of the object starting at <paramref name="address"/>, or -1 when none does.</summary>
    public int IndexOf(ulong address)
    {
        long word = WordOf(address, out int bit);
        if (word < 0)
            return -1;
        ulong below = _bits[word] & ((2UL << bit) - 1);
        if ((below >> bit) == 0)
            return -1;
        long first = word / WordsPerBlock * WordsPerBlock;
        int rank = _blockRanks[word / WordsPerBlock];
        for (long w = first; w < word; w++)
            rank += BitOperations.PopCount(_bits[w]);
        return rank + BitOperations.PopCount(below) - 1;
    }

    /// <summary>Whether an object starts at <paramref name="address"/>: <see cref="IndexOf"/> without counting the objects before it.</summary>
    public bool Contains(ulong address) => WordOf(address, out int bit) is var word && word >= 0 && (_bits[word] & (1UL << bit)) != 0;

    /// <summary>The word of the bitmap that holds <paramref name="address"/>'s slot, and its bit; -1 outside every segment or between slots.</summary>
    private long WordOf(ulong address, out int bit)
    {
        bit = 0;
        int segment = SegmentOf(address);
        if (segment < 0 || (address & ((1UL << _slotShift) - 1)) != 0)
            return -1;
        long slot = (long)((address - _segmentStarts[segment]) >> _slotShift);
        bit = (int)(slot & 63);
        return _segmentWords[segment] + (slot >> 6);
    }

    /// <summary>The address of node <paramref name="node"/>.</summary>
    public ulong AddressOf(int node)
    {
        if ((uint)node >= (uint)Count)
            throw new ArgumentOutOfRangeException(nameof(node), node, $"The heap has {Count:N0} objects.");
        // The last block with fewer objects before it than the node's rank holds it.
        int low = 0, high = _blockRanks.Length - 2;
        while (low < high)
        {
            int middle = (low + high + 1) / 2;
            if (_blockRanks[middle] <= node)
                low = middle;
            else
                high = middle - 1;
        }
        int left = node - _blockRanks[low];
        for (long word = (long)low * WordsPerBlock; ; word++)
        {
            int inWord = BitOperations.PopCount(_bits[word]);
            if (left < inWord)
                return AddressAt(word, NthSetBit(_bits[word], left));
            left -= inWord;
        }
    }

    /// <summary>Every object's address, in node order.</summary>
    public IEnumerable<ulong> Addresses()
    {
        for (long word = 0; word < _bits.LongLength; word++)
        {
            for (ulong bits = _bits[word]; bits != 0; bits &= bits - 1)
                yield return AddressAt(word, BitOperations.TrailingZeroCount(bits));
        }
    }

    private ulong AddressAt(long word, int bit)
    {
        // The last segment whose words start at or before this one.
        int segment = Array.BinarySearch(_segmentWords, word);
        segment = segment >= 0 ? segment : ~segment - 1;
        long slot = (word - _segmentWords[segment]) * 64 + bit;
        return _segmentStarts[segment] + ((ulong)slot << _slotShift);
    }

    private static int NthSetBit(ulong bits, int n)
    {
        for (int i = 0; i < n; i++)
            bits &= bits - 1;
        return BitOperations.TrailingZeroCount(bits);
    }

    private int SegmentOf(ulong address)
    {
        int segment;
        if (_unitSegments is not null)
        {
            if (address < _unitBase)
                return -1;
            ulong unit = (address - _unitBase) >> UnitShift;
            if (unit >= (ulong)_unitSegments.Length)
                return -1;
            segment = _unitSegments[unit];
            while (segment < _segmentEnds.Length && _segmentEnds[segment] <= address)
                segment++;
        }
        else
        {
            segment = Array.BinarySearch(_segmentEnds, address);
            segment = segment >= 0 ? segment + 1 : ~segment;
        }
        return segment < _segmentStarts.Length && _segmentStarts[segment] <= address && address < _segmentEnds[segment] ? segment : -1;
    }
}
