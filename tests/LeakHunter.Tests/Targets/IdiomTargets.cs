using System.ComponentModel;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Diagnostics.Tracing;
using System.Reflection;
using System.Runtime.Loader;
using System.Threading.Channels;
using System.Xml.Linq;
using System.Xml.Serialization;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;

namespace LeakHunter.Tests.Targets;

// Leaks written against the real libraries, one .NET idiom each, as a user would write them. Leak() is the leaky
// fragment; Fixed(), where there is one, applies the fix the report must name, and must not leak. Every class keeps
// its long-lived state in static fields of its own, so no test's leftovers reach another's paths. Per-call keys count
// from 1,000: the runtime caches the strings of numbers under 300 for itself, which would show as a second owner.

// IdiomEvent.Changed (static event) -> EventHandler (combined) -> Object[] -> EventHandler -> Subscriber
internal static class IdiomEvent
{
    public static event EventHandler? Changed;

    public static void Leak() => Changed += new Subscriber().OnChanged;

    public static void Fixed()
    {
        var subscriber = new Subscriber();
        Changed += subscriber.OnChanged;
        Changed?.Invoke(null, EventArgs.Empty);
        Changed -= subscriber.OnChanged;
    }

    public sealed class Subscriber
    {
        public int Seen;

        public void OnChanged(object? sender, EventArgs e) => Seen++;
    }
}

// IdiomTokenRegistration.s_shutdown (static) -> CancellationTokenSource -> CallbackNode chain -> Action -> closure -> Worker
internal static class IdiomTokenRegistration
{
    private static readonly CancellationTokenSource s_shutdown = new();

    public static void Leak()
    {
        var worker = new Worker();
        s_shutdown.Token.Register(() => worker.Stop());
    }

    public static void Fixed()
    {
        var worker = new Worker();
        using CancellationTokenRegistration registration = s_shutdown.Token.Register(() => worker.Stop());
    }

    public sealed class Worker
    {
        public bool Stopped;

        public void Stop() => Stopped = true;
    }
}

// IdiomLinkedSource.s_shutdown (static) -> CancellationTokenSource -> CallbackNode -> Linked1CancellationTokenSource
//   -> CallbackNode -> Action -> closure -> Job. The linked source is never disposed, so the parent keeps it.
internal static class IdiomLinkedSource
{
    private static readonly CancellationTokenSource s_shutdown = new();

    public static void Leak()
    {
        var job = new Job();
        CancellationTokenSource linked = CancellationTokenSource.CreateLinkedTokenSource(s_shutdown.Token);
        job.Run(linked.Token);
    }

    public static void Fixed()
    {
        var job = new Job();
        using CancellationTokenSource linked = CancellationTokenSource.CreateLinkedTokenSource(s_shutdown.Token);
        job.Run(linked.Token);
    }

    public sealed class Job
    {
        public bool Cancelled;

        public void Run(CancellationToken token) => token.UnsafeRegister(static j => ((Job)j!).Cancelled = true, this);
    }
}

// TimerQueue (runtime) -> TimerQueueTimer -> DelayPromise: an hour-long delay that lost the race, never cancelled.
internal static class IdiomTaskDelay
{
    public static void Leak()
    {
        Task work = Task.CompletedTask;
        Task.WhenAny(work, Task.Delay(TimeSpan.FromHours(1))).GetAwaiter().GetResult();
    }

    public static void Fixed()
    {
        Task work = Task.CompletedTask;
        using var lostRace = new CancellationTokenSource();
        Task.WhenAny(work, Task.Delay(TimeSpan.FromHours(1), lostRace.Token)).GetAwaiter().GetResult();
        lostRace.Cancel();
    }
}

// TimerQueue (runtime) -> TimerQueueTimer -> DelayPromise -> state machine -> Session: each call's session is held by
// a second-long delay, then released (a library's start-up delay): no more than a second's worth is ever held.
internal static class IdiomShortDelay
{
    private sealed class Session
    {
        public readonly byte[] State = new byte[256];
    }

    public static void HeldForASecond() => _ = KeepForASecond(new Session());

    private static async Task KeepForASecond(Session session)
    {
        await Task.Delay(TimeSpan.FromSeconds(1)).ConfigureAwait(false);
        GC.KeepAlive(session);
    }
}

