using LeakHunter.Analysis;
using LeakHunter.Census;
using Xunit;

namespace LeakHunter.Tests;

/// <summary>
/// The verdict's rules on census series, one test per rule: each fails when its rule is removed or loosened.
/// </summary>
public sealed class GrowthAnalyzerTests
{
    // The default check's shape: 4 counted censuses 10 iterations apart (0..3), an idle census (4), and two
    // confirmation runs as long as everything before them (5, 6).
    private static readonly int[] s_iterations = [10, 20, 30, 40, 40, 80, 160];

    [Fact]
    public void CountRisingInEveryInterval_IsACandidate()
    {
        Assert.Single(GrowthAnalyzer.FindCandidates([Counts(100, 110, 120, 130)], 0, 3));
    }

    [Fact]
    public void CountFlatInOneInterval_IsNotACandidate()
    {
        Assert.Empty(GrowthAnalyzer.FindCandidates([Counts(100, 110, 110, 130)], 0, 3));
    }

    [Fact]
    public void FlatCountWithBytesRising_IsACandidate_AsGrowthInBytesOnly()
    {
        var array = new TypeSeries("Acme.Item[]", [1, 1, 1, 1], [64, 64, 128, 256]);

        Assert.Single(GrowthAnalyzer.FindCandidates([array], 0, 3));
    }

    [Fact]
    public void BytesRisingWhileTheCountChanges_IsNotGrowthInBytesOnly()
    {
        // Fewer instances at the end than at the start: the bytes moved between objects, nothing piled up.
        var array = new TypeSeries("Acme.Item[]", [2, 2, 1, 1], [64, 64, 128, 256]);

        Assert.Empty(GrowthAnalyzer.FindCandidates([array], 0, 3));
    }

    [Fact]
    public void BytesThatShrinkInOneInterval_AreNotGrowthInBytesOnly()
    {
        var array = new TypeSeries("Acme.Item[]", [1, 1, 1, 1], [64, 256, 128, 512]);

        Assert.Empty(GrowthAnalyzer.FindCandidates([array], 0, 3));
    }

    [Fact]
    public void SteadyGrowth_ForAWatch_NeedsEveryIntervalToRise()
    {
        Assert.Single(GrowthAnalyzer.FindSteadyGrowth([Counts(5, 9, 14, 20)], 0, 3));
        Assert.Empty(GrowthAnalyzer.FindSteadyGrowth([Counts(5, 9, 9, 20)], 0, 3));
        // A watch has no confirmation runs, so growth in bytes must come with a count that did not move at all.
        Assert.Single(GrowthAnalyzer.FindSteadyGrowth([new TypeSeries("Acme.Item[]", [1, 1, 1], [64, 128, 256])], 0, 2));
        Assert.Empty(GrowthAnalyzer.FindSteadyGrowth([new TypeSeries("Acme.Item[]", [1, 2, 1], [64, 128, 256])], 0, 2));
    }

    // censuses: 4 counted (0..3), idle (4), two confirmations (5, 6)
    [Theory]
    [InlineData(new long[] { 100, 110, 120, 130, 131, 180, 280 }, true)]   // a stray object while idle: still the fragment's
    [InlineData(new long[] { 100, 110, 120, 130, 140, 190, 290 }, false)]  // grew as fast while idle: another thread's
    [InlineData(new long[] { 100, 110, 120, 130, 130, 180, 280 }, true)]   // flat while idle: the fragment's
    [InlineData(new long[] { 100, 101, 105, 105, 137, 178, 182 }, false)]  // unsteady while counted, grew while idle: another thread's
    public void IdleGrowth_IsBlamedOnAnotherThread_OnlyWhenItKeepsPace(long[] counts, bool blamedOnFragment)
    {
        TypeSeries series = Counts(counts);

        (List<TypeSeries> growing, List<TypeSeries> background) = Confirm(series);

        Assert.Equal(blamedOnFragment, growing.Count == 1);
        if (blamedOnFragment)
            Assert.Empty(background);
    }

    [Fact]
    public void ALeakThatKeepsItsRateThroughBothConfirmationRuns_IsConfirmed()
    {
        // One per iteration: 40 more in the first run of 40 iterations, 80 more in the second of 80.
        (List<TypeSeries> growing, _) = Confirm(Counts(100, 110, 120, 130, 130, 170, 250));

        Assert.Single(growing);
    }

    [Fact]
    public void ASlowLeak_OneEverySecondIteration_IsConfirmed()
    {
        (List<TypeSeries> growing, _) = Confirm(Counts(100, 105, 110, 115, 115, 135, 175));

        Assert.Single(growing);
    }

    [Fact]
    public void ABoundedCacheThatFillsUpDuringConfirmation_IsNotConfirmed()
    {
        // Capacity 64: still filling while counted, full during the first confirmation run, flat in the second.
        (List<TypeSeries> growing, List<TypeSeries> background) = Confirm(Counts(10, 20, 30, 40, 40, 64, 64));

        Assert.Empty(growing);
        Assert.Empty(background);
    }

