using LeakHunter.Census;
using Xunit;

namespace LeakHunter.Tests;

/// <summary>The census parses the heap's segments in bulk; it must walk every object, of every size, without losing its way.</summary>
public sealed class CensusTests
{
    // StringsOfEveryLength.s_strings (static array) -> string of length 0..999, arrays of every length, odd-sized objects
    private static object[]? s_mixed;

    [Theory]
    [InlineData(CensusStrategy.Attach)]
    [InlineData(CensusStrategy.Dump)]
    public void BulkScan_WalksEveryObjectOfEverySize(CensusStrategy strategy)
    {
        FillMixed();
        var taker = new CensusTaker(new LeakOptions { Strategy = strategy });
        taker.Take(); // first-use costs of the census path, as the check's own priming census does

        Running.CheckRunner.SettleHeap();
        CensusReply before = taker.Take().Reply;
        s_mixed = null;
        Running.CheckRunner.SettleHeap();
        CensusReply after = taker.Take().Reply;

        Assert.Equal(0, before.UnreadableBytes);
        Assert.Equal(0, after.UnreadableBytes);
        // The 3000 objects and their array are gone, give or take what the test runner did meanwhile.
        Assert.InRange(before.Objects - after.Objects, 3001 - 50, 3001 + 50);
    }

    // A frame of its own: a Debug build keeps a method's locals alive until it returns.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static void FillMixed()
    {
        var mixed = new object[3000];
        for (int i = 0; i < 1000; i++)
        {
            mixed[i] = new string('s', i);
            mixed[1000 + i] = new byte[i];
            mixed[2000 + i] = new char[i % 7];
        }
        s_mixed = mixed;
    }
}
