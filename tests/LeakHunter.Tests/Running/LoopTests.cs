using System.Text.Json;
using LeakHunter.Tests.Targets;
using Xunit;

namespace LeakHunter.Tests;

/// <summary>The loop's contract: exceptions, cancellation, options, and the report's shape.</summary>
public sealed class LoopTests
{
    [Fact]
    public void ExceptionFromFragment_SurfacesAsThatException()
    {
        int calls = 0;
        var thrown = Assert.Throws<InvalidOperationException>(() => LeakDetector.Run(() =>
        {
            if (++calls == 3)
                throw new InvalidOperationException("boom from the fragment");
        }));

        Assert.Equal("boom from the fragment", thrown.Message);
        Assert.Equal(3, calls);
    }

    [Fact]
    public async Task ExceptionFromAsyncFragment_SurfacesAsThatException()
    {
        var thrown = await Assert.ThrowsAsync<FormatException>(() => LeakDetector.RunAsync(async () =>
        {
            await Task.Yield();
            throw new FormatException("async boom");
        }));

        Assert.Equal("async boom", thrown.Message);
    }

    [Fact]
    public void Cancellation_StopsTheCheck()
    {
        using var cancel = new CancellationTokenSource();
        int calls = 0;

        Assert.ThrowsAny<OperationCanceledException>(() => LeakDetector.Run(() =>
        {
            if (++calls == 15)
                cancel.Cancel();
        }, null, cancel.Token));
        Assert.Equal(15, calls);
    }

    [Fact]
    public async Task CancellationOfAsyncCheck_StopsTheCheck()
    {
        using var cancel = new CancellationTokenSource();
        int calls = 0;

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => LeakDetector.RunAsync(async () =>
        {
            await Task.Yield();
            if (++calls == 12)
                cancel.Cancel();
        }, null, cancel.Token));
        Assert.Equal(12, calls);
    }

    [Fact]
    public void InvalidOptions_AreRejected_WithTheOptionNamed()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => LeakDetector.Run(() => { }, new LeakOptions { Censuses = 2 }));
        Assert.Equal("Censuses", error.ParamName);
        error = Assert.Throws<ArgumentOutOfRangeException>(() => LeakDetector.Run(() => { }, new LeakOptions { MaxPathsPerType = 0 }));
        Assert.Equal("MaxPathsPerType", error.ParamName);
        error = Assert.Throws<ArgumentOutOfRangeException>(() => LeakDetector.Run(() => { }, new LeakOptions { ExplanationTimeLimit = TimeSpan.Zero }));
        Assert.Equal("ExplanationTimeLimit", error.ParamName);
    }

    [Fact]
    public void Iterations_FollowTheOptions()
    {
        int calls = 0;
        LeakReport report = LeakDetector.Run(() => calls++, new LeakOptions { WarmupIterations = 3, Censuses = 4, IterationsPerCensus = 7, ConfirmGrowth = false });

        Assert.False(report.HasLeaks, report.ToString());
        Assert.Equal(3 + 3 * 7, calls);
        Assert.Equal(calls, report.Iterations);
        Assert.Equal(new[] { 3, 10, 17, 24 }, report.Censuses.Select(c => c.Iteration));
    }

    [Fact]
    public void Json_HasTheDocumentedShape()
    {
        LeakReport report = LeakDetector.Run(StaticListLeak.Handle);
        using JsonDocument json = JsonDocument.Parse(report.ToJson());
        JsonElement root = json.RootElement;

        Assert.Equal(1, root.GetProperty("schemaVersion").GetInt32());
        Assert.True(root.GetProperty("hasLeaks").GetBoolean());
        Assert.Equal("attach", root.GetProperty("strategy").GetString());
        Assert.Equal(report.Iterations, root.GetProperty("iterations").GetInt32());

        JsonElement censuses = root.GetProperty("censuses");
        Assert.Equal(report.Censuses.Count, censuses.GetArrayLength());
        foreach (JsonElement census in censuses.EnumerateArray())
        {
            Assert.True(census.GetProperty("objects").GetInt64() > 0);
            Assert.True(census.GetProperty("bytes").GetInt64() > 0);
            Assert.True(census.GetProperty("pauseMs").GetDouble() > 0);
            Assert.True(census.TryGetProperty("iteration", out _));
        }

        JsonElement item = root.GetProperty("growingTypes").EnumerateArray()
            .Single(t => t.GetProperty("type").GetString() == "LeakHunter.Tests.Targets.StaticListLeak+Item");
        Assert.Equal(censuses.GetArrayLength(), item.GetProperty("counts").GetArrayLength());
        Assert.Equal(1.0, item.GetProperty("instancesPerIteration").GetDouble(), 0.05);
        Assert.True(item.GetProperty("bytesPerIteration").GetDouble() >= 24);
    }

    [Fact]
    public void TextReport_NamesTheVerdictAndTheGrowingType()
    {
        string text = LeakDetector.Run(StaticListLeak.Handle).ToString();

        Assert.StartsWith("LeakHunter: LEAK", text);
        Assert.Contains("LeakHunter.Tests.Targets.StaticListLeak+Item", text);
        Assert.StartsWith("LeakHunter: no leak", LeakDetector.Run(PooledBuffers.Handle).ToString());
    }

    [Fact]
    public void DumpStrategy_ReachesTheSameVerdict_AndSaysSo()
    {
        // Each dump census writes the whole test process to disk, which late in a run that has loaded hundreds of
        // generated assemblies takes seconds: the default budget's rounds are sized for live censuses.
        var dump = new LeakOptions { Strategy = CensusStrategy.Dump, ConfirmationBudget = TimeSpan.FromMinutes(3) };

        LeakReport leaky = LeakDetector.Run(StaticListLeak.Handle, dump);
        LeakDetectionTests.AssertGrows(leaky, "LeakHunter.Tests.Targets.StaticListLeak+Item", perIteration: 1.0);
        Assert.Equal(CensusStrategy.Dump, leaky.Strategy);
        Assert.Contains("\"strategy\": \"dump\"", leaky.ToJson());

        LeakDetectionTests.AssertClean(LeakDetector.Run(PooledBuffers.Handle, dump));
    }

    [Fact]
    public void CensusPastItsTimeLimit_FailsClearly_AndTheNextCheckStartsAFreshInspector()
    {
        var error = Assert.Throws<LeakHunterException>(() =>
            LeakDetector.Run(StaticListLeak.Handle, new LeakOptions { CensusTimeout = TimeSpan.FromMilliseconds(1) }));

        Assert.Equal(LeakHunterFailure.CensusTimedOut, error.Failure);
        Assert.Contains("CensusTimeout", error.Message);
        LeakDetectionTests.AssertClean(LeakDetector.Run(PooledBuffers.Handle));
    }
}
