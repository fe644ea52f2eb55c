extern alias inspector;

using Xunit;
using ReferenceStarts = inspector::LeakHunter.Inspector.Paths.ReferenceStarts;
using References = inspector::LeakHunter.Inspector.Paths.References;

namespace LeakHunter.Tests;

/// <summary>
/// The graph's references, counted in 64 bits with 4 bytes per node for where each node's begin. A heap with 2^32
/// references does not fit on a test machine, so the same code runs with a few low bits per node, whose high parts
/// then change every few references, as those of a real heap do past each 2^32.
/// </summary>
public sealed class ReferencesTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(32)]
    public void EachStart_ReadsBackAsSet_WhereverItsHighPartChanges(int lowBits)
    {
        var random = new Random(lowBits);
        const int Nodes = 5_000;
        var expected = new long[Nodes + 1];
        var starts = new ReferenceStarts(Nodes, lowBits);
        long start = 0;
        for (int node = 0; node <= Nodes; node++)
        {
            // Mostly a few references; now and then none, and now and then a jump past several high parts at once.
            start += random.Next(10) switch { 0 => 0, 1 => random.Next(1, 40), _ => random.Next(1, 4) };
            expected[node] = start;
            starts.Set(node, start);
        }

        Assert.Equal(expected, Enumerable.Range(0, Nodes + 1).Select(node => starts[node]).ToArray());
        if (lowBits < 32)
            Assert.True(start >> lowBits > 10, "the high part changed many times");
    }

    [Fact]
    public void StartsPastTwoToThe32_KeepTheirHighBits()
    {
        var starts = new ReferenceStarts(4);
        long[] expected = [0, uint.MaxValue, 1L << 32, (1L << 32) + 7, 5L << 32];
        for (int node = 0; node < expected.Length; node++)
            starts.Set(node, expected[node]);

        Assert.Equal(expected, Enumerable.Range(0, expected.Length).Select(node => starts[node]).ToArray());
    }

    [Theory]
    [InlineData(1, true)]
    [InlineData(1000, false)]
    public void EachNode_GetsItsReferencesBack_WithNodesLeftOutHavingNone(int capacity, bool growable)
    {
        var random = new Random(capacity);
        const int Nodes = 2_000;
        var expected = new List<int>[Nodes];
        using var references = new References(Nodes, growable ? capacity : 1_000_000, growable, startLowBits: 4);
        for (int node = 0; node < Nodes; node++)
        {
            expected[node] = [];
            // Some nodes are never started, as objects past a walk's end, and have no references.
            if (random.Next(4) == 0)
                continue;
            references.StartNode(node);
            for (int i = random.Next(6); i > 0; i--)
            {
                int target = random.Next(Nodes);
                references.Add(target);
                expected[node].Add(target);
            }
        }
        references.Finish();

        for (int node = 0; node < Nodes; node++)
            Assert.Equal(expected[node], references.Of(node).ToArray());
        Assert.Equal(expected.Sum(e => e.Count), references.Count);
    }

    [Fact]
    public void ReferencesPastTheCountedCapacity_AreLeftOut_WhenItCannotGrow()
    {
        using var references = new References(2, 3, growable: false);
        references.StartNode(0);
        foreach (int target in new[] { 1, 1 })
            references.Add(target);
        references.StartNode(1);
        foreach (int target in new[] { 0, 0, 0 })
            references.Add(target);
        references.Finish();

        Assert.Equal([1, 1], references.Of(0).ToArray());
        Assert.Equal([0], references.Of(1).ToArray());
    }

    [Fact]
    public void AFlatGraph_ReadsAsItsArrays()
    {
        using var references = References.FromArrays([0, 2, 2, 3], [1, 2, 0]);

        Assert.Equal(3, references.Nodes);
        Assert.Equal([1, 2], references.Of(0).ToArray());
        Assert.Empty(references.Of(1).ToArray());
        Assert.Equal([0], references.Of(2).ToArray());
    }
}
