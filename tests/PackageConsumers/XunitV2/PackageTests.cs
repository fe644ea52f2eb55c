using LeakHunter;
using LeakHunter.Xunit;
using Xunit;
using Xunit.Abstractions;

[CollectionDefinition(LeakTests.Collection, DisableParallelization = true)]
public sealed class LeakTestsCollection;

[Collection(LeakTests.Collection)]
public sealed class PackageTests(ITestOutputHelper output)
{
    // The leak keeps a type of its own: a runner's reporting between tests comes in bursts of byte arrays, and a burst
    // while a check's fragment is idle reads as another thread's growth of that type.
    private static readonly List<Receipt> s_kept = new();
    private readonly LeakCheck _leaks = new(output);

    [Fact]
    public void CleanCode_Passes() => _leaks.NoLeaks(() => GC.KeepAlive(new Receipt()));

    [Fact]
    public void Leak_IsFound_WithItsPath_AndTheFullReportGoesToTheOutput()
    {
        var failure = Assert.Throws<LeakDetectedException>(() => _leaks.NoLeaks(() => s_kept.Add(new Receipt())));

        Assert.Contains("static field PackageTests.s_kept", failure.Message);
        Assert.EndsWith("The full report: in the test's output", failure.Message);
        Assert.Contains("Receipt", failure.FullReport);
    }

    [Fact]
    public void TheInspectorCameWithThePackage() =>
        Assert.True(File.Exists(Path.Combine(AppContext.BaseDirectory, "leakhunter-inspector", "LeakHunter.Inspector.dll")));
}

public sealed class Receipt
{
    public readonly byte[] Lines = new byte[128];
}
