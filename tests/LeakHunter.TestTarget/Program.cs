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
        bool leaking = args.Length > 1 && args[1] == "leak";
        using (var ticks = new Timer(_ => OrderArchive.Tick(leaking), null, 0, 20))
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
    default:
        Console.Error.WriteLine("usage: LeakHunter.TestTarget first-check|checks-on-big-heap N|check");
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

internal sealed class ArchivedOrder
{
    public long Placed = Environment.TickCount64;
}

internal static partial class Native
{
    [System.Runtime.InteropServices.LibraryImport("libc")]
    internal static partial int prctl(int option, nuint arg2, nuint arg3, nuint arg4, nuint arg5);
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
