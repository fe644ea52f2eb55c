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
