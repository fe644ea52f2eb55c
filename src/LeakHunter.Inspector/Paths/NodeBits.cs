namespace LeakHunter.Inspector.Paths;

/// <summary>A set of a heap graph's nodes, one bit per node: what a search over a hundred million objects can afford.</summary>
internal readonly struct NodeBits(int count)
{
    private readonly ulong[] _words = new ulong[(count + 63) / 64];

    /// <summary>The bytes the set takes.</summary>
    public long MemoryBytes => _words.LongLength * sizeof(ulong);

    public void Add(int node) => _words[node >> 6] |= 1UL << (node & 63);

    public bool Contains(int node) => (_words[node >> 6] & (1UL << (node & 63))) != 0;
}

/// <summary>
/// A first-in, first-out queue of nodes in one array: of the graph's size for a breadth-first search, where each node
/// is queued once, so a frontier of a hundred million nodes takes four bytes each and no copies as it grows.
/// </summary>
internal sealed class NodeQueue(int capacity)
{
    private int[] _items = new int[Math.Max(capacity, 4)];
    private int _head;
    private int _count;

    public int Count => _count;

    /// <summary>The bytes the queue takes.</summary>
    public long MemoryBytes => _items.LongLength * sizeof(int);

    public void Enqueue(int node)
    {
        if (_count == _items.Length)
        {
            // Only a search that may queue a node again (a cheaper path found) outgrows the graph's size.
            int[] grown = GC.AllocateUninitializedArray<int>((int)Math.Min(Array.MaxLength, _items.Length * 2L));
            for (int i = 0; i < _count; i++)
                grown[i] = _items[(_head + i) % _items.Length];
            (_items, _head) = (grown, 0);
        }
        int tail = _head + _count;
        _items[tail < _items.Length ? tail : tail - _items.Length] = node;
        _count++;
    }

    public int Dequeue()
    {
        int node = _items[_head];
        if (++_head == _items.Length)
            _head = 0;
        _count--;
        return node;
    }
}
