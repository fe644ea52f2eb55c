using System.Text.Json;
using LeakHunter;
using LeakHunter.Xunit;
using Xunit;
using Xunit.Sdk;

namespace LeakHunter.XunitV3.Tests;

[CollectionDefinition(LeakTests.Collection, DisableParallelization = true)]
public sealed class LeakTestsCollection;

/// <summary>What a test author sees under xunit v3: the summary as the failure, the full reports attached, once.</summary>
[Collection(LeakTests.Collection)]
public sealed class AdapterTests
{
    [Fact]
    public void ALeak_FailsWithTheSummary_AndAttachesTheFullTextAndJsonReports()
    {
        var failure = Assert.Throws<LeakDetectedException>(() => LeakCheck.NoLeaks(() => Subscriptions.Subscribe(new Subscriber())));

        string[] lines = failure.Message.Split('\n');
        Assert.InRange(lines.Length, 5, 25);
        Assert.StartsWith("LeakHunter: LEAK - 1 cause", failure.Message);
        Assert.Contains("static field LeakHunter.XunitV3.Tests.Subscriptions.Changed", failure.Message);
        Assert.Contains("<-- accumulates here", failure.Message);
        Assert.Contains("Fix: Unsubscribe", failure.Message);
        Assert.EndsWith("The full report: attached to the test as leakhunter-report.txt, leakhunter-report.json and leakhunter-report.html", failure.Message.TrimEnd());
        // The per-type detail and referrers are the full report's, not the message's.
        Assert.DoesNotContain("Referred to by", failure.Message);

        IReadOnlyDictionary<string, TestAttachment> attachments = TestContext.Current.Attachments!;
        string text = attachments["leakhunter-report.txt"].AsString();
        Assert.Contains("Per type (how each new instance hangs", text);
        Assert.Contains("Referred to by", text);
        using JsonDocument json = JsonDocument.Parse(attachments["leakhunter-report.json"].AsString());
        Assert.True(json.RootElement.GetProperty("hasLeaks").GetBoolean());
        Assert.Contains("accumulates here", attachments["leakhunter-report.html"].AsString());
        Assert.Equal("LeakHunter.XunitV3.Tests.Subscriptions.Changed",
            json.RootElement.GetProperty("causes")[0].GetProperty("root").GetProperty("name").GetString());
        // The full report is attached, not written to the output as well.
        Assert.DoesNotContain("Per type", TestContext.Current.TestOutputHelper!.Output);
    }

    [Fact]
    public void CleanCode_Passes_WritesItsSummaryToTheOutput_AndStillAttachesTheReports()
    {
        var pool = new Pool();

        LeakReport report = LeakCheck.NoLeaks(() => pool.Rent().Return());

        Assert.False(report.HasLeaks, report.ToString());
        Assert.Contains("LeakHunter: no leak", TestContext.Current.TestOutputHelper!.Output);
        using JsonDocument json = JsonDocument.Parse(TestContext.Current.Attachments!["leakhunter-report.json"].AsString());
        Assert.False(json.RootElement.GetProperty("hasLeaks").GetBoolean());
    }

    [Fact]
    public void TwoChecksInOneTest_AttachUnderNamesOfTheirOwn()
    {
        var pool = new Pool();
        LeakCheck.NoLeaks(() => pool.Rent().Return());

        var failure = Assert.Throws<LeakDetectedException>(() => LeakCheck.NoLeaks(() => Archive.Keep(new Record())));

        Assert.Contains("attached to the test as leakhunter-report-2.txt, leakhunter-report-2.json and leakhunter-report-2.html", failure.Message);
        Assert.Contains("LeakHunter: no leak", TestContext.Current.Attachments!["leakhunter-report.txt"].AsString());
        Assert.Contains("Archive.s_records", TestContext.Current.Attachments!["leakhunter-report-2.txt"].AsString());
    }

    [Fact]
    public void AnObjectThatSurvives_FailsWithItsPath_AndAttachesThePaths()
    {
        var failure = Assert.Throws<LeakDetectedException>(() => LeakCheck.Collected(() => Archive.Keep(new Record())));

        Assert.Contains("Archive.s_records", failure.Message);
        Assert.Contains("attached to the test as leakhunter-report.txt, leakhunter-report.json and leakhunter-report.html", failure.Message);
        Assert.Contains("Archive.s_records", TestContext.Current.Attachments!["leakhunter-report.txt"].AsString());
    }

    [Fact]
    public void AnObjectThatIsCollected_Passes() => LeakCheck.Collected(() => new Record());
}

public sealed class Subscriber
{
    public void OnChanged(object? sender, EventArgs e)
    {
    }
}

public static class Subscriptions
{
    public static event EventHandler? Changed;

    public static void Subscribe(Subscriber subscriber) => Changed += subscriber.OnChanged;

    public static void Raise() => Changed?.Invoke(null, EventArgs.Empty);
}

public sealed class Record
{
    public long Id { get; } = Environment.TickCount64;
}

public static class Archive
{
    private static readonly List<Record> s_records = [];

    public static Record Keep(Record record)
    {
        s_records.Add(record);
        return record;
    }
}

public sealed class Pool
{
    private readonly Stack<Buffer> _free = new();

    public Buffer Rent() => _free.TryPop(out Buffer? buffer) ? buffer : new Buffer(this);

    public sealed class Buffer(Pool owner)
    {
        public byte[] Bytes { get; } = new byte[64];

        public void Return() => owner._free.Push(this);
    }
}
