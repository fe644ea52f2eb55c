using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using LeakHunter;
using LeakHunter.Cli;

// The leakhunter tool: a thin layer over the library's public API (HeapInspector, InspectionTarget, the reports and
// their exporters). Exit codes: 0 done (or no growth, or only known leaks with --baseline), 1 growth found (watch, diff),
// 2 bad input or failure, with the fix on stderr, 130 cancelled (Ctrl+C).
var format = new Option<string>("--format") { Description = "text, json, markdown or html", DefaultValueFactory = _ => "text" };
format.AcceptOnlyFromAmong([.. ReportExporters.All.Select(e => e.Name)]);
var output = new Option<FileInfo?>("--output") { Description = "Write the result to this file instead of standard output" };
var timeout = new Option<double>("--timeout") { Description = "Seconds one heap walk may take", DefaultValueFactory = _ => 120 };

var root = new RootCommand("leakhunter: live objects by type, what grows, and what holds it, for live .NET processes and dumps.");
root.Options.Add(format);
root.Options.Add(output);
root.Options.Add(timeout);
foreach (Option option in root.Options)
    option.Recursive = true;

var ps = new Command("ps", "The .NET processes you can inspect: id, name and command line.");
ps.SetAction((result, cancellation) => Run(result, cancellation, _ =>
{
    IReadOnlyList<DotnetProcess> processes = InspectionTarget.DotnetProcesses();
    string text = result.GetValue(format) switch
    {
        "json" => JsonSerializer.Serialize(processes.Select(p => new { pid = p.ProcessId, name = p.Name, commandLine = p.CommandLine }),
            new JsonSerializerOptions { WriteIndented = true }) + Environment.NewLine,
        "markdown" => "| pid | name | command line |\n|---:|---|---|\n" + string.Concat(processes.Select(p => $"| {p.ProcessId} | {p.Name} | `{p.CommandLine}` |\n")),
        _ => string.Concat(processes.Select(p => string.Create(CultureInfo.InvariantCulture, $"{p.ProcessId,8}  {p.Name,-24} {p.CommandLine}{Environment.NewLine}"))),
    };
    return (text, 0);
}));
root.Subcommands.Add(ps);

var targetArgument = new Argument<string>("target") { Description = "A process id (see `leakhunter ps`) or the path of a dump" };
var sort = new Option<string>("--sort") { Description = "Sort by bytes or count", DefaultValueFactory = _ => "bytes" };
sort.AcceptOnlyFromAmong("bytes", "count");
var top = new Option<int?>("--top") { Description = "Show the N largest types (text and markdown show 30 unless told; JSON holds every type, so a saved census diffs exactly)" };
var filter = new Option<string?>("--filter") { Description = "Only types whose name matches this pattern (* is any run of characters)" };
var reachable = new Option<bool>("--reachable") { Description = "Count only objects a GC root reaches, leaving out garbage not yet collected" };
var census = new Command("census", "Live objects by type.") { targetArgument, sort, top, filter, reachable };
census.SetAction((result, cancellation) => Run(result, cancellation, token =>
{
    int? shown = result.GetValue(top);
    if (shown is <= 0)
        throw new CliException("--top must be a positive number of types.");
    shown ??= result.GetValue(format) == "json" ? null : 30;
    using HeapInspector inspector = Open(result, InspectionTarget.Parse(result.GetValue(targetArgument)!));
    Progress($"walking the heap of {inspector.Target}...");
    CensusReport report = inspector.TakeCensus(result.GetValue(reachable), token).Select(result.GetValue(filter), Order(result), shown);
    return (Export(result, e => e.Export(report)), 0);
}));
root.Subcommands.Add(census);