// TimerQueue (runtime) -> TimerQueueTimer -> TimerCallback -> closure -> Poller: a Timer never disposed.
internal static class IdiomThreadingTimer
{
    // Weak handles: they keep nothing alive and add no object, so the story stays the timer queue's, yet Release can
    // dispose every leaked timer and leave the queue as it found it for the tests that follow.
    private static readonly LeakedTimers s_leaked = new();

    public static void Leak() => s_leaked.Track(new Poller());

    public static void Release() => s_leaked.DisposeAll();

    public static void Fixed() => new Poller().Dispose();

    public sealed class Poller : IDisposable
    {
        private readonly Timer _timer;
        public int Polls;

        public Poller() => _timer = new Timer(_ => Polls++, null, TimeSpan.FromHours(1), Timeout.InfiniteTimeSpan);

        public void Dispose() => _timer.Dispose();
    }
}

// TimerQueue (runtime) -> TimerQueueTimer -> TimerCallback -> System.Timers.Timer -> ElapsedEventHandler -> Monitor
internal static class IdiomTimersTimer
{
    private static readonly LeakedTimers s_leaked = new();

    public static void Leak()
    {
        var monitor = new Monitor();
        var timer = new System.Timers.Timer(TimeSpan.FromHours(1));
        timer.Elapsed += monitor.OnElapsed;
        timer.Start();
        s_leaked.Track(timer);
    }

    public static void Release() => s_leaked.DisposeAll();

    public static void Fixed()
    {
        var monitor = new Monitor();
        using var timer = new System.Timers.Timer(TimeSpan.FromHours(1));
        timer.Elapsed += monitor.OnElapsed;
        timer.Start();
        timer.Stop();
    }

    public sealed class Monitor
    {
        public int Ticks;

        public void OnElapsed(object? sender, System.Timers.ElapsedEventArgs e) => Ticks++;
    }
}

// The thread pool's wait thread -> RegisteredWaitHandle -> callback -> Listener: a wait never unregistered.
internal static class IdiomRegisteredWait
{
    private static readonly ManualResetEvent s_signal = new(false);

    public static void Leak()
    {
        var listener = new Listener();
        ThreadPool.RegisterWaitForSingleObject(s_signal, (state, _) => ((Listener)state!).OnSignal(), listener, Timeout.Infinite, executeOnlyOnce: true);
    }

    public static void Fixed()
    {
        var listener = new Listener();
        RegisteredWaitHandle wait = ThreadPool.RegisterWaitForSingleObject(s_signal, (state, _) => ((Listener)state!).OnSignal(), listener, Timeout.Infinite, executeOnlyOnce: true);
        wait.Unregister(null);
    }

    public sealed class Listener
    {
        public int Signals;

        public void OnSignal() => Signals++;
    }
}

// IdiomCancellationChangeToken.s_token (static) -> CancellationChangeToken -> CancellationTokenSource -> CallbackNode -> Reloader
internal static class IdiomCancellationChangeToken
{
    private static readonly CancellationChangeToken s_token = new(new CancellationTokenSource().Token);

    public static void Leak()
    {
        var reloader = new Reloader();
        s_token.RegisterChangeCallback(static r => ((Reloader)r!).Reload(), reloader);
    }

    public static void Fixed()
    {
        var reloader = new Reloader();
        using IDisposable registration = s_token.RegisterChangeCallback(static r => ((Reloader)r!).Reload(), reloader);
    }

    public sealed class Reloader
    {
        public int Reloads;

        public void Reload() => Reloads++;
    }
}

// IdiomReloadToken.s_configuration (static) -> ConfigurationRoot -> ConfigurationReloadToken -> CancellationTokenSource
//   -> CallbackNode -> Action<object> -> closure -> Reader
internal static class IdiomReloadToken
{
    private static readonly IConfigurationRoot s_configuration = new ConfigurationBuilder().AddInMemoryCollection().Build();

    public static void Leak()
    {
        var reader = new Reader();
        s_configuration.GetReloadToken().RegisterChangeCallback(_ => reader.Read(), null);
    }

    public sealed class Reader
    {
        public int Reads;

        public void Read() => Reads++;
    }
}

// IdiomOptionsMonitor.s_monitor (static) -> OptionsMonitor<Settings> -> _onChange -> ChangeTrackerDisposable -> listener -> Consumer
internal static class IdiomOptionsMonitor
{
    private static readonly IOptionsMonitor<Settings> s_monitor = new ServiceCollection()
        .Configure<Settings>(new ConfigurationBuilder().AddInMemoryCollection().Build())
        .BuildServiceProvider()
        .GetRequiredService<IOptionsMonitor<Settings>>();

