using System.Diagnostics;
using System.Globalization;
using LeakHunter;
using LeakHunter.Census;
using LeakHunter.Running;
using Microsoft.Diagnostics.Runtime;

// An honest harness of our own: BenchmarkDotNet runs benchmarks in child processes it controls, while a census
// must read the heap of the very process that holds it. Every figure is a median over repeated runs, and every
// ratio is taken against a yardstick measured in this same process, on this same heap, in this same run.
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
if (args is ["fresh-check"])
    return FreshCheck.Run();
if (args is ["counters"])
{
    // The resource counters' cost alone, on the 1M-object heap: the row to watch while working on the counters.
    Heap.Fill(1_000_000);
    double gc = Measure.Median(9, () => GC.Collect(2, GCCollectionMode.Forced, blocking: true), settle: false);
    Console.WriteLine($"| 1,000,000 | full blocking GC | {gc:0.0} ms | 1.0x |");
    Console.WriteLine(CountersCost.Row(1_000_000, new CensusTaker(new LeakOptions { Strategy = CensusStrategy.Attach })));
    InspectorClient.ShutdownShared();
    return 0;
}
if (args is ["check", var checkSize])
{
    // The clean check alone, with where its time goes: the row to watch while working on the check's cost.
    Heap.Fill(int.Parse(checkSize));
    double gc = Measure.Median(9, () => GC.Collect(2, GCCollectionMode.Forced, blocking: true), settle: false);
    LeakDetector.Run(Fragments.Clean);
    double clean = Measure.Median(5, () => LeakDetector.Run(Fragments.Clean));
    Console.WriteLine($"| {int.Parse(checkSize):N0} | full blocking GC | {gc:0.0} ms | 1.0x |");
    Console.WriteLine($"| {int.Parse(checkSize):N0} | whole default check, clean fragment | {clean:0.0} ms | {clean / gc:0.0}x |");
    Console.WriteLine(CheckStages.Row(int.Parse(checkSize), CheckTimings.Last, gc));
    InspectorClient.ShutdownShared();
    return 0;
}
if (args is ["paths"])
{
    foreach (string row in PathsBenchmark.Run(1_000_000, leaked: 1000, gcRootTargets: 100))
        Console.WriteLine(row);
    InspectorClient.ShutdownShared();
    return 0;
}
if (args is ["scale", ..])
{
    // Big heaps, each with an inspector of its own so its peak memory is this heap's: `scale 10000000 50000000`.
    int[] sizes = args.Length > 1 ? args[1..].Select(int.Parse).ToArray() : [10_000_000, 50_000_000, 100_000_000];
    var scaleRows = new List<string>();
    foreach (int liveObjects in sizes)
    {
        scaleRows.AddRange(ScaleBenchmark.Run(liveObjects, leaked: 1000));
        Console.Error.WriteLine($"{liveObjects:N0} objects done");
    }
    Console.WriteLine($"LeakHunter benchmark, big heaps - {Environment.ProcessorCount} cores, .NET {Environment.Version}, {DateTime.UtcNow:yyyy-MM-dd}");
    Console.WriteLine();
    Console.WriteLine("| live objects | measurement | median | vs full GC |");
    Console.WriteLine("|---|---|---|---|");
    scaleRows.ForEach(Console.WriteLine);
    return 0;
}
if (args is ["verify", var size])
{
    // The bulk scan must find exactly the objects ClrMD's own enumeration finds.
    Heap.Fill(int.Parse(size));
    var verifyTaker = new CensusTaker(new LeakOptions { Strategy = CensusStrategy.Attach });
    HeapSettler.SettleHeap();
    var reply = verifyTaker.Take().Reply;
    long byHand = HandWritten.Histogram().Values.Sum(v => v.Count);
    Console.WriteLine($"bulk scan: {reply.Objects} objects, {reply.UnreadableBytes} unreadable bytes, {reply.PauseMs:0.0} ms; ClrMD EnumerateObjects: {byHand} objects");
    InspectorClient.ShutdownShared();
    return 0;
}

