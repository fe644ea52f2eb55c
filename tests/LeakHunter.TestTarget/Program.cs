using System.Text.Json;
using LeakHunter;

// A process of its own for the scenarios that must start fresh or must survive a dead inspector:
// the tests start it, read its stdout and judge. Each line it prints is "<kind> <detail>".
//
//   Scenario.s_leak (static List) -> Scenario+Leaked
string mode = args.Length > 0 ? args[0] : "";
var options = new LeakOptions
{
    Strategy = Enum.Parse<CensusStrategy>(Environment.GetEnvironmentVariable("LEAKHUNTER_TEST_STRATEGY") ?? "Auto"),
};
if (Environment.GetEnvironmentVariable("LEAKHUNTER_TEST_NOT_DUMPABLE") == "1")
{
    // A hardened process: without CAP_SYS_PTRACE no other process of the same user may ptrace it.
    _ = Native.prctl(4 /* PR_SET_DUMPABLE */, 0, 0, 0, 0);
}
switch (mode)
{
    case "serve":
        // A long-running process for the command-line tool to inspect from outside: "leak" keeps one order per
        // tick in OrderArchive.s_orders and prints "orders N" every tenth, "clean" makes only garbage. It runs until
        // it is killed.
        // "leak-files" keeps one open file per tick in FileKeeper.s_files and prints "files N" every tenth.
        // LEAKHUNTER_TEST_BALLAST=N keeps N more objects, so a census or an image takes long enough to be interrupted;
        // LEAKHUNTER_TEST_THREADS=N parks N threads, each holding a ParkedWork on its stack; LEAKHUNTER_TEST_COLLECTING=1
        // has a thread run full blocking GCs, one after another with 50 ms between.
        bool leaking = args.Length > 1 && args[1] == "leak";
        TimerCallback tick = args.Length > 1 && args[1] == "leak-files" ? _ => FileKeeper.Tick() : _ => OrderArchive.Tick(leaking);
        Scenario.Ballast = Enumerable.Range(0, EnvironmentCount("LEAKHUNTER_TEST_BALLAST")).Select(i => new object()).ToArray();
        ParkedWork.Park(EnvironmentCount("LEAKHUNTER_TEST_THREADS"));
        if (EnvironmentCount("LEAKHUNTER_TEST_COLLECTING") == 1)
            new Thread(Collector.CollectOnAndOn) { IsBackground = true, Name = "collecting" }.Start();
        using (var ticks = new Timer(tick, null, 0, 20))
        {
            Console.WriteLine($"ready {Environment.ProcessId}");
            Thread.Sleep(Timeout.Infinite);
        }
        return 0;
    case "first-check":
        // The very first check in this process: nothing of LeakHunter's has run yet.
        Report(LeakDetector.Run(Scenario.Leak, options));
        Report(LeakDetector.Run(Scenario.Clean, options));
        return 0;
    case "checks-on-big-heap":
        // Enough live objects that a census takes long enough to be interrupted.
        Scenario.Ballast = Enumerable.Range(0, 4_000_000).Select(i => new object()).ToArray();
        Console.WriteLine($"ready {Environment.ProcessId}");
        for (int check = 0; check < int.Parse(args[1]); check++)
            Run(() => LeakDetector.Run(Scenario.Leak, options));
        Console.WriteLine("done");
        return 0;
    case "check":
        Run(() => LeakDetector.Run(Scenario.Leak, options));
        return 0;
    case "check-while-writing":
        // Another thread keeps writing numbered lines straight to file descriptor 1, the way native code and child
        // processes do (Console.Out holds a descriptor of its own), for as long as the check runs. The test reads
        // them all back: a gap means something pointed the process's output elsewhere meanwhile.
        var writing = new NumberedLineWriter();
        try
        {
            LeakReport report = LeakDetector.Run(Scenario.Leak, options);
            writing.Stop();
            Report(report);
        }
        catch (LeakHunterException e)
        {
            writing.Stop();
            Console.WriteLine($"failed {e.Failure} {e.Message.ReplaceLineEndings(" ")}");
        }
        Console.WriteLine($"wrote {writing.Written}");
        return 0;
    default:
        Console.Error.WriteLine("usage: LeakHunter.TestTarget first-check|checks-on-big-heap N|check|check-while-writing");
        return 2;
}

static void Run(Func<LeakReport> check)
{
    try
    {
        Report(check());
    }
    catch (LeakHunterException e)
    {
        Console.WriteLine($"failed {e.Failure} {e.Message.ReplaceLineEndings(" ")}");
    }
}

