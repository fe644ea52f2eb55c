using System.Diagnostics;
using System.Text.Json;
using Xunit;

namespace LeakHunter.Tests;

/// <summary>The leakhunter command-line tool against real processes: a leaking one, a clean one, and bad input.</summary>
public sealed class CliTests
{
    private static readonly TimeSpan s_generous = TimeSpan.FromMinutes(2);

    [Fact]
    public void Watch_ReportsTheGrowingTypeWithItsPath_AndExitsOne()
    {
        using TargetProcess target = TargetProcess.StartServing("leak");

        (int exit, string output, string errors) = RunCli("watch", target.Id.ToString(), "--interval", "1", "--samples", "3", "--format", "json");

        Assert.True(exit == 1, errors + output);
        using JsonDocument report = JsonDocument.Parse(output);
        Assert.Equal("watch", report.RootElement.GetProperty("kind").GetString());
        Assert.Equal(3, report.RootElement.GetProperty("censuses").GetArrayLength());
        double[] elapsed = report.RootElement.GetProperty("censuses").EnumerateArray().Select(c => c.GetProperty("elapsedSeconds").GetDouble()).ToArray();
        Assert.True(elapsed[1] >= 1 && elapsed[2] >= elapsed[1] + 1, $"samples a second apart: {string.Join(", ", elapsed)}");
        JsonElement archived = Assert.Single(report.RootElement.GetProperty("growingTypes").EnumerateArray(), t => t.GetProperty("type").GetString() == "ArchivedOrder");
        long[] counts = archived.GetProperty("counts").EnumerateArray().Select(c => c.GetInt64()).ToArray();
        // The rate is per second of the watch, not per census: what was added over the seconds between first and last.
        double perSecond = (counts[^1] - counts[0]) / (elapsed[^1] - elapsed[0]);
        Assert.Equal(perSecond, archived.GetProperty("instancesPerSecond").GetDouble(), tolerance: perSecond / 100); // elapsedSeconds is rounded to ms
        JsonElement leak = report.RootElement.GetProperty("leaks").EnumerateArray().First(l => l.GetProperty("type").GetString() == "ArchivedOrder");
        Assert.Equal("OrderArchive.s_orders", leak.GetProperty("root").GetProperty("name").GetString());
        Assert.Contains("census 3 of 3", errors); // progress goes to stderr, the result to stdout
    }

    [Fact]
    public void Watch_OnACleanProcess_FindsNoGrowth_AndExitsZero()
    {
        using TargetProcess target = TargetProcess.StartServing("clean");

        (int exit, string output, string errors) = RunCli("watch", target.Id.ToString(), "--interval", "1", "--samples", "4");

        Assert.True(exit == 0, errors + output);
        Assert.StartsWith($"LeakHunter: process {target.Id} (", output);
        Assert.Contains("no type grew in every interval", output);
        Assert.Contains("4 censuses of what the roots reach, 1 s apart", output);
    }

