using System.Collections.Specialized;
using System.Diagnostics.Metrics;
using System.Reactive.Subjects;
using Autofac;
using Castle.DynamicProxy;
using Grace.DependencyInjection;
using Lamar;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.Registry;
using Serilog;
using Serilog.Context;
using System.Reactive.Linq;
using CommunityToolkit.Mvvm.Messaging;
using Dapper;
using HandlebarsDotNet;
using Hangfire;
using Hangfire.InMemory;
using Jint;
using Microsoft.EntityFrameworkCore;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using Prometheus;
using System.Linq.Dynamic.Core;
using ZiggyCreatures.Caching.Fusion;

namespace LeakHunter.Corpus;

/// <summary>A leak in a library's idiom, and the same code with the fix the library documents.</summary>
/// <param name="Leak">One call of the leaky code.</param>
/// <param name="Fixed">One call of the fixed twin.</param>
/// <param name="Scale">Calls in the truth measurement's first step: enough for its growth to stand far above the heap's noise.</param>
internal sealed record LibraryCase(Action Leak, Action Fixed, int Scale);

internal static class LibraryCases
{
    public static readonly IReadOnlyDictionary<string, LibraryCase> All = new Dictionary<string, LibraryCase>(StringComparer.Ordinal)
    {
        ["autofac-root-transient"] = new(AutofacCases.Leak, AutofacCases.Fixed, 2_000),
        ["lamar-root-transient"] = new(LamarCases.Leak, LamarCases.Fixed, 2_000),
        ["grace-root-transient"] = new(GraceCases.Leak, GraceCases.Fixed, 2_000),
        ["serilog-async-logger"] = new(SerilogCases.Leak, SerilogCases.Fixed, 20),
        ["console-logger-factory"] = new(ConsoleLoggerCases.Leak, ConsoleLoggerCases.Fixed, 100),
        ["quartz-scheduler"] = new(QuartzCases.Leak, QuartzCases.Fixed, 20),
        ["nlog-logger-per-tenant"] = new(NLogCases.Leak, NLogCases.Fixed, 2_000),
        ["log4net-logger-per-tenant"] = new(Log4NetCases.Leak, Log4NetCases.Fixed, 2_000),
        ["polly-pipeline-per-tenant"] = new(PollyCases.Leak, PollyCases.Fixed, 2_000),
        ["rx-subject-subscription"] = new(RxCases.Leak, RxCases.Fixed, 2_000),
        ["meter-gauge-per-call"] = new(MeterCases.Leak, MeterCases.Fixed, 2_000),
        ["host-started-per-call"] = new(HostCases.Leak, HostCases.Fixed, 50),
        ["test-server-per-call"] = new(TestServerCases.Leak, TestServerCases.Fixed, 200),
        ["castle-proxy-generator"] = new(CastleCases.Leak, CastleCases.Fixed, 20),
        ["nlog-async-factory"] = new(NLogAsyncCases.Leak, NLogAsyncCases.Fixed, 50),
        ["sqlite-connection-string-per-call"] = new(SqliteCases.Leak, SqliteCases.Fixed, 500),
        ["quartz-started-scheduler"] = new(QuartzStartedCases.Leak, QuartzStartedCases.Fixed, 20),
        ["dapper-inlined-sql"] = new(DapperCases.Leak, DapperCases.Fixed, 2_000),
        ["mvvm-strong-messenger"] = new(MvvmCases.Leak, MvvmCases.Fixed, 2_000),
        ["otel-tracer-provider"] = new(OtelTracerCases.Leak, OtelTracerCases.Fixed, 200),
        ["otel-meter-provider"] = new(OtelMeterCases.Leak, OtelMeterCases.Fixed, 200),
        ["serilog-file-logger"] = new(SerilogFileCases.Leak, SerilogFileCases.Fixed, 100),
        ["hangfire-server"] = new(HangfireCases.Leak, HangfireCases.Fixed, 10),
        ["dynamic-linq-select"] = new(DynamicLinqCases.Leak, DynamicLinqCases.Fixed, 200),
        ["jint-global-per-call"] = new(JintCases.Leak, JintCases.Fixed, 2_000),
        ["handlebars-partial-per-call"] = new(HandlebarsPartialCases.Leak, HandlebarsPartialCases.Fixed, 50),
        ["efcore-inmemory-database-per-call"] = new(EfInMemoryCases.Leak, EfInMemoryCases.Fixed, 500),
        ["prometheus-label-per-user"] = new(PrometheusCases.Leak, PrometheusCases.Fixed, 2_000),
        ["fusioncache-per-call"] = new(FusionCacheCases.Leak, FusionCacheCases.Fixed, 200),
        ["stateless-transition-handler"] = new(StatelessCases.Leak, StatelessCases.Fixed, 2_000),
        ["hangfire-recurring-job-per-call"] = new(HangfireRecurringCases.Leak, HangfireRecurringCases.Fixed, 500),
        ["serilog-log-context-push"] = new(SerilogLogContextCases.Leak, SerilogLogContextCases.Fixed, 2_000),
        ["rx-interval-subscription"] = new(RxIntervalCases.Leak, RxIntervalCases.Fixed, 2_000),
    };
}

