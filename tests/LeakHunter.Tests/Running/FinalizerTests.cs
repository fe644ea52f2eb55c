using LeakHunter.Tests.Targets;
using Xunit;

namespace LeakHunter.Tests;

/// <summary>
/// A check waits for the finalizers at every settle. A finalizer that blocks must neither hang the check nor be told
/// as garbage: the report says the finalizer thread is blocked, and where.
/// </summary>
public sealed class FinalizerTests
{
    private const string Targets = "LeakHunter.Tests.Targets.";

    [Fact]
    public void BlockedFinalizerThread_IsReportedWithItsStack_AndTheCheckFinishes()
    {
        try
        {
            LeakReport report = LeakDetector.Run(BlockedFinalizer.Make, new LeakOptions { ConfirmationIterations = 400 });

            string warning = Assert.Single(report.Warnings, w => w.StartsWith("The finalizer thread is blocked", StringComparison.Ordinal));
            // The stack names the finalizer that blocks, and what it waits on.
            Assert.Contains("BlockedFinalizer+Connection.Finalize", warning);
            Assert.Contains("ManualResetEventSlim.Wait", warning);
            // The connections pile up behind it: growth, but never a cause told as some root's.
            Assert.True(report.HasLeaks, report.ToString());
            Assert.DoesNotContain(report.Causes, c => c.Types.Any(t => t.Type == Targets + "BlockedFinalizer+Connection"));
            UnexplainedGrowth waiting = Assert.Single(report.Unexplained, u => u.Type == Targets + "BlockedFinalizer+Connection");
            Assert.Contains("finalizer thread is blocked", waiting.Reason);
        }
        finally
        {
            BlockedFinalizer.Release();
            GC.WaitForPendingFinalizers();
        }
    }

    [Fact]
    public void QuickFinalizer_IsCleanWithNoWordOfTheFinalizerThread()
    {
        LeakReport report = LeakDetector.Run(QuickFinalizer.Make);

        Assert.False(report.HasLeaks, report.ToString());
        Assert.DoesNotContain(report.Warnings, w => w.Contains("finalizer thread", StringComparison.Ordinal));
        Assert.True(QuickFinalizer.Connection.Closed > 0);
    }
}
