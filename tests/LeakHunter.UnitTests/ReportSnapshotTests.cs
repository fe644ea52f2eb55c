using System.Runtime.CompilerServices;
using System.Text.Json;
using LeakHunter.Analysis;
using Xunit;

namespace LeakHunter.Tests;

/// <summary>
/// Every report kind in every format, rendered from a fixed model and compared with an approved file under
/// tests/LeakHunter.Tests/Approved. A change in a renderer shows up as a failed test and a .received file beside the
/// approved one: look at the difference, and if it is what you meant, copy the received file over the approved one.
/// </summary>
public sealed class ReportSnapshotTests
{
    public static TheoryData<string, string> Cases()
    {
        var cases = new TheoryData<string, string>();
        foreach (string report in s_reportModels.Keys)
        {
            foreach (IReportExporter exporter in ReportExporters.All)
                cases.Add(report, exporter.Name);
        }
        return cases;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Report_MatchesItsApprovedFile(string report, string format)
    {
        IReportExporter exporter = ReportExporters.Named(format);

        string rendered = s_reportModels[report](exporter);

        Approved.Verify($"{report}.{exporter.FileExtension}", rendered);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Json_IsSchemaVersionOne_MarkdownIsTables_AndHtmlIsSelfContained(string report, string format)
    {
        string rendered = s_reportModels[report](ReportExporters.Named(format));

        if (format == "json")
        {
            using JsonDocument json = JsonDocument.Parse(rendered);
            Assert.Equal(1, json.RootElement.GetProperty("schemaVersion").GetInt32());
        }
        if (format == "markdown")
        {
            Assert.DoesNotContain("```", rendered);
            Assert.Contains("|---", rendered);
        }
        if (format == "html")
        {
            // One file that opens anywhere: no script, and nothing (font, style, image) fetched from a network.
            Assert.StartsWith("<!DOCTYPE html>", rendered);
            Assert.DoesNotContain("<script", rendered, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("http:", rendered, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("https:", rendered, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("@import", rendered, StringComparison.OrdinalIgnoreCase);
        }
    }

    [Fact]
    public void Summaries_MatchTheirApprovedFiles()
    {
        Approved.Verify("leak-check.summary.txt", FixedReports.LeakCheck().ToSummary());
        Approved.Verify("leak-check-baseline.summary.txt", FixedReports.LeakCheck(FixedReports.Baseline()).ToSummary());
        Approved.Verify("paths.summary.txt", FixedReports.Paths().ToSummary());
    }

    [Fact]
    public void LeakReportJson_KeepsEveryFieldOfSchemaVersionOne()
    {
        using JsonDocument json = JsonDocument.Parse(s_reportModels["leak-check"](ReportExporters.Json));

        string[] fields = json.RootElement.EnumerateObject().Select(p => p.Name).ToArray();

        Assert.Equal(
            ["schemaVersion", "hasLeaks", "strategy", "warmupIterations", "iterations", "durationMs", "censuses", "confirmation", "growingTypes", "backgroundTypes",
             "resources", "causes", "unexplained", "leaks", "referrers", "explanationPartial", "ignored", "warnings"],
            fields);
    }

    [Fact]
    public void ReportsATool_BuildsFromTheirPublicProperties_RenderAsTheOnesLeakHunterBuilt()
    {
        LeakReport check = FixedReports.LeakCheck(FixedReports.Baseline());
        var checkByTool = new LeakReport
        {
            Strategy = check.Strategy, WarmupIterations = check.WarmupIterations, Iterations = check.Iterations, Censuses = check.Censuses,
            Confirmation = check.Confirmation, GrowingTypes = check.GrowingTypes, BackgroundTypes = check.BackgroundTypes, Warnings = check.Warnings,
            Duration = check.Duration, Causes = check.Causes, KnownLeaksNotSeen = check.KnownLeaksNotSeen, BaselinePath = check.BaselinePath,
            Leaks = check.Leaks.Select(l => l with { }).ToArray(), Unexplained = check.Unexplained, Referrers = check.Referrers,
            ExplanationNote = check.ExplanationNote, Ignored = check.Ignored, Resources = check.Resources,
        };
        WatchReport watch = FixedReports.Watch();
        var watchByTool = new WatchReport
        {
            Target = watch.Target, Interval = watch.Interval, Samples = watch.Samples, GrowingTypes = watch.GrowingTypes, Causes = watch.Causes,
            KnownLeaksNotSeen = watch.KnownLeaksNotSeen, BaselinePath = watch.BaselinePath, Leaks = watch.Leaks, Unexplained = watch.Unexplained,
            Referrers = watch.Referrers, ExplanationNote = watch.ExplanationNote, Warnings = watch.Warnings, Duration = watch.Duration, Resources = watch.Resources,
        };
        PathsReport paths = FixedReports.Paths();
        var pathsByTool = new PathsReport
        {
            Headline = paths.Headline, Target = paths.Target, TypePattern = paths.TypePattern, Types = paths.Types, TargetPauseMs = paths.TargetPauseMs,
            Instances = paths.Instances, Leaks = paths.Leaks, Referrers = paths.Referrers, ExplanationNote = paths.ExplanationNote, Warnings = paths.Warnings,
        };

        foreach (IReportExporter exporter in ReportExporters.All)
        {
            Assert.Equal(exporter.Export(check), exporter.Export(checkByTool));
            Assert.Equal(exporter.Export(watch), exporter.Export(watchByTool));
            Assert.Equal(exporter.Export(paths), exporter.Export(pathsByTool));
        }
        Assert.Equal(check.ToSummary(), checkByTool.ToSummary());
        Assert.Equal((check.HasLeaks, check.OnlyKnownLeaks, check.ExplanationIsPartial), (checkByTool.HasLeaks, checkByTool.OnlyKnownLeaks, checkByTool.ExplanationIsPartial));
        // The retained bytes a tool reads are the ones the report shows.
        Assert.Contains(check.Leaks, l => l.RetainedBytes > 0);
    }

    [Fact]
    public void AnEmptyReport_IsACleanCheck_InEveryFormat()
    {
        var empty = new LeakReport();

        Assert.False(empty.HasLeaks);
        foreach (IReportExporter exporter in ReportExporters.All.Where(e => e.Name != "json"))
            Assert.Contains("no leak", exporter.Export(empty), StringComparison.OrdinalIgnoreCase);
        using JsonDocument json = JsonDocument.Parse(empty.ToJson());
        Assert.False(json.RootElement.GetProperty("hasLeaks").GetBoolean());
        Assert.Equal(0, json.RootElement.GetProperty("causes").GetArrayLength());
        // A watch and paths a tool starts from nothing render too, with nothing growing and nothing held.
        foreach (IReportExporter exporter in ReportExporters.All)
        {
            Assert.DoesNotContain("Acme", exporter.Export(new WatchReport()));
            Assert.DoesNotContain("Acme", exporter.Export(new PathsReport()));
        }
        Assert.False(new WatchReport().HasLeaks);
    }

    [Fact]
    public void SavedCensus_ReadsBackAsTheSameCensus()
    {
        CensusReport census = FixedReports.Census();

        CensusReport read = CensusReport.FromJson(census.ToJson());

        Assert.Equal(census.Target, read.Target);
        Assert.Equal(census.Types, read.Types);
        Assert.Equal(census.Warnings, read.Warnings);
        Assert.Equal(census.Resources.Select(r => (r.Name, r.Count, string.Join(",", r.Details))), read.Resources.Select(r => (r.Name, r.Count, string.Join(",", r.Details))));
    }

    [Fact]
    public void TextThatIsNoCensus_FailsNamingWhereItCameFrom()
    {
        var failure = Assert.Throws<LeakHunterException>(() => CensusReport.FromJson(FixedReports.LeakCheck().ToJson(), "'report.json'"));

        Assert.Equal(LeakHunterFailure.InvalidInput, failure.Failure);
        Assert.Contains("'report.json' is not a census", failure.Message);
    }

    private static readonly Dictionary<string, Func<IReportExporter, string>> s_reportModels = new()
    {
        ["leak-check"] = e => e.Export(FixedReports.LeakCheck()),
        ["leak-check-baseline"] = e => e.Export(FixedReports.LeakCheck(FixedReports.Baseline())),
        ["clean-check"] = e => e.Export(FixedReports.CleanCheck()),
        ["watch"] = e => e.Export(FixedReports.Watch()),
        ["watch-baseline"] = e => e.Export(FixedReports.Watch(new LeakBaseline("/srv/orders/known-leaks.json",
            [new KnownLeak("49cdf1431885", "the archive is trimmed nightly (ticket 4711)")]))),
        ["census"] = e => e.Export(FixedReports.Census()),
        ["diff"] = e => e.Export(CensusDiffReport.Compare(FixedReports.Census(), FixedReports.LaterCensus())),
        ["diff-baseline"] = e => e.Export(FixedReports.ExplainedDiff(new LeakBaseline("/srv/orders/known-leaks.json",
        [
            new KnownLeak("49cdf1431885", "the archive is trimmed nightly (ticket 4711)"),
            new KnownLeak("0123456789ab", "accepted on 2026-11-01") { Owner = "collection: static field Acme.Legacy.s_cache -> List<Item>" },
        ]))),
        ["paths"] = e => e.Export(FixedReports.Paths()),
        ["suite"] = e => e.Export(FixedReports.Suite()),
    };

    private static class Approved
    {
        public static void Verify(string name, string received, [CallerFilePath] string testFile = "")
        {
            string folder = Path.Combine(Path.GetDirectoryName(testFile)!, "Approved");
            string approvedPath = Path.Combine(folder, Path.GetFileNameWithoutExtension(name) + ".approved" + Path.GetExtension(name));
            string receivedPath = Path.Combine(folder, Path.GetFileNameWithoutExtension(name) + ".received" + Path.GetExtension(name));
            string? approved = File.Exists(approvedPath) ? File.ReadAllText(approvedPath) : null;
            if (approved == received.ReplaceLineEndings("\n"))
            {
                File.Delete(receivedPath);
                return;
            }
            File.WriteAllText(receivedPath, received.ReplaceLineEndings("\n"));
            Assert.Fail(approved is null
                ? $"No approved file {approvedPath}. Check {receivedPath} and, if it is right, rename it to approve it."
                : $"{name} differs from {approvedPath}. Compare it with {receivedPath}; if the change is meant, copy the received file over the approved one.");
        }
    }
}

/// <summary>Reports with every part filled in, built the way the engine builds them, with fixed numbers.</summary>
internal static class FixedReports
{
    private static readonly LeakSignature s_eventLeak = new(
        "Acme.Orders.OrderView", 40,
        new LeakRoot(LeakRootKind.StaticField, "Acme.Orders.OrderBus.s_instance"),
        [
            new LeakStep("Acme.Orders.OrderBus", null, null),
            new LeakStep("System.EventHandler<Acme.Orders.OrderPlaced>", "OrderPlaced", "delegate with 40 handler(s)"),
            new LeakStep("System.Object[]", "_invocationList", null),
            new LeakStep("System.EventHandler<Acme.Orders.OrderPlaced>", "[]", "handler Acme.Orders.OrderView.OnPlaced"),
            new LeakStep("Acme.Orders.OrderView", "_target", null),
        ],
        2, "Unsubscribe the handler (-=) when the subscriber is done, or give the event's owner the subscriber's lifetime.") { Cause = 1, RetainedBytes = 98_304 };

    private static readonly LeakSignature s_listLeak = new(
        "Acme.Orders.Order", 40,
        new LeakRoot(LeakRootKind.StaticField, "Acme.Orders.OrderArchive.s_orders"),
        [
            new LeakStep("System.Collections.Generic.List<Acme.Orders.Order>", null, null),
            new LeakStep("Acme.Orders.Order[]", "_items", null),
            new LeakStep("Acme.Orders.Order", "[]", null),
        ],
        1, "Remove the entries from the collection when they are done, or bound it (an eviction policy, a size limit).") { Cause = 0 };

    // Garbage the last GC had not collected: part of no cause, so its type is reported as unexplained.
    private static readonly LeakSignature s_garbage = new(
        "Acme.Orders.Receipt", 1,
        new LeakRoot(LeakRootKind.Unknown, "unknown: no enumerated root reaches it (native code, or a runtime-internal reference)"),
        [new LeakStep("Acme.Orders.Receipt", null, null)],
        null, "No root LeakHunter can see reaches these: look for native code or unmanaged callbacks that hold them.");

    private static readonly TypeReferrers[] s_referrers =
    [
        new("Acme.Orders.Order", [new Referrer("Acme.Orders.Order[]", "[]", 40), new Referrer("Acme.Orders.Invoice", "_order", 3)]),
    ];

    private static LeakExplanation Explanation() =>
        new([s_listLeak, s_eventLeak, s_garbage], s_referrers, null) { Warnings = ["2 roots could not be enumerated: the thread had exited"] };

    /// <summary>A baseline that knows the event leak, and an entry no cause of the check matches.</summary>
    public static LeakBaseline Baseline() => new("/repo/tests/known-leaks.json",
    [
        new KnownLeak("32692a4fb04e", "the bus is replaced nightly (ticket 4711)") { Owner = "event handler: static field Acme.Bus.s_instance" },
        new KnownLeak("0123456789ab", "accepted on 2026-11-01") { Owner = "collection: static field Acme.Legacy.s_cache -> List<Item>" },
    ]);

    public static LeakReport LeakCheck(LeakBaseline? baseline = null) => ReportAssembler.Check(
        CensusStrategy.Attach, 10, 70,
        [
            new CensusSummary(10, 12_000, 900_000, 11.5, CensusPhase.Counted),
            new CensusSummary(20, 12_020, 901_600, 12.25, CensusPhase.Counted),
            new CensusSummary(30, 12_040, 903_200, 10.75, CensusPhase.Counted),
            new CensusSummary(30, 12_040, 903_200, 9.5, CensusPhase.Idle),
            new CensusSummary(70, 12_120, 909_600, 12, CensusPhase.Confirmation),
        ],
        [
            new TypeGrowth("Acme.Orders.Order", [100, 110, 120, 120, 160], [4_000, 4_400, 4_800, 4_800, 6_400], 1, 40),
            new TypeGrowth("Acme.Orders.Order[]", [1, 1, 1, 1, 1], [1_056, 1_056, 2_080, 2_080, 4_128], 0, 51.2),
            new TypeGrowth("Acme.Orders.OrderView", [50, 55, 60, 60, 80], [1_200, 1_320, 1_440, 1_440, 1_920], 0.5, 12),
            new TypeGrowth("Acme.Orders.Receipt", [10, 20, 30, 30, 70], [320, 640, 960, 960, 2_240], 1, 32),
        ],
        [new TypeGrowth("Acme.Telemetry.Sample", [5, 6, 7, 9, 12], [120, 144, 168, 216, 288], 0.12, 2.8)],
        ["Other threads allocated 40 MiB while this check ran, so its counts may be polluted by their objects."],
        TimeSpan.FromMilliseconds(1234.5),
        Explanation(),
        [new IgnoredLeak("Acme.Cache.Entry", "bounded by design", "Acme.Cache.*")],
        confirmation: new GrowthConfirmation(1, 40, "3 type(s) kept growing at their counted rate through 1 round(s), to 70 iterations in all"),
        baseline: baseline,
        resources:
        [
            new ResourceUsage("threads", [21, 22, 23, 23, 27], 0.1, true,
                new Dictionary<string, IReadOnlyList<long>> { ["os"] = [21, 22, 23, 23, 27], ["managed"] = [9, 10, 11, 11, 15] })
            {
                Findings =
                [
                    new ResourceFinding("thread", "thread \"order-poller\", started at lambda in OrderPoller.Start", 6,
                        ["at ManualResetEventSlim.Wait", "at lambda in OrderPoller.Start"], ResourceFindings.Hint("threads", "thread")) { OwnerType = "System.Threading.Thread" },
                ],
            },
            new ResourceUsage("gcHandles", [120, 120, 121, 120, 120], 0, false,
                new Dictionary<string, IReadOnlyList<long>> { ["strong"] = [40, 40, 41, 40, 40], ["weak"] = [80, 80, 80, 80, 80] }),
            new ResourceUsage("nativeMemory", [9_000_000, 9_700_000, 10_400_000, 10_400_000, 13_200_000], 70_000, true,
                new Dictionary<string, IReadOnlyList<long>>())
            {
                IgnoredReason = "the vendor SDK's native cache",
                Findings =
                [
                    new ResourceFinding("alongside", "70,000 bytes per iteration, beside Order", 1, ["Order: 40 bytes of managed heap per iteration"],
                        "The managed objects that grow beside it usually own the native memory.") { OwnerType = "Acme.Orders.Order" },
                ],
            },
        ]);

    /// <summary>A suite with every outcome: two tests leaking through one cause (one of them known from the baseline), and one of each other kind.</summary>
    public static SuiteReport Suite() => new()
    {
        AssemblyPath = "/repo/tests/Orders.Tests/bin/Debug/net10.0/Orders.Tests.dll",
        Framework = "xunit v3",
        Duration = TimeSpan.FromSeconds(42.5),
        BaselinePath = "/repo/tests/known-leaking-tests.json",
        Tests =
        [
            new SuiteTestResult { Name = "Orders.Tests.QuoteTests.Subscribe_SeesPrices", Outcome = SuiteTestOutcome.Leaks, Duration = TimeSpan.FromSeconds(1.8), Report = LeakCheck() },
            new SuiteTestResult
            {
                Name = "Orders.Tests.QuoteTests.Refresh(count: 2)", Outcome = SuiteTestOutcome.Leaks, Duration = TimeSpan.FromSeconds(1.6), Report = LeakCheck(),
                KnownLeakReason = "the quote feed is replaced in 4.2 (ticket 4711)",
            },
            new SuiteTestResult { Name = "Orders.Tests.QuoteTests.Price_IsPositive", Outcome = SuiteTestOutcome.Clean, Duration = TimeSpan.FromSeconds(0.12), Report = CleanCheck() },
            new SuiteTestResult { Name = "Orders.Tests.QuoteTests.Discount_IsApplied", Outcome = SuiteTestOutcome.Failed, Duration = TimeSpan.FromSeconds(0.01), Message = "Assert.Equal() Failure: Values differ\nExpected: 90\nActual:   4.5" },
            new SuiteTestResult
            {
                Name = "Orders.Tests.QuoteTests.Counter_StartsAtZero", Outcome = SuiteTestOutcome.NotRepeatable, Duration = TimeSpan.FromSeconds(0.02),
                Message = "It passed once, then failed on a later run, so it depends on what ran before it (order or state it changes) and no leak verdict is given: Assert.Equal() Failure",
            },
            new SuiteTestResult { Name = "Orders.Tests.ExportTests.ToCsv", Outcome = SuiteTestOutcome.Skipped, Message = "not built yet" },
            new SuiteTestResult
            {
                Name = "Orders.Tests.ImportTests.LargeFile", Outcome = SuiteTestOutcome.TooSlow, Duration = TimeSpan.FromSeconds(3.2),
                Message = "One run took 3.2 s, over the budget of 1.0 s for one run (--max-test-time, SuiteOptions.MaxTestDuration)",
            },
        ],
    };

    public static LeakReport CleanCheck() => ReportAssembler.Check(
        CensusStrategy.Dump, 10, 50,
        [
            new CensusSummary(10, 12_000, 900_000, 210, CensusPhase.Counted),
            new CensusSummary(20, 12_000, 900_000, 190, CensusPhase.Counted),
            new CensusSummary(30, 11_990, 899_800, 200, CensusPhase.Counted),
        ],
        [], [], [], TimeSpan.FromSeconds(2.5));

    public static WatchReport Watch(LeakBaseline? baseline = null) => ReportAssembler.Watch(
        "process 4242 (OrderService)", TimeSpan.FromSeconds(5),
        [
            new WatchSample(0, 80_000, 6_000_000, 20),
            new WatchSample(5.002, 80_500, 6_050_000, 21),
            new WatchSample(10.004, 81_000, 6_100_000, 19.5),
        ],
        [new TypeRate("Acme.Orders.Order", [1_000, 1_500, 2_000], [40_000, 60_000, 80_000], 99.96, 3_998.4)],
        new LeakExplanation([s_listLeak], [], "stopped at the 30 s time limit after 900 of 1,000 instances"),
        ["Census 2 could not parse 48 bytes of the heap, so its counts may be low."],
        TimeSpan.FromSeconds(11),
        baseline: baseline,
        resources:
        [
            new ResourceUsage("fileDescriptors", [120, 170, 220], 9.996, true,
                new Dictionary<string, IReadOnlyList<long>> { ["socket"] = [60, 110, 160], ["file"] = [60, 60, 60] })
            {
                Findings =
                [
                    new ResourceFinding("socket", "tcp 10.0.0.5:* -> 10.0.0.9:5432 (established)", 100,
                        ["owned by a SafeSocketHandle", "for one: tcp 10.0.0.5:41822 -> 10.0.0.9:5432 (established)"], ResourceFindings.Hint("fileDescriptors", "socket"))
                    {
                        OwnerType = "System.Net.Sockets.SafeSocketHandle",
                    },
                ],
            },
            new ResourceUsage("threads", [30, 31, 30], 0, false, new Dictionary<string, IReadOnlyList<long>>()),
        ]);

    public static CensusReport Census() => new("dump /tmp/orders-1.dmp", 80_000, 6_000_000,
    [
        new TypeCount("System.String", 30_000, 2_000_000),
        new TypeCount("System.Byte[]", 2_000, 1_500_000),
        new TypeCount("Acme.Orders.Order", 1_000, 40_000),
        new TypeCount("Acme.Gone", 5, 120),
    ], [])
    {
        Resources =
        [
            new ResourceCount("gcHandles", 214, new Dictionary<string, long> { ["strong"] = 90, ["pinned"] = 12, ["weak"] = 100, ["dependent"] = 12, ["refCounted"] = 0 }),
            new ResourceCount("assemblies", 41, new Dictionary<string, long> { ["loaded"] = 38, ["dynamic"] = 3, ["collectible"] = 0, ["collectibleContexts"] = 0 }),
        ],
    };

    public static CensusReport LaterCensus() => new("dump /tmp/orders-2.dmp", 81_000, 6_100_000,
    [
        new TypeCount("System.String", 30_100, 2_004_000),
        new TypeCount("System.Byte[]", 1_900, 1_450_000),
        new TypeCount("Acme.Orders.Order", 2_000, 80_000),
        new TypeCount("Acme.Orders.Invoice|Draft", 3, 96),
    ], ["The census could not parse 48 bytes of the heap, so its counts may be low."])
    {
        Resources =
        [
            new ResourceCount("gcHandles", 230, new Dictionary<string, long> { ["strong"] = 90, ["pinned"] = 12, ["weak"] = 116, ["dependent"] = 12, ["refCounted"] = 0 }),
            new ResourceCount("assemblies", 41, new Dictionary<string, long> { ["loaded"] = 38, ["dynamic"] = 3, ["collectible"] = 0, ["collectibleContexts"] = 0 }),
        ],
    };

    /// <summary>Two dumps compared, and the growth of the type that gained the most explained in the second.</summary>
    public static CensusDiffReport ExplainedDiff(LeakBaseline baseline) =>
        CensusDiffReport.Compare(Census(), LaterCensus()).Explained(
            [new TypeChange("Acme.Orders.Order", 1_000, 40_000)],
            // Two heaps share no addresses: every live instance of the after side is traced, 2,000 of which 1,000 are the gain.
            new LeakExplanation([s_listLeak with { Instances = 2_000 }], s_referrers, null),
            baseline,
            baselineUpdate: null);

    public static PathsReport Paths() => ReportAssembler.Paths(
        "process 4242 (OrderService): 40 live instance(s) of Acme.Orders.*",
        "process 4242 (OrderService)", "Acme.Orders.*", ["Acme.Orders.Order"], 40, Explanation(), targetPauseMs: 38.25);
}