/// <summary>A service that owns something to release, as the services users register do.</summary>
public sealed class ReportWriter : IDisposable
{
    private readonly byte[] _buffer = new byte[256];

    public int Capacity => _buffer.Length;

    public void Dispose()
    {
    }
}

internal static class AutofacCases
{
    private static readonly Autofac.IContainer s_container = Build();

    private static Autofac.IContainer Build()
    {
        var builder = new ContainerBuilder();
        builder.RegisterType<ReportWriter>();
        return builder.Build();
    }

    public static void Leak() => _ = s_container.Resolve<ReportWriter>().Capacity;

    public static void Fixed()
    {
        using ILifetimeScope scope = s_container.BeginLifetimeScope();
        _ = scope.Resolve<ReportWriter>().Capacity;
    }
}

internal static class LamarCases
{
    private static readonly Container s_container = new(registry => registry.AddTransient<ReportWriter>());

    public static void Leak() => _ = s_container.GetInstance<ReportWriter>().Capacity;

    public static void Fixed()
    {
        using INestedContainer nested = s_container.GetNestedContainer();
        _ = nested.GetInstance<ReportWriter>().Capacity;
    }
}

internal static class GraceCases
{
    private static readonly DependencyInjectionContainer s_container = Build();

    private static DependencyInjectionContainer Build()
    {
        var container = new DependencyInjectionContainer();
        container.Configure(c => c.Export<ReportWriter>());
        return container;
    }

    public static void Leak() => _ = s_container.Locate<ReportWriter>().Capacity;

    public static void Fixed()
    {
        using IExportLocatorScope scope = s_container.BeginLifetimeScope();
        _ = scope.Locate<ReportWriter>().Capacity;
    }
}

internal static class SerilogCases
{
    private sealed class DiscardingSink : Serilog.Core.ILogEventSink
    {
        public void Emit(Serilog.Events.LogEvent logEvent)
        {
        }
    }

    private static Serilog.Core.Logger CreateLogger() =>
        new LoggerConfiguration().WriteTo.Async(sink => sink.Sink(new DiscardingSink())).CreateLogger();

    public static void Leak() => CreateLogger().Information("Handled {Request}", 42);

    public static void Fixed()
    {
        using Serilog.Core.Logger logger = CreateLogger();
        logger.Information("Handled {Request}", 42);
    }
}

internal static class ConsoleLoggerCases
{
    public static void Leak() => LoggerFactory.Create(logging => logging.AddConsole()).CreateLogger("Orders");

    public static void Fixed()
    {
        using ILoggerFactory factory = LoggerFactory.Create(logging => logging.AddConsole());
        factory.CreateLogger("Orders");
    }
}

internal static class QuartzCases
{
    private static int s_schedulers;

    private static Quartz.IScheduler Create() => new Quartz.Impl.StdSchedulerFactory(new NameValueCollection
    {
        ["quartz.scheduler.instanceName"] = $"reports-{Interlocked.Increment(ref s_schedulers)}",
        ["quartz.threadPool.maxConcurrency"] = "1",
    }).GetScheduler().GetAwaiter().GetResult();

    public static void Leak() => _ = Create().SchedulerName;

    public static void Fixed() => Create().Shutdown().GetAwaiter().GetResult();
}