static int EnvironmentCount(string name) => int.TryParse(Environment.GetEnvironmentVariable(name), out int count) ? count : 0;

static void Report(LeakReport report)
{
    var growing = report.GrowingTypes.Select(t => new { t.Type, t.InstancesPerIteration }).ToArray();
    Console.WriteLine($"report {JsonSerializer.Serialize(new { report.HasLeaks, Strategy = report.Strategy.ToString(), Growing = growing })}");
}

// OrderArchive.s_orders (static List) -> ArchivedOrder[] -> ArchivedOrder
internal static class OrderArchive
{
    private static readonly List<ArchivedOrder> s_orders = new();

    public static void Tick(bool leaking)
    {
        var order = new ArchivedOrder();
        if (leaking)
        {
            int kept;
            lock (s_orders)
            {
                s_orders.Add(order);
                kept = s_orders.Count;
            }
            // Tests wait for this line instead of sleeping: it says how many orders are held now.
            if (kept % 10 == 0)
                Console.WriteLine($"orders {kept}");
        }
    }
}

// FileKeeper.s_files (static List) -> SafeFileHandle[] -> SafeFileHandle (one open descriptor of /dev/null)
internal static class FileKeeper
{
    private static readonly List<Microsoft.Win32.SafeHandles.SafeFileHandle> s_files = new();

    public static void Tick()
    {
        int kept;
        lock (s_files)
        {
            s_files.Add(File.OpenHandle("/dev/null"));
            kept = s_files.Count;
        }
        if (kept % 10 == 0)
            Console.WriteLine($"files {kept}");
    }
}

// Threads that wait for ever, each with a ParkedWork only its own stack refers to.
internal sealed class ParkedWork
{
    private static readonly ManualResetEventSlim s_never = new();
    private static readonly CountdownEvent s_parked = new(1);

    public long Started = Environment.TickCount64;

    public static void Park(int threads)
    {
        if (threads == 0)
            return;
        s_parked.Reset(threads);
        for (int i = 0; i < threads; i++)
            new Thread(Wait, 256 * 1024) { IsBackground = true, Name = $"parked {i}" }.Start();
        s_parked.Wait();
    }

    private static void Wait()
    {
        var work = new ParkedWork();
        s_parked.Signal();
        s_never.Wait();
        GC.KeepAlive(work);
    }
}

internal static class Collector
{
    public static void CollectOnAndOn()
    {
        while (true)
        {
            GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
            // A server's GCs come between its requests: a gap where the heap is walkable.
            Thread.Sleep(50);
        }
    }
}

internal sealed class ArchivedOrder
{
    public long Placed = Environment.TickCount64;
}

/// <summary>Writes "line N" to file descriptor 1, N counting up from 0, each line with one write call, until stopped.</summary>
internal sealed class NumberedLineWriter
{
    private readonly Thread _thread;
    private volatile bool _stopping;

    public NumberedLineWriter()
    {
        _thread = new Thread(WriteUntilStopped) { IsBackground = true, Name = "numbered lines" };
        _thread.Start();
    }

    /// <summary>Lines written so far; read after <see cref="Stop"/>, the count of every line written.</summary>
    public int Written { get; private set; }

    public void Stop()
    {
        _stopping = true;
        _thread.Join();
    }

    private void WriteUntilStopped()
    {
        while (!_stopping)
        {
            byte[] line = System.Text.Encoding.ASCII.GetBytes($"line {Written}\n");
            if (Native.write(1, line, (nuint)line.Length) != line.Length)
                throw new IOException($"write to fd 1 failed: {System.Runtime.InteropServices.Marshal.GetLastPInvokeError()}");
            Written++;
            // Paces the lines (about one per millisecond) so a whole check yields thousands, not millions.
            Thread.Sleep(1);
        }
    }
}

internal static partial class Native
{
    [System.Runtime.InteropServices.LibraryImport("libc")]
    internal static partial int prctl(int option, nuint arg2, nuint arg3, nuint arg4, nuint arg5);

    [System.Runtime.InteropServices.LibraryImport("libc", SetLastError = true)]
    internal static partial nint write(int fd, byte[] buffer, nuint count);
}

internal static class Scenario
{
    private static readonly List<Leaked> s_leak = new();

    public static object[]? Ballast;

    public static void Leak() => s_leak.Add(new Leaked());

    public static void Clean() => GC.KeepAlive(new Leaked());

    public sealed class Leaked
    {
        public long Payload = Environment.TickCount64;
    }
}
