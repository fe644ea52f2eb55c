using System.Diagnostics;
using LeakHunter.Platform;

namespace LeakHunter.Census;

/// <summary>
/// The process under test's side of the inspector: starts it once per process, sends it census requests and
/// restarts it after it dies. Checks are serialized by the caller, so one client serves them all in turn.
/// </summary>
internal sealed class InspectorClient : IDisposable
{
    private static readonly TimeSpan s_startTimeout = TimeSpan.FromSeconds(60);

    // A request that reads the heap may take its own time limit and this much more before the watchdog steps in:
    // the inspector enforces the limit itself, and exits with CensusTimedOutExitCode, unless it is stuck for good.
    private static readonly TimeSpan s_heapRequestGrace = TimeSpan.FromSeconds(10);

    private static readonly object s_sharedGate = new();
    private static InspectorClient? s_shared;

    private readonly Process _process;
    private readonly Stream _requests;
    private readonly Stream _replies;
    private readonly StderrTail _stderr = new();
    private readonly PrivateDumpFolder _dumps = new();
    // One timer for the client's whole life, re-armed per request: a timer made per request would be new objects in
    // the very heap a leak check explains, hanging from the runtime's timer queue like a leaked timer.
    private readonly Watchdog _watchdog;
    private bool _disposed;

    private InspectorClient(Process process)
    {
        _process = process;
        _watchdog = new Watchdog(process);
        _requests = process.StandardInput.BaseStream;
        _replies = process.StandardOutput.BaseStream;
    }

    public int ProcessId => _process.Id;

    /// <summary>The dump file the <see cref="CensusRoute.DumpFile"/> route reads.</summary>
    public string? DumpFile { get; set; }

    /// <summary>
    /// How long the inspector may take over a request that only moves its own records (Reset, GetHistograms)
    /// before the watchdog stops it.
    /// </summary>
    public TimeSpan BookkeepingTimeout { get; set; } = s_startTimeout;

    /// <summary>The running inspector, started now if there is none or the last one died.</summary>
    public static InspectorClient GetShared()
    {
        // Checked on every call, not only at a start: an inspector already running must not hide the platform's answer.
        HostPlatform.ThrowIfLiveProcessesUnsupported("A leak check");
        lock (s_sharedGate)
        {
            if (s_shared is { IsAlive: true })
                return s_shared;
            s_shared?.Dispose();
            s_shared = Start();
            return s_shared;
        }
    }

    /// <summary>Stops the shared inspector, if one runs; the next check starts a new one.</summary>
    public static void ShutdownShared()
    {
        lock (s_sharedGate)
        {
            s_shared?.Dispose();
            s_shared = null;
        }
    }

    private bool IsAlive => !_disposed && !_process.HasExited;

    private bool ExitedWith(int exitCode) => _process.WaitForExit(5000) && _process.ExitCode == exitCode;

    /// <summary>
    /// An inspector of its own for another process, or for a dump file (<paramref name="targetPid"/> 0): the
    /// command-line tool's. The caller disposes it.
    /// </summary>
    public static InspectorClient StartFor(int targetPid) => Start(targetPid);

    /// <summary>An inspector of its own for <paramref name="targetPid"/>, with more of its runtime's settings (a GC heap limit, say).</summary>
    internal static InspectorClient StartFor(int targetPid, IReadOnlyDictionary<string, string> runtimeSettings) => Start(targetPid, runtimeSettings);