internal static class NLogCases
{
    private static int s_tenant;

    public static void Leak() => NLog.LogManager.GetLogger($"tenant-{Interlocked.Increment(ref s_tenant)}").Trace("handled");

    public static void Fixed() => NLog.LogManager.GetLogger("Tenants").Trace("handled tenant {Tenant}", Interlocked.Increment(ref s_tenant));
}

internal static class Log4NetCases
{
    private static int s_tenant;

    public static void Leak() => log4net.LogManager.GetLogger(typeof(Log4NetCases).Assembly, $"tenant-{Interlocked.Increment(ref s_tenant)}").Debug("handled");

    public static void Fixed() => log4net.LogManager.GetLogger(typeof(Log4NetCases).Assembly, "Tenants").Debug($"handled tenant {Interlocked.Increment(ref s_tenant)}");
}

internal static class PollyCases
{
    private static readonly ResiliencePipelineRegistry<string> s_registry = new();
    private static int s_tenant;

    private static ResiliencePipeline Pipeline(string key) =>
        s_registry.GetOrAddPipeline(key, builder => builder.AddTimeout(TimeSpan.FromSeconds(5)));

    public static void Leak() => Pipeline($"tenant-{Interlocked.Increment(ref s_tenant)}").Execute(() => 0);

    public static void Fixed() => Pipeline("tenants").Execute(() => Interlocked.Increment(ref s_tenant));
}

internal static class RxCases
{
    private static readonly Subject<decimal> s_prices = new();

    private sealed class PriceView
    {
        public decimal Last;
        public readonly byte[] Rows = new byte[128];
    }

    public static void Leak()
    {
        var view = new PriceView();
        s_prices.Subscribe(price => view.Last = price);
    }

    public static void Fixed()
    {
        var view = new PriceView();
        using IDisposable subscription = s_prices.Subscribe(price => view.Last = price);
        s_prices.OnNext(1m);
    }
}

internal static class MeterCases
{
    private static readonly Meter s_meter = new("LeakHunter.Corpus.Orders");
    private static readonly Queue s_queue = new();
    private static readonly ObservableGauge<int> s_depth = s_meter.CreateObservableGauge("orders.queue.depth", () => s_queue.Depth);

    private sealed class Queue
    {
        public int Depth { get; set; }
        public readonly byte[] Items = new byte[128];
    }

    public static void Leak()
    {
        var queue = new Queue();
        s_meter.CreateObservableGauge("orders.queue.depth", () => queue.Depth);
    }

    public static void Fixed() => _ = s_depth.Enabled | s_queue.Depth > 0;
}

internal static class HostCases
{
    private static IHost Start()
    {
        IHost host = new HostBuilder().Build();
        host.StartAsync().GetAwaiter().GetResult();
        return host;
    }

    public static void Leak() => Start();

    public static void Fixed()
    {
        using IHost host = Start();
        host.StopAsync().GetAwaiter().GetResult();
    }
}

internal static class TestServerCases
{
    private static IHost Start()
    {
        IHost host = new HostBuilder()
            .ConfigureWebHost(web => web.UseTestServer().Configure(app => app.Run(context => context.Response.WriteAsync("ok"))))
            .Build();
        host.StartAsync().GetAwaiter().GetResult();
        host.GetTestClient().GetStringAsync("/").GetAwaiter().GetResult();
        return host;
    }

    public static void Leak() => Start();

    public static void Fixed()
    {
        using IHost host = Start();
        host.StopAsync().GetAwaiter().GetResult();
    }
}

public class Repository
{
    public virtual int Count() => 0;
}

internal static class CastleCases
{
    private static readonly ProxyGenerator s_generator = new();

    public static void Leak() => _ = new ProxyGenerator().CreateClassProxy<Repository>().Count();

    public static void Fixed() => _ = s_generator.CreateClassProxy<Repository>().Count();
}

internal static class NLogAsyncCases
{
    private static NLog.LogFactory Create()
    {
        var configuration = new NLog.Config.LoggingConfiguration();
        var target = new NLog.Targets.Wrappers.AsyncTargetWrapper(new NLog.Targets.NullTarget("discard"));
        configuration.AddRuleForAllLevels(target);
        var factory = new NLog.LogFactory { Configuration = configuration };
        factory.GetLogger("Orders").Info("handled");
        return factory;
    }