var rows = new List<string>();
foreach (int liveObjects in new[] { 100_000, 1_000_000 })
{
    Heap.Fill(liveObjects);
    double settleHeap = Measure.Median(9, () => HeapSettler.SettleHeap(), settle: false);
    double gcOnce = Measure.Median(9, () => GC.Collect(2, GCCollectionMode.Forced, blocking: true), settle: false);

    var taker = new CensusTaker(new LeakOptions { Strategy = CensusStrategy.Attach });
    taker.Take(); // warm the inspector
    var pauses = new List<double>();
    double censusWall = Measure.Median(9, () => pauses.Add(taker.Take().Reply.PauseMs));
    double censusPause = Measure.MedianOf(pauses);

    (string countersRow, double barePause) = CountersCost.Measure(liveObjects, taker);

    var dumpTaker = new CensusTaker(new LeakOptions { Strategy = CensusStrategy.Dump });
    dumpTaker.Take();
    var dumpPauses = new List<double>();
    double dumpWall = Measure.Median(3, () => dumpPauses.Add(dumpTaker.Take().Reply.PauseMs));

    double cleanCheck = Measure.Median(3, () => LeakDetector.Run(Fragments.Clean));
    CheckTimeBreakdown cleanStages = CheckTimings.Last;
    double leakyCheck = Measure.Median(3, () => LeakDetector.Run(Fragments.Leaky));

    double handCensus = Measure.Median(3, () => HandWritten.Histogram());
    double handCheck = Measure.Median(1, HandWritten.Check);

    rows.Add($"| {liveObjects:N0} | full blocking GC | {gcOnce:0.0} ms | 1.0x |");
    rows.Add($"| {liveObjects:N0} | census pause, warm (live attach) | {censusPause:0.0} ms | {censusPause / gcOnce:0.0}x |");
    rows.Add($"| {liveObjects:N0} | census round trip, request to reply | {censusWall:0.0} ms | {censusWall / gcOnce:0.0}x |");
    rows.Add($"| {liveObjects:N0} | census pause without the resource counters (LeakResources.None) | {barePause:0.0} ms | {barePause / gcOnce:0.0}x |");
    rows.Add(countersRow);
    rows.Add($"| {liveObjects:N0} | census pause (self-dump route) | {Measure.MedianOf(dumpPauses):0.0} ms | {Measure.MedianOf(dumpPauses) / gcOnce:0.0}x |");
    rows.Add($"| {liveObjects:N0} | whole default check, clean fragment | {cleanCheck:0.0} ms | {cleanCheck / gcOnce:0.0}x |");
    rows.Add(CheckStages.Row(liveObjects, cleanStages, gcOnce));
    rows.Add($"| {liveObjects:N0} | whole default check, leaky fragment (with confirmation) | {leakyCheck:0.0} ms | {leakyCheck / gcOnce:0.0}x |");
    rows.Add($"| {liveObjects:N0} | by hand: CreateSnapshotAndAttach + EnumerateObjects, per census | {handCensus:0.0} ms | {handCensus / gcOnce:0.0}x |");
    rows.Add($"| {liveObjects:N0} | by hand: whole check (10 warm-up, 5 censuses) | {handCheck:0.0} ms | {handCheck / gcOnce:0.0}x |");
    rows.Add($"| {liveObjects:N0} | speed-up of the default check over the hand-written one | | {handCheck / cleanCheck:0.0}x |");
    Console.Error.WriteLine($"{liveObjects:N0} objects done (settling the heap before a census: {settleHeap:0.0} ms)");
    Heap.Clear();
}

rows.AddRange(PathsBenchmark.Run(1_000_000, leaked: 1000, gcRootTargets: 100));

double fresh = FreshCheck.MeasureInChildProcess();
rows.Add($"| small | first check in a fresh process, inspector start included | {fresh:0} ms | |");

Console.Out.Flush();
Console.WriteLine($"LeakHunter benchmark - {Environment.ProcessorCount} cores, .NET {Environment.Version}, {DateTime.UtcNow:yyyy-MM-dd}");
Console.WriteLine();
Console.WriteLine("| live objects | measurement | median | vs full GC |");
Console.WriteLine("|---|---|---|---|");
rows.ForEach(Console.WriteLine);
InspectorClient.ShutdownShared();
return 0;

internal static class CheckStages
{
    /// <summary>Where a check's time went, stage by stage, each against the same run's full GC.</summary>
    public static string Row(int liveObjects, CheckTimeBreakdown stages, double gc)
    {
        static string Part(string what, TimeSpan time, double gc) => $"{what} {time.TotalMilliseconds:0.0} ms ({time.TotalMilliseconds / gc:0.0}x)";
        return $"| {liveObjects:N0} | that clean check by stage: {Part($"settling, {stages.SettleGcs} full GCs", stages.Settle, gc)}; {Part($"{stages.CensusCount} census round trips", stages.Censuses, gc)}; " +
            $"{Part("the judge's requests", stages.Judge, gc)}; {Part("the fragment", stages.Fragment, gc)}; {Part("the rest (inspector, report)", stages.Rest, gc)} | {stages.Total.TotalMilliseconds:0.0} ms | {stages.Total.TotalMilliseconds / gc:0.0}x |";
    }
}

