using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace LeakHunter.Tests.Targets;

// Leaks whose paths from a GC root the explanation must find. Each Handle() is the fragment under test; it returns
// the instance it leaked, so a test can watch that instance with a WeakReference after the check. Graphs below.

// PathStaticList.s_orders (static) -> List<Order> -> Order[] -> Order
internal static class PathStaticList
{
    private static readonly List<Order> s_orders = new();

    public static object Handle()
    {
        var order = new Order();
        s_orders.Add(order);
        return order;
    }

    public sealed class Order
    {
        public long Placed = Environment.TickCount64;
    }
}

// PathStaticEvent.Tick (static event) -> EventHandler (combined) -> Object[] -> EventHandler -> Listener
internal static class PathStaticEvent
{
    public static event EventHandler? Tick;

    public static object Handle()
    {
        var listener = new Listener();
        Tick += listener.OnTick;
        Tick?.Invoke(null, EventArgs.Empty);
        return listener;
    }

    public sealed class Listener
    {
        public int Ticks;

        public void OnTick(object? sender, EventArgs e) => Ticks++;
    }
}

// PathClosureDictionary.s_handlers (static) -> Dictionary<int, Func<int>> -> Entry[] -> Func<int> -> closure -> Payload
internal static class PathClosureDictionary
{
    private static readonly Dictionary<int, Func<int>> s_handlers = new();
    private static int s_next;

    public static object Handle()
    {
        var payload = new Payload();
        s_handlers[s_next++] = () => payload.Size;
        return payload;
    }

    public sealed class Payload
    {
        public int Size = 16;
    }
}

// PathThreadStatic.t_frames ([ThreadStatic], on the check's thread) -> List<Frame> -> Frame[] -> Frame
internal static class PathThreadStatic
{
    [ThreadStatic]
    private static List<Frame>? t_frames;

    public static object Handle()
    {
        var frame = new Frame();
        (t_frames ??= new List<Frame>()).Add(frame);
        return frame;
    }

    public sealed class Frame
    {
        public int Depth = 1;
    }
}

// strong GCHandle (GCHandle.Alloc, never freed) -> NativeBuffer
// (PathGcHandle.s_handles keeps the handles' numbers only: a GCHandle is a struct holding an IntPtr, not a reference.)
internal static class PathGcHandle
{
    private static readonly List<GCHandle> s_handles = new();

    public static object Handle()
    {
        var buffer = new NativeBuffer();
        s_handles.Add(GCHandle.Alloc(buffer));
        return buffer;
    }

    public static void FreeAll()
    {
        foreach (GCHandle handle in s_handles)
            handle.Free();
        s_handles.Clear();
    }

    public sealed class NativeBuffer
    {
        public int Length = 64;
    }
}

// TimerQueue.Instances (runtime static) -> TimerQueue[] -> TimerQueue -> TimerQueueTimer (-> _next ...) -> TimerCallback -> Poller
// A Poller is never disposed, and its timer's callback captures it.
internal static class PathTimer
{
    public static object Handle() => new Poller();

    public sealed class Poller
    {
        private readonly Timer _timer;
        public int Polls;

        public Poller() => _timer = new Timer(_ => Poll(), null, TimeSpan.FromHours(1), Timeout.InfiniteTimeSpan);

        private void Poll() => Polls++;
    }
}

// PathCancellation.s_shutdown (static) -> CancellationTokenSource -> Registrations -> CallbackNode (-> Next ...)
//   -> Action -> closure -> Watcher
internal static class PathCancellation
{
    private static readonly CancellationTokenSource s_shutdown = new();

    public static object Handle()
    {
        var watcher = new Watcher();
        s_shutdown.Token.Register(() => watcher.Stop()); // the registration is never disposed
        return watcher;
    }

    public sealed class Watcher
    {
        public bool Stopped;

        public void Stop() => Stopped = true;
    }
}

// finalizer queue -> Zombie. Its finalizer registers it for finalization again, so it never dies.
internal static class PathFinalizer
{
    public static volatile bool StopResurrecting;

    public static object Handle() => new Zombie();

    public sealed class Zombie
    {
        public int Lives;

        ~Zombie()
        {
            Lives++;
            if (!StopResurrecting)
                GC.ReRegisterForFinalize(this);
        }
    }
}

// PathWeakTable.s_keys (static) -> List<Key> -> Key[] -> Key -(ConditionalWeakTable value)-> Attachment
// The table holds its values only as long as their keys live, and these keys live forever.
internal static class PathWeakTable
{
    private static readonly List<Key> s_keys = new();
    private static readonly ConditionalWeakTable<Key, Attachment> s_attachments = new();