    public static void Leak()
    {
        var consumer = new Consumer();
        s_monitor.OnChange(settings => consumer.Apply(settings));
    }

    public static void Fixed()
    {
        var consumer = new Consumer();
        using IDisposable? subscription = s_monitor.OnChange(settings => consumer.Apply(settings));
    }

    public sealed class Settings
    {
        public int Limit { get; set; }
    }

    public sealed class Consumer
    {
        public int Limit;

        public void Apply(Settings settings) => Limit = settings.Limit;
    }
}

// IdiomDiRoot.s_services (static) -> ServiceProvider -> root ServiceProviderEngineScope -> _disposables -> Connection
// A disposable transient resolved from the root provider is kept until the provider is disposed.
internal static class IdiomDiRoot
{
    private static readonly ServiceProvider s_services = new ServiceCollection().AddTransient<Connection>().BuildServiceProvider();

    public static void Leak() => s_services.GetRequiredService<Connection>().Send();

    public static void Fixed()
    {
        using IServiceScope scope = s_services.CreateScope();
        scope.ServiceProvider.GetRequiredService<Connection>().Send();
    }

    public sealed class Connection : IDisposable
    {
        public int Sent;

        public void Send() => Sent++;

        public void Dispose() => Sent = -1;
    }
}

// Meter.s_allMeters (runtime static) -> List<Meter> -> Meter[] -> Meter
internal static class IdiomMeter
{
    public static void Leak() => new Meter("LeakHunter.Idioms.Orders").CreateCounter<int>("orders").Add(1);

    public static void Fixed()
    {
        using var meter = new Meter("LeakHunter.Idioms.Orders");
        meter.CreateCounter<int>("orders").Add(1);
    }
}

// ActivitySource.s_activeSources (runtime static) -> ActivitySource
internal static class IdiomActivitySource
{
    public static void Leak() => new ActivitySource("LeakHunter.Idioms.Orders").StartActivity("order")?.Dispose();
}

// DiagnosticListener.s_allListeners (runtime static) -> DiagnosticListener (-> _next ...)
internal static class IdiomDiagnosticListener
{
    public static void Leak()
    {
        var listener = new DiagnosticListener("LeakHunter.Idioms.Orders");
        if (listener.IsEnabled("order"))
            listener.Write("order", null);
    }
}

// EventListener.s_Listeners (runtime static) -> OrderEventListener (-> m_Next ...)
internal static class IdiomEventListener
{
    public static void Leak() => _ = new OrderEventListener();

    public sealed class OrderEventListener : EventListener
    {
        public int Written;

        protected override void OnEventWritten(EventWrittenEventArgs eventData) => Written++;
    }
}

// AppContext.s_dataStore (runtime static) -> Dictionary<string, object> -> Entry[] -> Setting, one key per call
internal static class IdiomAppContext
{
    private static int s_next = 1_000;

    public static void Leak() => AppContext.SetData("LeakHunter.Idioms.Setting." + s_next++, new Setting());

    public sealed class Setting
    {
        public int Value = 1;
    }
}

// TypeDescriptor's provider table (runtime static) -> the node of Widget's providers (-> Next ...) -> a provider per call
internal static class IdiomTypeDescriptor
{
    public static void LeakAttributes() => TypeDescriptor.AddAttributes(typeof(Widget), new TagAttribute());

    public static void LeakProvider() => TypeDescriptor.AddProvider(new WidgetProvider(), typeof(Widget));

    public sealed class Widget
    {
        public int Size { get; set; }
    }

    [AttributeUsage(AttributeTargets.Class)]
    public sealed class TagAttribute : Attribute
    {
        public int Id = Environment.TickCount;
    }

    public sealed class WidgetProvider() : TypeDescriptionProvider(TypeDescriptor.GetProvider(typeof(Widget)));
}

// IdiomLoggerFactory.s_loggers (static) -> LoggerFactory -> _loggers Dictionary<string, Logger> -> Entry[] -> Logger
internal static class IdiomLoggerFactory
{
    private static readonly ILoggerFactory s_loggers = LoggerFactory.Create(_ => { });
    private static int s_next = 1_000;