internal static class CountersCost
{
    /// <summary>The resource counters' own cost as a report row: censuses with and without them, taken in turn so drift falls on both alike.</summary>
    public static string Row(int liveObjects, CensusTaker counted) => Measure(liveObjects, counted).Row;

    public static (string Row, double BarePause) Measure(int liveObjects, CensusTaker counted)
    {
        var bare = new CensusTaker(new LeakOptions { Strategy = CensusStrategy.Attach, Resources = LeakResources.None });
        bare.Take();
        counted.Take();
        var (countedPauses, barePauses, countedWalls, bareWalls) = (new List<double>(), new List<double>(), new List<double>(), new List<double>());
        for (int run = 0; run < 101; run++)
        {
            countedWalls.Add(global::Measure.Median(1, () => countedPauses.Add(counted.Take().Reply.PauseMs)));
            bareWalls.Add(global::Measure.Median(1, () => barePauses.Add(bare.Take().Reply.PauseMs)));
        }
        double countedPause = global::Measure.MedianOf(countedPauses), barePause = global::Measure.MedianOf(barePauses);
        double countedWall = global::Measure.MedianOf(countedWalls), bareWall = global::Measure.MedianOf(bareWalls);
        return ($"| {liveObjects:N0} | resource counters' cost per census: pause {countedPause:0.0} ms against {barePause:0.0} ms, round trip {countedWall:0.0} ms against {bareWall:0.0} ms | " +
            $"{countedWall - bareWall:0.0} ms | {(countedPause - barePause) / barePause * 100:+0.0;-0.0}% of the pause, {(countedWall - bareWall) / bareWall * 100:+0.0;-0.0}% of the round trip |", barePause);
    }
}

internal static class Heap
{
    private static object[]? s_live;

    // Small objects linked from one array: the shape of a typical heap of DTOs and strings.
    public static void Fill(int count)
    {
        var live = new object[count];
        for (int i = 0; i < count; i++)
            live[i] = (i % 4) switch { 0 => new Node(i), 1 => i.ToString(CultureInfo.InvariantCulture), 2 => new int[2], _ => new List<int>() };
        s_live = live;
        HeapSettler.SettleHeap();
    }

    /// <summary>Hangs <paramref name="holder"/> off the last slot, so only the whole live graph leads to it.</summary>
    public static void AttachAtTheEnd(object holder) => s_live![^1] = holder;

    public static T AtTheEnd<T>() => (T)s_live![^1];

    public static void Clear()
    {
        s_live = null;
        HeapSettler.SettleHeap();
    }

    private sealed record Node(int Value);
}

internal static class Fragments
{
    private static readonly List<object> s_leak = new();

    public static void Clean() => GC.KeepAlive(new byte[64]);

    public static void Leaky() => s_leak.Add(new object());
}

/// <summary>
/// Paths from the roots to many leaked instances: LeakHunter's one search over a compact graph against ClrMD's
/// GCRoot, one search per instance, the way a user asks for each object in turn.
/// </summary>
internal static class PathsBenchmark
{
    public static IEnumerable<string> Run(int liveObjects, int leaked, int gcRootTargets)
    {
        Heap.Fill(liveObjects);
        // The leak hangs off the application's object graph, as real leaks do, rather than off a root of its own.
        Heap.AttachAtTheEnd(new List<LeakedOrder>());
        double gc = Measure.Median(5, () => GC.Collect(2, GCCollectionMode.Forced, blocking: true), settle: false);
        var taker = new CensusTaker(new LeakOptions { Strategy = CensusStrategy.Attach });
        taker.Take();

        var explainMs = new List<double>();
        var stoppedMs = new List<double>();
        var retainedMs = new List<double>();
        Explanation? explanation = null;
        for (int run = 0; run < 3; run++)
        {
            HeapSettler.SettleHeap();
            GC.Collect(2, GCCollectionMode.Forced, blocking: true);
            taker.Mark([typeof(LeakedOrder).FullName!]);
            AddLeaked(leaked);
            GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: false);
            var clock = Stopwatch.StartNew();
            explanation = taker.Explain(leaked, TimeSpan.FromMinutes(1), []);
            explainMs.Add(clock.Elapsed.TotalMilliseconds);
            stoppedMs.Add(explanation.TargetPauseMs);
            retainedMs.Add(explanation.RetainedSizesMs);
        }
        double explain = Measure.MedianOf(explainMs);
        int traced = explanation!.Leaks.Where(l => l.Type == typeof(LeakedOrder).FullName).Sum(l => l.Instances);
        double retained = Measure.MedianOf(retainedMs);
        long retainedBytes = explanation.Leaks.Where(l => l.RetainedBytes > 0).Sum(l => l.RetainedBytes);

