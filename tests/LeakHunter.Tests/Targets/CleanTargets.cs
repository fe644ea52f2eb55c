using System.Buffers;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;

namespace LeakHunter.Tests.Targets;

// Transient garbage only: nothing outlives the call.
internal static class TransientGarbage
{
    public static int Handle()
    {
        var items = new List<string>();
        for (int i = 0; i < 100; i++)
            items.Add(new string('x', i));
        return items.Sum(s => s.Length);
    }
}

// BoundedCache.s_entries (static Dictionary, at most 64 entries) -> byte[]; the oldest entry is evicted.
// It is still filling when counting begins (64 > the 10 warm-up calls), then stays full.
internal static class BoundedCache
{
    private const int Capacity = 64;
    private static readonly Dictionary<int, byte[]> s_entries = new();
    private static readonly Queue<int> s_order = new();
    private static int s_nextKey;

    public static void Handle()
    {
        int key = s_nextKey++;
        if (s_entries.Count == Capacity)
            s_entries.Remove(s_order.Dequeue());
        s_entries[key] = new byte[100];
        s_order.Enqueue(key);
    }
}

// LazySingleton.s_instance (static Lazy) -> Service, created on first use only
internal static class LazySingleton
{
    private static readonly Lazy<Service> s_instance = new(() => new Service());

    public static int Handle() => s_instance.Value.Calls++;

    public sealed class Service
    {
        public int Calls;
    }
}

// ArrayPool<byte>.Shared -> pooled byte[], rented and returned
internal static class PooledBuffers
{
    public static void Handle()
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(4096);
        buffer[0] = 1;
        ArrayPool<byte>.Shared.Return(buffer);
    }
}

// ReusedBuilder.s_builder (static StringBuilder) -> chunks, cleared and reused
internal static class ReusedBuilder
{
    private static readonly StringBuilder s_builder = new();

    public static string Handle()
    {
        s_builder.Clear();
        for (int i = 0; i < 50; i++)
            s_builder.Append(i).Append(',');
        return s_builder.ToString();
    }
}

// JsonSerializer's default options cache type metadata once; later calls reuse it.
internal static class JsonRoundTrip
{
    public static Order? Handle() => JsonSerializer.Deserialize<Order>(JsonSerializer.Serialize(new Order { Id = 7, Lines = ["a", "b"] }));

    public sealed class Order
    {
        public int Id { get; set; }

        public string[] Lines { get; set; } = [];
    }
}

// Task.Run hands work to the thread pool; awaiting it leaves nothing behind.
internal static class PoolWork
{
    public static async Task HandleAsync()
    {
        int result = await Task.Run(() => Enumerable.Range(0, 100).Sum());
        GC.KeepAlive(result);
    }
}

// BoundedEntryCache.s_entries -> Dictionary -> Entry, at most Capacity of them: the oldest goes when a new one would
// pass the bound. Filling takes Capacity calls, far longer than the counted run.
internal sealed class BoundedEntryCache(int capacity)
{
    private readonly Dictionary<int, Entry> _entries = new();
    private readonly Queue<int> _order = new();
    private int _nextKey;

    public static BoundedEntryCache Of400 { get; } = new(400);

    public static BoundedEntryCache Of1024 { get; } = new(1024);

    public static BoundedEntryCache Of3000 { get; } = new(3000);

    public static BoundedEntryCache Unbounded { get; } = new(int.MaxValue);

    public void Handle()
    {
        int key = _nextKey++;
        if (_entries.Count == capacity)
            _entries.Remove(_order.Dequeue());
        _entries[key] = new Entry(key);
        _order.Enqueue(key);
    }

    public sealed record Entry(int Key);
}

// A service provider built and disposed per call: the runtime's own lists of providers (weak references, pruned as
// they die) come and go with it.
internal static class ProviderPerCall
{
    public static void Handle()
    {
        using ServiceProvider provider = new ServiceCollection().AddSingleton<Clock>().BuildServiceProvider();
        provider.GetRequiredService<Clock>().Tick();
    }

    public sealed class Clock
    {
        public int Ticks { get; private set; }

        public void Tick() => Ticks++;
    }
}

// An EventSource made and disposed per call: the runtime keeps every source in a list of weak references that prunes
// the dead ones as it grows.
internal static class EventSourcePerCall
{
    public static void Handle()
    {
        using var source = new ProbeEventSource();
        source.Probe(1);
    }

    [System.Diagnostics.Tracing.EventSource(Name = "LeakHunter-Tests-Probe")]
    private sealed class ProbeEventSource : System.Diagnostics.Tracing.EventSource
    {
        public void Probe(int value) => WriteEvent(1, value);
    }
}
