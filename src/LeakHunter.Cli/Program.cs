using System.CommandLine;
using System.Diagnostics;
using System.Text.RegularExpressions;
using LeakHunter;
using LeakHunter.Analysis;
using LeakHunter.Census;
using LeakHunter.Cli;
using LeakHunter.Reports;

// The leakhunter tool: a thin layer over the library's engine and report model. Exit codes: 0 done (or no
// growth), 1 growth found (watch, diff), 2 bad input or failure, with the fix on stderr.
var format = new Option<string>("--format") { Description = "text, json or markdown", DefaultValueFactory = _ => "text" };
format.AcceptOnlyFromAmong("text", "json", "markdown");
var output = new Option<FileInfo?>("--output") { Description = "Write the result to this file instead of standard output" };
var timeout = new Option<double>("--timeout") { Description = "Seconds one heap walk may take", DefaultValueFactory = _ => 120 };

var root = new RootCommand("leakhunter: live objects by type, what grows, and what holds it, for live .NET processes and dumps.");
root.Options.Add(format);
root.Options.Add(output);
root.Options.Add(timeout);
foreach (Option option in root.Options)
    option.Recursive = true;

var ps = new Command("ps", "The .NET processes you can inspect: id, name and command line.");
ps.SetAction(result => Run(result, () =>
{
    var processes = Target.DotnetProcesses().Where(pid => pid != Environment.ProcessId)
        .Select(pid => (Pid: pid, Name: Target.ProcessName(pid), CommandLine: Target.CommandLine(pid))).ToArray();
    return (Render(result, processes,
        text: () => string.Join(Environment.NewLine, processes.Select(p => $"{p.Pid,8}  {p.Name,-24} {p.CommandLine}")) + Environment.NewLine,
        json: () => System.Text.Json.JsonSerializer.Serialize(processes.Select(p => new { pid = p.Pid, name = p.Name, commandLine = p.CommandLine }),
            new System.Text.Json.JsonSerializerOptions { WriteIndented = true }),
        markdown: () => "| pid | name | command line |\n|---:|---|---|\n" + string.Concat(processes.Select(p => $"| {p.Pid} | {p.Name} | `{p.CommandLine}` |\n"))), 0);
}));
root.Subcommands.Add(ps);

var targetArgument = new Argument<string>("target") { Description = "A process id (see `leakhunter ps`) or the path of a dump" };
var sort = new Option<string>("--sort") { Description = "Sort by bytes or count", DefaultValueFactory = _ => "bytes" };
sort.AcceptOnlyFromAmong("bytes", "count");
var top = new Option<int?>("--top") { Description = "Show the N largest types (text and markdown show 30 unless told; JSON holds every type, so a saved census diffs exactly)" };
var filter = new Option<string?>("--filter") { Description = "Only types whose name matches this pattern (* is any run of characters)" };
var reachable = new Option<bool>("--reachable") { Description = "Count only objects a GC root reaches, leaving out garbage not yet collected" };
var census = new Command("census", "Live objects by type.") { targetArgument, sort, top, filter, reachable };
census.SetAction(result => Run(result, () =>
{
    var target = Target.Parse(result.GetValue(targetArgument)!);
    int? shown = result.GetValue(top);
    if (shown is <= 0)
        throw new CliException("--top must be a positive number of types.");
    shown ??= result.GetValue(format) == "json" ? int.MaxValue : 30;
    CensusView view = TakeCensus(target, result.GetValue(reachable), Seconds(result.GetValue(timeout)), result.GetValue(sort)!, shown.Value, result.GetValue(filter));
    return (Render(result, view, view.ToText, view.ToJson, view.ToMarkdown), 0);
}));
root.Subcommands.Add(census);

var pidArgument = new Argument<string>("pid") { Description = "The id of a live .NET process (see `leakhunter ps`)" };
var interval = new Option<double>("--interval") { Description = "Seconds between censuses", DefaultValueFactory = _ => 5 };
var samples = new Option<int>("--samples") { Description = "Censuses to take; a type must grow between every two", DefaultValueFactory = _ => 5 };
var watch = new Command("watch", "Censuses of a live process over time: the types that grew in every interval, and what holds them.") { pidArgument, interval, samples };
watch.SetAction(result => Run(result, () =>
{
    var target = Target.Parse(result.GetValue(pidArgument)!, liveOnly: true);
    int count = result.GetValue(samples);
    if (count < 3)
        throw new CliException("--samples must be at least 3: growth must show in at least two intervals to tell it from a one-off.");
    double seconds = result.GetValue(interval);
    if (!(seconds > 0) || seconds > TimeSpan.FromDays(1).TotalSeconds)
        throw new CliException($"--interval must be a number of seconds above 0 and at most a day; {seconds} is not.");
    LeakReport report = Watch(target, TimeSpan.FromSeconds(seconds), count, Seconds(result.GetValue(timeout)));
    return (Render(result, report, report.ToString, report.ToJson, () => $"```\n{report}```\n"), report.HasLeaks ? 1 : 0);
}));
root.Subcommands.Add(watch);