    public static void Leak() => s_loggers.CreateLogger("LeakHunter.Idioms.Order-" + s_next++).LogInformation("placed");
}

// IdiomMemoryCache.s_cache (static) -> MemoryCache -> its entries -> CacheEntry -> Quote: no size limit, no expiration
internal static class IdiomMemoryCache
{
    private static readonly MemoryCache s_cache = new(new MemoryCacheOptions());
    private static readonly MemoryCache s_boundedCache = new(new MemoryCacheOptions { SizeLimit = 4 });
    private static int s_next = 1_000;

    public static void Leak() => s_cache.Set("quote-" + s_next++, new Quote());

    public static void Fixed() => s_boundedCache.Set("quote-" + s_next++, new Quote(), new MemoryCacheEntryOptions { Size = 1 });

    public sealed class Quote
    {
        public decimal Price = 1m;
    }
}

// IdiomChannel.s_outbox (static) -> UnboundedChannel<Message> -> ConcurrentQueue -> segment -> slots -> Message
internal static class IdiomChannel
{
    private static readonly Channel<Message> s_outbox = Channel.CreateUnbounded<Message>();
    private static readonly Channel<Message> s_readOutbox = Channel.CreateUnbounded<Message>();

    public static void Leak() => s_outbox.Writer.TryWrite(new Message());

    public static void Fixed()
    {
        s_readOutbox.Writer.TryWrite(new Message());
        while (s_readOutbox.Reader.TryRead(out Message? message))
            message.Sent = true;
    }

    public sealed class Message
    {
        public bool Sent;
    }
}

// IdiomValueChannel.s_readings (static) -> UnboundedChannel<int> -> ConcurrentQueue<int> -> segment, an int per call:
// no object per call at all, only the segment's items, and a new segment of twice the length now and then.
internal static class IdiomValueChannel
{
    private static readonly Channel<int> s_readings = Channel.CreateUnbounded<int>();
    private static readonly Channel<int> s_readReadings = Channel.CreateUnbounded<int>();
    private static int s_next;

    public static void Leak() => s_readings.Writer.TryWrite(s_next++);

    public static void Fixed()
    {
        s_readReadings.Writer.TryWrite(s_next++);
        while (s_readReadings.Reader.TryRead(out int reading))
            s_next += reading & 0;
    }
}

// IdiomValueList.s_seen (static) -> List<Guid>, a Guid per call: the list's array doubles now and then, its count every call.
internal static class IdiomValueList
{
    private static readonly List<Guid> s_seen = new();
    private static readonly List<Guid> s_recent = new();

    public static void Leak() => s_seen.Add(Guid.NewGuid());

    public static void Fixed()
    {
        s_recent.Add(Guid.NewGuid());
        if (s_recent.Count > 16)
            s_recent.RemoveAt(0);
    }
}

// XNamespace.None (kept by the document's root name) -> its name table -> XName, one per call
internal static class IdiomXName
{
    private static readonly XName s_root = XName.Get("orders");
    private static int s_next = 1_000;

    public static void Leak() => _ = new XElement(s_root, new XElement(XName.Get("order" + s_next++), 1)).ToString();
}

// the runtime's handle table -> Object[] -> String: string.Intern keeps every string it is given.
internal static class IdiomInternedString
{
    private static readonly string[] s_statuses = ["open", "paid", "shipped", "closed"];
    private static int s_next = 1_000;

    public static void Leak() => _ = string.Intern("order-" + s_next++);

    public static void Fixed() => _ = string.Intern(s_statuses[s_next++ % s_statuses.Length]);
}

// A dynamic assembly generated per call: only XmlSerializer(Type) and (Type, string) reuse theirs.
internal static class IdiomXmlSerializer
{
    private static readonly XmlSerializer s_serializer = new(typeof(IdiomXmlOrder), new XmlRootAttribute("order"));

    public static void Leak() => Serialize(new XmlSerializer(typeof(IdiomXmlOrder), new XmlRootAttribute("order")));

    public static void Fixed() => Serialize(s_serializer);

    private static void Serialize(XmlSerializer serializer)
    {
        using var writer = new StringWriter();
        serializer.Serialize(writer, new IdiomXmlOrder());
    }
}