    public static object Handle()
    {
        var key = new Key();
        var attachment = new Attachment();
        s_keys.Add(key);
        s_attachments.Add(key, attachment);
        return attachment;
    }

    public sealed class Key
    {
        public int Id = Environment.CurrentManagedThreadId;
    }

    public sealed class Attachment
    {
        public int Size = 8;
    }
}

// PathSingleton.Instance (static auto-property) -> PathSingleton -> _store SessionStore -> _sessions List<Session> -> Session[] -> Session
internal sealed class PathSingleton
{
    private readonly SessionStore _store = new();

    public static PathSingleton Instance { get; } = new();

    public static object Handle()
    {
        var session = new Session();
        Instance._store.Add(session);
        return session;
    }

    public sealed class SessionStore
    {
        private readonly List<Session> _sessions = new();

        public void Add(Session session) => _sessions.Add(session);
    }

    public sealed class Session
    {
        public long Started = Environment.TickCount64;
    }
}

// PathGenericRegistry<Plugin>.s_items (static of a generic type) -> List<Plugin> -> Plugin[] -> Plugin
internal static class PathGenericRegistry<T> where T : new()
{
    public static readonly List<T> s_items = new();

    public static object Handle()
    {
        var item = new T();
        s_items.Add(item);
        return item!;
    }
}

// PathGenericIndex<Plugin, PluginKey>.s_byKey, declared Dictionary<TKey, List<TItem>>: the field's type lists the
// type's parameters in the other order, so naming its instantiation must match them by position, not by order.
internal static class PathGenericIndex<TItem, TKey> where TItem : new() where TKey : notnull, new()
{
    public static readonly Dictionary<TKey, List<TItem>> s_byKey = new();

    public static object Handle()
    {
        var item = new TItem();
        s_byKey.Add(new TKey(), [item]);
        return item!;
    }
}

internal sealed class PluginKey;

internal sealed class Plugin
{
    public int Version = 1;
}

// Targets for the tests that read explanations without cutting anything, so no cut made by another test breaks them.

// ExplainedRegistry.Current (static) -> ExplainedRegistry -> _entries List<Entry> -> Entry[] -> Entry
internal sealed class ExplainedRegistry
{
    private readonly List<Entry> _entries = new();

    public static ExplainedRegistry Current { get; } = new();

    public static object Handle()
    {
        var entry = new Entry();
        Current._entries.Add(entry);
        return entry;
    }

    public sealed class Entry
    {
        public long Created = Environment.TickCount64;
    }
}

// ExplainedList.s_items (static) -> List<Item> -> Item[] -> Item
internal static class ExplainedList
{
    private static readonly List<Item> s_items = new();

    public static object Handle()
    {
        var item = new Item();
        s_items.Add(item);
        return item;
    }

    public sealed class Item
    {
        public int Size = 4;
    }
}

// a local of PathStackLocal.Work, on its worker thread -> List<Message> -> Message[] -> Message
// The worker keeps everything it receives in a local list, and never returns.
internal static class PathStackLocal
{
    private static readonly System.Collections.Concurrent.BlockingCollection<Message> s_inbox = new();
    private static readonly Lazy<Thread> s_worker = new(() =>
    {
        var thread = new Thread(Work) { IsBackground = true, Name = "inbox worker" };
        thread.Start();
        return thread;
    });

    public static int WorkerThreadId => s_worker.Value.ManagedThreadId;

    public static object Handle()
    {
        _ = s_worker.Value;
        var message = new Message();
        s_inbox.Add(message);
        SpinWait.SpinUntil(() => s_inbox.Count == 0); // only the worker's local holds it now
        return message;
    }

    private static void Work()
    {
        var received = new List<Message>();
        foreach (Message message in s_inbox.GetConsumingEnumerable())
            received.Add(message);
        GC.KeepAlive(received);
    }

    public sealed class Message
    {
        public int Length = 12;
    }
}

// PathAsync.s_gate (static) -> TaskCompletionSource -> Task -> continuation -> state machine of PathAsync.WaitAsync -> Request
// Each call starts an async method that waits on a gate that never opens, holding its request.
internal static class PathAsync
{
    private static readonly TaskCompletionSource s_gate = new();

    public static object Handle()
    {
        var request = new Request();
        _ = WaitAsync(request);
        return request;
    }