var type = new Option<string>("--type") { Description = "The full type name, as `census` shows it; * matches any run of characters", Required = true };
var max = new Option<int>("--max") { Description = "Instances to trace per type", DefaultValueFactory = _ => 100 };
var paths = new Command("paths", "The shortest paths from GC roots to the instances of a type, and who refers to them.") { targetArgument, type, max };
paths.SetAction(result => Run(result, () =>
{
    var target = Target.Parse(result.GetValue(targetArgument)!);
    string typeName = result.GetValue(type)!;
    if (result.GetValue(max) <= 0)
        throw new CliException("--max must be a positive number of instances.");
    (int alive, LeakExplanation explanation) = Paths(target, typeName, result.GetValue(max), Seconds(result.GetValue(timeout)));
    string headline = $"{target.Describe()}: {alive:N0} live instance(s) of {typeName}";
    string text = alive == 0 ? headline + Environment.NewLine : TextReportWriter.WriteSurvivors(headline, explanation);
    return (Render(result, explanation, () => text, () => JsonReportWriter.WriteExplanation(typeName, alive, explanation), () => $"```\n{text}```\n"), 0);
}));
root.Subcommands.Add(paths);

var before = new Argument<string>("before") { Description = "A census saved with `census --format json`, or a dump" };
var after = new Argument<string>("after") { Description = "A census saved with `census --format json`, or a dump" };
var diff = new Command("diff", "Two censuses or two dumps compared, most growth first.") { before, after, sort };
diff.SetAction(result => Run(result, () =>
{
    TimeSpan limit = Seconds(result.GetValue(timeout));
    CensusView first = LoadCensus(result.GetValue(before)!, limit);
    CensusView second = LoadCensus(result.GetValue(after)!, limit);
    CensusDiff changes = CensusDiff.Compare(first, second, result.GetValue(sort)!);
    return (Render(result, changes, changes.ToText, changes.ToJson, changes.ToMarkdown), changes.HasGrowth ? 1 : 0);
}));
root.Subcommands.Add(diff);

ParseResult parsed = root.Parse(args);
if (parsed.Errors.Count > 0)
{
    // Usage errors exit 2, like every other bad input: exit 1 means "growth found".
    string problem = Regex.Replace(parsed.Errors[0].Message, @"\s+", " ").Trim();
    Console.Error.WriteLine($"leakhunter: {problem} Run `leakhunter --help` for usage.");
    return 2;
}
return parsed.Invoke();

static TimeSpan Seconds(double seconds) => seconds > 0
    ? TimeSpan.FromSeconds(seconds)
    : throw new CliException("--timeout must be a positive number of seconds.");

// Runs a command: its result to --output or standard output; every failure to stderr, with its fix, and exit code 2.
static int Run(ParseResult result, Func<(string Output, int ExitCode)> command)
{
    try
    {
        // The output file is opened before the work starts, so a path that cannot be written fails at once, not
        // after a long watch.
        using OutputFile? file = OutputFile.Open(result.GetValue<FileInfo?>("--output"));
        (string text, int exitCode) = command();
        if (file is not null)
            file.Write(text);
        else
            Console.Out.Write(text);
        return exitCode;
    }
    catch (CliException e)
    {
        Console.Error.WriteLine($"leakhunter: {e.Message}");
        return 2;
    }
    catch (LeakHunterException e)
    {
        Console.Error.WriteLine($"leakhunter: {e.Message}");
        return 2;
    }
}

static string Render<T>(ParseResult result, T model, Func<string> text, Func<string> json, Func<string> markdown) =>
    result.GetValue<string>("--format") switch
    {
        "json" => json() + Environment.NewLine,
        "markdown" => markdown(),
        _ => text(),
    };

