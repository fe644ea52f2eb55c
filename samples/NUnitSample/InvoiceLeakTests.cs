using LeakHunter;
using NUnit.Framework;

// Leak checks count every object in the process, so they must not run alongside other tests.
[assembly: NonParallelizable]

namespace NUnitSample;

public sealed class InvoiceLeakTests
{
    [Test]
    public void Rendering_DoesNotLeak() => LeakAssert.NoLeaks(() => new InvoiceRenderer().Render(42));

    [Test]
    public void CachingRenderer_Leaks_AndTheFailureSaysWhereItPilesUp()
    {
        var failure = Assert.Throws<LeakDetectedException>(() => LeakAssert.NoLeaks(() => new CachingInvoiceRenderer().Render(Random.Shared.Next())));

        Assert.That(failure!.Message, Does.Contain("static field NUnitSample.CachingInvoiceRenderer.s_rendered"));
        Assert.That(failure.Message, Does.Contain("accumulates here"));
        // The message is the summary; the full text and JSON reports are files attached to the test.
        Assert.That(failure.Message, Does.Not.Contain("Referred to by"));
        string report = Path.Combine(TestContext.CurrentContext.WorkDirectory, "leakhunter",
            "leakhunter-report-CachingRenderer_Leaks_AndTheFailureSaysWhereItPilesUp.txt");
        Assert.That(failure.Message, Does.Contain("The full report: attached to the test as " + report));
        Assert.That(File.ReadAllText(report), Does.Contain("Referred to by"));
        Assert.That(File.ReadAllText(Path.ChangeExtension(report, ".json")), Does.Contain("\"hasLeaks\": true"));
    }
}

public sealed class InvoiceRenderer
{
    public string Render(int number) => $"Invoice #{number:D6}";
}

// Every invoice ever rendered is kept, under a key that is never seen again.
public sealed class CachingInvoiceRenderer
{
    private static readonly Dictionary<int, string> s_rendered = new();

    public string Render(int number) => s_rendered[number] = $"Invoice #{number:D6}";
}
