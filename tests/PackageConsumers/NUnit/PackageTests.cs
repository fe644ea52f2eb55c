using LeakHunter;
using NUnit.Framework;

[assembly: NonParallelizable]

public sealed class PackageTests
{
    // The leaks keep types of their own: between tests NUnit's runner reports results in bursts of byte arrays and
    // strings, and a burst while a check's fragment is idle reads as another thread's growth of those types.
    private static readonly List<Receipt> s_kept = new();
    private static readonly List<Customer> s_names = new();

    [Test]
    public void CleanCode_Passes() => LeakAssert.NoLeaks(() => GC.KeepAlive(new Receipt()));

    [Test]
    public void Leak_FailsWithTheSummary_AndTheFullReportIsAttached()
    {
        var failure = Assert.Throws<LeakDetectedException>(() => LeakAssert.NoLeaks(() => s_kept.Add(new Receipt())))!;

        Assert.That(failure.Message, Does.Contain("static field PackageTests.s_kept"));
        string report = Path.Combine(TestContext.CurrentContext.WorkDirectory, "leakhunter", "leakhunter-report-Leak_FailsWithTheSummary_AndTheFullReportIsAttached.txt");
        Assert.That(failure.Message, Does.Contain("attached to the test as " + report));
        Assert.That(File.ReadAllText(report), Does.Contain("Referred to by"));
        Assert.That(File.ReadAllText(Path.ChangeExtension(report, ".html")), Does.StartWith("<!DOCTYPE html>"));
    }

    // A team adopting LeakHunter: accept today's leak into a baseline, pass on it, and still fail on a new one.
    [Test]
    public void Baseline_AcceptsAKnownLeak_ThenFailsOnANewOne()
    {
        string baseline = Path.Combine(TestContext.CurrentContext.WorkDirectory, "known-leaks.json");
        File.Delete(baseline);
        var options = new LeakOptions { BaselinePath = baseline };

        Environment.SetEnvironmentVariable("LEAKHUNTER_UPDATE_BASELINE", "1");
        try
        {
            LeakReport accepted = LeakAssert.NoLeaks(() => s_kept.Add(new Receipt()), options);
            Assert.That(accepted.Warnings, Has.Some.Contains("added to the baseline"));
        }
        finally
        {
            Environment.SetEnvironmentVariable("LEAKHUNTER_UPDATE_BASELINE", null);
        }
        Assert.That(File.ReadAllText(baseline), Does.Contain("accepted on"));

        LeakReport known = LeakAssert.NoLeaks(() => s_kept.Add(new Receipt()), options);
        Assert.That(known.OnlyKnownLeaks, Is.True);

        var failure = Assert.Throws<LeakDetectedException>(() => LeakAssert.NoLeaks(() => s_names.Add(new Customer(Guid.NewGuid())), options))!;
        Assert.That(failure.Message, Does.Contain("static field PackageTests.s_names"));
    }
}

public sealed class Receipt
{
    public readonly byte[] Lines = new byte[128];
}

public sealed record Customer(Guid Id);
