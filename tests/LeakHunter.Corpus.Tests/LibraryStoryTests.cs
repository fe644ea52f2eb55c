using System.Text.Json;
using Xunit;

namespace LeakHunter.Corpus.Tests;

/// <summary>
/// Leaks in popular libraries from NuGet that no idiom table names, each beside its fixed twin, each run in a process of
/// its own. The report must tell one cause, held by the library's real owner, with the fix in the library's own terms
/// (its Dispose or Shutdown, a scope, a fixed key), and the twin must be clean. Each case's truth is measured apart
/// from LeakHunter: the runtime's live heap bytes and the kernel's thread count at 1x, 3x and 5x the calls.
/// </summary>
public sealed class LibraryStoryTests
{
    /// <summary>What a case's report must say.</summary>
    /// <param name="Idiom">The cause's idiom.</param>
    /// <param name="RootKind">The owner's root kind, as the JSON report spells it.</param>
    /// <param name="Root">Words of the owner's root name; <c>|</c> between the roots of an object several roots hold, any of which the search may reach first.</param>
    /// <param name="Fix">Words of the fix.</param>
    /// <param name="GrowsThreads">Whether the truth is a thread per call, beside the heap.</param>
    public sealed record Story(string Idiom, string RootKind, string Root, string[] Fix, bool GrowsThreads = false);