    public static void Leak() => Create();

    public static void Fixed() => Create().Dispose();
}

internal static class SqliteCases
{
    private static int s_tenant;

    private static void Query(string connectionString)
    {
        using var connection = new Microsoft.Data.Sqlite.SqliteConnection(connectionString);
        connection.Open();
        using Microsoft.Data.Sqlite.SqliteCommand command = connection.CreateCommand();
        command.CommandText = "select 1";
        command.ExecuteScalar();
    }

    public static void Leak() => Query($"Data Source=tenant-{Interlocked.Increment(ref s_tenant)};Mode=Memory;Cache=Shared");

    public static void Fixed() => Query("Data Source=tenants;Mode=Memory;Cache=Shared");
}

internal static class QuartzStartedCases
{
    private static int s_schedulers;

    private static Quartz.IScheduler Start()
    {
        Quartz.IScheduler scheduler = new Quartz.Impl.StdSchedulerFactory(new NameValueCollection
        {
            ["quartz.scheduler.instanceName"] = $"billing-{Interlocked.Increment(ref s_schedulers)}",
            ["quartz.threadPool.maxConcurrency"] = "1",
        }).GetScheduler().GetAwaiter().GetResult();
        scheduler.Start().GetAwaiter().GetResult();
        return scheduler;
    }

    public static void Leak() => Start();

    public static void Fixed() => Start().Shutdown(waitForJobsToComplete: true).GetAwaiter().GetResult();
}


internal static class DapperCases
{
    private static int s_order;

    private sealed record OrderRow(long Id, string Customer);

    private static readonly Microsoft.Data.Sqlite.SqliteConnection s_connection = Open();

    private static Microsoft.Data.Sqlite.SqliteConnection Open()
    {
        var connection = new Microsoft.Data.Sqlite.SqliteConnection("Data Source=:memory:");
        connection.Open();
        connection.Execute("create table orders (id integer primary key, customer text)");
        connection.Execute("insert into orders (id, customer) values (1, 'contoso')");
        return connection;
    }

    private static OrderRow? Find(int id) =>
        s_connection.Query<OrderRow>($"select id as Id, customer as Customer from orders where id = {id}").FirstOrDefault();

    private static OrderRow? FindWithParameter(int id) =>
        s_connection.Query<OrderRow>("select id as Id, customer as Customer from orders where id = @id", new { id }).FirstOrDefault();

    // Each order is read by its page and again by the page's refresh.
    public static void Leak()
    {
        int id = Interlocked.Increment(ref s_order);
        _ = Find(id);
        _ = Find(id);
    }

    public static void Fixed()
    {
        int id = Interlocked.Increment(ref s_order);
        _ = FindWithParameter(id);
        _ = FindWithParameter(id);
    }
}

public sealed record OrderShipped(int OrderId);

internal static class MvvmCases
{
    private sealed class OrderViewModel
    {
        public int LastShipped;
        public readonly byte[] Rows = new byte[128];
    }

    public static void Leak()
    {
        var viewModel = new OrderViewModel();
        StrongReferenceMessenger.Default.Register<OrderViewModel, OrderShipped>(viewModel, (recipient, message) => recipient.LastShipped = message.OrderId);
    }

    public static void Fixed()
    {
        var viewModel = new OrderViewModel();
        StrongReferenceMessenger.Default.Register<OrderViewModel, OrderShipped>(viewModel, (recipient, message) => recipient.LastShipped = message.OrderId);
        StrongReferenceMessenger.Default.Send(new OrderShipped(1));
        StrongReferenceMessenger.Default.UnregisterAll(viewModel);
    }
}

internal static class OtelTracerCases
{
    private static TracerProvider Build() => Sdk.CreateTracerProviderBuilder().AddSource("LeakHunter.Corpus.Billing").Build();

    public static void Leak() => Build();

    public static void Fixed()
    {
        using TracerProvider provider = Build();
    }
}

internal static class OtelMeterCases
{
    private static MeterProvider Build() => Sdk.CreateMeterProviderBuilder().AddMeter("LeakHunter.Corpus.Billing").Build();

    public static void Leak() => Build();

