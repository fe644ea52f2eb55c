using System.Text.Json;
using LeakHunter.Analysis;
using LeakHunter.Tests.Targets;
using Xunit;

namespace LeakHunter.Tests;

/// <summary>
/// A baseline of known leaks: causes get ids that stay the same from run to run, a check whose causes are all known
/// passes and still lists them, a new cause fails, and an update run writes the file instead of failing.
/// </summary>
public sealed class BaselineTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("leakhunter-baseline-").FullName;

    private string BaselineFile => Path.Combine(_folder, "known-leaks.json");

    public void Dispose()
    {
        Environment.SetEnvironmentVariable(LeakBaseline.UpdateVariable, null);
        BaselineArchive.Clear();
        BaselineFeed.Clear();
        Directory.Delete(_folder, recursive: true);
    }

    [Fact]
    public void ACausesId_IsTheSameInEveryRun_WhateverItsCounts_AndDiffersForAnotherLeak()
    {
        LeakReport first = LeakDetector.Run(BaselineArchive.Keep);
        LeakReport second = LeakDetector.Run(BaselineArchive.Keep, new LeakOptions { ConfirmationIterations = 1_000 });
        LeakReport other = LeakDetector.Run(BaselineFeed.Subscribe);

        string id = Assert.Single(first.Causes).Id;
        Assert.Matches("^[0-9a-f]{12}$", id);
        Assert.Equal(id, Assert.Single(second.Causes).Id);
        Assert.NotEqual(id, Assert.Single(other.Causes).Id);
        Assert.Contains($"[{id}]", first.ToString());
        Assert.Contains($"\"id\": \"{id}\"", first.ToJson());
    }

    [Fact]
    public void UpdateThenCheck_AcceptsTheKnownLeak_ListsIt_AndFailsOnANewOne()
    {
        var options = new LeakOptions { BaselinePath = BaselineFile };

        // No file yet: an empty baseline, and the leak fails the check.
        LeakReport before = LeakDetector.Run(BaselineArchive.Keep, options);
        Assert.True(before.HasLeaks, before.ToString());
        string id = Assert.Single(before.Causes).Id;

        // An update run writes the cause to the file, says so, and passes.
        Environment.SetEnvironmentVariable(LeakBaseline.UpdateVariable, "1");
        LeakReport updated = LeakDetector.Run(BaselineArchive.Keep, options);
        Environment.SetEnvironmentVariable(LeakBaseline.UpdateVariable, null);
        Assert.False(updated.HasLeaks, updated.ToString());
        Assert.Contains(updated.Warnings, w => w.Contains("added to the baseline", StringComparison.Ordinal) && w.Contains(BaselineFile, StringComparison.Ordinal));
        using (JsonDocument file = JsonDocument.Parse(File.ReadAllText(BaselineFile)))
        {
            JsonElement entry = Assert.Single(file.RootElement.GetProperty("knownLeaks").EnumerateArray());
            Assert.Equal(id, entry.GetProperty("id").GetString());
            Assert.Equal($"accepted on {DateTime.Today:yyyy-MM-dd}", entry.GetProperty("reason").GetString());
            Assert.Contains("BaselineArchive.s_records", entry.GetProperty("owner").GetString());
        }

        // A person writes the reason; the next check passes on it and still lists the leak as known.
        File.WriteAllText(BaselineFile, File.ReadAllText(BaselineFile).Replace($"accepted on {DateTime.Today:yyyy-MM-dd}", "archive is trimmed nightly (ticket 4711)"));
        LeakReport known = LeakDetector.Run(BaselineArchive.Keep, options);
        Assert.False(known.HasLeaks, known.ToString());
        Assert.True(known.OnlyKnownLeaks);
        Assert.Empty(known.Warnings);
        Assert.Equal("archive is trimmed nightly (ticket 4711)", Assert.Single(known.Causes).KnownLeakReason);
        Assert.StartsWith("LeakHunter: no new leak - 1 known leak(s) from the baseline", known.ToString());
        Assert.Contains($"cause 1 [{id}]: archive is trimmed nightly (ticket 4711)", known.ToString());
        Assert.Contains("\"knownLeakReason\": \"archive is trimmed nightly (ticket 4711)\"", known.ToJson());

        // A leak the baseline does not know fails, and the known entry it did not see is listed as possibly fixed.
        LeakReport fresh = LeakDetector.Run(BaselineFeed.Subscribe, options);
        Assert.True(fresh.HasLeaks, fresh.ToString());
        Assert.Null(Assert.Single(fresh.Causes).KnownLeakReason);
        Assert.Equal(id, Assert.Single(fresh.KnownLeaksNotSeen).Id);
        Assert.Contains($"[{id}]", fresh.ToString()[fresh.ToString().IndexOf("Not seen in this check", StringComparison.Ordinal)..]);
    }

    [Fact]
    public void CleanCode_WithABaseline_PassesAndIsNoKnownLeak()
    {
        File.WriteAllText(BaselineFile, """{ "knownLeaks": [ { "id": "0123456789ab", "reason": "an old leak" } ] }""");

        LeakReport report = LeakDetector.Run(PooledBuffers.Handle, new LeakOptions { BaselinePath = BaselineFile });

        Assert.False(report.HasLeaks, report.ToString());
        Assert.False(report.OnlyKnownLeaks);
        Assert.Equal("0123456789ab", Assert.Single(report.KnownLeaksNotSeen).Id);
    }

    [Theory]
    [InlineData("not json", "not valid JSON")]
    [InlineData("""{ "leaks": [] }""", "no \"knownLeaks\" array")]
    [InlineData("""{ "knownLeaks": [ { "id": "0123456789ab" } ] }""", "entry 1 needs an \"id\" and a \"reason\"")]
    public void ABaselineThatIsNotOne_FailsBeforeTheFragmentRuns_NamingTheFileAndTheProblem(string content, string problem)
    {
        File.WriteAllText(BaselineFile, content);
        int calls = 0;

        var error = Assert.Throws<LeakHunterException>(() => LeakDetector.Run(() => calls++, new LeakOptions { BaselinePath = BaselineFile }));

        Assert.Equal(LeakHunterFailure.InvalidInput, error.Failure);
        Assert.Contains(BaselineFile, error.Message);
        Assert.Contains(problem, error.Message);
        Assert.Equal(0, calls);
    }

    [Fact]
    public void ABaselinePathThatIsAFolder_IsRejected()
    {
        var error = Assert.Throws<ArgumentException>(() => LeakDetector.Run(() => { }, new LeakOptions { BaselinePath = _folder }));

        Assert.Equal("BaselinePath", error.ParamName);
    }
}