    private static readonly Dictionary<string, Story> s_stories = new(StringComparer.Ordinal)
    {
        // Containers keep the disposable transients their root scope creates: resolve in a scope.
        ["autofac-root-transient"] = new("DI root scope", "staticField", "AutofacCases.s_container", ["Resolve ReportWriter from a scope that is disposed", "LifetimeScope keeps every IDisposable"]),
        ["lamar-root-transient"] = new("DI root scope", "staticField", "LamarCases.s_container", ["Resolve ReportWriter from a scope that is disposed", "do not register a disposable type as transient"]),
        ["grace-root-transient"] = new("DI root scope", "staticField", "GraceCases.s_container", ["Resolve ReportWriter from a scope that is disposed"]),
        // A logger whose sink runs on a thread of its own, made per call: the thread is the owner.
        ["serilog-async-logger"] = new("thread never ended", "thread", "Serilog.Sinks.Async.BackgroundWorkerSink.Pump", ["BackgroundWorkerSink.Dispose()", "its thread ends"], GrowsThreads: true),
        ["console-logger-factory"] = new("thread never ended", "thread", "Microsoft.Extensions.Logging.Console.ConsoleLoggerProcessor.ProcessLogQueue", ["ConsoleLoggerProcessor.Dispose()"], GrowsThreads: true),
        // A scheduler made per call and never shut down: its own Shutdown is the fix, read from its type.
        ["quartz-scheduler"] = new("never disposed", "staticField", "Quartz.Impl.SchedulerRepository.Instance", ["Call Shutdown on each StdScheduler", "SchedulerRepository.schedulers", "create one StdScheduler and share it"]),
        // Caches keyed by a name made per call: the key's shape, never its value, and a fixed key as the fix.
        ["nlog-logger-per-tenant"] = new("new key per call", "staticField", "NLog.LogManager", ["Use a fixed logger name", "`tenant-N`"]),
        ["log4net-logger-per-tenant"] = new("new key per call", "staticField", "log4net.LogManager", ["Use a fixed logger name", "`tenant-N`"]),
        ["polly-pipeline-per-tenant"] = new("new key per call", "staticField", "PollyCases.s_registry", ["Use a fixed set of keys", "ResiliencePipelineRegistry<String>._pipelines", "`tenant-N`"]),
        // A subscription is an IDisposable the call gave back: dispose it, not -=.
        ["rx-subject-subscription"] = new("never disposed", "staticField", "RxCases.s_prices", ["Call Dispose on each Subject<Decimal>+SubjectDisposable", "subscription"]),
        ["meter-gauge-per-call"] = new("instrument per call", "staticField", "MeterCases.s_meter", ["Create each instrument", "once"]),
        // A host that subscribed to the process's signals: its lifetime's Dispose removes the handler.
        ["host-started-per-call"] = new("event handler", "staticField", "PosixSignalRegistration.s_registrations", ["Call Dispose on each ConsoleLifetime", "dispose the object of yours that created it"]),
        // A test server made per call reaches the runtime through three registries: one forgotten object, one cause.
        ["test-server-per-call"] = new("one object per call", "staticField", "System.Diagnostics.", ["registers 3 things", "Meter.s_allMeters", "ActivitySource.s_activeSources", "DiagnosticListener.s_allListeners", "Dispose it"]),
        // A log factory whose async target runs on a timer subscribes to the process's shutdown: the factory the user's code made is the one to dispose.
        ["nlog-async-factory"] = new("never disposed", "staticField", "NLog.LogFactory._loggerShutdown", ["Call Dispose on each LogFactory that your code creates"]),
        // A connection pool group per connection string: the string's shape, and no secret, in the report.
        ["sqlite-connection-string-per-call"] = new("new key per call", "staticField", "Microsoft.Data.Sqlite.SqliteConnectionFactory.Instance", ["`Data Source=tenant-N;Mode=Memory;Cache=Shared`", "Use a fixed set of keys"]),
        // A started scheduler made per call is the same forgotten Shutdown.
        ["quartz-started-scheduler"] = new("never disposed", "staticField", "Quartz.Impl.SchedulerRepository.Instance", ["Call Shutdown on each StdScheduler"]),
        // A proxy generator made per call emits an assembly per call.
        ["castle-proxy-generator"] = new("dynamic assembly", "staticField", "Castle.DynamicProxy.Generators.Emitters.StrongNameUtil.signedAssemblyCache", ["StrongNameUtil.signedAssemblyCache", "Create the object that generates it once"]),
        // SQL with its values inlined is a new query per call for Dapper's cache: its own fix is parameters.
        ["dapper-inlined-sql"] = new("new key per call", "staticField", "Dapper.SqlMapper._queryCache", ["`select id as Id, customer as Customer from orders where id = N`", "parameters"]),
        // A strong messenger keeps each recipient until it is unregistered: its own Unregister, read from its type.
        ["mvvm-strong-messenger"] = new("registration", "staticField", "CommunityToolkit.Mvvm.Messaging.StrongReferenceMessenger.Default", ["StrongReferenceMessenger", "Unregister"]),
        // A telemetry provider made per call listens to the runtime's sources until its Dispose.
        ["otel-tracer-provider"] = new("never disposed", "staticField", "System.Diagnostics.ActivitySource.s_allListeners", ["Call Dispose on each TracerProviderSdk"]),
        ["otel-meter-provider"] = new("never disposed", "staticField", "System.Diagnostics.Metrics.MeterListener.s_allStartedListeners", ["Call Dispose on each MeterProviderSdk"]),
        // A file sink flushed on a timer: the timer keeps the sink, its buffers and its open file until the logger's Dispose.
        ["serilog-file-logger"] = new("timer", "staticField", "System.Threading.TimerQueue", ["FileSink.Dispose()"]),
        // A job server per call: its processing server subscribes to the domain's unload and runs threads of its own
        // until the BackgroundJobServer the user's code made is disposed, which is the fix, not the inner server's.
        ["hangfire-server"] = new("never disposed", "staticField", "System.AppDomain.s_domain|Hangfire.Server.ServerJobCancellationToken", ["Call Dispose on each BackgroundJobServer that your code creates", "BackgroundProcessingServer"], GrowsThreads: true),
        // A new property name per call is a new class emitted into the library's module, which never unloads.
        ["dynamic-linq-select"] = new("dynamic assembly", "staticField", "System.Linq.Dynamic.Core.DynamicClassFactory", ["fixed set of"]),
        // A global per call on a shared engine: the global object's key shape, and a fixed name as the fix.
        ["jint-global-per-call"] = new("new key per call", "staticField", "JintCases.s_engine", ["Use a fixed set of keys", "`orderN`"]),
        // A partial registered per call on a shared environment.
        ["handlebars-partial-per-call"] = new("new key per call", "staticField", "HandlebarsPartialCases.s_handlebars", ["Use a fixed set of keys", "`footer-N`"]),
        // A database name per call is a new internal service provider and store for EF Core's static cache.
        ["efcore-inmemory-database-per-call"] = new("new key per call", "staticField", "Microsoft.EntityFrameworkCore.Internal.ServiceProviderCache.Instance", ["Use a fixed set of keys", "`{guid}`"]),
        // A label value per user is a child series per user, kept for the process's life.
        ["prometheus-label-per-user"] = new("new key per call", "staticField", "PrometheusCases.s_requests", ["Use a fixed set of", "`user-N`"]),
        // A cache per call runs its auto-recovery loop on a delay until its Dispose.
        // A transition handler per call on a shared state machine: register it once (or clear the callbacks).
        ["stateless-transition-handler"] = new("event handler", "staticField", "StatelessCases.s_door", ["OnTransitioned", "once"]),
        // A recurring job id made per call is a new recurring job in the storage, kept until it is removed.
        ["hangfire-recurring-job-per-call"] = new("new key per call", "staticField", "Hangfire.JobStorage._current", ["Use a fixed set of keys", "`recurring-job:report-N`"]),
        // An interval subscription per call keeps its timer in the runtime's queue until the subscription's Dispose.
        ["rx-interval-subscription"] = new("timer", "staticField", "System.Threading.TimerQueue", ["Dispose", "subscription"]),
    };