// A plugin loaded per call into a collectible context and unloaded, whose handler on AppDomain.ProcessExit keeps the
// context loaded: AppDomain.s_domain -> ProcessExit -> ShutdownFlusher -> its type's loader allocator -> the context.
internal static class IdiomPluginContext
{
    // Built beside the tests, never referenced by them: only a context of the test's own can load it.
    private static readonly string s_plugin = Path.Combine(
        AppContext.BaseDirectory.Replace("LeakHunter.Tests", "LeakHunter.TestPlugin", StringComparison.Ordinal), "LeakHunter.TestPlugin.dll");

    public static void Leak() => RunPlugin(stopBeforeUnload: false);

    public static void Fixed() => RunPlugin(stopBeforeUnload: true);

    /// <summary>Removes the handlers the leak left on AppDomain.ProcessExit, so its contexts can unload after the test.</summary>
    public static void RemoveLeftHandlers()
    {
        // The event's backing field, on the AppDomain (its path in the report: AppDomain.s_domain -> AppDomain .ProcessExit).
        FieldInfo? processExit = typeof(AppDomain).GetField("ProcessExit", BindingFlags.NonPublic | BindingFlags.Instance);
        if (processExit?.GetValue(AppDomain.CurrentDomain) is not EventHandler handlers)
            throw new InvalidOperationException("AppDomain.ProcessExit has no backing field of that name any more: the test cannot clean up after the leak.");
        foreach (EventHandler handler in handlers.GetInvocationList().Cast<EventHandler>())
        {
            if (handler.Method.DeclaringType?.Assembly.IsCollectible == true)
                AppDomain.CurrentDomain.ProcessExit -= handler;
        }
    }

    private static void RunPlugin(bool stopBeforeUnload)
    {
        var context = new AssemblyLoadContext("plugin", isCollectible: true);
        Type entry = context.LoadFromAssemblyPath(s_plugin).GetType("LeakHunter.TestPlugin.PluginEntry", throwOnError: true)!;
        entry.GetMethod("Start", BindingFlags.Public | BindingFlags.Static)!.Invoke(null, null);
        if (stopBeforeUnload)
            entry.GetMethod("Stop", BindingFlags.Public | BindingFlags.Static)!.Invoke(null, null);
        context.Unload();
    }
}

// Public, as XmlSerializer requires.
public sealed class IdiomXmlOrder
{
    /// <summary>The order's number.</summary>
    public int Id { get; set; }
}

// IdiomClosure.s_callbacks (static) -> List<Func<int>> -> Func<int>[] -> Func<int> -> closure made in Leak -> Payload
internal static class IdiomClosure
{
    private static readonly List<Func<int>> s_callbacks = new();

    public static void Leak()
    {
        var payload = new Payload();
        s_callbacks.Add(() => payload.Size);
    }

    public static void Fixed()
    {
        var payload = new Payload();
        Func<int> callback = () => payload.Size;
        s_callbacks.Add(callback);
        _ = callback();
        s_callbacks.Remove(callback);
    }

    public sealed class Payload
    {
        public int Size = 16;
    }
}

// IdiomAsync.s_ready (static) -> TaskCompletionSource -> Task -> state machine of IdiomAsync.SendWhenReadyAsync -> Envelope
internal static class IdiomAsync
{
    private static readonly TaskCompletionSource s_ready = new();

    public static void Leak() => _ = SendWhenReadyAsync(new Envelope());

    private static async Task SendWhenReadyAsync(Envelope envelope)
    {
        await s_ready.Task;
        envelope.Sent = true;
    }

    public sealed class Envelope
    {
        public bool Sent;
    }
}

/// <summary>
/// The timers a leaky target started, by weak GC handles in an array sized up front: they hold nothing and allocate
/// nothing per call, so the leak's story is unchanged, and <see cref="DisposeAll"/> stops every one still alive.
/// </summary>
internal sealed class LeakedTimers
{
    private readonly System.Runtime.InteropServices.GCHandle[] _handles = new System.Runtime.InteropServices.GCHandle[200_000];
    private int _count;

    public void Track(IDisposable timer)
    {
        if (_count < _handles.Length)
            _handles[_count++] = System.Runtime.InteropServices.GCHandle.Alloc(timer, System.Runtime.InteropServices.GCHandleType.Weak);
    }

    public void DisposeAll()
    {
        for (int i = 0; i < _count; i++)
        {
            (_handles[i].Target as IDisposable)?.Dispose();
            _handles[i].Free();
        }
        _count = 0;
    }
}
