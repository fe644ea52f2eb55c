using System.Diagnostics;
using System.Text.Json;
using Xunit;

namespace LeakHunter.Tests;

/// <summary>
/// Real test suites of each framework, built from tests/SuiteTargets with no reference to LeakHunter, run in a loop:
/// the tests that leak are named with their cause, and every other test ends as it really does.
/// </summary>
public sealed class SuiteTests(SuiteTargets targets) : IClassFixture<SuiteTargets>
{
    private const string Catalog = "Inventory.Tests.CatalogTests.";

    // What each test of the suites really does, the same in every framework's suite.
    private static readonly Dictionary<string, SuiteTestOutcome> s_truth = new(StringComparer.Ordinal)
    {
        [Catalog + "Lookup_FindsTheItem"] = SuiteTestOutcome.Leaks,
        [Catalog + "Lookup_OfEachSku(sku: \"sku-2\")"] = SuiteTestOutcome.Leaks,
        [Catalog + "Lookup_OfEachSku(sku: \"sku-3\")"] = SuiteTestOutcome.Leaks,
        [Catalog + "WatchAsync_SeesChanges"] = SuiteTestOutcome.Leaks,
        [Catalog + "Price_IsPositive"] = SuiteTestOutcome.Clean,
        [Catalog + "Price_OfEachSku(sku: \"a\")"] = SuiteTestOutcome.Clean,
        [Catalog + "Price_OfEachSku(sku: \"bcd\")"] = SuiteTestOutcome.Clean,
        [Catalog + "PriceAsync_IsPositive"] = SuiteTestOutcome.Clean,
        [Catalog + "WatchAndUnwatch_IsClean"] = SuiteTestOutcome.Clean,
        ["Inventory.Tests.WarehouseTests.Warehouse_HasStock"] = SuiteTestOutcome.Clean,
        [Catalog + "Discount_IsApplied"] = SuiteTestOutcome.Failed,
        [Catalog + "Counter_StartsAtZero"] = SuiteTestOutcome.NotRepeatable,
        [Catalog + "Export_ToCsv"] = SuiteTestOutcome.Skipped,
    };

    [Theory]
    [InlineData("XunitV3Suite", "xunit v3")]
    [InlineData("XunitV2Suite", "xunit v2")]
    [InlineData("NUnitSuite", "NUnit")]
    [InlineData("MSTestSuite", "MSTest")]
    public void EveryTestOfASuite_EndsAsItReallyDoes_AndTheLeakingOnesAreNamedByTheirCause(string suite, string framework)
    {
        SuiteReport report = TestSuite.Run(targets.Assembly(suite));

        Assert.Equal(framework, report.Framework);
        Assert.Equal(s_truth.OrderBy(t => t.Key, StringComparer.Ordinal), report.Tests.Select(t => KeyValuePair.Create(t.Name, t.Outcome)).OrderBy(t => t.Key, StringComparer.Ordinal));
        Assert.True(report.HasNewLeaks);
        // Three tests leak into one static list, one through one static event: two causes, each with its tests.
        SuiteLeakCause list = Assert.Single(report.Causes, c => c.Cause.Root.Name == "Inventory.Catalog.s_recent");
        Assert.Equal([Catalog + "Lookup_FindsTheItem", Catalog + "Lookup_OfEachSku(sku: \"sku-2\")", Catalog + "Lookup_OfEachSku(sku: \"sku-3\")"], list.Tests.Order(StringComparer.Ordinal));
        Assert.Contains("Catalog.Lookup", list.Cause.Hint);
        SuiteLeakCause handlers = Assert.Single(report.Causes, c => c.Cause.Root.Name == "Inventory.Catalog.PricesChanged");
        Assert.Equal([Catalog + "WatchAsync_SeesChanges"], handlers.Tests);
        Assert.Equal("event handler", handlers.Cause.Idiom);
        Assert.Equal(2, report.Causes.Count);
        // The outcomes that are no verdict say why.
        Assert.Equal("not built yet", report.Tests.Single(t => t.Outcome == SuiteTestOutcome.Skipped).Message);
        Assert.Contains("passed once, then failed", report.Tests.Single(t => t.Outcome == SuiteTestOutcome.NotRepeatable).Message);
        Assert.DoesNotContain("passed once", report.Tests.Single(t => t.Outcome == SuiteTestOutcome.Failed).Message);
        Assert.All(report.Tests.Where(t => t.Outcome is SuiteTestOutcome.Clean or SuiteTestOutcome.Leaks), t => Assert.NotNull(t.Report));
    }

