using System.Runtime.InteropServices;

namespace LeakHunter.Inspector.Paths;

/// <summary>
/// The references of a graph's nodes, node after node in one block of native memory: node i's are
/// <see cref="Of"/>(i). Their count is a 64-bit number, so a heap with more than 2^31 references has a graph, while
/// each node's start still takes 4 bytes (<see cref="ReferenceStarts"/>).
/// </summary>
/// <remarks>
/// Written in node order: <see cref="StartNode"/> for each node, then <see cref="Add"/> for each of its references,
/// then <see cref="Finish"/>. Made for a count of references from a counting walk, or growing by doubling where there
/// was none; native memory grows in place (the system remaps its pages), where an array would be copied.
/// </remarks>
internal sealed unsafe class References : IDisposable
{
    private readonly ReferenceStarts _starts;
    private readonly bool _growable;
    private int* _targets;
    private long _capacity;
    private int _nextNode;

    /// <param name="nodes">Nodes in the graph.</param>
    /// <param name="capacity">The references it can hold; more are left out, unless <paramref name="growable"/>.</param>
    /// <param name="growable">Whether it doubles when full.</param>
    /// <param name="startLowBits">The bits of each start kept per node (32; fewer in tests, to make the high parts change often).</param>
    public References(int nodes, long capacity, bool growable, int startLowBits = ReferenceStarts.DefaultLowBits)
    {
        _starts = new ReferenceStarts(nodes, startLowBits);
        _growable = growable;
        _capacity = Math.Max(1, capacity);
        _targets = (int*)NativeMemory.Alloc((nuint)_capacity, sizeof(int));
        MemoryBudget.NativeTaken(_capacity * sizeof(int));
    }

    /// <summary>A graph given as flat arrays: node i refers to <paramref name="targets"/>[<paramref name="starts"/>[i] .. <paramref name="starts"/>[i + 1]].</summary>
    public static References FromArrays(int[] starts, int[] targets)
    {
        var references = new References(starts.Length - 1, targets.Length, growable: false);
        for (int node = 0; node < starts.Length - 1; node++)
        {
            references.StartNode(node);
            foreach (int target in targets.AsSpan(starts[node], starts[node + 1] - starts[node]))
                references.Add(target);
        }
        references.Finish();
        return references;
    }

    /// <summary>Nodes in the graph.</summary>
    public int Nodes => _starts.Nodes;

    /// <summary>The references held.</summary>
    public long Count { get; private set; }

    /// <summary>The memory taken, in bytes.</summary>
    public long MemoryBytes => _capacity * sizeof(int) + _starts.MemoryBytes;

    /// <summary>The nodes <paramref name="node"/> refers to.</summary>
    public ReadOnlySpan<int> Of(int node)
    {
        long start = _starts[node];
        return new ReadOnlySpan<int>(_targets + start, (int)(_starts[node + 1] - start));
    }

    /// <summary>Node <paramref name="node"/>'s references begin here; nodes before it that were not started have none.</summary>
    public void StartNode(int node)
    {
        for (; _nextNode <= node; _nextNode++)
            _starts.Set(_nextNode, Count);
    }

    /// <summary>A reference of the node started last.</summary>
    public void Add(int target)
    {
        if (Count == _capacity)
        {
            // More references than the counting walk saw would mean another heap: they are left out, not overrun.
            if (!_growable)
                return;
            long grown = _capacity * 2;
            _targets = (int*)NativeMemory.Realloc(_targets, (nuint)grown * sizeof(int));
            MemoryBudget.NativeTaken((grown - _capacity) * sizeof(int));
            _capacity = grown;
        }
        _targets[Count++] = target;
    }

    /// <summary>Ends the last node's references; the nodes not started have none.</summary>
    public void Finish() => StartNode(_starts.Nodes);

    public void Dispose()
    {
        Free();
        GC.SuppressFinalize(this);
    }

    // A graph dropped on a path that forgot it still gives its memory back, at the next GC.
    ~References() => Free();

    private void Free()
    {
        int* targets = _targets;
        _targets = null;
        if (targets is null)
            return;
        NativeMemory.Free(targets);
        MemoryBudget.NativeTaken(-_capacity * sizeof(int));
    }
}

/// <summary>
/// Where each node's references start, as 64-bit offsets kept in 4 bytes per node: the low 32 bits per node, and the
/// first node of each higher part. The starts never decrease, so the nodes sharing a high part are a run, and finding
/// a node's run is a search in an array with one entry per 2^32 references (one entry on any heap with fewer).
/// </summary>
internal sealed class ReferenceStarts
{
    public const int DefaultLowBits = 32;

    private readonly uint[] _low;
    private readonly List<int> _firstNodeOfHigh = new();
    private readonly int _lowBits;
    private readonly ulong _lowMask;

    public ReferenceStarts(int nodes, int lowBits = DefaultLowBits)
    {
        if (lowBits is < 1 or > 32)
            throw new ArgumentOutOfRangeException(nameof(lowBits), lowBits, "A start keeps 1 to 32 low bits per node.");
        _low = new uint[nodes + 1];
        _lowBits = lowBits;
        _lowMask = lowBits == 32 ? uint.MaxValue : (1UL << lowBits) - 1;
    }

    /// <summary>Nodes; there is one start more, where the last node's references end.</summary>
    public int Nodes => _low.Length - 1;

    public long MemoryBytes => _low.Length * (long)sizeof(uint) + _firstNodeOfHigh.Count * (long)sizeof(int);

    /// <summary>Sets the start of <paramref name="node"/>; nodes are set in order, each start no less than the one before.</summary>
    public void Set(int node, long start)
    {
        _low[node] = (uint)((ulong)start & _lowMask);
        long high = start >> _lowBits;
        while (_firstNodeOfHigh.Count <= high)
            _firstNodeOfHigh.Add(node);
    }

    public long this[int node]
    {
        get
        {
            if (_firstNodeOfHigh.Count <= 1)
                return _low[node];
            return ((long)HighOf(node) << _lowBits) | _low[node];
        }
    }

    /// <summary>The last high part whose first node is at or before <paramref name="node"/>.</summary>
    private int HighOf(int node)
    {
        (int low, int high) = (0, _firstNodeOfHigh.Count - 1);
        while (low < high)
        {
            int middle = (low + high + 1) / 2;
            if (_firstNodeOfHigh[middle] <= node)
                low = middle;
            else
                high = middle - 1;
        }
        return low;
    }
}
