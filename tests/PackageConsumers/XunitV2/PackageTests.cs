using LeakHunter;
using LeakHunter.Xunit;
using Xunit;
using Xunit.Abstractions;

[CollectionDefinition(LeakTests.Collection, DisableParallelization = true)]
public sealed class LeakTestsCollection;

[Collection(LeakTests.Collection)]
public sealed class PackageTests(ITestOutputHelper output)
{
    private static readonly List<byte[]> s_kept = new();
    private readonly LeakCheck _leaks = new(output);

    [Fact]
    public void CleanCode_Passes() => _leaks.NoLeaks(() => GC.KeepAlive(new byte[128]));

    [Fact]
    public void Leak_IsFound_WithItsPath_AndTheFullReportGoesToTheOutput()
    {
        var failure = Assert.Throws<LeakDetectedException>(() => _leaks.NoLeaks(() => s_kept.Add(new byte[128])));

        Assert.Contains("static field PackageTests.s_kept", failure.Message);
        Assert.EndsWith("The full report: in the test's output", failure.Message);
        Assert.Contains("System.Byte[]", failure.FullReport);
    }

    [Fact]
    public void TheInspectorCameWithThePackage() =>
        Assert.True(File.Exists(Path.Combine(AppContext.BaseDirectory, "leakhunter-inspector", "LeakHunter.Inspector.dll")));
}