    [Fact]
    public void AStrayObjectFromAnotherThread_DoesNotConfirmAFullCache()
    {
        // The cache is full after the first confirmation run; one object of the same type from elsewhere in the
        // process is no rate of one per iteration.
        (List<TypeSeries> growing, _) = Confirm(Counts(10, 20, 30, 40, 40, 64, 65));

        Assert.Empty(growing);
    }

    [Fact]
    public void ALeakThatSlowsToLessThanHalfItsCountedRate_IsNotConfirmed()
    {
        // 10 per 10 iterations while counted; 10 in the 80-iteration run is an eighth of that: a cache nearly full.
        (List<TypeSeries> growing, _) = Confirm(Counts(100, 110, 120, 130, 130, 170, 180));

        Assert.Empty(growing);
    }

    [Fact]
    public void GrowthInBytesOnly_IsConfirmedWhenBytesRiseInEveryRun()
    {
        var array = new TypeSeries("Acme.Item[]", [1, 1, 1, 1, 1, 1, 1], [64, 128, 256, 512, 512, 1024, 2048]);

        (List<TypeSeries> growing, _) = Confirm(array);

        Assert.Single(growing);
    }

    [Fact]
    public void GrowthInBytesOnly_ThatStopsInAConfirmationRun_IsNotConfirmed()
    {
        var array = new TypeSeries("Acme.Item[]", [1, 1, 1, 1, 1, 1, 1], [64, 128, 256, 512, 512, 1024, 1024]);

        (List<TypeSeries> growing, _) = Confirm(array);

        Assert.Empty(growing);
    }

    [Fact]
    public void WithoutConfirmationRuns_EveryCandidateStands()
    {
        (List<TypeSeries> growing, _) = GrowthAnalyzer.Confirm([Counts(10, 20, 30, 40)], [10, 20, 30, 40], countedLast: 3, idle: null, confirmations: []);

        Assert.Single(growing);
    }

    [Fact]
    public void GrowthInSteps_ThatMissedOnlyItsLastStep_IsUndecided_AndTheNextRoundDecides()
    {
        // Counted 10..40, idle at 40, rounds ending at 80, 160, 320: a doubling array steps in rounds 1 and 2, not 3.
        int[] iterations = [10, 20, 30, 40, 40, 80, 160, 320, 640];
        var stepped = new TypeSeries("Acme.Item[]", [1, 1, 1, 1, 1, 1, 1, 1, 1], [64, 128, 256, 512, 512, 1024, 2048, 2048, 4096]);
        var full = new TypeSeries("Acme.Entry[]", [1, 1, 1, 1, 1, 1, 1, 1, 1], [64, 128, 256, 512, 512, 1024, 2048, 2048, 2048]);

        Assert.Equal(GrowthVerdict.Undecided, Verdict(stepped, iterations, [5, 6, 7]));
        Assert.Equal(GrowthVerdict.Growing, Verdict(stepped, iterations, [5, 6, 7, 8]));
        Assert.Equal(GrowthVerdict.Stopped, Verdict(full, iterations, [5, 6, 7, 8]));
        Assert.Empty(GrowthAnalyzer.Confirm([stepped], iterations, countedLast: 3, idle: 4, confirmations: [5, 6, 7]).Growing);
    }

    [Fact]
    public void ACacheOfThousandsOfEntries_GrowsThroughEarlyRounds_AndStopsInTheRoundThatPassesItsBound()
    {
        // One entry per call to a bound of 3,000: rounds end at 80, 160, ..., 5,120 calls.
        int[] iterations = [10, 20, 30, 40, 40, 80, 160, 320, 640, 1280, 2560, 5120];
        long[] counts = iterations.Select(i => (long)Math.Min(i, 3000)).ToArray();
        var entries = new TypeSeries("Acme.Entry", counts, counts.Select(c => c * 24).ToArray());

        Assert.Equal(GrowthVerdict.Growing, Verdict(entries, iterations, [5, 6, 7, 8, 9, 10]));
        Assert.Equal(GrowthVerdict.Stopped, Verdict(entries, iterations, [5, 6, 7, 8, 9, 10, 11]));
    }

    private static GrowthVerdict Verdict(TypeSeries series, int[] iterations, int[] confirmations) =>
        GrowthAnalyzer.Judge([series], iterations, countedLast: 3, idle: 4, confirmations).Single().Verdict;