    private static async Task WaitAsync(Request request)
    {
        await s_gate.Task;
        request.Done = true;
    }

    /// <summary>Lets every waiting call finish, so the requests they hold are garbage for the tests that run next.</summary>
    public static void Release() => s_gate.TrySetResult();

    public sealed class Request
    {
        public bool Done;
    }
}

// PathBulkImport.s_rows (static) -> List<Row> -> Row[] -> Row, over a thousand new rows per iteration: more new
// instances in the explained interval than the referrer counts name.
internal static class PathBulkImport
{
    public const int RowsPerIteration = 1_100;

    private static readonly List<Row> s_rows = new();

    public static object Handle()
    {
        Row last = new();
        for (int i = 0; i < RowsPerIteration; i++)
            s_rows.Add(last = new Row());
        return last;
    }

    public static void Clear() => s_rows.Clear();

    public sealed class Row
    {
        public long Imported = Environment.TickCount64;
    }
}

// A finalizer that waits on a lock never released while the check runs: the finalizer thread blocks in it, and every
// object queued for finalization after it waits too.
internal static class BlockedFinalizer
{
    private static readonly ManualResetEventSlim s_release = new(false);

    public static void Make() => _ = new Connection();

    /// <summary>Lets the blocked finalizer return, so the finalizer thread goes on with the rest of the queue.</summary>
    public static void Release() => s_release.Set();

    public sealed class Connection
    {
        ~Connection() => s_release.Wait();
    }
}

// A finalizer that returns at once: its objects are collected by the next GC after it ran.
internal static class QuickFinalizer
{
    public static void Make() => _ = new Connection();

    public sealed class Connection
    {
        public static int Closed;

        ~Connection() => Interlocked.Increment(ref Closed);
    }
}

// typeof(Widget) -(ConditionalWeakTable value)-> List<Tag> -> Tag[] -> Tag
// A table keyed on a Type object: the runtime never frees the Type of a type that cannot unload, so its value lives
// forever. PathImmortalKeyAlias.s_widgetType also points at that Type object, but merely shares it: clearing it would
// free nothing.
internal static class PathImmortalKey
{
    private static readonly ConditionalWeakTable<Type, List<Tag>> s_tagsByType = new();

    public static object Handle()
    {
        var tag = new Tag();
        s_tagsByType.GetOrCreateValue(typeof(Widget)).Add(tag);
        return tag;
    }

    public static void Release() => s_tagsByType.Remove(typeof(Widget));

    public sealed class Widget;

    public sealed class Tag
    {
        public int Size = 8;
    }
}

internal static class PathImmortalKeyAlias
{
    public static readonly Type s_widgetType = typeof(PathImmortalKey.Widget);
}

// PathBesideOldInstances.s_leaked -> List<Payload> -> Payload[] -> Payload, one per call, kept among hundreds of
// young objects dropped. Thousands of older payloads, made before the check, lie in s_old between blocks that are
// replaced one per call, so each call leaves a gap in the old generation before some of them. A full GC that meets
// that much young garbage compacts, and the old payloads it moves would have addresses the mark never saw.
internal static class PathBesideOldInstances
{
    private const int OldPayloads = 5_000;
    private static readonly List<object> s_old = Old();
    private static readonly List<Payload> s_leaked = [];
    private static object? s_dropped;
    private static int s_calls;

    public static object Handle()
    {
        for (int i = 0; i < 300; i++)
            s_dropped = new byte[48];
        var payload = new Payload();
        s_leaked.Add(payload);
        s_old[2 * (s_calls++ % OldPayloads) + 1] = new byte[64];
        return payload;
    }

    public static void Release() => s_leaked.Clear();

    private static List<object> Old()
    {
        var old = new List<object>(2 * OldPayloads);
        for (int i = 0; i < OldPayloads; i++)
        {
            old.Add(new Payload());
            old.Add(new byte[64]);
        }
        return old;
    }

    public sealed class Payload
    {
        public long Size = 8;
    }
}

// PathCompactingFragment.s_kept -> List<Item> -> Item[] -> Item, one per call; every tenth call compacts the heap
// itself, so every interval of ten calls moves what was marked before it.
internal static class PathCompactingFragment
{
    private static readonly List<Item> s_kept = [];

    public static object Handle()
    {
        var item = new Item();
        s_kept.Add(item);
        if (s_kept.Count % 10 == 0)
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        return item;
    }

    public static void Release() => s_kept.Clear();

    public sealed class Item
    {
        public int Size = 8;
    }
}