var pidArgument = new Argument<string>("pid") { Description = "The id of a live .NET process (see `leakhunter ps`)" };
var interval = new Option<double>("--interval") { Description = "Seconds between censuses", DefaultValueFactory = _ => 5 };
var samples = new Option<int>("--samples") { Description = "Censuses to take; a type must grow between every two", DefaultValueFactory = _ => 5 };
var baselineOption = new Option<string>("--baseline")
{
    Description = "A JSON file of known leaks (see the README): causes listed there do not count as growth found, and are shown as known",
};
var watch = new Command("watch", "Censuses of a live process over time: the types and resources (threads, GC handles, descriptors, native memory, assemblies) that grew in every interval, their rates per second, and what holds them.") { pidArgument, interval, samples, baselineOption };
watch.SetAction((result, cancellation) => Run(result, cancellation, token =>
{
    string pid = result.GetValue(pidArgument)!;
    if (!int.TryParse(pid, NumberStyles.None, CultureInfo.InvariantCulture, out int processId))
        throw new CliException($"'{pid}' is not a process id. This command watches a live process: give its id (see `leakhunter ps`).");
    int count = result.GetValue(samples);
    if (count < 3)
        throw new CliException("--samples must be at least 3: growth must show in at least two intervals to tell it from a one-off.");
    double seconds = result.GetValue(interval);
    if (!(seconds > 0) || seconds > TimeSpan.FromDays(1).TotalSeconds)
        throw new CliException($"--interval must be a number of seconds above 0 and at most a day; {seconds.ToString(CultureInfo.InvariantCulture)} is not.");
    using HeapInspector inspector = Open(result, InspectionTarget.Process(processId), BaselineFile(result));
    WatchReport report = inspector.Watch(TimeSpan.FromSeconds(seconds), count, new Progress(), token);
    return (Export(result, e => e.Export(report)), report.HasLeaks ? 1 : 0);
}));
root.Subcommands.Add(watch);

var type = new Option<string>("--type") { Description = "The full type name, as `census` shows it; * matches any run of characters", Required = true };
var max = new Option<int>("--max") { Description = "Instances to trace per type", DefaultValueFactory = _ => 100 };
var paths = new Command("paths", "The shortest paths from GC roots to the instances of a type, and who refers to them.") { targetArgument, type, max };
paths.SetAction((result, cancellation) => Run(result, cancellation, token =>
{
    if (result.GetValue(max) <= 0)
        throw new CliException("--max must be a positive number of instances.");
    using HeapInspector inspector = Open(result, InspectionTarget.Parse(result.GetValue(targetArgument)!));
    Progress($"walking the heap of {inspector.Target} for {result.GetValue(type)}...");
    PathsReport report = inspector.FindPaths(result.GetValue(type)!, result.GetValue(max), token);
    if (report.TargetPauseMs > 0)
        Progress(string.Create(CultureInfo.InvariantCulture, $"{inspector.Target} was stopped for {report.TargetPauseMs:0.#} ms while its memory was copied; the paths were traced in the copy while it ran on."));
    return (Export(result, e => e.Export(report)), 0);
}));
root.Subcommands.Add(paths);

var before = new Argument<string>("before") { Description = "A census saved with `census --format json`, or a dump" };
var after = new Argument<string>("after") { Description = "A census saved with `census --format json`, or a dump" };
var diff = new Command("diff", "Two censuses or two dumps compared, most growth first, with the resources beyond objects both counted; with --baseline, what holds the growth, against the known leaks.") { before, after, sort, baselineOption };
diff.SetAction((result, cancellation) => Run(result, cancellation, token =>
{
    string? baseline = BaselineFile(result);
    string earlier = result.GetValue(before)!, later = result.GetValue(after)!;
    if (baseline is null)
    {
        CensusDiffReport changes = CensusDiffReport.Compare(LoadCensus(result, earlier, token), LoadCensus(result, later, token), Order(result));
        return (Export(result, e => e.Export(changes)), changes.HasGrowth ? 1 : 0);
    }
    if (new[] { earlier, later }.FirstOrDefault(IsSavedCensus) is string census)
        throw new CliException($"--baseline compares two dumps: '{census}' is a saved census, which holds counts but not the heap whose paths tell each cause and its id.");
    InspectionTarget first = InspectionTarget.Parse(earlier), second = InspectionTarget.Parse(later);
    Progress($"walking the heaps of {first} and {second}, then what holds the types that gained the most in both...");
    CensusDiffReport explained = HeapInspector.Diff(first, second, Options(result, baseline), Order(result), explainGrowth: true, token);
    return (Export(result, e => e.Export(explained)), explained.HasNewGrowth ? 1 : 0);
}));
root.Subcommands.Add(diff);

