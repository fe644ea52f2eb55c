using System.Collections.Concurrent;

namespace LeakHunter.Tests.Targets;

// Each target is a small program that builds a known object graph; the graph is drawn above it.

// StaticListLeak.s_items (static List) -> Item[] -> Item
internal static class StaticListLeak
{
    private static readonly List<Item> s_items = new();

    public static void Handle() => s_items.Add(new Item());

    public sealed class Item
    {
        public int Id = Environment.TickCount;
    }
}

// StaticEventLeak.Changed (static event) -> EventHandler -> Subscriber
internal static class StaticEventLeak
{
    public static event EventHandler? Changed;

    public static void Handle()
    {
        var subscriber = new Subscriber();
        Changed += subscriber.OnChanged; // never removed
        Changed?.Invoke(null, EventArgs.Empty);
    }

    public sealed class Subscriber
    {
        public int Seen;

        public void OnChanged(object? sender, EventArgs e) => Seen++;
    }
}

// ClosureCache.s_callbacks (static Dictionary) -> Entry[] -> Func<int> -> <>c__DisplayClass (closure) -> byte[]
internal static class ClosureCache
{
    private static readonly Dictionary<Guid, Func<int>> s_callbacks = new();

    public static void Handle()
    {
        byte[] state = new byte[32];
        s_callbacks[Guid.NewGuid()] = () => state.Length; // a fresh key every call
    }
}

// AsyncQueueLeak.s_queue (static ConcurrentQueue) -> segment -> Message
internal static class AsyncQueueLeak
{
    private static readonly ConcurrentQueue<Message> s_queue = new();

    public static async Task HandleAsync()
    {
        await Task.Yield();
        s_queue.Enqueue(new Message());
    }

    public sealed class Message
    {
        public DateTime Received = DateTime.UtcNow;
    }
}

// RepeatedItemLeak.s_items (static List) -> Item[] (grows) -> the same Item, again and again
internal static class RepeatedItemLeak
{
    private static readonly Item s_same = new();
    private static readonly List<Item> s_items = new();

    public static void Handle() => s_items.Add(s_same);

    public sealed class Item
    {
        public int Id = 1;
    }
}

// SlowLeak.s_items (static List) -> Item, added on every second call
internal static class SlowLeak
{
    private static readonly List<Item> s_items = new();
    private static int s_calls;

    public static void Handle()
    {
        if (++s_calls % 2 == 0)
            s_items.Add(new Item());
    }

    public sealed class Item
    {
        public int Id = s_calls;
    }
}

// BackgroundGrowth.s_items (static List) <- a background thread adds Item every millisecond, whatever the fragment does
internal sealed class BackgroundGrowth : IDisposable
{
    private static readonly List<Item> s_items = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Thread _thread;

    public BackgroundGrowth()
    {
        _thread = new Thread(() =>
        {
            while (!_stop.IsCancellationRequested)
            {
                lock (s_items)
                    s_items.Add(new Item());
                Thread.Sleep(1);
            }
        }) { IsBackground = true };
        _thread.Start();
    }

    public void Dispose()
    {
        _stop.Cancel();
        _thread.Join();
        lock (s_items)
            s_items.Clear();
    }

    public sealed class Item
    {
        public long Ticks = DateTime.UtcNow.Ticks;
    }
}
