using System.Text.Json;
using Xunit;

[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]

namespace LeakHunter.Tests;

/// <summary>Scenarios that need a process of their own: a fresh start, a dead inspector, a closed route.</summary>
public sealed class ProcessScenarioTests
{
    private static readonly TimeSpan s_generous = TimeSpan.FromMinutes(2);

    [Fact]
    public void FirstCheckInAFreshProcess_IsAsReliableAsLaterOnes()
    {
        using TargetProcess target = TargetProcess.Start(["first-check"]);

        JsonElement leaky = ReadReport(target);
        JsonElement clean = ReadReport(target);

        Assert.True(leaky.GetProperty("HasLeaks").GetBoolean());
        JsonElement item = leaky.GetProperty("Growing").EnumerateArray().Single(t => t.GetProperty("Type").GetString() == "Scenario+Leaked");
        Assert.Equal(1.0, item.GetProperty("InstancesPerIteration").GetDouble(), 0.05);
        Assert.DoesNotContain(leaky.GetProperty("Growing").EnumerateArray(), t => t.GetProperty("Type").GetString()!.StartsWith("LeakHunter", StringComparison.Ordinal));
        Assert.False(clean.GetProperty("HasLeaks").GetBoolean(), clean.ToString());
    }

    [Fact]
    public void KillingTheInspectorMidCensus_LeavesTheProcessRunning_AndTheNextCheckStartsANewOne()
    {
        using TargetProcess target = TargetProcess.Start(["checks-on-big-heap", "2"]);
        Assert.NotNull(target.ReadLineStartingWith("ready", s_generous));

        // Kill as soon as the inspector has begun to stop the target's threads: the earliest moment of a census,
        // while it is still seizing threads, is the one that could leave a stop signal behind.
        int[] inspectors = [];
        bool stopped = false;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!stopped && clock.Elapsed < s_generous)
        {
            inspectors = TargetProcess.InspectorsOf(target.Id);
            stopped = inspectors.Length == 1 && TargetProcess.StateOf(target.Id) == 't';
            Thread.Sleep(0);
        }
        Assert.True(stopped, "the target was never seen stopped by its inspector");
        System.Diagnostics.Process.GetProcessById(inspectors[0]).Kill();