        (double gcRootMs, int searched) = GcRootPerTarget(gcRootTargets, TimeSpan.FromSeconds(90));
        double gcRootFor100 = gcRootMs / searched * gcRootTargets;
        Heap.Clear();

        string scope = $"{liveObjects:N0}";
        yield return $"| {scope} | paths for {leaked:N0} new leaked instances ({traced:N0} traced), graph build included | {explain:0.0} ms | {explain / gc:0.0}x |";
        double stopped = Measure.MedianOf(stoppedMs);
        yield return $"| {scope} | time the process is stopped for those paths (its memory copied; traced in the copy while it runs) | {stopped:0.0} ms | {stopped / gc:0.0}x |";
        yield return $"| {scope} | ClrMD GCRoot, one search per instance, for {gcRootTargets} instances{(searched < gcRootTargets ? $" (timed on {searched}, scaled)" : "")} | {gcRootFor100:0.0} ms | {gcRootFor100 / gc:0.0}x |";
        yield return $"| {scope} | speed-up of the paths over GCRoot ({leaked:N0} paths against {gcRootTargets}) | | {gcRootFor100 / explain:0.0}x |";
        yield return $"| {scope} | inspector memory for the graph and its search, per heap object ({explanation.GraphObjects:N0} objects) | {(double)explanation.GraphBytes / explanation.GraphObjects:0.0} B | |";
        yield return $"| {scope} | retained size of the cause (the dominators of what its entries alone hold; {retainedBytes:N0} bytes retained), within the paths above | {retained:0.0} ms | {retained / gc:0.0}x |";
        yield return $"| {scope} | inspector memory for the retained sizes, per heap object, on top of the graph | {(double)explanation.RetainedSizesBytes / explanation.GraphObjects:0.0} B | |";
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    public static void AddLeaked(int count)
    {
        var leaked = Heap.AtTheEnd<List<LeakedOrder>>();
        for (int i = 0; i < count; i++)
            leaked.Add(new LeakedOrder(i));
    }

    /// <summary>A snapshot of this process, then one GCRoot search per leaked instance until the budget runs out.</summary>
    private static (double TotalMs, int Searched) GcRootPerTarget(int targets, TimeSpan budget)
    {
        HeapSettler.SettleHeap();
        using DataTarget target = DataTarget.CreateSnapshotAndAttach(Environment.ProcessId);
        using ClrRuntime runtime = target.ClrVersions[0].CreateRuntime();
        ulong[] addresses = runtime.Heap.EnumerateObjects().Where(o => o.Type?.Name == typeof(LeakedOrder).FullName)
            .Select(o => o.Address).Take(targets).ToArray();
        var clock = Stopwatch.StartNew();
        int searched = 0;
        foreach (ulong address in addresses)
        {
            var gcRoot = new GCRoot(runtime.Heap, [address]);
            _ = gcRoot.EnumerateRootPaths().FirstOrDefault();
            searched++;
            if (clock.Elapsed > budget)
                break;
        }
        return (clock.Elapsed.TotalMilliseconds, searched);
    }

    public sealed record LeakedOrder(int Id);
}

