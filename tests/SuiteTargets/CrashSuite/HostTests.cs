using Xunit;

namespace Crash.Tests;

public sealed class HostTests
{
    // Clean: it writes a line of its own to standard output on every run.
    [Fact]
    public void Prints()
    {
        Console.WriteLine("printed by a test");
        Assert.True(true);
    }

    // Ends the process that runs it, as a test that calls Environment.Exit or overflows its stack does.
    [Fact]
    public void EndsItsProcess()
    {
        Environment.Exit(3);
    }

    // Runs for a long time on every run, for the tool to be stopped while it runs.
    [Fact]
    public void Waits()
    {
        Thread.Sleep(TimeSpan.FromMilliseconds(500));
    }
}