        string? first = target.ReadLine(s_generous);
        Assert.NotNull(first);
        Assert.StartsWith("failed InspectorExited", first);
        JsonElement second = ReadReport(target);
        Assert.True(second.GetProperty("HasLeaks").GetBoolean());
        Assert.Equal("done", target.ReadLine(s_generous));
        Assert.True(target.WaitForExit(s_generous));
        Assert.Equal(0, target.ExitCode);
    }

    [Fact]
    public void TheInspector_NeverOutlivesTheProcessThatStartedIt()
    {
        using TargetProcess target = TargetProcess.Start(["checks-on-big-heap", "1000"]);
        Assert.NotNull(target.ReadLineStartingWith("ready", s_generous));
        int[] inspectors = [];
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (inspectors.Length == 0 && clock.Elapsed < s_generous)
        {
            Thread.Sleep(10);
            inspectors = TargetProcess.InspectorsOf(target.Id);
        }
        int inspector = Assert.Single(inspectors);

        target.Kill();
        Assert.True(target.WaitForExit(s_generous));

        clock.Restart();
        while (TargetProcess.IsRunning(inspector) && clock.Elapsed < TimeSpan.FromSeconds(30))
            Thread.Sleep(50);
        Assert.False(TargetProcess.IsRunning(inspector), $"inspector {inspector} outlived its parent");
    }

    [Fact]
    public void DumpRoute_StillWorksWithDiagnosticsDisabled()
    {
        // The dump is written by the runtime's createdump, which traces the process and needs no diagnostics server.
        using TargetProcess target = TargetProcess.Start(["check"], new Dictionary<string, string>
        {
            ["DOTNET_EnableDiagnostics"] = "0",
            ["LEAKHUNTER_TEST_STRATEGY"] = "Dump",
        });

        JsonElement report = ReadReport(target);

        Assert.True(report.GetProperty("HasLeaks").GetBoolean());
        Assert.Equal("Dump", report.GetProperty("Strategy").GetString());
    }

    [Fact]
    public void LiveAttach_StillWorksWithDiagnosticsDisabled()
    {
        using TargetProcess target = TargetProcess.Start(["check"], new Dictionary<string, string> { ["DOTNET_EnableDiagnostics"] = "0" });

        JsonElement report = ReadReport(target);

        Assert.True(report.GetProperty("HasLeaks").GetBoolean());
        Assert.Equal("Attach", report.GetProperty("Strategy").GetString());
    }

    [Fact]
    public void PtraceDeniedWithNoDumpRouteLeft_FailsNamingTheFix()
    {
        // A non-dumpable process of an unprivileged user: neither the inspector nor the runtime's dump writer may trace it.
        using TargetProcess target = TargetProcess.StartAsUnprivileged(["check"], new Dictionary<string, string> { ["LEAKHUNTER_TEST_NOT_DUMPABLE"] = "1" });

        string? line = target.ReadLine(s_generous);

        Assert.NotNull(line);
        Assert.StartsWith("failed PtraceDenied", line);
        Assert.Contains("no route to this process's heap is left", line);
        Assert.Contains("CAP_SYS_PTRACE", line);
    }

    [Fact]
    public void DumpRoute_KeepsDumpsPrivate_AndLeavesNoneBehind()
    {
        string temp = Directory.CreateTempSubdirectory("leakhunter-test-").FullName;
        try
        {
            using TargetProcess target = TargetProcess.Start(["first-check"], new Dictionary<string, string>
            {
                ["TMPDIR"] = temp + "/",
                ["LEAKHUNTER_TEST_STRATEGY"] = "Dump",
            });
            var modes = new HashSet<UnixFileMode>();
            var folderModes = new HashSet<UnixFileMode>();
            while (!target.WaitForExit(TimeSpan.FromMilliseconds(5)))
            {
                foreach (string folder in Directory.GetDirectories(temp, "leakhunter-*"))
                {
                    try
                    {
                        folderModes.Add(File.GetUnixFileMode(folder));
                        foreach (string dump in Directory.GetFiles(folder, "*.dmp"))
                            modes.Add(File.GetUnixFileMode(dump));
                    }
                    catch (IOException)
                    {
                        // Deleted between listing and reading: exactly what should happen.
                    }
                }
            }

            Assert.Equal(0, target.ExitCode);
            Assert.NotEmpty(modes);
            Assert.Equal([UnixFileMode.UserRead | UnixFileMode.UserWrite], modes);
            Assert.Equal([UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute], folderModes);
            Assert.Empty(Directory.GetFileSystemEntries(temp, "leakhunter-*"));
            Assert.Empty(Directory.GetFiles(temp, "*.dmp", SearchOption.AllDirectories));
        }
        finally
        {
            Directory.Delete(temp, recursive: true);
        }
    }

    [Fact]
    public void DumpRoute_LeavesTheProcessOutputAlone()
    {
        using TargetProcess target = TargetProcess.Start(["check-while-writing"], new Dictionary<string, string> { ["LEAKHUNTER_TEST_STRATEGY"] = "Dump" });

        var numbers = new List<int>();
        string? report = null;
        string? wrote = null;
        while (wrote is null && target.ReadLine(s_generous) is { } line)
        {
            if (line.StartsWith("line ", StringComparison.Ordinal))
                numbers.Add(int.Parse(line["line ".Length..], System.Globalization.CultureInfo.InvariantCulture));
            else if (line.StartsWith("wrote ", StringComparison.Ordinal))
                wrote = line;
            else if (line.StartsWith("report ", StringComparison.Ordinal))
                report = line;
            else
                Assert.Fail($"unexpected output line: {line}");
        }

        Assert.NotNull(report);
        JsonElement parsed = JsonDocument.Parse(report["report ".Length..]).RootElement;
        Assert.True(parsed.GetProperty("HasLeaks").GetBoolean());
        Assert.Equal("Dump", parsed.GetProperty("Strategy").GetString());
        Assert.NotNull(wrote);
        int written = int.Parse(wrote["wrote ".Length..], System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(written > 0);
        // Every line the other thread wrote while the dump censuses ran arrived, in order, with none missing.
        Assert.Equal(Enumerable.Range(0, written), numbers);
        Assert.True(target.WaitForExit(s_generous));
        Assert.DoesNotContain(target.StandardError, l => l.Contains("[createdump]", StringComparison.Ordinal));
    }

    private static JsonElement ReadReport(TargetProcess target)
    {
        string? line = target.ReadLine(s_generous);
        Assert.NotNull(line);
        Assert.StartsWith("report ", line);
        return JsonDocument.Parse(line["report ".Length..]).RootElement.Clone();
    }
}