    // Leaks LeakHunter does not yet tell, kept so their truth and their twins are still measured, each with why.
    private static readonly Dictionary<string, string> s_missed = new(StringComparer.Ordinal)
    {
        // The check runs each round of calls from its caller's execution context, so an AsyncLocal that grows from call
        // to call, as a message loop's log context does when a pushed property is never disposed, starts over each
        // round and never grows in every interval: no leak is reported, though the truth grows.
        ["serilog-log-context-push"] = "an AsyncLocal that grows from call to call does not flow from one round to the next",
    };

    // Objects made per call that the library holds for a while and then lets go: no leak, however fast the calls come,
    // and the report says what held them. Each names a type the report's words must name.
    private static readonly Dictionary<string, string> s_heldForAWhile = new(StringComparer.Ordinal)
    {
        // A FusionCache made per call and never disposed waits a second in a Task.Delay of its constructor's, then is free.
        ["fusioncache-per-call"] = "FusionCache",
    };

    public static TheoryData<string> Cases => new(s_stories.Keys);

    public static TheoryData<string> EveryCase => new(s_stories.Keys.Concat(s_missed.Keys).Concat(s_heldForAWhile.Keys));

    public static TheoryData<string> HeldForAWhile => new(s_heldForAWhile.Keys);

    // A hold that ends is no truth of growth: its heap grows with the calls only while they come faster than it lets go.
    public static TheoryData<string> GrowingCases => new(s_stories.Keys.Concat(s_missed.Keys));

    [Theory]
    [MemberData(nameof(Cases))]
    public void Leak_IsOneCause_HeldByTheLibrarysOwner_WithTheLibrarysOwnFix(string name)
    {
        Story story = s_stories[name];
        JsonElement report = CorpusProcess.Check(name, leak: true);

        Assert.True(report.GetProperty("hasLeaks").GetBoolean(), Describe(name, report));
        JsonElement cause = Assert.Single(report.GetProperty("causes").EnumerateArray());
        Assert.True(story.Idiom == Idiom(cause), $"told as '{Idiom(cause)}', not '{story.Idiom}': {Describe(name, report)}");
        Assert.Equal(story.RootKind, cause.GetProperty("root").GetProperty("kind").GetString());
        string root = cause.GetProperty("root").GetProperty("name").GetString()!;
        Assert.True(story.Root.Split('|').Any(r => root.Contains(r, StringComparison.Ordinal)), $"held by {root}, not {story.Root}");
        string hint = cause.GetProperty("hint").GetString()!;
        foreach (string word in story.Fix)
            Assert.True(hint.Contains(word, StringComparison.Ordinal), $"the fix lacks '{word}': {hint}");
        // The generic last resort is never the story of a library's own idiom.
        Assert.DoesNotContain("Remove the entries from", hint);
    }

