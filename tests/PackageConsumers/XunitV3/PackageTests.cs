using LeakHunter;
using LeakHunter.Xunit;
using Xunit;

[CollectionDefinition(LeakTests.Collection, DisableParallelization = true)]
public sealed class LeakTestsCollection;

[Collection(LeakTests.Collection)]
public sealed class PackageTests
{
    // The leak keeps a type of its own: a runner's reporting between tests comes in bursts of byte arrays, and a burst
    // while a check's fragment is idle reads as another thread's growth of that type.
    private static readonly List<Receipt> s_kept = new();

    [Fact]
    public void CleanCode_Passes_AndItsReportIsAttached()
    {
        LeakCheck.NoLeaks(() => GC.KeepAlive(new Receipt()));

        Assert.Contains("LeakHunter: no leak", TestContext.Current.Attachments!["leakhunter-report.txt"].AsString());
    }

    [Fact]
    public void Leak_FailsWithTheSummary_AndTheFullReportIsAttached()
    {
        var failure = Assert.Throws<LeakDetectedException>(() => LeakCheck.NoLeaks(() => s_kept.Add(new Receipt())));

        Assert.Contains("static field PackageTests.s_kept", failure.Message);
        Assert.Contains("attached to the test as leakhunter-report.txt, leakhunter-report.json and leakhunter-report.html", failure.Message);
        Assert.Contains("Referred to by", TestContext.Current.Attachments!["leakhunter-report.txt"].AsString());
        Assert.Contains("\"hasLeaks\": true", TestContext.Current.Attachments!["leakhunter-report.json"].AsString());
        Assert.StartsWith("<!DOCTYPE html>", TestContext.Current.Attachments!["leakhunter-report.html"].AsString());
    }
}

public sealed class Receipt
{
    public readonly byte[] Lines = new byte[128];
}
