extern alias inspector;
using Xunit;
using Dominators = inspector::LeakHunter.Inspector.Paths.Dominators;
using ObjectSizes = inspector::LeakHunter.Inspector.Paths.ObjectSizes;
using RegionTooLargeException = inspector::LeakHunter.Inspector.Paths.RegionTooLargeException;
using References = inspector::LeakHunter.Inspector.Paths.References;
using RetainedRegion = inspector::LeakHunter.Inspector.Paths.RetainedRegion;

namespace LeakHunter.Tests;

/// <summary>The dominator tree and retained sizes, on hand-built graphs whose answers are known.</summary>
public sealed class DominatorTests
{
    private const int Root = Dominators.VirtualRoot;

    [Fact]
    public void AChain_EachNodeDominatesTheRest_AndRetainsTheirBytes()
    {
        // 0 -> 1 -> 2 -> 3
        Dominators tree = Build(4, [(0, 1), (1, 2), (2, 3)], [10, 20, 30, 40], roots: [0]);

        Assert.Equal([Root, 0, 1, 2], tree.ImmediateDominator);
        Assert.Equal([100L, 90, 70, 40], tree.Retained);
    }

    [Fact]
    public void ADiamond_TheJoinIsDominatedByTheFork_NotByEitherSide()
    {
        // 0 -> 1, 0 -> 2, 1 -> 3, 2 -> 3: dropping 1 or 2 alone frees only itself.
        Dominators tree = Build(4, [(0, 1), (0, 2), (1, 3), (2, 3)], [1, 10, 100, 1000], roots: [0]);

        Assert.Equal([Root, 0, 0, 0], tree.ImmediateDominator);
        Assert.Equal([1111L, 10, 100, 1000], tree.Retained);
    }

    [Fact]
    public void ACycle_IsDominatedByWhereItIsEntered()
    {
        // 0 -> 1 -> 2 -> 3 -> 1 (a ring entered at 1), 3 -> 4
        Dominators tree = Build(5, [(0, 1), (1, 2), (2, 3), (3, 1), (3, 4)], [1, 2, 4, 8, 16], roots: [0]);

        Assert.Equal([Root, 0, 1, 2, 3], tree.ImmediateDominator);
        Assert.Equal([31L, 30, 28, 24, 16], tree.Retained);
    }

    [Fact]
    public void TwoRoots_ShareWhatBothReach_SoNeitherRetainsIt_AndUnreachableNodesRetainNothing()
    {
        // roots 0 and 1; both reach 2; 0 alone reaches 3; 4 is garbage.
        Dominators tree = Build(5, [(0, 2), (1, 2), (0, 3), (4, 2)], [1, 2, 4, 8, 16], roots: [0, 1]);

        Assert.Equal([Root, Root, Root, 0, -2], tree.ImmediateDominator);
        Assert.Equal([9L, 2, 4, 8, 0], tree.Retained);
    }

    [Fact]
    public void AnAccumulationPoint_RetainsWhatOnlyItsNewEntriesHold_NotWhatIsSharedOrHeldElsewhere()
    {
        // A static (0) holds a list's array (1) whose entries 2, 3 and 4 each hold a buffer (5, 6, 7); entry 4's buffer
        // is also held by another root (8), and entry 3 is also held by that root directly.
        Dominators tree = Build(9,
            [(0, 1), (1, 2), (1, 3), (1, 4), (2, 5), (3, 6), (4, 7), (8, 7), (8, 3)],
            [8, 100, 24, 24, 24, 256, 256, 256, 8], roots: [0, 8]);

        // Dropping entries 2, 3 and 4 from the array frees 2 and its buffer, and 4 without its shared buffer.
        Assert.Equal(24 + 256 + 24, tree.RetainedBy(1, [2, 3, 4]));
    }

