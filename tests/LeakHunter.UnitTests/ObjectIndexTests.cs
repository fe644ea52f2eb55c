extern alias inspector;

using Xunit;
using ObjectIndex = inspector::LeakHunter.Inspector.Paths.ObjectIndex;

namespace LeakHunter.Tests;

/// <summary>The index the paths' graph finds an object's node by: a bit per slot where an object starts, ranked.</summary>
public sealed class ObjectIndexTests
{
    // Three segments with a gap between the first two, objects of many sizes, one at each segment's first and last slot.
    private static readonly (ulong Start, ulong End)[] s_segments = [(0x10_0000, 0x10_4000), (0x40_0000, 0x40_0100), (0x40_0100, 0x80_0000)];

    private static readonly ulong[] s_objects = Objects().ToArray();

    private static IEnumerable<ulong> Objects()
    {
        foreach ((ulong start, ulong end) in s_segments)
        {
            ulong size = 24;
            for (ulong address = start; address < end - 8; address += size, size = size % 200 + 16)
                yield return address;
            yield return end - 8;
        }
    }

    [Theory]
    [InlineData(8)]
    [InlineData(4)]
    public void EveryObject_IsFoundAtItsRank_AndItsRankGivesItsAddressBack(int pointerSize)
    {
        ObjectIndex index = Indexed(s_segments, s_objects, pointerSize);

        Assert.Equal(s_objects.Length, index.Count);
        for (int node = 0; node < s_objects.Length; node++)
        {
            Assert.Equal(node, index.IndexOf(s_objects[node]));
            Assert.Equal(s_objects[node], index.AddressOf(node));
        }
        Assert.Equal(s_objects, index.Addresses());
    }

    [Fact]
    public void AddressesWhereNoObjectStarts_AreNotFound()
    {
        ObjectIndex index = Indexed(s_segments, s_objects, pointerSize: 8);

        Assert.Equal(-1, index.IndexOf(0));
        Assert.Equal(-1, index.IndexOf(s_segments[0].Start - 8));
        Assert.Equal(-1, index.IndexOf(s_segments[0].End));          // the gap between segments
        Assert.Equal(-1, index.IndexOf(s_objects[0] + 8));            // inside the first object
        Assert.Equal(-1, index.IndexOf(s_objects[0] + 1));            // not aligned
        Assert.Equal(-1, index.IndexOf(s_segments[^1].End));
        Assert.Equal(-1, index.IndexOf(ulong.MaxValue - 7));
    }

    [Fact]
    public void Contains_AgreesWithIndexOf_OnEveryObjectAndEveryAddressBetween()
    {
        ObjectIndex index = Indexed(s_segments, s_objects, pointerSize: 8);

        foreach (ulong address in s_objects)
            Assert.True(index.Contains(address), $"0x{address:x}");
        foreach (ulong address in new[] { 0UL, s_segments[0].Start - 8, s_segments[0].End, s_objects[0] + 8, s_objects[0] + 1, s_segments[^1].End, ulong.MaxValue - 7 })
            Assert.False(index.Contains(address), $"0x{address:x}");
        for (ulong address = s_segments[1].Start; address < s_segments[1].End + 0x400; address += 8)
            Assert.Equal(index.IndexOf(address) >= 0, index.Contains(address));
    }

    [Fact]
    public void SegmentsTerabytesApart_AreFoundBySearch()
    {
        (ulong Start, ulong End)[] apart = [(0x1000_0000, 0x1000_1000), (0x7f00_0000_0000, 0x7f00_0000_1000)];
        ulong[] objects = [0x1000_0000, 0x1000_0ff8, 0x7f00_0000_0000, 0x7f00_0000_0800];
        ObjectIndex index = Indexed(apart, objects, pointerSize: 8);

        Assert.Equal([0, 1, 2, 3], objects.Select(index.IndexOf));
        Assert.Equal(objects, Enumerable.Range(0, 4).Select(index.AddressOf));
        Assert.Equal(-1, index.IndexOf(0x4000_0000_0000));
    }

    private static ObjectIndex Indexed((ulong Start, ulong End)[] segments, ulong[] objects, int pointerSize)
    {
        var index = new ObjectIndex(segments, pointerSize);
        foreach (ulong address in objects)
            index.Add(address);
        index.Seal();
        return index;
    }
}