    public static void Fixed()
    {
        using MeterProvider provider = Build();
    }
}

internal static class SerilogFileCases
{
    private static readonly string s_path = Path.Combine(Path.GetTempPath(), $"leakhunter-corpus-{Environment.ProcessId}-orders.log");

    private static Serilog.Core.Logger CreateLogger() =>
        new LoggerConfiguration().WriteTo.File(s_path, flushToDiskInterval: TimeSpan.FromSeconds(1)).CreateLogger();

    public static void Leak() => CreateLogger().Information("Handled {Request}", 42);

    public static void Fixed()
    {
        using Serilog.Core.Logger logger = CreateLogger();
        logger.Information("Handled {Request}", 42);
    }
}

internal static class HangfireCases
{
    private static readonly InMemoryStorage s_storage = new();

    private static BackgroundJobServer Start() => new(new BackgroundJobServerOptions { WorkerCount = 1 }, s_storage);

    public static void Leak() => Start();

    public static void Fixed()
    {
        using BackgroundJobServer server = Start();
    }
}

internal static class DynamicLinqCases
{
    private static readonly IQueryable<Invoice> s_invoices = Enumerable.Range(1, 4).Select(i => new Invoice(i, i * 10m)).ToArray().AsQueryable();
    private static int s_report;

    public sealed record Invoice(int Id, decimal Total);

    public static void Leak() => _ = s_invoices.Select($"new (Id, Total as Total{Interlocked.Increment(ref s_report)})").ToDynamicList().Count;

    public static void Fixed() => _ = s_invoices.Select("new (Id, Total)").ToDynamicList().Count + Interlocked.Increment(ref s_report);
}

internal static class JintCases
{
    private static readonly Engine s_engine = new();
    private static int s_order;

    public sealed class Order
    {
        public decimal Total { get; init; }
        public byte[] Lines { get; } = new byte[64];
    }

    public static void Leak()
    {
        int id = Interlocked.Increment(ref s_order);
        s_engine.SetValue($"order{id}", new Order { Total = id });
        _ = s_engine.Evaluate($"order{id}.Total > 100");
    }

    public static void Fixed()
    {
        int id = Interlocked.Increment(ref s_order);
        s_engine.SetValue("order", new Order { Total = id });
        _ = s_engine.Evaluate("order.Total > 100");
    }
}

internal static class HandlebarsPartialCases
{
    private static readonly IHandlebars s_handlebars = Handlebars.Create();
    private static readonly HandlebarsTemplate<object, object> s_page = Compile();
    private static int s_tenant;

    private static HandlebarsTemplate<object, object> Compile()
    {
        s_handlebars.RegisterTemplate("footer", "<footer>{{tenant}}</footer>");
        return s_handlebars.Compile("<main>{{body}}</main>{{> footer}}");
    }

    public static void Leak()
    {
        int tenant = Interlocked.Increment(ref s_tenant);
        s_handlebars.RegisterTemplate($"footer-{tenant}", "<footer>{{tenant}}</footer>");
        _ = s_handlebars.Compile($"<main>{{{{body}}}}</main>{{{{> footer-{tenant}}}}}")(new { body = "orders", tenant });
    }

    public static void Fixed() => _ = s_page(new { body = "orders", tenant = Interlocked.Increment(ref s_tenant) });
}

public sealed class CorpusOrder
{
    public int Id { get; set; }
    public string Customer { get; set; } = "";
}

public sealed class OrdersContext(DbContextOptions<OrdersContext> options) : DbContext(options)
{
    public DbSet<CorpusOrder> Orders => Set<CorpusOrder>();
}

internal static class EfInMemoryCases
{
    private static void Seed(DbContextOptions<OrdersContext> options)
    {
        using var context = new OrdersContext(options);
        context.Orders.Add(new CorpusOrder { Customer = "contoso" });
        context.SaveChanges();
    }

    public static void Leak() => Seed(new DbContextOptionsBuilder<OrdersContext>().UseInMemoryDatabase(Guid.NewGuid().ToString()).Options);

    public static void Fixed()
    {
        DbContextOptions<OrdersContext> options = new DbContextOptionsBuilder<OrdersContext>().UseInMemoryDatabase("orders").Options;
        Seed(options);
        using var context = new OrdersContext(options);
        context.Database.EnsureDeleted();
    }
}

