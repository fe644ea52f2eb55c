using LeakHunter;
using Microsoft.VisualStudio.TestTools.UnitTesting;

[assembly: DoNotParallelize]

[TestClass]
public sealed class PackageTests
{
    // The leak keeps a type of its own: a runner's reporting between tests comes in bursts of byte arrays, and a burst
    // while a check's fragment is idle reads as another thread's growth of that type.
    private static readonly List<Receipt> s_kept = new();

    [TestMethod]
    public void CleanCode_Passes() => LeakAssert.NoLeaks(() => GC.KeepAlive(new Receipt()));

    [TestMethod]
    public void Leak_FailsWithTheSummary_AndTheFullReportIsAResultFile()
    {
        var failure = Assert.ThrowsExactly<LeakDetectedException>(() => LeakAssert.NoLeaks(() => s_kept.Add(new Receipt())));

        StringAssert.Contains(failure.Message, "static field PackageTests.s_kept");
        const string attached = "attached to the test result as ";
        StringAssert.Contains(failure.Message, attached);
        int start = failure.Message.IndexOf(attached, StringComparison.Ordinal) + attached.Length;
        string report = failure.Message[start..(failure.Message.IndexOf(".txt", start, StringComparison.Ordinal) + ".txt".Length)];
        StringAssert.Contains(File.ReadAllText(report), "Referred to by");
        StringAssert.StartsWith(File.ReadAllText(Path.ChangeExtension(report, ".html")), "<!DOCTYPE html>");
    }
}

public sealed class Receipt
{
    public readonly byte[] Lines = new byte[128];
}
