using LeakHunter;
using LeakHunter.Xunit;
using Xunit;

namespace XunitV3Sample;

// Leak checks count every object in the process: they run in a collection that is never parallel to other tests.
[CollectionDefinition(LeakTests.Collection, DisableParallelization = true)]
public sealed class LeakTestsCollection;

[Collection(LeakTests.Collection)]
public sealed class SessionLeakTests
{
    // A session that subscribes to the clock and never unsubscribes stays alive as long as the clock does.
    [Fact]
    public void Session_ThatForgetsToUnsubscribe_IsHeldByTheClocksEvent()
    {
        var failure = Assert.Throws<LeakDetectedException>(() => LeakCheck.NoLeaks(() => new LeakySession().Touch()));

        Assert.Contains("static field XunitV3Sample.Clock.Ticked", failure.Message);
        Assert.Contains("Unsubscribe", failure.Message);
        Assert.Contains("attached to the test as leakhunter-report.txt", failure.Message);
    }

    [Fact]
    public void Session_ThatUnsubscribesOnDispose_DoesNotLeak() => LeakCheck.NoLeaks(() =>
    {
        using var session = new Session();
        session.Touch();
    });
}

public static class Clock
{
    public static event EventHandler? Ticked;

    public static void Tick() => Ticked?.Invoke(null, EventArgs.Empty);
}

public sealed class Session : IDisposable
{
    private DateTime _lastSeen;

    public Session() => Clock.Ticked += OnTicked;

    public void Touch() => _lastSeen = DateTime.UtcNow;

    public void Dispose() => Clock.Ticked -= OnTicked;

    private void OnTicked(object? sender, EventArgs e) => _ = _lastSeen;
}

public sealed class LeakySession
{
    private DateTime _lastSeen;

    public LeakySession() => Clock.Ticked += OnTicked;

    public void Touch() => _lastSeen = DateTime.UtcNow;

    private void OnTicked(object? sender, EventArgs e) => _ = _lastSeen;
}