    [Fact]
    public void AFilter_ChoosesTests_ByTheFrameworksFilterSyntax_OrByAPattern()
    {
        string assembly = targets.Assembly("XunitV2Suite");

        Assert.Equal([Catalog + "Price_IsPositive", Catalog + "Price_OfEachSku(sku: \"a\")", Catalog + "Price_OfEachSku(sku: \"bcd\")", Catalog + "PriceAsync_IsPositive"],
            TestSuite.ListTests(assembly, "FullyQualifiedName~Price&FullyQualifiedName!~Discount"));
        Assert.Equal(["Inventory.Tests.WarehouseTests.Warehouse_HasStock", Catalog + "Export_ToCsv"],
            TestSuite.ListTests(assembly, "ClassName=Inventory.Tests.WarehouseTests|Name=Export_ToCsv").Order(StringComparer.Ordinal).Reverse());
        Assert.Equal([Catalog + "Lookup_OfEachSku(sku: \"sku-2\")"], TestSuite.ListTests(assembly, "*sku-2*"));
        Assert.Equal(2, TestSuite.ListTests(assembly, "OfEachSku(sku: \"sku").Count);
        var failure = Assert.Throws<LeakHunterException>(() => TestSuite.ListTests(assembly, "Category=Slow"));
        Assert.Equal(LeakHunterFailure.InvalidInput, failure.Failure);
        Assert.Contains("'Category=Slow' is not a filter term", failure.Message);
    }

