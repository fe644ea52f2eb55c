using LeakHunter;
using Microsoft.VisualStudio.TestTools.UnitTesting;

[assembly: DoNotParallelize]

[TestClass]
public sealed class PackageTests
{
    private static readonly List<byte[]> s_kept = new();

    [TestMethod]
    public void CleanCode_Passes() => LeakAssert.NoLeaks(() => GC.KeepAlive(new byte[128]));

    [TestMethod]
    public void Leak_FailsWithTheSummary_AndTheFullReportIsAResultFile()
    {
        var failure = Assert.ThrowsExactly<LeakDetectedException>(() => LeakAssert.NoLeaks(() => s_kept.Add(new byte[128])));

        StringAssert.Contains(failure.Message, "static field PackageTests.s_kept");
        const string attached = "attached to the test result as ";
        StringAssert.Contains(failure.Message, attached);
        int start = failure.Message.IndexOf(attached, StringComparison.Ordinal) + attached.Length;
        string report = failure.Message[start..(failure.Message.IndexOf(".txt", start, StringComparison.Ordinal) + ".txt".Length)];
        StringAssert.Contains(File.ReadAllText(report), "Referred to by");
        StringAssert.StartsWith(File.ReadAllText(Path.ChangeExtension(report, ".html")), "<!DOCTYPE html>");
    }
}