/// <summary>
/// A heap of millions of objects: the census's pause, how long paths stop the process and take, and the inspector's
/// peak memory (its resident high-water mark, the image of the process included) per heap object.
/// </summary>
internal static class ScaleBenchmark
{
    public static IEnumerable<string> Run(int liveObjects, int leaked)
    {
        InspectorClient.ShutdownShared();
        Heap.Fill(liveObjects);
        Heap.AttachAtTheEnd(new List<PathsBenchmark.LeakedOrder>());
        double gc = Measure.Median(3, () => GC.Collect(2, GCCollectionMode.Forced, blocking: true), settle: false);
        var taker = new CensusTaker(new LeakOptions { Strategy = CensusStrategy.Attach });
        taker.Take();
        var pauses = new List<double>();
        _ = Measure.Median(3, () => pauses.Add(taker.Take().Reply.PauseMs));
        double census = Measure.MedianOf(pauses);

        string scope = $"{liveObjects:N0}";
        var rows = new List<string>
        {
            $"| {scope} | full blocking GC | {gc:0.0} ms | 1.0x |",
            $"| {scope} | census pause, warm (live attach) | {census:0.0} ms | {census / gc:0.0}x |",
        };
        try
        {
            HeapSettler.SettleHeap();
            taker.Mark([typeof(PathsBenchmark.LeakedOrder).FullName!]);
            PathsBenchmark.AddLeaked(leaked);
            GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: false);
            var clock = Stopwatch.StartNew();
            Explanation explanation = taker.Explain(leaked, TimeSpan.FromMinutes(10), []);
            double paths = clock.Elapsed.TotalMilliseconds;
            long peak = PeakResidentBytes(InspectorClient.GetShared().ProcessId);
            int traced = explanation.Leaks.Where(l => l.Type == typeof(PathsBenchmark.LeakedOrder).FullName).Sum(l => l.Instances);
            rows.Add($"| {scope} | time the process is stopped for paths (its image copied), against the census pause {census:0.0} ms | {explanation.TargetPauseMs:0.0} ms | {explanation.TargetPauseMs / gc:0.0}x |");
            rows.Add($"| {scope} | paths wall time ({traced:N0} of {leaked:N0} new instances traced{(explanation.PartialReason is null ? "" : "; partial: " + explanation.PartialReason)}) | {paths:0.0} ms | {paths / gc:0.0}x |");
            rows.Add($"| {scope} | inspector peak memory per heap object, its image of the process included ({peak / (1 << 20):N0} MiB) | {(double)peak / liveObjects:0.0} B | |");
            rows.Add($"| {scope} | inspector memory for the graph and its search, per heap object | {(double)explanation.GraphBytes / Math.Max(1, explanation.GraphObjects):0.0} B | |");
        }
        catch (LeakHunterException e)
        {
            rows.Add($"| {scope} | paths failed: {e.Failure}: {e.Message.ReplaceLineEndings(" ")} | | |");
        }
        Heap.Clear();
        InspectorClient.ShutdownShared();
        return rows;
    }

    /// <summary>VmHWM: the most memory the process has had resident at once.</summary>
    private static long PeakResidentBytes(int processId)
    {
        string line = File.ReadLines($"/proc/{processId}/status").Single(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        return long.Parse(line["VmHWM:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
    }
}

internal static class HandWritten
{
    /// <summary>What users write today: snapshot this process, walk every object, count by type.</summary>
    public static Dictionary<string, (long Count, long Bytes)> Histogram()
    {
        var histogram = new Dictionary<string, (long, long)>();
        using DataTarget target = DataTarget.CreateSnapshotAndAttach(Environment.ProcessId);
        using ClrRuntime runtime = target.ClrVersions[0].CreateRuntime();
        foreach (ClrObject obj in runtime.Heap.EnumerateObjects())
        {
            string name = obj.Type?.Name ?? "?";
            histogram.TryGetValue(name, out (long Count, long Bytes) entry);
            histogram[name] = (entry.Count + 1, entry.Bytes + (long)obj.Size);
        }
        return histogram;
    }

    public static void Check()
    {
        for (int i = 0; i < 10; i++)
            Fragments.Clean();
        for (int census = 0; census < 5; census++)
        {
            for (int i = 0; i < 10; i++)
                Fragments.Clean();
            HeapSettler.SettleHeap();
            GC.KeepAlive(Histogram());
        }
    }
}

internal static class Measure
{
    public static double Median(int runs, Action action, bool settle = true)
    {
        var times = new List<double>();
        for (int i = 0; i < runs; i++)
        {
            if (settle)
                HeapSettler.SettleHeap();
            long start = Stopwatch.GetTimestamp();
            action();
            times.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        }
        return MedianOf(times);
    }

    public static double MedianOf(List<double> values)
    {
        values.Sort();
        return values[values.Count / 2];
    }
}

internal static class FreshCheck
{
    private static readonly List<object> s_leak = new();

    public static int Run()
    {
        long start = Stopwatch.GetTimestamp();
        LeakReport report = LeakDetector.Run(() => s_leak.Add(new object()));
        Console.WriteLine(Stopwatch.GetElapsedTime(start).TotalMilliseconds.ToString("0", CultureInfo.InvariantCulture));
        return report.HasLeaks ? 0 : 1;
    }

    /// <summary>A whole first check in a new process: inspector start, JIT and all.</summary>
    public static double MeasureInChildProcess()
    {
        var times = new List<double>();
        for (int i = 0; i < 3; i++)
        {
            var start = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true, UseShellExecute = false };
            if (Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet")
                start.ArgumentList.Add(typeof(FreshCheck).Assembly.Location);
            start.ArgumentList.Add("fresh-check");
            using Process child = Process.Start(start)!;
            string output = child.StandardOutput.ReadToEnd();
            child.WaitForExit();
            if (child.ExitCode != 0)
                throw new InvalidOperationException($"The fresh-process check failed: {output}");
            times.Add(double.Parse(output.Trim(), CultureInfo.InvariantCulture));
        }
        return Measure.MedianOf(times);
    }
}
