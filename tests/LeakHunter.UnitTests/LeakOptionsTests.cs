using Xunit;

namespace LeakHunter.Tests;

/// <summary>Options a check refuses before it runs, each with what was wrong and what to write instead.</summary>
public sealed class LeakOptionsTests
{
    [Fact]
    public void AnIgnoreRuleForAResourceThatDoesNotExist_IsRefused_NamingTheResourcesThatDo()
    {
        var options = new LeakOptions { Ignore = [LeakIgnore.Resource("gcHandle", "the vendor SDK's pool")] };

        var refused = Assert.Throws<ArgumentException>(options.Validate);

        Assert.Equal(nameof(LeakOptions.Ignore), refused.ParamName);
        Assert.Contains("\"gcHandle\" names no resource", refused.Message);
        Assert.Contains(LeakResourceNames.GcHandles, refused.Message);
        Assert.Contains(nameof(LeakResourceNames), refused.Message);
    }

    [Theory]
    [InlineData(LeakResourceNames.GcHandles)]
    [InlineData(LeakResourceNames.NativeMemory)]
    [InlineData("file*")]
    public void AnIgnoreRuleForAResourceByNameOrPattern_IsAccepted(string name)
    {
        var options = new LeakOptions { Ignore = [LeakIgnore.Resource(name, "a pool the vendor SDK grows on its own")] };

        options.Validate();
    }

    [Fact]
    public void TheResourceNames_AreTheOnesReportsUse()
    {
        Assert.Equal(["threads", "gcHandles", "finalizationQueue", "fileDescriptors", "nativeMemory", "assemblies"], LeakResourceNames.All);
    }
}