    [Fact]
    public void Watch_OfAProcessKeepingFilesOpen_ShowsTheDescriptorsGrowing_WhatTheyAre_AndTheCauseThatKeepsThem()
    {
        using TargetProcess target = TargetProcess.StartServing("leak-files");

        (int exit, string output, string errors) = RunCli("watch", target.Id.ToString(), "--interval", "1", "--samples", "4", "--format", "json");

        Assert.True(exit == 1, errors + output);
        using JsonDocument report = JsonDocument.Parse(output);
        double[] elapsed = report.RootElement.GetProperty("censuses").EnumerateArray().Select(c => c.GetProperty("elapsedSeconds").GetDouble()).ToArray();
        JsonElement descriptors = Assert.Single(report.RootElement.GetProperty("resources").EnumerateArray(), r => r.GetProperty("name").GetString() == "fileDescriptors");
        Assert.True(descriptors.GetProperty("growing").GetBoolean(), output);
        long[] files = descriptors.GetProperty("details").GetProperty("file").EnumerateArray().Select(c => c.GetInt64()).ToArray();
        long[] counts = descriptors.GetProperty("counts").EnumerateArray().Select(c => c.GetInt64()).ToArray();
        // Every descriptor added is a file, one per tick of the target's timer; the rate is per second of the watch.
        Assert.Equal(counts[^1] - counts[0], files[^1] - files[0]);
        Assert.True(files[^1] - files[0] >= 20, output);
        Assert.Equal((counts[^1] - counts[0]) / (elapsed[^1] - elapsed[0]), descriptors.GetProperty("perSecond").GetDouble(), tolerance: 0.5);

        JsonElement finding = Assert.Single(descriptors.GetProperty("findings").EnumerateArray());
        Assert.Equal("file", finding.GetProperty("kind").GetString());
        Assert.Equal("/dev/null", finding.GetProperty("what").GetString());
        Assert.Equal("Microsoft.Win32.SafeHandles.SafeFileHandle", finding.GetProperty("ownerType").GetString());
        // Told right after the last census: the target opened a few more meanwhile, one per 20 ms tick.
        Assert.InRange(finding.GetProperty("count").GetInt64(), files[^1] - files[0], files[^1] - files[0] + 25);
        JsonElement cause = report.RootElement.GetProperty("causes")[finding.GetProperty("cause").GetInt32()];
        Assert.Equal("FileKeeper.s_files", cause.GetProperty("root").GetProperty("name").GetString());
    }

    [Fact]
    public void CensusesOfAProcessKeepingFilesOpen_Diffed_ShowTheDescriptorsGained()
    {
        using TargetProcess target = TargetProcess.StartServing("leak-files");
        string before = Path.GetTempFileName(), after = Path.GetTempFileName();
        try
        {
            target.WaitForHeldAbove("files", 0, s_generous);
            Assert.Equal(0, RunCli("census", target.Id.ToString(), "--format", "json", "--output", before).Exit);
            ResourceCount descriptorsBefore = CensusReport.FromJson(File.ReadAllText(before)).Resources.Single(r => r.Name == "fileDescriptors");
            // The target's own count lags (its lines are queued, and it keeps opening while the census runs), but it
            // never held more files than the first census counted file descriptors: 30 past that, it has gained 30.
            target.WaitForHeldAbove("files", descriptorsBefore.Details["file"] + 30, s_generous);
            Assert.Equal(0, RunCli("census", target.Id.ToString(), "--format", "json", "--output", after).Exit);
            long gained = CensusReport.FromJson(File.ReadAllText(after)).Resources.Single(r => r.Name == "fileDescriptors").Count - descriptorsBefore.Count;
            Assert.True(gained >= 30, $"{gained} descriptors gained");

            (int exit, string output, string errors) = RunCli("diff", before, after);

            Assert.True(exit == 1, errors + output);
            string line = output.Split('\n').Single(l => l.EndsWith($"fileDescriptors (file +{gained})", StringComparison.Ordinal));
            Assert.StartsWith($"+{gained}", line.Trim());

            (exit, output, errors) = RunCli("diff", before, after, "--format", "json");
            using JsonDocument diff = JsonDocument.Parse(output);
            JsonElement change = Assert.Single(diff.RootElement.GetProperty("resourceChanges").EnumerateArray(), r => r.GetProperty("name").GetString() == "fileDescriptors");
            Assert.Equal(gained, change.GetProperty("change").GetInt64());
            Assert.Equal(gained, change.GetProperty("details").GetProperty("file").GetInt64());
        }
        finally
        {
            File.Delete(before);
            File.Delete(after);
        }
    }

