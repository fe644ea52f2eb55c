using LeakHunter;
using LeakHunter.Xunit;
using Xunit;

[CollectionDefinition(LeakTests.Collection, DisableParallelization = true)]
public sealed class LeakTestsCollection;

[Collection(LeakTests.Collection)]
public sealed class PackageTests
{
    private static readonly List<byte[]> s_kept = new();

    [Fact]
    public void CleanCode_Passes_AndItsReportIsAttached()
    {
        LeakCheck.NoLeaks(() => GC.KeepAlive(new byte[128]));

        Assert.Contains("LeakHunter: no leak", TestContext.Current.Attachments!["leakhunter-report.txt"].AsString());
    }

    [Fact]
    public void Leak_FailsWithTheSummary_AndTheFullReportIsAttached()
    {
        var failure = Assert.Throws<LeakDetectedException>(() => LeakCheck.NoLeaks(() => s_kept.Add(new byte[128])));

        Assert.Contains("static field PackageTests.s_kept", failure.Message);
        Assert.Contains("attached to the test as leakhunter-report.txt, leakhunter-report.json and leakhunter-report.html", failure.Message);
        Assert.Contains("Referred to by", TestContext.Current.Attachments!["leakhunter-report.txt"].AsString());
        Assert.Contains("\"hasLeaks\": true", TestContext.Current.Attachments!["leakhunter-report.json"].AsString());
        Assert.StartsWith("<!DOCTYPE html>", TestContext.Current.Attachments!["leakhunter-report.html"].AsString());
    }
}