var suitePath = new Argument<string>("path") { Description = "A test project, its folder, or a built test assembly (.dll)" };
var testFilter = new Option<string?>("--filter")
{
    Description = "Which tests: a dotnet test filter (FullyQualifiedName~Cart, ClassName=Shop.Tests.CartTests, Name!=Slow, joined by & or |), or a name pattern (* is any run of characters)",
};
var warmup = new Option<int>("--warmup") { Description = "Runs of each test before counting", DefaultValueFactory = _ => new LeakOptions().WarmupIterations };
var iterations = new Option<int>("--iterations") { Description = "Runs of each test between two censuses", DefaultValueFactory = _ => new LeakOptions().IterationsPerCensus };
var maxTestTime = new Option<double>("--max-test-time")
{
    Description = "Seconds one run of a test may take; a slower test is reported too slow, not checked",
    DefaultValueFactory = _ => new SuiteOptions().MaxTestDuration.TotalSeconds,
};
var noBuild = new Option<bool>("--no-build") { Description = "Do not build the test project first" };
var configuration = new Option<string>("--configuration") { Description = "The configuration to build and run", DefaultValueFactory = _ => "Debug" };
var test = new Command("test", "Every test of a suite run in a loop, one at a time, with no change to the tests: the tests that leak, by cause, and how every other test ended. Exit 1 when a test leaks that --baseline does not list.")
{
    suitePath, testFilter, warmup, iterations, maxTestTime, noBuild, configuration, baselineOption,
};
test.SetAction((result, cancellation) => Run(result, cancellation, token =>
{
    double seconds = result.GetValue(maxTestTime);
    if (!(seconds > 0))
        throw new CliException("--max-test-time must be a positive number of seconds.");
    if (result.GetValue(warmup) < 0 || result.GetValue(iterations) < 1)
        throw new CliException("--warmup must be 0 or more, and --iterations 1 or more.");
    string? baseline = BaselineFile(result);
    string assembly = SuiteHost.Assembly(result.GetValue(suitePath)!, build: !result.GetValue(noBuild), result.GetValue(configuration)!);
    if (SuiteHost.IsHost)
    {
        SuiteHost.EndWithTheTool();
        var options = new SuiteOptions
        {
            Filter = result.GetValue(testFilter),
            BaselinePath = baseline,
            MaxTestDuration = TimeSpan.FromSeconds(seconds),
            Check = new LeakOptions
            {
                WarmupIterations = result.GetValue(warmup),
                IterationsPerCensus = result.GetValue(iterations),
                CensusTimeout = Options(result).HeapWalkTimeout,
            },
        };
        SuiteReport report = TestSuite.Run(assembly, options, new SuiteHost.ProgressLines(), token);
        return (Export(result, e => e.Export(report)), report.HasNewLeaks ? 1 : 0);
    }
    if (TestSuite.ListTests(assembly, result.GetValue(testFilter)).Count == 0)
        throw new CliException($"No test of {assembly} matches the filter '{result.GetValue(testFilter)}'.");
    List<string> hostArguments = ["test", assembly, "--no-build", "--format", result.GetValue(format)!, "--warmup", $"{result.GetValue(warmup)}", "--iterations", $"{result.GetValue(iterations)}",
        "--max-test-time", seconds.ToString(CultureInfo.InvariantCulture), "--timeout", result.GetValue(timeout).ToString(CultureInfo.InvariantCulture)];
    if (result.GetValue(testFilter) is { } chosen)
        hostArguments.AddRange(["--filter", chosen]);
    if (baseline is not null)
        hostArguments.AddRange(["--baseline", baseline]);
    (int exitCode, string? written) = SuiteHost.Run(hostArguments, token);
    if (exitCode == 2 || written is null)
        throw new CliException("The test host stopped before it wrote the report; its error is above.");
    return (written, exitCode);
}));
root.Subcommands.Add(test);