    [Fact]
    public void CensusSavedTwice_ThenDiffed_ShowsTheGrowth()
    {
        using TargetProcess target = TargetProcess.StartServing("leak");
        string before = Path.GetTempFileName(), after = Path.GetTempFileName();
        try
        {
            Assert.Equal(0, RunCli("census", target.Id.ToString(), "--reachable", "--format", "json", "--output", before).Exit);
            target.WaitForOrdersAbove(OrdersIn(before) + 10, s_generous);
            Assert.Equal(0, RunCli("census", target.Id.ToString(), "--reachable", "--format", "json", "--output", after).Exit);
            // A live process's census carries what it holds besides objects: its threads (the serving timer's among
            // them) and descriptors, read from the system, and its GC handles, read from the runtime.
            CensusReport saved = CensusReport.FromJson(File.ReadAllText(after));
            Assert.Equal(["threads", "gcHandles", "finalizationQueue", "fileDescriptors", "nativeMemory", "assemblies"], saved.Resources.Select(r => r.Name));
            Assert.True(saved.Resources.Single(r => r.Name == "threads").Details["managed"] >= 2, File.ReadAllText(after));
            Assert.True(saved.Resources.Single(r => r.Name == "fileDescriptors").Details["pipe"] >= 1, File.ReadAllText(after));
            Assert.True(saved.Resources.Single(r => r.Name == "gcHandles").Details["strong"] > 0, File.ReadAllText(after));

            (int exit, string output, string errors) = RunCli("diff", before, after, "--sort", "count");

            Assert.True(exit == 1, errors + output);
            string first = output.Split('\n').First(l => l.Contains("ArchivedOrder", StringComparison.Ordinal) && !l.Contains("[]", StringComparison.Ordinal));
            Assert.StartsWith("+", first.Trim());
        }
        finally
        {
            File.Delete(before);
            File.Delete(after);
        }
    }

    [Fact]
    public void Paths_NamesTheStaticThatHoldsTheType()
    {
        using TargetProcess target = TargetProcess.StartServing("leak");

        (int exit, string output, string errors) = RunCli("paths", target.Id.ToString(), "--type", "ArchivedOrder", "--max", "20");

        Assert.True(exit == 0, errors + output);
        Assert.Contains("static field OrderArchive.s_orders", output);
        Assert.Contains("accumulates here", output);
        // The process was stopped only while its memory was copied, said on stderr and in the report.
        Assert.Contains($"process {target.Id} (", errors);
        Assert.Contains("ms while its memory was copied; the paths were traced in the copy while it ran on.", errors);
        Assert.Contains("the process was stopped for ", output);

        // Garbage the process has not collected yet (the arrays its list outgrew) is no referrer: each order has one.
        (exit, output, errors) = RunCli("paths", target.Id.ToString(), "--type", "ArchivedOrder", "--max", "20", "--format", "json");
        Assert.True(exit == 0, errors + output);
        using JsonDocument paths = JsonDocument.Parse(output);
        long alive = paths.RootElement.GetProperty("instances").GetInt64();
        Assert.True(paths.RootElement.GetProperty("targetPauseMs").GetDouble() > 0, output);
        JsonElement from = Assert.Single(paths.RootElement.GetProperty("referrers")[0].GetProperty("from").EnumerateArray());
        Assert.Equal("ArchivedOrder[]", from.GetProperty("type").GetString());
        Assert.InRange(from.GetProperty("count").GetInt64(), alive - 5, alive);
    }

