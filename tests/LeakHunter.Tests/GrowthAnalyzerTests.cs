using LeakHunter.Analysis;
using LeakHunter.Census;
using Xunit;

namespace LeakHunter.Tests;

/// <summary>The verdict's rules on census series: what counts as the fragment's growth and what as another thread's.</summary>
public sealed class GrowthAnalyzerTests
{
    // censuses: 4 counted (0..3), idle (4), two confirmations (5, 6)
    [Theory]
    [InlineData(new long[] { 100, 110, 120, 130, 131, 180, 280 }, true)]   // a stray object while idle: still the fragment's
    [InlineData(new long[] { 100, 110, 120, 130, 140, 190, 290 }, false)]  // grew as fast while idle: another thread's
    [InlineData(new long[] { 100, 110, 120, 130, 130, 180, 280 }, true)]   // flat while idle: the fragment's
    [InlineData(new long[] { 100, 101, 105, 105, 137, 178, 182 }, false)]  // unsteady while counted, grew while idle: another thread's
    public void IdleGrowth_IsBlamedOnAnotherThread_OnlyWhenItKeepsPace(long[] counts, bool blamedOnFragment)
    {
        var series = new TypeSeries("Acme.Item", counts, counts.Select(c => c * 24).ToArray());

        (List<TypeSeries> growing, List<TypeSeries> background) = GrowthAnalyzer.Confirm([series], countedLast: 3, idle: 4, confirmations: [5, 6]);

        Assert.Equal(blamedOnFragment, growing.Count == 1);
        Assert.DoesNotContain(background, b => blamedOnFragment && b.Type == series.Type);
    }
}