    private static InspectorClient Start(int? targetPid = null, IReadOnlyDictionary<string, string>? runtimeSettings = null)
    {
        // Dump files can be read anywhere; a live process only where the platform can stop and read it.
        if (targetPid is not 0)
            HostPlatform.ThrowIfLiveProcessesUnsupported(targetPid is null ? "A leak check" : $"Inspecting process {targetPid}");

        string inspector = InspectorLocator.FindInspector();
        var startInfo = new ProcessStartInfo(InspectorLocator.FindDotnetHost())
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        startInfo.ArgumentList.Add("exec");
        startInfo.ArgumentList.Add(inspector);
        startInfo.Environment[InspectorProtocol.ParentPidVariable] = Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (targetPid is int target)
            startInfo.Environment[InspectorProtocol.TargetPidVariable] = target.ToString(System.Globalization.CultureInfo.InvariantCulture);
        else
        {
            startInfo.Environment[InspectorProtocol.RuntimeVersionVariable] = Environment.Version.ToString();
            // Empty in a single-file app, whose runtime has no folder of its own: the inspector then names the problem.
            if (Path.GetDirectoryName(typeof(object).Assembly.Location) is { Length: > 0 } runtimeFolder)
                startInfo.Environment[InspectorProtocol.RuntimeFolderVariable] = runtimeFolder;
        }
        // The inspector's own diagnostics are irrelevant to the check and would show up as a second target in tools.
        startInfo.Environment["DOTNET_EnableDiagnostics"] = "0";
        startInfo.Environment["DOTNET_TieredPGO"] = "0";
        foreach ((string name, string value) in runtimeSettings ?? new Dictionary<string, string>())
            startInfo.Environment[name] = value;
        try
        {
            // The inspector would refuse it at its start; the user hears why from here, before it is started.
            InspectorProtocol.ImageInFileFrom(startInfo.Environment.TryGetValue(InspectorProtocol.ImageInFileFromVariable, out string? imageInFileFrom) ? imageInFileFrom : null);
        }
        catch (FormatException e)
        {
            throw new LeakHunterException(LeakHunterFailure.InvalidInput, e.Message, e);
        }

        Process process;
        try
        {
            process = Process.Start(startInfo) ?? throw new InvalidOperationException("Process.Start returned no process.");
        }
        catch (Exception e) when (e is not LeakHunterException)
        {
            throw new LeakHunterException(LeakHunterFailure.InspectorStartFailed,
                $"The LeakHunter inspector could not be started with '{startInfo.FileName} exec {inspector}': {e.Message}. " +
                "Check that the dotnet host is installed and on PATH.", e);
        }

        var client = new InspectorClient(process);
        process.ErrorDataReceived += (_, line) => client._stderr.Add(line.Data);
        process.BeginErrorReadLine();
        if (targetPid is null)
            HostPlatform.Current.DeclareTracer(process.Id);

        using Watchdog.Armed watchdog = client._watchdog.Arm(s_startTimeout);
        try
        {
            ReadHandshake(client._replies, inspector);
        }
        catch (LeakHunterException)
        {
            client.Dispose();
            throw;
        }
        catch (IOException e)
        {
            client.Dispose();
            string why = watchdog.Fired ? $"did not start within {s_startTimeout.TotalSeconds:0} s" : "exited before it was ready";
            throw new LeakHunterException(LeakHunterFailure.InspectorStartFailed,
                $"The LeakHunter inspector ({inspector}) {why}.{client._stderr.Describe()} Check that the .NET runtime can run it: dotnet exec {inspector}", e);
        }
        return client;
    }

    /// <summary>
    /// Reads the inspector's handshake and checks that it speaks this library's protocol; a mismatch throws a
    /// <see cref="LeakHunterException"/> that names both builds, an inspector that ends first an <see cref="IOException"/>.
    /// </summary>
    internal static HandshakeMessage ReadHandshake(Stream replies, string inspector)
    {
        int marker = replies.ReadByte();
        if (marker == -1)
            throw new EndOfStreamException("The inspector closed its output before its handshake.");
        if (marker == InspectorProtocol.LegacyReadyMarker)
            throw VersionMismatch(inspector, "is an older build that speaks protocol 1, without frames");
        if (marker != InspectorProtocol.ReadyMarker)
            throw VersionMismatch(inspector, $"began with byte 0x{marker:X2} where its handshake belongs, so it speaks no protocol this library knows");

        Frame frame = Frame.Read(replies) ?? throw new EndOfStreamException("The inspector closed its output inside its handshake.");
        HandshakeMessage handshake;
        try
        {
            handshake = frame.ReadMessage<HandshakeMessage>();
        }
        catch (InvalidDataException e)
        {
            throw VersionMismatch(inspector, $"sent a handshake this library cannot read ({e.Message})");
        }
        if (handshake.ProtocolVersion != InspectorProtocol.Version)
            throw VersionMismatch(inspector, $"is version {handshake.InspectorVersion} and speaks protocol {handshake.ProtocolVersion}");
        return handshake;
    }