    [Fact]
    public void TestsTheBaselineLists_AreKnown_AndNoNewLeakIsFound()
    {
        string baseline = Path.Combine(Directory.CreateTempSubdirectory("leakhunter-suite-").FullName, "known.json");
        try
        {
            File.WriteAllText(baseline, """{"knownLeakingTests": [{"name": "Inventory.Tests.CatalogTests.*Lookup*", "reason": "the recent list is bounded in 2.0"}]}""");

            SuiteReport report = TestSuite.Run(targets.Assembly("XunitV3Suite"), new SuiteOptions { Filter = "Name~Lookup", BaselinePath = baseline });

            Assert.Equal(3, report.Tests.Count);
            Assert.All(report.Tests, t => Assert.Equal((SuiteTestOutcome.Leaks, "the recent list is bounded in 2.0"), (t.Outcome, t.KnownLeakReason)));
            Assert.False(report.HasNewLeaks);
            Assert.StartsWith("No new leak: 3 known leaking tests", report.ToString());
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(baseline)!, recursive: true);
        }
    }

    [Fact]
    public void ATestThatIsALeakCheckOfItsOwn_IsSkipped_AfterItsOwnVerdict()
    {
        string sample = Path.Combine(targets.Root, "samples", "LeakTestsSample", "bin", "Debug", "net10.0", "LeakTestsSample.dll");

        SuiteReport report = TestSuite.Run(sample, new SuiteOptions { Filter = "Name=ViewModel_ThatUnsubscribes_IsCollected" });

        SuiteTestResult test = Assert.Single(report.Tests);
        Assert.True(test.Outcome == SuiteTestOutcome.Skipped, test.Message);
        Assert.Contains("leak check of its own", test.Message);
    }

    [Fact]
    public void AnAssemblyOfNoTestFramework_OrNoAssemblyAtAll_IsAClearError()
    {
        var none = Assert.Throws<LeakHunterException>(() => TestSuite.Run(typeof(SuiteTests).Assembly.Location.Replace("LeakHunter.Tests.dll", "LeakHunter.dll", StringComparison.Ordinal)));
        Assert.Equal(LeakHunterFailure.InvalidTarget, none.Failure);
        Assert.Contains("references no test framework LeakHunter can drive", none.Message);

        var missing = Assert.Throws<LeakHunterException>(() => TestSuite.Run("/nowhere/Orders.Tests.dll"));
        Assert.Contains("There is no test assembly at '/nowhere/Orders.Tests.dll'", missing.Message);
    }

    [Fact]
    public void TheCommand_BuildsTheProject_RunsItsTests_AndExitsOne_WithASuiteReportInJson()
    {
        (int exit, string output, string errors) = targets.Cli("test", targets.Project("NUnitSuite"), "--format", "json");

        Assert.True(exit == 1, errors);
        using JsonDocument json = JsonDocument.Parse(output);
        Assert.Equal("suite", json.RootElement.GetProperty("kind").GetString());
        Assert.Equal(1, json.RootElement.GetProperty("schemaVersion").GetInt32());
        Assert.Equal(4, json.RootElement.GetProperty("outcomes").GetProperty("leaks").GetInt32());
        Assert.Equal(6, json.RootElement.GetProperty("outcomes").GetProperty("clean").GetInt32());
        JsonElement leak = json.RootElement.GetProperty("tests").EnumerateArray().First(t => t.GetProperty("outcome").GetString() == "leaks");
        Assert.Equal("staticField", leak.GetProperty("causes")[0].GetProperty("root").GetProperty("kind").GetString());
        Assert.True(leak.GetProperty("growingTypes").GetArrayLength() > 0);
        // Progress on standard error: tests done of the total, and the current test.
        Assert.Contains("leakhunter: [13/13] Inventory.Tests.WarehouseTests.Warehouse_HasStock", errors);
    }

    [Fact]
    public void TheCommand_ExitsZero_WhenNoTestLeaks_AndWhatATestPrints_StaysOutOfTheReport()
    {
        (int exit, string output, string errors) = targets.Cli("test", targets.Assembly("CrashSuite"), "--filter", "Name=Prints", "--format", "json");

        Assert.True(exit == 0, errors);
        using JsonDocument json = JsonDocument.Parse(output);
        Assert.Equal("clean", json.RootElement.GetProperty("tests")[0].GetProperty("outcome").GetString());
        Assert.Contains("printed by a test", errors);
        Assert.DoesNotContain("printed by a test", output);
    }

    [Fact]
    public void ATestThatEndsItsHost_IsExitTwo_NamingTheTest()
    {
        (int exit, string output, string errors) = targets.Cli("test", targets.Assembly("CrashSuite"), "--filter", "Name!=Waits");

        Assert.Equal(2, exit);
        Assert.Empty(output);
        Assert.Contains("The test host crashed (exit code 3) while running Crash.Tests.HostTests.EndsItsProcess", errors);
    }

    [Fact]
    public void TheHost_EndsWithTheTool()
    {
        using Process tool = targets.StartCli("test", targets.Assembly("CrashSuite"), "--filter", "Name=Waits", "--max-test-time", "5");
        int host = targets.WaitForHost(tool);

        tool.Kill();
        tool.WaitForExit();

        Assert.True(SuiteTargets.Exits(host, TimeSpan.FromSeconds(30)), $"the test host {host} outlived the tool");
    }

    [Theory]
    [InlineData("/nowhere/Orders.Tests.csproj", "There is no /nowhere/Orders.Tests.csproj")]
    [InlineData("--max-test-time=0", "--max-test-time must be a positive number of seconds")]
    [InlineData("--filter=Category=Slow", "'Category=Slow' is not a filter term")]
    [InlineData("--filter=Name=NoSuchTest", "No test of")]
    public void BadInput_IsExitTwo_WithWhatToDo(string argument, string message)
    {
        string[] arguments = argument.StartsWith("--", StringComparison.Ordinal)
            ? ["test", targets.Assembly("XunitV3Suite"), .. argument.Split('=', 2)]
            : ["test", argument];

        (int exit, string output, string errors) = targets.Cli(arguments);

        Assert.Equal(2, exit);
        Assert.Empty(output);
        Assert.Contains(message, errors);
    }

    [Fact]
    public void TheSuitesHtmlPage_Renders_TheLeakingTestsByCauseFirst_ThenEveryTest()
    {
        SuiteReport report = TestSuite.Run(targets.Assembly("XunitV3Suite"), new SuiteOptions { Filter = "Name~Lookup|Name~Watch|Name=Price_IsPositive" });
        string folder = Directory.CreateTempSubdirectory("leakhunter-html-").FullName;
        try
        {
            string file = Path.Combine(folder, "suite.html");
            File.WriteAllText(file, ReportExporters.Html.Export(report));
            using HeadlessChromium browser = HeadlessChromium.Start();
            browser.Open(file);

            Assert.Empty(browser.Errors());
            Assert.StartsWith("Leaks: 4 of 6 tests leak, through 2 causes", browser.Evaluate("document.querySelector('h1').textContent").GetString());
            Assert.Equal(2, browser.Evaluate("document.querySelectorAll('article.cause').length").GetInt32());
            Assert.Equal(3, browser.Evaluate("document.querySelectorAll('#cause-1 ul.tests li').length").GetInt32());
            Assert.Equal(["leaks", "leaks", "leaks", "leaks", "clean", "clean"],
                browser.Evaluate("[...document.querySelectorAll('span.outcome')].map(s => s.textContent)").EnumerateArray().Select(e => e.GetString()));
            Assert.InRange(HeadlessChromium.InkedShare(browser.Screenshot()), 0.01, 1.0);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}

/// <summary>The suites of tests/SuiteTargets, built once for the tests that run them, and the tool that runs them.</summary>
public sealed class SuiteTargets
{
    private static readonly TimeSpan s_generous = TimeSpan.FromMinutes(5);
    private readonly string _root = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", ".."));

    /// <summary>The repository's root.</summary>
    public string Root => _root;

    public SuiteTargets()
    {
        foreach (string suite in new[] { "XunitV3Suite", "XunitV2Suite", "NUnitSuite", "MSTestSuite", "CrashSuite" })
        {
            (int exit, string output) = Dotnet("build", Project(suite), "-v", "q", "-nologo");
            Assert.True(exit == 0, $"{suite} did not build: {output}");
        }
    }

    public string Project(string suite) => Path.Combine(_root, "tests", "SuiteTargets", suite);

    public string Assembly(string suite) => Path.Combine(Project(suite), "bin", "Debug", "net10.0", suite + ".dll");

    public (int Exit, string Output, string Errors) Cli(params string[] arguments)
    {
        using Process process = StartCli(arguments);
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> errors = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(s_generous), "the tool did not finish");
        return (process.ExitCode, output.Result, errors.Result);
    }

    public Process StartCli(params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(_root, "src", "LeakHunter.Cli", "bin", "Debug", "net10.0", "LeakHunter.Cli.dll"));
        foreach (string argument in arguments)
            start.ArgumentList.Add(argument);
        return Process.Start(start)!;
    }

    /// <summary>The process id of the test host <paramref name="tool"/> started, once its first test runs.</summary>
    public int WaitForHost(Process tool)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < s_generous)
        {
            string? line = tool.StandardError.ReadLine();
            Assert.True(line is not null, "the tool ended before its host ran a test");
            if (!line.StartsWith("leakhunter: [", StringComparison.Ordinal))
                continue;
            foreach (string status in Directory.EnumerateDirectories("/proc").Select(d => Path.Combine(d, "status")))
            {
                if (int.TryParse(Path.GetFileName(Path.GetDirectoryName(status)), out int pid) && ParentOf(status) == tool.Id)
                    return pid;
            }
        }
        Assert.Fail("no test host started");
        return 0;
    }

    public static bool Exits(int pid, TimeSpan within)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < within)
        {
            if (!Directory.Exists($"/proc/{pid}") || File.ReadAllText($"/proc/{pid}/status").Contains("State:\tZ", StringComparison.Ordinal))
                return true;
            Thread.Sleep(50);
        }
        return false;
    }

    private static int? ParentOf(string status)
    {
        try
        {
            string? line = File.ReadLines(status).FirstOrDefault(l => l.StartsWith("PPid:", StringComparison.Ordinal));
            return line is null ? null : int.Parse(line["PPid:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static (int Exit, string Output) Dotnet(params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in arguments)
            start.ArgumentList.Add(argument);
        using Process process = Process.Start(start)!;
        Task<string> errors = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd();
        Assert.True(process.WaitForExit(s_generous), "dotnet build did not finish");
        return (process.ExitCode, output + errors.Result);
    }
}
