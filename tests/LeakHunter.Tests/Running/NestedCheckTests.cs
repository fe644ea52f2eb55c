using LeakHunter.Tests.Targets;
using Xunit;

namespace LeakHunter.Tests;

/// <summary>A check started inside a check fails at once and names why, instead of waiting forever for the outer one.</summary>
public sealed class NestedCheckTests
{
    [Fact]
    public void ACheckStartedFromAFragment_FailsAtOnce_AndTheNextCheckRuns()
    {
        var failure = Assert.Throws<LeakHunterException>(() => LeakDetector.Run(() => LeakDetector.Run(() => TransientGarbage.Handle())));

        Assert.Equal(LeakHunterFailure.NestedCheck, failure.Failure);
        Assert.Contains("inside another one", failure.Message);
        Assert.False(LeakDetector.Run(() => TransientGarbage.Handle()).HasLeaks);
    }

    [Fact]
    public async Task AnAsyncCheckAwaitedFromAnAsyncFragment_FailsAtOnce_AndTheNextCheckRuns()
    {
        var failure = await Assert.ThrowsAsync<LeakHunterException>(() =>
            LeakDetector.RunAsync(async () => await LeakDetector.RunAsync(PoolWork.HandleAsync)));

        Assert.Equal(LeakHunterFailure.NestedCheck, failure.Failure);
        Assert.False((await LeakDetector.RunAsync(PoolWork.HandleAsync)).HasLeaks);
    }

    [Fact]
    public void AnAssertionStartedOnAnotherThreadByTheFragment_FailsInsteadOfDeadlocking()
    {
        // The fragment blocks on work it handed to the thread pool; that work starts a check of its own.
        var failure = Assert.Throws<AggregateException>(() =>
            LeakAssert.NoLeaks(() => Task.Run(() => LeakAssert.NoInstances<NeverCreated>()).Wait()));

        Assert.Equal(LeakHunterFailure.NestedCheck, Assert.IsType<LeakHunterException>(failure.InnerException).Failure);
    }

    [Fact]
    public void ChecksOneAfterAnother_AreNotNested()
    {
        LeakAssert.NoLeaks(() => TransientGarbage.Handle());
        LeakAssert.NoInstances<NeverCreated>();
        Assert.False(LeakDetector.Run(() => TransientGarbage.Handle()).HasLeaks);
    }

    private sealed class NeverCreated;
}
