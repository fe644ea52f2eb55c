using System.Diagnostics;

namespace LeakHunter.Census;

/// <summary>
/// The process under test's side of the inspector: starts it once per process, sends it census requests and
/// restarts it after it dies. Checks are serialized by the caller, so one client serves them all in turn.
/// </summary>
internal sealed class InspectorClient : IDisposable
{
    private static readonly TimeSpan s_startTimeout = TimeSpan.FromSeconds(60);
    private static readonly object s_sharedGate = new();
    private static InspectorClient? s_shared;

    private readonly Process _process;
    private readonly BinaryWriter _requests;
    private readonly BinaryReader _replies;
    private readonly StderrTail _stderr = new();
    private readonly PrivateDumpFolder _dumps = new();
    private bool _disposed;

    private InspectorClient(Process process)
    {
        _process = process;
        _requests = new BinaryWriter(process.StandardInput.BaseStream);
        _replies = new BinaryReader(process.StandardOutput.BaseStream);
    }

    public int ProcessId => _process.Id;

    /// <summary>The dump file the <see cref="CensusRoute.DumpFile"/> route reads.</summary>
    public string? DumpFile { get; set; }

    /// <summary>The running inspector, started now if there is none or the last one died.</summary>
    public static InspectorClient GetShared()
    {
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

    private static InspectorClient Start(int? targetPid = null)
    {
        if (!OperatingSystem.IsLinux())
            throw new LeakHunterException(LeakHunterFailure.PlatformNotSupported,
                "LeakHunter reads the heap through ptrace or a runtime dump, which it supports on Linux only. Run leak checks on Linux.");

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
            startInfo.Environment[InspectorProtocol.RuntimeVersionVariable] = Environment.Version.ToString();
        // The inspector's own diagnostics are irrelevant to the check and would show up as a second target in tools.
        startInfo.Environment["DOTNET_EnableDiagnostics"] = "0";
        startInfo.Environment["DOTNET_TieredPGO"] = "0";

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
            NativeMethods.AllowTracer(process.Id);

        using (var watchdog = new Watchdog(process, s_startTimeout))
        {
            int marker;
            try
            {
                marker = process.StandardOutput.BaseStream.ReadByte();
            }
            catch (IOException)
            {
                marker = -1;
            }
            if (marker != InspectorProtocol.ReadyMarker)
            {
                client.Dispose();
                string why = watchdog.Fired ? $"did not start within {s_startTimeout.TotalSeconds:0} s" : "exited before it was ready";
                throw new LeakHunterException(LeakHunterFailure.InspectorStartFailed,
                    $"The LeakHunter inspector ({inspector}) {why}.{client._stderr.Describe()} Check that the .NET runtime can run it: dotnet exec {inspector}");
            }
        }
        return client;
    }

    public void Reset()
    {
        Send(InspectorCommand.Reset, static _ => { });
        ReadStatus(out _);
    }

    /// <summary>Takes one census of this process. The calling thread blocks, as it must: the heap is read while it waits.</summary>
    public CensusReply TakeCensus(int censusId, CensusRoute route, TimeSpan timeout, bool reachableOnly = false)
    {
        (InspectorStatus status, string? message, CensusReply reply) = RequestOnTarget(InspectorCommand.Census, censusId, route, timeout,
            (requests, _) => requests.Write(reachableOnly),
            static replies => new CensusReply(InspectorStatus.Ok, null, replies.ReadInt64(), replies.ReadInt64(), replies.ReadDouble(), replies.ReadInt64()));
        return status == InspectorStatus.Ok ? reply : CensusReply.Failed(status, message!);
    }

    /// <summary>Has the inspector note where the instances of <paramref name="types"/> are now.</summary>
    public (InspectorStatus Status, string? Message, double PauseMs) Mark(IReadOnlyCollection<string> types, bool everyInstanceIsNew, int requestId, CensusRoute route, TimeSpan timeout)
    {
        (InspectorStatus status, string? message, double pauseMs) = RequestOnTarget(InspectorCommand.Mark, requestId, route, timeout,
            (requests, _) =>
            {
                requests.Write(types.Count);
                foreach (string type in types)
                    requests.Write(type);
                requests.Write(everyInstanceIsNew);
            },
            static replies => replies.ReadDouble());
        return (status, message, pauseMs);
    }

    /// <summary>Paths from the roots to the instances of the marked types that are new since the mark.</summary>
    public (InspectorStatus Status, string? Message, Explanation? Explanation, double PauseMs) Explain(int requestId, CensusRoute route, TimeSpan timeout,
        int maxInstancesPerType, TimeSpan timeLimit)
    {
        (InspectorStatus status, string? message, (Explanation?, double) reply) = RequestOnTarget(InspectorCommand.Explain, requestId, route, timeout,
            (requests, _) =>
            {
                requests.Write(maxInstancesPerType);
                requests.Write(timeLimit.TotalMilliseconds);
            },
            static replies =>
            {
                double pauseMs = replies.ReadDouble();
                return ((Explanation?)ExplanationWire.Read(replies), pauseMs);
            });
        return (status, message, reply.Item1, reply.Item2);
    }

    /// <summary>Paths from the roots to the objects the given weak GC handles still point at.</summary>
    public (InspectorStatus Status, string? Message, Explanation? Explanation) ExplainWatched(IReadOnlyList<IntPtr> weakHandles, int requestId, CensusRoute route,
        TimeSpan timeout, TimeSpan timeLimit)
    {
        (InspectorStatus status, string? message, Explanation? explanation) = RequestOnTarget(InspectorCommand.ExplainWatched, requestId, route, timeout,
            (requests, _) =>
            {
                requests.Write(timeLimit.TotalMilliseconds);
                requests.Write(weakHandles.Count);
                foreach (IntPtr handle in weakHandles)
                    requests.Write((ulong)handle);
            },
            static replies =>
            {
                _ = replies.ReadDouble();
                return (Explanation?)ExplanationWire.Read(replies);
            });
        return (status, message, explanation);
    }

    /// <summary>
    /// One request that reads this process's heap: the dump it may need is deleted whatever happens, and the
    /// inspector's death or a hang becomes an exception that says so.
    /// </summary>
    private (InspectorStatus Status, string? Message, T Reply) RequestOnTarget<T>(InspectorCommand command, int requestId, CensusRoute route, TimeSpan timeout,
        Action<BinaryWriter, int> writeArguments, Func<BinaryReader, T> readReply)
    {
        string dumpPath = route switch
        {
            CensusRoute.Dump => _dumps.PathFor(requestId),
            CensusRoute.DumpFile => DumpFile ?? throw new InvalidOperationException("No dump file was given."),
            _ => string.Empty,
        };
        try
        {
            using var watchdog = new Watchdog(_process, timeout + TimeSpan.FromSeconds(10));
            try
            {
                _requests.Write((byte)command);
                if (command == InspectorCommand.Census)
                    _requests.Write(requestId);
                _requests.Write((byte)route);
                _requests.Write(dumpPath);
                _requests.Write(timeout.TotalMilliseconds);
                writeArguments(_requests, requestId);
                _requests.Flush();
                InspectorStatus status = ReadStatus(out string? message);
                return status != InspectorStatus.Ok ? (status, message, default!) : (status, null, readReply(_replies));
            }
            catch (Exception e) when (e is IOException or EndOfStreamException or ObjectDisposedException)
            {
                bool timedOut = watchdog.Fired || ExitedWith(InspectorProtocol.CensusTimedOutExitCode);
                Dispose();
                if (timedOut)
                    throw new LeakHunterException(LeakHunterFailure.CensusTimedOut,
                        $"Reading the heap took longer than {timeout.TotalSeconds:0.#} s, so the inspector was stopped. " +
                        "Raise LeakOptions.CensusTimeout for a very large heap, or shrink the heap the check runs on.", e);
                throw new LeakHunterException(LeakHunterFailure.InspectorExited,
                    $"The LeakHunter inspector exited in the middle of a census.{_stderr.Describe()} The process under test was not harmed; the next check starts a new inspector.", e);
            }
        }
        finally
        {
            if (route == CensusRoute.Dump)
                _dumps.Delete(dumpPath);
        }
    }

    /// <summary>Counts and bytes per type for the given censuses, in the order given.</summary>
    public IReadOnlyList<TypeSeries> GetHistograms(IReadOnlyList<int> censusIds)
    {
        var series = new List<TypeSeries>();
        Send(InspectorCommand.GetHistograms, requests =>
        {
            requests.Write(censusIds.Count);
            foreach (int id in censusIds)
                requests.Write(id);
        });
        InspectorStatus status = ReadStatus(out string? message);
        if (status != InspectorStatus.Ok)
            throw new LeakHunterException(LeakHunterFailure.CensusFailed, $"The inspector could not return the censuses: {message}");

        int types = _replies.ReadInt32();
        for (int t = 0; t < types; t++)
        {
            string name = _replies.ReadString();
            var counts = new long[censusIds.Count];
            var bytes = new long[censusIds.Count];
            for (int c = 0; c < censusIds.Count; c++)
            {
                counts[c] = _replies.ReadInt64();
                bytes[c] = _replies.ReadInt64();
            }
            series.Add(new TypeSeries(name, counts, bytes));
        }
        return series;
    }

    private void Send(InspectorCommand command, Action<BinaryWriter> writeArguments)
    {
        try
        {
            _requests.Write((byte)command);
            writeArguments(_requests);
            _requests.Flush();
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            Dispose();
            throw new LeakHunterException(LeakHunterFailure.InspectorExited,
                $"The LeakHunter inspector exited.{_stderr.Describe()} The next check starts a new inspector.", e);
        }
    }

    private InspectorStatus ReadStatus(out string? message)
    {
        var status = (InspectorStatus)_replies.ReadByte();
        message = status == InspectorStatus.Ok ? null : _replies.ReadString();
        return status;
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
                    _requests.Write((byte)InspectorCommand.Quit);
                    _requests.Flush();
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
        }
    }

    /// <summary>Kills the inspector when a request outlives its time limit, which unblocks the waiting read.</summary>
    private sealed class Watchdog : IDisposable
    {
        private readonly Timer _timer;
        private int _fired;

        public Watchdog(Process process, TimeSpan timeout)
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
            }, null, timeout, Timeout.InfiniteTimeSpan);
        }

        public bool Fired => Volatile.Read(ref _fired) == 1;

        public void Dispose() => _timer.Dispose();
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
internal readonly record struct CensusReply(InspectorStatus Status, string? Message, long Objects, long Bytes, double PauseMs, long UnreadableBytes)
{
    public static CensusReply Failed(InspectorStatus status, string message) => new(status, message, 0, 0, 0, 0);
}

/// <summary>One type's counts and bytes across a series of censuses.</summary>
internal sealed record TypeSeries(string Type, long[] Counts, long[] Bytes);