    [Theory]
    [MemberData(nameof(EveryCase))]
    public void FixedTwin_IsClean(string name)
    {
        JsonElement report = CorpusProcess.Check(name, leak: false);

        Assert.False(report.GetProperty("hasLeaks").GetBoolean(), Describe(name, report));
    }

    [Theory]
    [MemberData(nameof(HeldForAWhile))]
    public void HeldUntilADelayFires_IsNoLeak_AndTheReportSaysWhatHeldIt(string name)
    {
        JsonElement report = CorpusProcess.Check(name, leak: true);

        Assert.False(report.GetProperty("hasLeaks").GetBoolean(), Describe(name, report));
        string said = string.Join("\n", report.GetProperty("warnings").EnumerateArray().Select(w => w.GetString()));
        Assert.Contains("released when they fired", said, StringComparison.Ordinal);
        Assert.Contains(s_heldForAWhile[name], said, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(GrowingCases))]
    public void Truth_OutsideLeakHunter_TheLeakGrowsWithItsScale_AndTheTwinStaysFlat(string name)
    {
        Story? story = s_stories.GetValueOrDefault(name);
        Truth leak = CorpusProcess.Measure(name, leak: true);
        Truth twin = CorpusProcess.Measure(name, leak: false);

        // Each step runs twice the first's calls again: a leak adds at least a small object per call in each.
        long perStep = 2L * leak.Scale * MinBytesPerCall;
        Assert.True(leak.HeapBytes[1] - leak.HeapBytes[0] >= perStep && leak.HeapBytes[2] - leak.HeapBytes[1] >= perStep, $"leak: {leak}");
        // The twin's heap moves by what the runtime itself does (a pool that grows once, a cache's first fill), far below the leak's growth.
        Assert.True(twin.HeapGrowth < leak.HeapGrowth / 4, $"twin: {twin}, leak: {leak}");
        if (story?.GrowsThreads == true)
        {
            Assert.True(leak.ThreadGrowth >= 4 * leak.Scale, $"leak's threads: {leak}");
            Assert.True(twin.ThreadGrowth <= 1, $"twin's threads: {twin}");
        }
    }

    // Every leak of the corpus keeps at least an object and its header per call.
    private const long MinBytesPerCall = 24;

    private static string? Idiom(JsonElement cause) => cause.TryGetProperty("idiom", out JsonElement idiom) ? idiom.GetString() : null;

    private static string Describe(string name, JsonElement report) =>
        $"{name}: {JsonSerializer.Serialize(new
        {
            hasLeaks = report.GetProperty("hasLeaks").GetBoolean(),
            growing = report.GetProperty("growingTypes").EnumerateArray().Select(t => t.GetProperty("type").GetString()).Take(10),
            causes = report.GetProperty("causes").EnumerateArray().Select(c => new { root = c.GetProperty("root").GetProperty("name").GetString(), idiom = Idiom(c), hint = c.GetProperty("hint").GetString() }),
            // A verdict with no growing type is a resource's: its counts census by census, and what was said beside it.
            resources = report.GetProperty("resources").EnumerateArray().Where(r => r.GetProperty("growing").GetBoolean()).Select(r => r.ToString()),
            censuses = report.GetProperty("censuses").EnumerateArray().Select(c => c.ToString()),
            warnings = report.GetProperty("warnings").EnumerateArray().Select(w => w.GetString()),
        })}";
}