    private static LeakHunterException VersionMismatch(string inspector, string whatTheInspectorIs) =>
        new(LeakHunterFailure.InspectorStartFailed,
            $"The LeakHunter inspector ({inspector}) {whatTheInspectorIs}, but this LeakHunter library is version " +
            $"{InspectorProtocol.BuildVersionOf(typeof(InspectorClient).Assembly)} and speaks protocol {InspectorProtocol.Version}. " +
            "The library and its inspector come from different builds: rebuild the project (or reinstall the LeakHunter package) so the " +
            $"leakhunter-inspector folder beside the library matches it, and unset {InspectorLocator.PathVariable} if it points at another build.");

    public void Reset()
    {
        (InspectorStatus status, string? message, _) = Exchange(new ResetRequest(), BookkeepingTimeout);
        if (status != InspectorStatus.Ok)
            throw new LeakHunterException(LeakHunterFailure.CensusFailed, $"The inspector could not forget the last check: {message}");
    }

    /// <summary>Takes one census of this process. The calling thread blocks, as it must: the heap is read while it waits.</summary>
    public CensusReply TakeCensus(int censusId, CensusRoute route, TimeSpan timeout, bool reachableOnly = false, bool countResources = true)
    {
        (InspectorStatus status, string? message, CensusReplyMessage? reply) =
            RequestOnTarget(target => new CensusRequest(censusId, target, reachableOnly, countResources), censusId, route, timeout);
        return reply is not null
            ? new CensusReply(status, null, reply.Objects, reply.Bytes, reply.PauseMs, reply.UnreadableBytes, reply.Warnings) { Resources = reply.Resources }
            : CensusReply.Failed(status, message!);
    }

    /// <summary>Has the inspector note where the instances of <paramref name="types"/> are now.</summary>
    public (InspectorStatus Status, string? Message, double PauseMs) Mark(IReadOnlyCollection<string> types, bool everyInstanceIsNew, int requestId, CensusRoute route, TimeSpan timeout,
        bool keepAddresses = false)
    {
        (InspectorStatus status, string? message, MarkReply? reply) =
            RequestOnTarget(target => new MarkRequest(target, types.ToArray(), everyInstanceIsNew, keepAddresses), requestId, route, timeout);
        return (status, message, reply?.PauseMs ?? 0);
    }

    /// <summary>Paths from the roots to the instances of the marked types that are new since the mark.</summary>
    public (InspectorStatus Status, string? Message, Explanation? Explanation, double PauseMs) Explain(int requestId, CensusRoute route, TimeSpan timeout,
        int maxInstancesPerType, TimeSpan timeLimit, IReadOnlyCollection<string> types)
    {
        (InspectorStatus status, string? message, ExplanationReply? reply) =
            RequestOnTarget(target => new ExplainRequest(target, maxInstancesPerType, timeLimit, types.ToArray()), requestId, route, timeout);
        return (status, message, reply?.Explanation, reply?.PauseMs ?? 0);
    }

    /// <summary>The managed frames of the finalizer thread's stack, innermost first.</summary>
    public (InspectorStatus Status, string? Message, IReadOnlyList<string>? Frames) FinalizerStack(int requestId, CensusRoute route, TimeSpan timeout)
    {
        (InspectorStatus status, string? message, FinalizerStackReply? reply) =
            RequestOnTarget(target => new FinalizerStackRequest(target), requestId, route, timeout);
        return (status, message, reply?.Frames);
    }

    /// <summary>The new items of <paramref name="resources"/> since census <paramref name="sinceCensusId"/>, grouped by what they are.</summary>
    public (InspectorStatus Status, string? Message, IReadOnlyList<ResourceFindingMessage>? Findings) ExplainResources(int sinceCensusId, IReadOnlyCollection<string> resources,
        int requestId, CensusRoute route, TimeSpan timeout)
    {
        (InspectorStatus status, string? message, ResourceFindingsReply? reply) =
            RequestOnTarget(target => new ExplainResourcesRequest(target, sinceCensusId, resources.ToArray()), requestId, route, timeout);
        return (status, message, reply?.Findings);
    }

    /// <summary>Paths from the roots to the objects the given weak GC handles still point at.</summary>
    public (InspectorStatus Status, string? Message, Explanation? Explanation) ExplainWatched(IReadOnlyList<IntPtr> weakHandles, int requestId, CensusRoute route,
        TimeSpan timeout, TimeSpan timeLimit)
    {
        (InspectorStatus status, string? message, ExplanationReply? reply) =
            RequestOnTarget(target => new ExplainWatchedRequest(target, timeLimit, weakHandles.Select(h => (ulong)h).ToArray()), requestId, route, timeout);
        return (status, message, reply?.Explanation);
    }