ParseResult parsed = root.Parse(args);
if (parsed.Errors.Count > 0)
{
    // Usage errors exit 2, like every other bad input: exit 1 means "growth found".
    string problem = Regex.Replace(parsed.Errors[0].Message, @"\s+", " ").Trim();
    Console.Error.WriteLine($"leakhunter: {problem} Run `leakhunter --help` for usage.");
    return 2;
}
return await parsed.InvokeAsync().ConfigureAwait(false);

static HeapInspector Open(ParseResult result, InspectionTarget target, string? baselinePath = null) =>
    HeapInspector.Open(target, Options(result, baselinePath));

static InspectionOptions Options(ParseResult result, string? baselinePath = null)
{
    double seconds = result.GetValue<double>("--timeout");
    if (!(seconds > 0))
        throw new CliException("--timeout must be a positive number of seconds.");
    return new InspectionOptions { HeapWalkTimeout = TimeSpan.FromSeconds(seconds), BaselinePath = baselinePath };
}

static CensusOrder Order(ParseResult result) => result.GetValue<string>("--sort") == "count" ? CensusOrder.Count : CensusOrder.Bytes;

static string Export(ParseResult result, Func<IReportExporter, string> export)
{
    IReportExporter exporter = ReportExporters.Named(result.GetValue<string>("--format")!);
    string text = export(exporter);
    return text.EndsWith('\n') ? text : text + Environment.NewLine;
}

// --baseline's file: a path that cannot name a file is a usage error; a file that does not exist yet is an empty baseline.
static string? BaselineFile(ParseResult result)
{
    string? baseline = result.GetValue<string>("--baseline");
    if (baseline is not null && (string.IsNullOrWhiteSpace(baseline) || Directory.Exists(baseline)))
        throw new CliException($"--baseline must name a JSON file of known leaks; '{baseline}' is {(Directory.Exists(baseline) ? "a folder" : "empty")}.");
    return baseline;
}

// A saved census is JSON; anything else is taken for a dump.
static bool IsSavedCensus(string argument) => File.Exists(argument) && StartsLikeJson(argument);

static CensusReport LoadCensus(ParseResult result, string argument, CancellationToken token)
{
    if (IsSavedCensus(argument))
        return CensusReport.FromJson(File.ReadAllText(argument), $"'{argument}'");
    using HeapInspector inspector = Open(result, InspectionTarget.Parse(argument));
    Progress($"walking the heap of {inspector.Target}...");
    return inspector.TakeCensus(reachableOnly: false, token);
}

static bool StartsLikeJson(string path)
{
    using var reader = new StreamReader(path);
    int c;
    while ((c = reader.Read()) >= 0 && char.IsWhiteSpace((char)c))
    {
    }
    return c == '{';
}

static void Progress(string line) => LeakHunter.Cli.Progress.Line(line);

// Runs a command: its result to --output or standard output; every failure to stderr, with its fix, and exit code 2.
static Task<int> Run(ParseResult result, CancellationToken cancellation, Func<CancellationToken, (string Output, int ExitCode)> command)
{
    try
    {
        // The output file is opened before the work starts, so a path that cannot be written fails at once, not
        // after a long watch.
        using OutputFile? file = OutputFile.Open(result.GetValue<FileInfo?>("--output"));
        (string text, int exitCode) = command(cancellation);
        if (file is not null)
            file.Write(text);
        else
            Console.Out.Write(text);
        return Task.FromResult(exitCode);
    }
    catch (Exception e) when (e is CliException or LeakHunterException)
    {
        Console.Error.WriteLine($"leakhunter: {e.Message}");
        return Task.FromResult(2);
    }
    catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
    {
        Console.Error.WriteLine("leakhunter: cancelled.");
        return Task.FromResult(130);
    }
}

namespace LeakHunter.Cli
{
    /// <summary>Bad input the tool itself checks; the message says how to fix it. Exit code 2.</summary>
    internal sealed class CliException(string message) : Exception(message);

    /// <summary>A watch's progress, a line at a time on standard error, where it never mixes with the report.</summary>
    internal sealed class Progress : IProgress<string>
    {
        public static void Line(string line) => Console.Error.WriteLine($"leakhunter: {line}");

        public void Report(string value) => Line(value);
    }
}
