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
        string report = failure.Message[(failure.Message.IndexOf(attached, StringComparison.Ordinal) + attached.Length)..].Split(" and ")[0];
        StringAssert.Contains(File.ReadAllText(report), "Referred to by");
    }
}