    /// <summary>Counts and bytes per type for the given censuses, in the order given.</summary>
    public IReadOnlyList<TypeSeries> GetHistograms(IReadOnlyList<int> censusIds)
    {
        (InspectorStatus status, string? message, HistogramsReply? reply) = Exchange(new HistogramsRequest(censusIds), BookkeepingTimeout);
        if (reply is null)
            throw new LeakHunterException(LeakHunterFailure.CensusFailed, $"The inspector could not return the censuses: {message}");
        if (reply.CensusCount != censusIds.Count)
            throw new LeakHunterException(LeakHunterFailure.CensusFailed,
                $"The inspector returned {reply.CensusCount} censuses where {censusIds.Count} were asked for. Rebuild so the library and its inspector come from the same build.");
        return reply.Series;
    }

    /// <summary>A request that reads this process's heap: the dump it may need is deleted whatever happens.</summary>
    private (InspectorStatus Status, string? Message, TReply? Reply) RequestOnTarget<TReply>(Func<HeapTarget, IInspectorRequest<TReply>> request,
        int requestId, CensusRoute route, TimeSpan timeout)
        where TReply : class, IWireMessage<TReply>
    {
        string dumpPath = route switch
        {
            CensusRoute.Dump => _dumps.PathFor(requestId),
            CensusRoute.DumpFile => DumpFile ?? throw new InvalidOperationException("No dump file was given."),
            _ => string.Empty,
        };
        try
        {
            return Exchange(request(new HeapTarget(route, dumpPath, timeout)), timeout + s_heapRequestGrace, heapTimeout: timeout);
        }
        finally
        {
            if (route == CensusRoute.Dump)
                PrivateDumpFolder.Delete(dumpPath);
        }
    }

    /// <summary>
    /// The one way every request reaches the inspector and its reply comes back. A watchdog stops the inspector
    /// once the request outlives <paramref name="limit"/>; the inspector's death, a hang, or a reply that cannot be
    /// parsed becomes a <see cref="LeakHunterException"/> that says which, and ends this client. A failure the
    /// inspector reports comes back as its status and message, with no reply.
    /// </summary>
    /// <param name="request">What to ask.</param>
    /// <param name="limit">How long the request may take before the watchdog stops the inspector.</param>
    /// <param name="heapTimeout">The time limit the inspector itself enforces on a request that reads the heap.</param>
    private (InspectorStatus Status, string? Message, TReply? Reply) Exchange<TReply>(IInspectorRequest<TReply> request, TimeSpan limit, TimeSpan? heapTimeout = null)
        where TReply : class, IWireMessage<TReply>
    {
        if (_disposed)
            throw new LeakHunterException(LeakHunterFailure.InspectorExited,
                $"The LeakHunter inspector had already stopped when a {request.Command} request was made.{_stderr.Describe()} The next check starts a new inspector.");

        using Watchdog.Armed watchdog = _watchdog.Arm(limit);
        try
        {
            Frame.Write(_requests, (byte)request.Command, request);
            Frame frame = Frame.Read(_replies) ?? throw new EndOfStreamException("The inspector closed its output.");
            var status = (InspectorStatus)frame.Kind;
            if (!Enum.IsDefined(status))
                throw new InvalidDataException($"its status byte 0x{frame.Kind:X2} is not one this library knows");
            return status == InspectorStatus.Ok
                ? (status, null, frame.ReadMessage<TReply>())
                : (status, frame.ReadMessage<FailureReply>().Message, null);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            bool timedOut = watchdog.Fired || ExitedWith(InspectorProtocol.CensusTimedOutExitCode);
            Dispose();
            if (timedOut && heapTimeout is TimeSpan timeout)
                throw new LeakHunterException(LeakHunterFailure.CensusTimedOut,
                    $"Reading the heap took longer than {timeout.TotalSeconds:0.#} s, so the inspector was stopped. " +
                    "Raise LeakOptions.CensusTimeout for a very large heap, or shrink the heap the check runs on.", e);
            if (timedOut)
                throw new LeakHunterException(LeakHunterFailure.CensusTimedOut,
                    $"The LeakHunter inspector did not answer a {request.Command} request within {limit.TotalSeconds:0.#} s, so it was stopped.{_stderr.Describe()} " +
                    "The process under test was not harmed; the next check starts a new inspector.", e);
            throw new LeakHunterException(LeakHunterFailure.InspectorExited,
                $"The LeakHunter inspector exited in the middle of a {request.Command} request.{_stderr.Describe()} " +
                "The process under test was not harmed; the next check starts a new inspector.", e);
        }
        catch (InvalidDataException e)
        {
            Dispose();
            throw new LeakHunterException(LeakHunterFailure.CensusFailed,
                $"The LeakHunter inspector's reply to a {request.Command} request was malformed: {e.Message}. It was stopped; the next check starts a new inspector. " +
                "If this repeats, rebuild so the library and its inspector come from the same build.", e);
        }
    }