    [Fact]
    public void AReferenceNoFieldHolds_CountsLikeAField_AConditionalWeakTableValueIsRetainedByItsKey()
    {
        // A static (0) holds a key (1); a dependent handle makes the key hold its value (2), which holds a buffer (3).
        // Without the extra edge, the value and its buffer are unreachable and retained by nothing.
        (int, int)[] fields = [(0, 1), (2, 3)];
        uint[] sizes = [8, 24, 32, 512];

        Dominators withoutHandle = Build(4, fields, sizes, roots: [0]);
        Dominators withHandle = Build(4, fields, sizes, roots: [0], extra: new Dictionary<int, int[]> { [1] = [2] });

        Assert.Equal([Root, 0, -2, -2], withoutHandle.ImmediateDominator);
        Assert.Equal([Root, 0, 1, 2], withHandle.ImmediateDominator);
        Assert.Equal(24L + 32 + 512, withHandle.Retained[1]);
        Assert.Equal(32L + 512, withHandle.RetainedBy(1, [2]));
    }

    [Fact]
    public void ALongLinkedList_IsWalkedWithoutRecursion()
    {
        const int Length = 1_000_000;
        var edges = Enumerable.Range(0, Length - 1).Select(i => (i, i + 1)).ToArray();

        Dominators tree = Build(Length, edges, Enumerable.Repeat(24u, Length).ToArray(), roots: [0]);

        Assert.Equal(24L * Length, tree.Retained[0]);
        Assert.Equal(Length - 2, tree.ImmediateDominator[Length - 1]);
    }

    [Fact]
    public void AnArrayThatAlsoHoldsEveryLinkOfALongChain_DominatesEachLink_ALinkRetainsOnlyItself()
    {
        // A timer queue's shape: an array (0) holds every timer (1..n), and the timers are also a chain 1 -> 2 -> ... -> n.
        // Each link is reachable past its predecessor, so only the array dominates it. An iterative algorithm meets the
        // chain's whole depth at every link here; this one does not.
        const int Links = 200_000;
        var edges = Enumerable.Range(1, Links).Select(i => (0, i)).Concat(Enumerable.Range(1, Links - 1).Select(i => (i, i + 1))).ToArray();

        Dominators tree = Build(Links + 1, edges, Enumerable.Repeat(32u, Links + 1).ToArray(), roots: [0]);

        Assert.All(Enumerable.Range(1, Links), i => Assert.Equal(0, tree.ImmediateDominator[i]));
        Assert.All(Enumerable.Range(1, Links), i => Assert.Equal(32L, tree.Retained[i]));
        Assert.Equal(32L * (Links + 1), tree.Retained[0]);
    }

    [Fact]
    public void ObjectsOf64KiBAndMore_KeepTheirWholeSize()
    {
        // A root holding a 100 KB array and a 4 GB one (a size past two bytes, and one at the top of four).
        Dominators tree = Build(3, [(0, 1), (0, 2)], [24, 100_000, uint.MaxValue], roots: [0]);

        Assert.Equal(100_000L, tree.Retained[1]);
        Assert.Equal(uint.MaxValue, tree.Retained[2]);
        Assert.Equal(24L + 100_000 + uint.MaxValue, tree.Retained[0]);
    }

    [Fact]
    public void TheRegionPastChosenNodes_HoldsOnlyWhatTheyAloneReach()
    {
        // 0 (root) -> 1 (a list) -> 2, 3 (its entries); 2 -> 4 -> 5 (an entry's chain); 3 -> 6 <- 0 (held from outside too).
        (int, int)[] edges = [(0, 1), (1, 2), (1, 3), (2, 4), (4, 5), (3, 6), (0, 6), (0, 7)];
        uint[] sizes = [1, 2, 4, 8, 16, 32, 64, 128];
        RetainedRegion region = Region(8, edges, sizes, roots: [0], chosen: [1, 2, 3]);

        // The chosen nodes, 4 and 5 (only entry 2 reaches them); never 6, held from the root too, nor 0 or 7.
        Assert.Equal(5, region.Count);
        Assert.Equal(Root, region.ImmediateDominator(1));
        Assert.Equal(1, region.ImmediateDominator(2));
        Assert.Equal(2, region.ImmediateDominator(4));
        Assert.Equal(4L + 16 + 32, region.Retained(2));
        Assert.Equal(8L, region.Retained(3));
        Assert.Equal(2L + 4 + 8 + 16 + 32, region.Retained(1));
    }