    [Theory]
    // Native memory that kept rising by 10 MiB an interval; while idle it moved by the runtime's own churn, or grew alone.
    [InlineData(480_000L, true)]
    [InlineData(-1_500_000L, true)]
    [InlineData(6_000_000L, false)]
    public void AResourceThatRoseWhileIdle_IsGrowingOnlyWhenTheRiseIsNotChurn(long idleRise, bool growing)
    {
        const long MiB = 1 << 20;
        long[] native = [50 * MiB, 60 * MiB, 70 * MiB, 80 * MiB, 80 * MiB + idleRise, 130 * MiB, 180 * MiB];

        ResourceUsage usage = JudgeNativeMemory(native);

        Assert.Equal(growing, usage.Growing);
    }

    [Fact]
    public void NativeMemoryThatRisesByLessThanTheNoiseInOneInterval_IsNotGrowing()
    {
        const long KiB = 1 << 10;
        long[] native = [50_000 * KiB, 51_000 * KiB, 51_040 * KiB, 52_000 * KiB, 52_000 * KiB, 60_000 * KiB, 68_000 * KiB];

        Assert.False(JudgeNativeMemory(native).Growing);
    }

    [Theory]
    // Counted 10..40, idle at 40, rounds to 80 and 160: 1 MiB a call, where the allocator first hands out 25 MiB it kept
    // from earlier frees, so resident memory stays flat for two intervals and rises by 5 MiB in the third.
    [InlineData(true, true)]
    [InlineData(false, false)]
    public void NativeMemoryThatStartsFlat_WhileTheAllocatorRefillsWhatWasFreed_IsGrowingWhereConfirmationDecides(bool confirmationDecides, bool growing)
    {
        const long MiB = 1 << 20;
        long[] native = [50 * MiB, 50 * MiB, 50 * MiB, 55 * MiB, 55 * MiB, 95 * MiB, 175 * MiB];

        Assert.Equal(growing, JudgeNativeMemory(native, confirmationDecides).Growing);
        Assert.Equal(growing, JudgeNativeMemory(native, confirmationDecides, confirmations: []).Growing);
    }

    [Fact]
    public void NativeMemoryThatRoseThroughOneRound_ButNotTheNext_IsNotGrowing()
    {
        // The shape a disposed server's threads left under load: the allocator's kept memory rose with the threads
        // that lingered, a lot in the first round, then stopped at its high-water mark.
        const long MiB = 1 << 20;
        long[] native = [50 * MiB, 51 * MiB, 52 * MiB, 53 * MiB, 53 * MiB, 80 * MiB, 80 * MiB];

        Assert.False(JudgeNativeMemory(native).Growing);
    }

    [Fact]
    public void NativeMemoryThatStartsFlat_BesideTheProcesssOwnStep_IsGrowing()
    {
        // The shape CI saw: the process's own work added 131 KiB, more than the noise, in the first counted interval,
        // the next stayed flat, and then the leak's 10.5 MiB an interval began.
        const long KiB = 1 << 10, MiB = 1 << 20;
        long[] native = [50 * MiB, 50 * MiB + 131 * KiB, 50 * MiB + 131 * KiB, 60 * MiB + 640 * KiB, 60 * MiB + 640 * KiB, 100 * MiB, 180 * MiB];

        Assert.True(JudgeNativeMemory(native, confirmationDecides: true).Growing);
    }

    [Theory]
    // A flat start then a rise in the last interval, but confirmation sees it stop (a high-water mark), or see it
    // stepping up before it was flat (an arena grown once, then a page now and then).
    [InlineData(new long[] { 50, 50, 50, 55, 55, 56, 56 })]
    [InlineData(new long[] { 50, 55, 55, 60, 60, 100, 180 })]
    [InlineData(new long[] { 50, 50, 50, 50, 50, 90, 170 })]
    public void NativeMemoryThatStartsFlat_ButStopsOrStepped_IsNotGrowing(long[] mebibytes)
    {
        Assert.False(JudgeNativeMemory(mebibytes.Select(m => m << 20).ToArray(), confirmationDecides: true).Growing);
    }

    private static ResourceUsage JudgeNativeMemory(long[] native, bool confirmationDecides = true, int[]? confirmations = null)
    {
        int slots = ResourceNames.Slots.Length;
        long[] readings = Enumerable.Repeat(-1L, native.Length * slots).ToArray();
        for (int c = 0; c < native.Length; c++)
            readings[c * slots + ResourceNames.SlotOf(ResourceNames.NativeMemory, ResourceNames.Total)] = native[c];
        return Assert.Single(ResourceGrowth.Judge(readings, s_iterations.Select(i => (double)i).ToArray(), countedLast: 3, idle: 4, confirmations ?? [5, 6],
            LeakResources.NativeMemory, nativeNoiseBytes: 64 * 1024, rules: [], confirmationDecides));
    }

    private static (List<TypeSeries> Growing, List<TypeSeries> Background) Confirm(TypeSeries series) =>
        GrowthAnalyzer.Confirm([series], s_iterations, countedLast: 3, idle: 4, confirmations: [5, 6]);

    private static TypeSeries Counts(params long[] counts) => new("Acme.Item", counts, counts.Select(c => c * 24).ToArray());
}