    /// <summary>
    /// Kills the inspector at once, from any thread: a request in flight ends with <see cref="LeakHunterFailure.InspectorExited"/>.
    /// A process it held still is let go by the kernel as its tracer dies.
    /// </summary>
    public void Abort()
    {
        try
        {
            _process.Kill(entireProcessTree: true);
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception or NotSupportedException)
        {
            // Already gone.
        }
    }

    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        try
        {
            if (!_process.HasExited)
            {
                try
                {
                    var quit = new QuitRequest();
                    Frame.Write(_requests, (byte)quit.Command, quit);
                    _process.StandardInput.Close();
                }
                catch (IOException)
                {
                }
                if (!_process.WaitForExit(2000))
                    _process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
            // The process was never started or is already reaped.
        }
        finally
        {
            _process.Dispose();
            _dumps.Dispose();
            _watchdog.Dispose();
        }
    }

    /// <summary>Kills the inspector when a request outlives its time limit, which unblocks the waiting read.</summary>
    private sealed class Watchdog : IDisposable
    {
        private readonly Timer _timer;
        private int _fired;
        private volatile bool _disposed;

        public Watchdog(Process process)
        {
            _timer = new Timer(_ =>
            {
                Interlocked.Exchange(ref _fired, 1);
                try
                {
                    process.Kill(entireProcessTree: true);
                }
                catch (Exception)
                {
                    // Already gone; the pending read ends either way.
                }
            }, null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        }

        /// <summary>Whether the inspector was killed since the last <see cref="Arm"/>.</summary>
        public bool Fired => Volatile.Read(ref _fired) == 1;

        /// <summary>Starts the countdown for one request; disposing what it returns stops it.</summary>
        public Armed Arm(TimeSpan limit)
        {
            Volatile.Write(ref _fired, 0);
            _timer.Change(limit, Timeout.InfiniteTimeSpan);
            return new Armed(this);
        }

        public void Dispose()
        {
            _disposed = true;
            _timer.Dispose();
        }

        /// <summary>One request's countdown; the request's failure may have ended the client, and its watchdog, first.</summary>
        public readonly struct Armed(Watchdog watchdog) : IDisposable
        {
            public bool Fired => watchdog.Fired;

            public void Dispose()
            {
                if (!watchdog._disposed)
                    watchdog._timer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            }
        }
    }

    /// <summary>The last lines the inspector wrote to stderr, for error messages.</summary>
    private sealed class StderrTail
    {
        private readonly Queue<string> _lines = new();

        public void Add(string? line)
        {
            if (line is null)
                return;
            lock (_lines)
            {
                _lines.Enqueue(line);
                while (_lines.Count > 20)
                    _lines.Dequeue();
            }
        }

        public string Describe()
        {
            lock (_lines)
                return _lines.Count == 0 ? string.Empty : " It said: " + string.Join(" | ", _lines);
        }
    }
}

/// <summary>The inspector's answer to one census request.</summary>
internal readonly record struct CensusReply(InspectorStatus Status, string? Message, long Objects, long Bytes, double PauseMs, long UnreadableBytes,
    IReadOnlyList<string> Warnings)
{
    public static CensusReply Failed(InspectorStatus status, string message) => new(status, message, 0, 0, 0, 0, []);

    /// <summary>What the process held besides its objects at this census.</summary>
    public IReadOnlyList<ResourceReading> Resources { get; init; } = [];
}