    [Fact]
    public void ARegionLargerThanTheBudget_IsRefusedBeforeItsArraysAreMade()
    {
        // A root holding one list of 1,000 entries: the region is the list and all of them.
        (int, int)[] edges = [(0, 1), .. Enumerable.Range(2, 1000).Select(n => (1, n))];
        var refused = Assert.Throws<RegionTooLargeException>(() =>
            Region(1002, edges, Enumerable.Repeat(24u, 1002).ToArray(), roots: [0], chosen: [1], fits: _ => false));

        Assert.Equal(1001, refused.Objects);
        Assert.True(refused.Bytes > 1001 * sizeof(int));
    }

    /// <summary>
    /// On random graphs (cycles, shared objects, references no field holds, roots among the chosen), every chosen node's
    /// nearest chosen dominator and retained bytes are those of the dominator tree of the whole graph.
    /// </summary>
    [Fact]
    public void OnRandomGraphs_TheRegionAgreesWithTheWholeTree_ForEveryChosenNode()
    {
        for (int seed = 1; seed <= 300; seed++)
        {
            var random = new Random(seed);
            int count = random.Next(2, 60);
            var edges = Enumerable.Range(0, random.Next(count, count * 3)).Select(_ => (random.Next(count), random.Next(count))).Distinct().ToArray();
            var extra = Enumerable.Range(0, random.Next(3)).Select(_ => random.Next(count)).Distinct().ToDictionary(n => n, _ => new[] { random.Next(count) });
            uint[] sizes = Enumerable.Range(0, count).Select(_ => (uint)random.Next(1, 1000)).ToArray();
            int[] roots = Enumerable.Range(0, random.Next(1, 4)).Select(_ => random.Next(count)).Distinct().ToArray();
            var chosen = Enumerable.Range(0, random.Next(1, 8)).Select(_ => random.Next(count)).ToHashSet();

            Dominators whole = Build(count, edges, sizes, roots, extra);
            RetainedRegion region = Region(count, edges, sizes, roots, chosen, extra: extra);

            foreach (int node in chosen)
            {
                Assert.True(NearestChosen(n => whole.ImmediateDominator[n], chosen, node) == NearestChosen(region.ImmediateDominator, chosen, node), $"seed {seed}, node {node}: nearest chosen dominator");
                Assert.True(whole.Retained[node] == region.Retained(node), $"seed {seed}, node {node}: retained {whole.Retained[node]} against {region.Retained(node)}");
            }
        }
    }

    /// <summary>The first chosen node above <paramref name="node"/> in a dominator tree; a negative value when none is (or it is unreachable).</summary>
    private static int NearestChosen(Func<int, int> immediateDominator, HashSet<int> chosen, int node)
    {
        for (int above = immediateDominator(node); ; above = immediateDominator(above))
        {
            if (above < 0 || chosen.Contains(above))
                return above == -2 ? Root : above;
        }
    }

    private static RetainedRegion Region(int count, (int From, int To)[] edges, uint[] sizes, int[] roots, IReadOnlyCollection<int> chosen,
        Dictionary<int, int[]>? extra = null, Func<long, bool>? fits = null)
    {
        (int[] edgeStart, int[] flat) = Flat(count, edges);
        using var references = References.FromArrays(edgeStart, flat);
        return RetainedRegion.Compute(references, ObjectSizes.Of(sizes), extra, roots, chosen, () => false, fits ?? (_ => true));
    }

    private static Dominators Build(int count, (int From, int To)[] edges, uint[] sizes, int[] roots, Dictionary<int, int[]>? extra = null)
    {
        (int[] edgeStart, int[] flat) = Flat(count, edges);
        return Dominators.Compute(count, edgeStart, flat, ObjectSizes.Of(sizes), roots, extraEdges: extra);
    }

    private static (int[] EdgeStart, int[] Edges) Flat(int count, (int From, int To)[] edges)
    {
        int[] edgeStart = new int[count + 1];
        foreach ((int from, _) in edges)
            edgeStart[from + 1]++;
        for (int i = 0; i < count; i++)
            edgeStart[i + 1] += edgeStart[i];
        int[] flat = new int[edges.Length];
        int[] filled = new int[count];
        foreach ((int from, int to) in edges.OrderBy(e => e.From))
            flat[edgeStart[from] + filled[from]++] = to;
        return (edgeStart, flat);
    }
}