internal static class PrometheusCases
{
    private static readonly Counter s_requests = Metrics.CreateCounter("corpus_requests_total", "Requests handled.", "user");
    private static readonly Counter s_requestsByPlan = Metrics.CreateCounter("corpus_plan_requests_total", "Requests handled.", "plan");
    private static int s_user;

    public static void Leak() => s_requests.WithLabels($"user-{Interlocked.Increment(ref s_user)}").Inc();

    public static void Fixed() => s_requestsByPlan.WithLabels(Interlocked.Increment(ref s_user) % 2 == 0 ? "free" : "paid").Inc();
}

internal static class FusionCacheCases
{
    private static readonly FusionCache s_cache = new(new FusionCacheOptions());

    public static void Leak() => _ = new FusionCache(new FusionCacheOptions()).GetOrSet("orders", _ => 42);

    public static void Fixed() => _ = s_cache.GetOrSet("orders", _ => 42);
}

internal static class StatelessCases
{
    private enum Door { Open, Closed }

    private enum Push { Open, Close }

    private sealed class AuditTrail
    {
        public Door Last;
        public readonly byte[] Entries = new byte[128];
    }

    private static readonly Stateless.StateMachine<Door, Push> s_door = Build();
    private static readonly AuditTrail s_trail = new();

    private static Stateless.StateMachine<Door, Push> Build()
    {
        var door = new Stateless.StateMachine<Door, Push>(Door.Closed);
        door.Configure(Door.Closed).Permit(Push.Open, Door.Open);
        door.Configure(Door.Open).Permit(Push.Close, Door.Closed);
        return door;
    }

    private static void Cycle()
    {
        s_door.Fire(Push.Open);
        s_door.Fire(Push.Close);
    }

    public static void Leak()
    {
        var trail = new AuditTrail();
        s_door.OnTransitioned(transition => trail.Last = transition.Destination);
        Cycle();
    }

    public static void Fixed()
    {
        _ = s_trail.Last;
        Cycle();
    }

    static StatelessCases() => s_door.OnTransitioned(transition => s_trail.Last = transition.Destination);
}

public static class ReportJobs
{
    public static void Send(string report) => _ = report.Length;
}

internal static class HangfireRecurringCases
{
    private static int s_report;

    static HangfireRecurringCases() => GlobalConfiguration.Configuration.UseInMemoryStorage();

    public static void Leak() => RecurringJob.AddOrUpdate($"report-{Interlocked.Increment(ref s_report)}", () => ReportJobs.Send("orders"), Cron.Daily());

    public static void Fixed() => RecurringJob.AddOrUpdate("report", () => ReportJobs.Send($"orders-{Interlocked.Increment(ref s_report) % 2}"), Cron.Daily());
}

internal static class SerilogLogContextCases
{
    private sealed class DiscardingSink : Serilog.Core.ILogEventSink
    {
        public void Emit(Serilog.Events.LogEvent logEvent)
        {
        }
    }

    private static readonly Serilog.Core.Logger s_logger = new LoggerConfiguration().Enrich.FromLogContext().WriteTo.Sink(new DiscardingSink()).CreateLogger();
    private static int s_order;

    // A message loop's handler: each message's properties pushed onto the loop's log context.
    public static void Leak()
    {
        LogContext.PushProperty("OrderId", Interlocked.Increment(ref s_order));
        s_logger.Information("Handled order");
    }

    public static void Fixed()
    {
        using (LogContext.PushProperty("OrderId", Interlocked.Increment(ref s_order)))
            s_logger.Information("Handled order");
    }
}

internal static class RxIntervalCases
{
    private sealed class Dashboard
    {
        public long Ticks;
        public readonly byte[] Tiles = new byte[128];
    }

    public static void Leak()
    {
        var dashboard = new Dashboard();
        Observable.Interval(TimeSpan.FromMinutes(1)).Subscribe(tick => dashboard.Ticks = tick);
    }

    public static void Fixed()
    {
        var dashboard = new Dashboard();
        using IDisposable refresh = Observable.Interval(TimeSpan.FromMinutes(1)).Subscribe(tick => dashboard.Ticks = tick);
    }
}