static CensusView TakeCensus(Target target, bool reachableOnly, TimeSpan limit, string sortBy, int top, string? filter)
{
    Console.Error.WriteLine($"leakhunter: walking the heap of {target.Describe()}...");
    (CensusTaker censuses, InspectorClient inspector) = target.Open(limit);
    using (inspector)
    {
        (int id, CensusReply reply) = censuses.Take(reachableOnly);
        IEnumerable<TypeSeries> types = censuses.GetHistograms([id]).Where(s => s.Counts[0] > 0);
        if (filter is not null)
        {
            Regex pattern = Wildcard.ToRegex(filter);
            types = types.Where(s => pattern.IsMatch(s.Type));
        }
        types = sortBy == "count" ? types.OrderByDescending(s => s.Counts[0]) : types.OrderByDescending(s => s.Bytes[0]);
        return new CensusView(target.Describe(), reply.Objects, reply.Bytes,
            types.Take(top).Select(s => new TypeCount(s.Type, s.Counts[0], s.Bytes[0])).ToArray());
    }
}

static CensusView LoadCensus(string argument, TimeSpan limit)
{
    if (File.Exists(argument) && IsJson(argument))
        return CensusView.FromJson(argument);
    Target target = Target.Parse(argument);
    return TakeCensus(target, reachableOnly: false, limit, "bytes", int.MaxValue, null);
}

// A saved census is JSON; anything else is taken for a dump.
static bool IsJson(string path)
{
    using var reader = new StreamReader(path);
    int c;
    while ((c = reader.Read()) >= 0 && char.IsWhiteSpace((char)c))
    {
    }
    return c == '{';
}

static LeakReport Watch(Target target, TimeSpan interval, int sampleCount, TimeSpan limit)
{
    var clock = Stopwatch.StartNew();
    (CensusTaker censuses, InspectorClient inspector) = target.Open(limit);
    using (inspector)
    {
        var ids = new List<int>();
        var summaries = new List<CensusSummary>();
        for (int sample = 0; sample < sampleCount; sample++)
        {
            if (sample > 0)
            {
                Console.Error.WriteLine($"leakhunter: waiting {interval.TotalSeconds:0.#} s for census {sample + 1} of {sampleCount}...");
                Thread.Sleep(interval);
            }
            Console.Error.WriteLine($"leakhunter: census {sample + 1} of {sampleCount}: walking what the roots reach...");
            (int id, CensusReply reply) = censuses.Take(reachableOnly: true);
            ids.Add(id);
            summaries.Add(new CensusSummary(sample, reply.Objects, reply.Bytes, reply.PauseMs, CensusPhase.Counted));
        }

        IReadOnlyList<TypeSeries> series = censuses.GetHistograms(ids);
        List<TypeSeries> growing = GrowthAnalyzer.FindSteadyGrowth(series, 0, ids.Count - 1);
        LeakExplanation? explanation = null;
        if (growing.Count > 0)
        {
            Console.Error.WriteLine($"leakhunter: {growing.Count} type(s) grew in every interval; finding what holds them...");
            censuses.Mark(growing.Select(g => g.Type).ToArray(), everyInstanceIsNew: true);
            explanation = LeakExplanations.FromInspector(censuses.Explain(100, limit));
        }
        int intervals = ids.Count - 1;
        TypeGrowth[] growth = growing
            .Select(s => new TypeGrowth(s.Type, s.Counts, s.Bytes, (double)(s.Counts[^1] - s.Counts[0]) / intervals, (double)(s.Bytes[^1] - s.Bytes[0]) / intervals))
            .OrderByDescending(g => g.BytesPerIteration).ToArray();
        return new LeakReport(CensusStrategy.Attach, 0, intervals, summaries, growth, [], [], clock.Elapsed, explanation);
    }
}

static (int Alive, LeakExplanation Explanation) Paths(Target target, string typePattern, int maxPaths, TimeSpan limit)
{
    Console.Error.WriteLine($"leakhunter: walking the heap of {target.Describe()} for {typePattern}...");
    (CensusTaker censuses, InspectorClient inspector) = target.Open(limit);
    using (inspector)
    {
        (int id, _) = censuses.Take(reachableOnly: false);
        string[] present = censuses.GetHistograms([id]).Where(s => s.Counts[0] > 0).Select(s => s.Type).ToArray();
        Regex pattern = Wildcard.ToRegex(typePattern);
        string[] matched = present.Where(t => pattern.IsMatch(t)).ToArray();
        if (matched.Length == 0)
            throw new CliException(TypeSuggestions.NoMatch(typePattern, present, target.Describe()));
        censuses.Mark(matched, everyInstanceIsNew: true);
        Explanation explanation = censuses.Explain(maxPaths, limit);
        return (explanation.NewInstances, LeakExplanations.FromInspector(explanation));
    }
}
