using LeakHunter;
using Microsoft.VisualStudio.TestTools.UnitTesting;

// Leak checks count every object in the process, so they must not run alongside other tests.
[assembly: DoNotParallelize]

namespace MSTestSample;

[TestClass]
public sealed class NotificationLeakTests
{
    [TestMethod]
    public void DisposedSubscriber_IsCollected() => LeakAssert.Collected(() =>
    {
        using var subscriber = new AlertSubscriber();
        return subscriber;
    });

    [TestMethod]
    public void ForgottenSubscriber_Survives_AndTheFailureNamesTheEvent()
    {
        var failure = Assert.ThrowsExactly<LeakDetectedException>(() => LeakAssert.Collected(() => new AlertSubscriber()));

        StringAssert.Contains(failure.Message, "static field MSTestSample.AlertHub.Raised");
        StringAssert.Contains(failure.Message, "Unsubscribe");
        // The message is the summary; the full reports are result files of the test.
        StringAssert.Contains(failure.Message, "The full report: attached to the test result as ");
        int start = failure.Message.IndexOf("attached to the test result as ", StringComparison.Ordinal) + "attached to the test result as ".Length;
        string report = failure.Message[start..(failure.Message.IndexOf(".txt", start, StringComparison.Ordinal) + ".txt".Length)];
        StringAssert.EndsWith(report, "leakhunter-report-ForgottenSubscriber_Survives_AndTheFailureNamesTheEvent.txt");
        StringAssert.Contains(File.ReadAllText(report), "watched object(s) survived");
    }
}

public static class AlertHub
{
    public static event EventHandler<string>? Raised;

    public static void Raise(string alert) => Raised?.Invoke(null, alert);
}

// Subscribes on creation; only Dispose unsubscribes.
public sealed class AlertSubscriber : IDisposable
{
    public AlertSubscriber() => AlertHub.Raised += OnRaised;

    public int Seen { get; private set; }

    public void Dispose() => AlertHub.Raised -= OnRaised;

    private void OnRaised(object? sender, string alert) => Seen++;
}
