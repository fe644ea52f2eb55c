extern alias inspector;

using Xunit;
using NodeBits = inspector::LeakHunter.Inspector.Paths.NodeBits;
using NodeQueue = inspector::LeakHunter.Inspector.Paths.NodeQueue;

namespace LeakHunter.Tests;

/// <summary>The search's queue and bit set: one array each, of the graph's size.</summary>
public sealed class NodeQueueTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(5)]
    [InlineData(64)]
    public void TheQueue_GivesNodesBackInTheOrderQueued_ThroughWrapsAndGrowth(int capacity)
    {
        var queue = new NodeQueue(capacity);
        var expected = new Queue<int>();
        var random = new Random(capacity + 1);
        int mostQueued = 0;
        for (int step = 0; step < 10_000; step++)
        {
            // More queued than taken on the whole, so the queue both wraps and outgrows its array.
            if (expected.Count == 0 || random.Next(5) < 3)
            {
                queue.Enqueue(step);
                expected.Enqueue(step);
            }
            else
            {
                Assert.Equal(expected.Dequeue(), queue.Dequeue());
            }
            Assert.Equal(expected.Count, queue.Count);
            mostQueued = Math.Max(mostQueued, expected.Count);
        }
        while (expected.Count > 0)
            Assert.Equal(expected.Dequeue(), queue.Dequeue());
        Assert.True(mostQueued > Math.Max(capacity, 4), $"the queue never outgrew its array ({mostQueued} at most)");
        Assert.True(queue.MemoryBytes >= (long)mostQueued * sizeof(int), $"{queue.MemoryBytes} bytes for {mostQueued} nodes queued at once");
    }

    [Fact]
    public void ABreadthFirstSearch_QueuesEachNodeOnce_AndItsQueueNeverGrows()
    {
        var queue = new NodeQueue(1_000);
        long before = queue.MemoryBytes;
        for (int round = 0; round < 3; round++)
        {
            for (int node = 0; node < 1_000; node++)
                queue.Enqueue(node);
            for (int node = 0; node < 1_000; node++)
                Assert.Equal(node, queue.Dequeue());
        }
        Assert.Equal(before, queue.MemoryBytes);
    }

    [Fact]
    public void TheBitSet_HoldsExactlyTheNodesAdded()
    {
        var bits = new NodeBits(130);
        int[] added = [0, 63, 64, 127, 129];
        foreach (int node in added)
            bits.Add(node);

        for (int node = 0; node < 130; node++)
            Assert.Equal(added.Contains(node), bits.Contains(node));
        Assert.Equal(3 * sizeof(ulong), bits.MemoryBytes);
    }
}