    [Fact]
    public void DumpsOfALeakingProcess_CensusAndDiff_ShowTheGrowth()
    {
        using TargetProcess target = TargetProcess.StartServing("leak");
        string folder = Directory.CreateTempSubdirectory("leakhunter-cli-test-").FullName;
        try
        {
            string first = Path.Combine(folder, "first.dmp"), second = Path.Combine(folder, "second.dmp");
            var client = new Microsoft.Diagnostics.NETCore.Client.DiagnosticsClient(target.Id);
            client.WriteDump(Microsoft.Diagnostics.NETCore.Client.DumpType.WithHeap, first);
            string firstCensus = Path.Combine(folder, "first.json");
            Assert.Equal(0, RunCli("census", first, "--format", "json", "--output", firstCensus).Exit);
            target.WaitForOrdersAbove(OrdersIn(firstCensus) + 10, s_generous);
            client.WriteDump(Microsoft.Diagnostics.NETCore.Client.DumpType.WithHeap, second);

            (int exit, string output, string errors) = RunCli("census", second, "--filter", "ArchivedOrder*", "--format", "json");
            Assert.True(exit == 0, errors + output);
            using (JsonDocument census = JsonDocument.Parse(output))
                Assert.Contains(census.RootElement.GetProperty("types").EnumerateArray(), t => t.GetProperty("type").GetString() == "ArchivedOrder" && t.GetProperty("count").GetInt64() > 0);
            Assert.True(File.Exists(second), "a dump someone else wrote is never deleted");

            (exit, output, errors) = RunCli("diff", first, second, "--sort", "count", "--format", "json");
            Assert.True(exit == 1, errors + output);
            using (JsonDocument diff = JsonDocument.Parse(output))
            {
                Assert.Contains(diff.RootElement.GetProperty("changes").EnumerateArray(), c => c.GetProperty("type").GetString() == "ArchivedOrder" && c.GetProperty("countChange").GetInt64() > 0);
                Assert.False(diff.RootElement.TryGetProperty("causes", out _), "a diff without --baseline traces nothing");
            }

            DiffAgainstABaseline_TellsTheCause_AcceptsIt_ThenPassesOnItAlone(folder, firstCensus, first, second);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>
    /// <c>diff --baseline</c> on two dumps of a process that keeps every order in a static list: the cause is told from
    /// the second dump with its id; accepted with LEAKHUNTER_UPDATE_BASELINE=1, it passes as a known leak; a baseline
    /// that knows only something else fails, and lists that entry as not seen.
    /// </summary>
    private static void DiffAgainstABaseline_TellsTheCause_AcceptsIt_ThenPassesOnItAlone(string folder, string firstCensus, string first, string second)
    {
        string baseline = Path.Combine(folder, "known-leaks.json");
        (int exit, string output, string errors) = RunCli("diff", first, second, "--baseline", baseline, "--format", "json");
        Assert.True(exit == 1, errors + output);
        string id;
        using (JsonDocument diff = JsonDocument.Parse(output))
        {
            Assert.True(diff.RootElement.GetProperty("hasNewGrowth").GetBoolean());
            JsonElement cause = Assert.Single(diff.RootElement.GetProperty("causes").EnumerateArray(),
                c => c.GetProperty("types").EnumerateArray().Any(t => t.GetString() == "ArchivedOrder"));
            Assert.Equal("OrderArchive.s_orders", cause.GetProperty("root").GetProperty("name").GetString());
            Assert.True(cause.GetProperty("instancesGained").GetDouble() > 0);
            id = cause.GetProperty("id").GetString()!;
        }
        Assert.False(File.Exists(baseline), "a baseline is only written when an update is asked for");

        (exit, output, errors) = RunCliWith(new() { ["LEAKHUNTER_UPDATE_BASELINE"] = "1" }, "diff", first, second, "--baseline", baseline);
        Assert.True(exit == 0, errors + output);
        Assert.Contains("new cause(s) were added to the baseline", output);
        Assert.Contains(id, File.ReadAllText(baseline));

        (exit, output, errors) = RunCli("diff", first, second, "--baseline", baseline);
        Assert.True(exit == 0, errors + output);
        Assert.Contains("no new leak", output);
        Assert.Contains($"[{id}]: accepted on ", output);

        File.WriteAllText(baseline, """{ "knownLeaks": [ { "id": "0123456789ab", "reason": "the legacy cache, trimmed nightly" } ] }""");
        (exit, output, errors) = RunCli("diff", first, second, "--baseline", baseline);
        Assert.True(exit == 1, errors + output);
        Assert.Contains("[0123456789ab] the legacy cache, trimmed nightly", output);

        (exit, _, errors) = RunCli("diff", firstCensus, firstCensus, "--baseline", baseline);
        Assert.Equal(2, exit);
        Assert.Contains("is a saved census", errors);
    }

    [Fact]
    public void Ps_ListsTheDotnetProcesses()
    {
        using TargetProcess target = TargetProcess.StartServing("clean");

        (int exit, string output, _) = RunCli("ps");

        Assert.Equal(0, exit);
        Assert.Contains(output.Split('\n'), l => l.TrimStart().StartsWith(target.Id + " ", StringComparison.Ordinal) && l.Contains("serve clean", StringComparison.Ordinal));
    }

    [Fact]
    public void BadInput_ExitsTwo_WithTheFixOnStderr()
    {
        (int exit, string output, string errors) = RunCli("census", "999999");
        Assert.Equal((2, ""), (exit, output));
        Assert.Contains("no process with id 999999", errors);
        Assert.Contains("leakhunter ps", errors);

        using (Process sleeper = Process.Start("sleep", "60"))
        {
            // Until it has exec'd, the child is a forked copy of this .NET test host, which would be a .NET process.
            Assert.True(SpinWait.SpinUntil(() => File.ReadAllText($"/proc/{sleeper.Id}/comm").Trim() == "sleep", TimeSpan.FromSeconds(30)));
            (exit, _, errors) = RunCli("census", sleeper.Id.ToString());
            sleeper.Kill();
            Assert.Equal(2, exit);
            Assert.Contains("is not a .NET process", errors);
            Assert.Contains("DOTNET_EnableDiagnostics", errors);
        }

        string corrupt = Path.GetTempFileName();
        try
        {
            File.WriteAllBytes(corrupt, [0x7f, (byte)'E', (byte)'L', (byte)'F', 1, 2, 3]);
            (exit, _, errors) = RunCli("census", corrupt);
            Assert.Equal(2, exit);
            Assert.Contains("not a readable dump", errors);
        }
        finally
        {
            File.Delete(corrupt);
        }
    }

    [Theory]
    [InlineData("watch", "1", "--interval", "-1")]
    [InlineData("watch", "1", "--interval", "0")]
    [InlineData("watch", "1", "--samples", "2")]
    [InlineData("watch", "1", "--baseline", "/")]
    [InlineData("diff", "a.json", "b.json", "--baseline", "/")]
    [InlineData("census", "1", "--format", "xml")]
    [InlineData("census", "1", "--top", "0")]
    [InlineData("census", "1", "--timeout", "0")]
    [InlineData("paths", "1", "--type", "X", "--max", "0")]
    [InlineData("paths", "1")]
    [InlineData("frobnicate")]
    [InlineData()]
    public void UsageErrors_ExitTwo_WithOneLineOnStderr(params string[] arguments)
    {
        // Process 1 is never a .NET process here, but every one of these must fail on its usage before looking at it.
        (int exit, string output, string errors) = RunCli(arguments);

        Assert.True(exit == 2, $"exit {exit}: {errors}{output}");
        Assert.Equal("", output);
        string line = Assert.Single(errors.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("leakhunter: ", line);
        Assert.DoesNotContain("   at ", errors); // no stack trace
    }

    [Fact]
    public void Watch_WithABaselineThatIsNotOne_ExitsTwo_NamingTheFile()
    {
        using TargetProcess target = TargetProcess.StartServing("leak");
        string baseline = Path.Combine(Path.GetTempPath(), $"leakhunter-not-a-baseline-{Environment.ProcessId}.json");
        File.WriteAllText(baseline, "{ \"leaks\": [] }");
        try
        {
            (int exit, string output, string errors) = RunCli("watch", target.Id.ToString(), "--baseline", baseline);

            Assert.True(exit == 2, errors + output);
            Assert.Contains($"The baseline {baseline} is not a LeakHunter baseline", errors);
        }
        finally
        {
            File.Delete(baseline);
        }
    }

    [Fact]
    public void Paths_OfATypeThatMatchesNothing_ExitsTwo_SuggestingCloseNames_AndTakesWildcards()
    {
        using TargetProcess target = TargetProcess.StartServing("leak");

        (int exit, string output, string errors) = RunCli("paths", target.Id.ToString(), "--type", "ArchivedOrdr");
        Assert.True(exit == 2, errors + output);
        Assert.Contains("No live instance of a type matching 'ArchivedOrdr'", errors);
        Assert.Contains("'ArchivedOrder'", errors);

        (exit, output, errors) = RunCli("paths", target.Id.ToString(), "--type", "Acme.DoesNotExist");
        Assert.True(exit == 2, errors + output);
        Assert.Contains("leakhunter census", errors);

        (exit, output, errors) = RunCli("paths", target.Id.ToString(), "--type", "Archived*", "--max", "5");
        Assert.True(exit == 0, errors + output);
        Assert.Contains("static field OrderArchive.s_orders", output);
    }

    [Fact]
    public void UnwritableOutput_ExitsTwo_BeforeAnyWork_AndLeavesNoFile()
    {
        using TargetProcess target = TargetProcess.StartServing("clean");
        string missingFolder = Path.Combine(Path.GetTempPath(), "leakhunter-no-such-folder-" + Guid.NewGuid().ToString("N"), "census.json");

        (int exit, string output, string errors) = RunCli("census", target.Id.ToString(), "--output", missingFolder);

        Assert.True(exit == 2, errors + output);
        Assert.Contains("cannot be written", errors);
        Assert.DoesNotContain("walking the heap", errors);
        Assert.False(File.Exists(missingFolder));

        (exit, _, errors) = RunCli("census", target.Id.ToString(), "--output", Path.GetTempPath());
        Assert.Equal(2, exit);
        Assert.Contains("is a folder", errors);
    }

    [Fact]
    public void TruncatedDump_IsNamedAsTruncated_AndExitsTwo_WhileTheWholeDumpReads()
    {
        using TargetProcess target = TargetProcess.StartServing("leak");
        string folder = Directory.CreateTempSubdirectory("leakhunter-cli-test-").FullName;
        try
        {
            string whole = Path.Combine(folder, "whole.dmp"), cut = Path.Combine(folder, "cut.dmp"), tailless = Path.Combine(folder, "tailless.dmp");
            new Microsoft.Diagnostics.NETCore.Client.DiagnosticsClient(target.Id).WriteDump(Microsoft.Diagnostics.NETCore.Client.DumpType.WithHeap, whole);
            long length = new FileInfo(whole).Length;
            CopyPrefix(whole, cut, length * 3 / 4);
            CopyPrefix(whole, tailless, length - 512 * 1024);

            foreach (string truncated in new[] { cut, tailless })
            {
                (int exit, string output, string errors) = RunCli("census", truncated);
                Assert.True(exit == 2, errors + output);
                Assert.Contains("is a truncated dump", errors);
                Assert.Contains("bytes missing", errors);
            }

            Assert.Equal(0, RunCli("census", whole, "--top", "5").Exit);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }

        static void CopyPrefix(string from, string to, long bytes)
        {
            using FileStream source = File.OpenRead(from);
            using FileStream destination = File.Create(to);
            var buffer = new byte[1 << 20];
            for (long left = bytes; left > 0;)
            {
                int read = source.Read(buffer, 0, (int)Math.Min(buffer.Length, left));
                destination.Write(buffer, 0, read);
                left -= read;
            }
        }
    }

    [Fact]
    public void SavedCensus_HoldsEveryType_SoADiffIsExact()
    {
        using TargetProcess target = TargetProcess.StartServing("leak");
        string saved = Path.GetTempFileName();
        try
        {
            Assert.Equal(0, RunCli("census", target.Id.ToString(), "--format", "json", "--output", saved).Exit);
            (int exit, string text, _) = RunCli("census", target.Id.ToString());
            Assert.Equal(0, exit);

            using JsonDocument census = JsonDocument.Parse(File.ReadAllText(saved));
            int typesSaved = census.RootElement.GetProperty("types").GetArrayLength();
            string[] lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            int typesShown = Array.IndexOf(lines, "Resources:") - 2; // headline and column names; the resources follow the types
            Assert.Equal(30, typesShown);
            Assert.Contains(lines, l => l.Contains(" fileDescriptors (file ", StringComparison.Ordinal));
            Assert.True(typesSaved > 100, $"only {typesSaved} types saved");
            Assert.Equal(census.RootElement.GetProperty("objects").GetInt64(), census.RootElement.GetProperty("types").EnumerateArray().Sum(t => t.GetProperty("count").GetInt64()));
        }
        finally
        {
            File.Delete(saved);
        }
    }

    [Fact]
    public async Task WebServer_DrivenWithRealRequests_WatchFindsTheLeakingEndpoint_AndNotTheCleanOne()
    {
        using ServerProcess server = ServerProcess.Start();
        using var http = new HttpClient { BaseAddress = server.Address };
        await UseBeforeWatching(http, "/orders/");

        (int exit, string output, string errors) = await WatchWhileDriving(server, http, "/orders/");
        Assert.True(exit == 1, errors + output);
        using (JsonDocument report = JsonDocument.Parse(output))
        {
            JsonElement leak = report.RootElement.GetProperty("leaks").EnumerateArray().First(l => l.GetProperty("type").GetString() == "LeakyServer.Receipt");
            Assert.Equal("LeakyServer.OrderHistory.s_receipts", leak.GetProperty("root").GetProperty("name").GetString());
        }

        (exit, output, errors) = await WatchWhileDriving(server, http, "/health");
        Assert.True(exit == 0, errors + output);
        using (JsonDocument report = JsonDocument.Parse(output))
            Assert.Empty(report.RootElement.GetProperty("growingTypes").EnumerateArray());
    }

    [Fact]
    public async Task WebServer_EventLeakThroughASingleton_WatchTellsOneCause_HeldByTheSingletonsEvent()
    {
        using ServerProcess server = ServerProcess.Start();
        using var http = new HttpClient { BaseAddress = server.Address };
        await UseBeforeWatching(http, "/quotes/");

        // A new connection per request: every request leaves a socket behind for the GC, which must not be the story.
        (int exit, string output, string errors) = await WatchWhileDriving(server, http, "/quotes/", newConnectionPerRequest: true);

        Assert.True(exit == 1, errors + output);
        using JsonDocument report = JsonDocument.Parse(output);
        JsonElement[] causes = report.RootElement.GetProperty("causes").EnumerateArray().ToArray();
        JsonElement cause = Assert.Single(causes, c => c.GetProperty("types").EnumerateArray().Any(t => t.GetString() == "LeakyServer.QuoteWatcher"));
        string story = cause.ToString();
        Assert.Equal("event handler", cause.GetProperty("idiom").GetString());
        Assert.Contains("Unsubscribe", cause.GetProperty("hint").GetString());
        // The owner a user can act on: the singleton's event, reached without passing through a connection in flight.
        Assert.Contains(cause.GetProperty("path").EnumerateArray(), s => s.GetProperty("type").GetString() == "LeakyServer.PriceTicker");
        Assert.Equal("_invocationList", cause.GetProperty("accumulationPoint").GetProperty("field").GetString());
        Assert.DoesNotContain("Socket", cause.GetProperty("root").GetProperty("name").GetString());
        Assert.DoesNotContain(cause.GetProperty("path").EnumerateArray(), s => s.GetProperty("type").GetString()!.Contains("Socket", StringComparison.Ordinal));
        // One cause per leak: no other cause keeps the watcher or its handler.
        Assert.DoesNotContain(causes.Where(c => !c.Equals(cause)).SelectMany(c => c.GetProperty("types").EnumerateArray()),
            t => t.GetString() is "LeakyServer.QuoteWatcher" or "System.EventHandler<System.Decimal>");
        Assert.DoesNotContain("finalizer is blocked", output);
    }

    /// <summary>
    /// First use of <paramref name="leakyEndpoint"/> and of <c>/health</c> (routing, JIT, the request delegates'
    /// reflection caches) before anything is watched.
    /// </summary>
    private static async Task UseBeforeWatching(HttpClient http, string leakyEndpoint)
    {
        for (int i = 0; i < 50; i++)
        {
            await http.GetStringAsync(leakyEndpoint + i);
            await http.GetStringAsync("/health");
        }
    }

    /// <summary>
    /// Runs <c>leakhunter watch</c> on the server while real requests hit <paramref name="endpoint"/> until it is done.
    /// Intervals of 2 s leave room for requests between censuses even on a loaded machine, where each census holds the
    /// server still for up to a second.
    /// </summary>
    private static async Task<(int Exit, string Output, string Errors)> WatchWhileDriving(ServerProcess server, HttpClient http, string endpoint,
        bool newConnectionPerRequest = false)
    {
        // Requests come from a thread of their own: a busy thread pool must not leave an interval without any.
        using var done = new ManualResetEventSlim();
        var driver = new Thread(() =>
        {
            for (int request = 1000; !done.Wait(5); request++)
            {
                var message = new HttpRequestMessage(HttpMethod.Get, endpoint.EndsWith('/') ? endpoint + request : endpoint);
                message.Headers.ConnectionClose = newConnectionPerRequest;
                using HttpResponseMessage response = http.Send(message);
                response.EnsureSuccessStatusCode();
            }
        }) { IsBackground = true, Name = "request driver" };
        driver.Start();
        try
        {
            return await Task.Run(() => RunCli("watch", server.Id.ToString(), "--interval", "2", "--samples", "5", "--format", "json"));
        }
        finally
        {
            done.Set();
            driver.Join();
        }
    }

    /// <summary>The LeakyServer sample on a loopback port of its own.</summary>
    private sealed class ServerProcess : IDisposable
    {
        private readonly Process _process;

        private ServerProcess(Process process, Uri address)
        {
            _process = process;
            Address = address;
        }

        public Uri Address { get; }

        public int Id => _process.Id;

        public static ServerProcess Start()
        {
            string dll = Path.Combine(AppContext.BaseDirectory.Replace(Path.Combine("tests", "LeakHunter.Tests"), Path.Combine("samples", "LeakyServer"), StringComparison.Ordinal), "LeakyServer.dll");
            var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, UseShellExecute = false };
            start.ArgumentList.Add(dll);
            start.ArgumentList.Add("--urls");
            start.ArgumentList.Add("http://127.0.0.1:0");
            var process = Process.Start(start)!;
            var listening = Task.Run(() =>
            {
                for (string? line; (line = process.StandardOutput.ReadLine()) is not null;)
                {
                    if (line.StartsWith("listening ", StringComparison.Ordinal))
                        return line["listening ".Length..];
                }
                return null;
            });
            if (!listening.Wait(s_generous) || listening.Result is null)
            {
                new ServerProcess(process, new Uri("http://127.0.0.1")).Dispose();
                throw new InvalidOperationException("The LeakyServer sample did not start listening.");
            }
            return new ServerProcess(process, new Uri(listening.Result));
        }

        public void Dispose()
        {
            if (!_process.HasExited)
            {
                _process.Kill();
                _process.WaitForExit();
                RuntimeFiles.DeleteOf(_process.Id);
            }
            _process.Dispose();
        }
    }

    /// <summary>The ArchivedOrder instances a saved census counted.</summary>
    private static long OrdersIn(string savedCensus)
    {
        using JsonDocument census = JsonDocument.Parse(File.ReadAllText(savedCensus));
        return census.RootElement.GetProperty("types").EnumerateArray()
            .Where(t => t.GetProperty("type").GetString() == "ArchivedOrder").Select(t => t.GetProperty("count").GetInt64()).SingleOrDefault();
    }


    private static (int Exit, string Output, string Errors) RunCli(params string[] arguments) => RunCliWith([], arguments);

    private static (int Exit, string Output, string Errors) RunCliWith(Dictionary<string, string> environment, params string[] arguments)
    {
        string cli = Path.Combine(AppContext.BaseDirectory.Replace(Path.Combine("tests", "LeakHunter.Tests"), Path.Combine("src", "LeakHunter.Cli"), StringComparison.Ordinal), "LeakHunter.Cli.dll");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(cli);
        foreach (string argument in arguments)
            start.ArgumentList.Add(argument);
        foreach ((string name, string value) in environment)
            start.Environment[name] = value;
        using Process process = Process.Start(start)!;
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> errors = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(s_generous), "the tool did not finish");
        return (process.ExitCode, output.Result, errors.Result);
    }
}
