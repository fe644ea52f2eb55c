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
