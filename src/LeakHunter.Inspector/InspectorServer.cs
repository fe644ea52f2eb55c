using LeakHunter.Census;
using LeakHunter.Inspector.Census;
using LeakHunter.Inspector.Paths;
using LeakHunter.Inspector.Platform;
using Microsoft.Diagnostics.Runtime;

namespace LeakHunter.Inspector;

/// <summary>Answers the requests of one process under test; keeps every census of the current check.</summary>
internal sealed class InspectorServer
{
    private readonly TypeTable _types = new();
    private readonly Dictionary<int, Histogram> _censuses = new();
    // What identified each resource's items at each census, for explaining what grew since one.
    private readonly Dictionary<int, ResourceIdentities> _identities = new();
    private readonly HeapScanner _scanner;
    private readonly TargetReader _reader;
    private HeapMark _marked = HeapMark.None;

    private readonly int _targetPid;

    public InspectorServer(int targetPid, long imageInFileFrom = InspectorProtocol.DefaultImageInFileFrom)
    {
        _targetPid = targetPid;
        _scanner = new HeapScanner(_types);
        _reader = new TargetReader(targetPid, _scanner, imageInFileFrom);
    }

    /// <summary>
    /// Announces this inspector with the handshake, then answers requests until the parent asks it to quit or
    /// closes <paramref name="requests"/>. A stream that ends inside a frame throws <see cref="EndOfStreamException"/>.
    /// </summary>
    public void Run(Stream requests, Stream replies)
    {
        replies.WriteByte(InspectorProtocol.ReadyMarker);
        Frame.Write(replies, (byte)InspectorStatus.Ok,
            new HandshakeMessage(InspectorProtocol.Version, InspectorProtocol.BuildVersionOf(typeof(InspectorServer).Assembly)));
        while (ServeNext(requests, replies))
        {
        }
    }

    /// <summary>Reads one request frame and writes its reply frame.</summary>
    /// <returns>false when the parent asked the inspector to quit or closed the pipe.</returns>
    private bool ServeNext(Stream requests, Stream replies)
    {
        Frame? frame = Frame.Read(requests);
        if (frame is null)
            return false;

        Reply reply;
        if (frame.IsTooLarge)
            reply = Reply.Failed($"A request of {frame.Length} bytes is over the {InspectorProtocol.MaxFrameBytes} byte frame limit; it was skipped.");
        else if (frame.Length == 0)
            reply = Reply.Failed("An empty request frame has no command.");
        else if ((InspectorCommand)frame.Kind == InspectorCommand.Quit)
            return false;
        else
            reply = Answer(frame);

        try
        {
            Frame.Write(replies, (byte)reply.Status, reply.Message);
        }
        catch (InvalidDataException e)
        {
            // The reply is over the frame limit. Frames are built whole before they are sent, so nothing of it
            // went out, and the failure can take its place.
            Frame.Write(replies, (byte)InspectorStatus.Failed, new FailureReply(e.Message));
        }
        return true;
    }

    private Reply Answer(Frame frame)
    {
        var command = (InspectorCommand)frame.Kind;
        try
        {
            return command switch
            {
                InspectorCommand.Reset => Reset(frame.ReadMessage<ResetRequest>()),
                InspectorCommand.Census => Census(frame.ReadMessage<CensusRequest>()),
                InspectorCommand.GetHistograms => Histograms(frame.ReadMessage<HistogramsRequest>()),
                InspectorCommand.Mark => Mark(frame.ReadMessage<MarkRequest>()),
                InspectorCommand.Explain => Explain(frame.ReadMessage<ExplainRequest>()),
                InspectorCommand.ExplainWatched => ExplainWatched(frame.ReadMessage<ExplainWatchedRequest>()),
                InspectorCommand.FinalizerStack => FinalizerStack(frame.ReadMessage<FinalizerStackRequest>()),
                InspectorCommand.ExplainResources => ExplainResources(frame.ReadMessage<ExplainResourcesRequest>()),
                _ => Reply.Failed($"Unknown command 0x{frame.Kind:X2}: this inspector speaks protocol {InspectorProtocol.Version}, " +
                    $"whose commands are {string.Join(", ", Enum.GetNames<InspectorCommand>())}."),
            };
        }
        catch (InvalidDataException e)
        {
            return Reply.Failed($"The {command} request was malformed: {e.Message}.");
        }
    }

    private Reply Reset(ResetRequest _)
    {
        _censuses.Clear();
        _identities.Clear();
        _reader.Reset();
        _marked = HeapMark.None;
        return Reply.Ok(new Acknowledgement());
    }

    private Reply Census(CensusRequest request)
    {
        return UnderTimeLimit(request.Target.Timeout, () =>
        {
            var histogram = new Histogram();
            CensusOutcome outcome = request.ReachableOnly
                ? _reader.TakeCensus(request.Target, runtime => LeakExplainer.ReachableCensus(runtime, _scanner, histogram), request.CountResources)
                : _reader.TakeCensus(request.Target, histogram, request.CountResources);
            _censuses[request.CensusId] = histogram;
            if (outcome.Identities is not null)
                _identities[request.CensusId] = outcome.Identities;
            return new CensusReplyMessage(outcome.Totals.Objects, outcome.Totals.Bytes, outcome.PauseMs, (long)outcome.Totals.UnreadableBytes, outcome.Totals.Warnings ?? [],
                outcome.Resources);
        });
    }

    private Reply Mark(MarkRequest request)
    {
        var typeIndices = request.Types.Select(_types.GetIndex).ToList();
        if (request.EveryInstanceIsNew)
        {
            // Nothing to look at: the explanation that follows counts every instance of these types.
            _marked = new HeapMark(typeIndices.ToDictionary(t => t, _ => Array.Empty<ulong>()), request.KeepAddresses ? _marked.Everything : null)
            {
                RoutesThroughExisting = request.KeepAddresses,
                StackSlots = request.KeepAddresses ? _marked.StackSlots : null,
            };
            return Reply.Ok(new MarkReply(0.0));
        }
        return UnderTimeLimit(request.Target.Timeout, () =>
        {
            (_marked, double pauseMs) = _reader.Read(request.Target, runtime => InstanceMarker.Mark(_scanner, runtime, typeIndices));
            return new MarkReply(pauseMs);
        });
    }

    private Reply Explain(ExplainRequest request)
    {
        return UnderTimeLimit(request.Target.Timeout, () => ExplainOnImage(request.Target,
            runtime => LeakExplainer.Explain(runtime, _scanner, _types, _marked.Only(request.Types.Select(_types.GetIndex)), request.MaxInstancesPerType, request.TimeLimit)));
    }

    private Reply ExplainWatched(ExplainWatchedRequest request)
    {
        return UnderTimeLimit(request.Target.Timeout, () => ExplainOnImage(request.Target,
            runtime => LeakExplainer.ExplainWatched(runtime, _scanner, _types, request.WeakHandles, request.TimeLimit)));
    }

    /// <summary>An explanation read from an image of the process; one that would not fit is a partial explanation that says so.</summary>
    private ExplanationReply ExplainOnImage(HeapTarget target, Func<ClrRuntime, Explanation> explain)
    {
        try
        {
            (Explanation explanation, double pauseMs) = _reader.ReadImage(target, explain);
            return new ExplanationReply(pauseMs, explanation);
        }
        catch (ImageTooLargeException e)
        {
            return new ExplanationReply(0, new Explanation([], [], 0, $"no paths were traced: {e.Message}", 0, 0, []));
        }
    }

    private Reply FinalizerStack(FinalizerStackRequest request)
    {
        return UnderTimeLimit(request.Target.Timeout, () =>
        {
            (string[] frames, _) = _reader.Read(request.Target, ThreadStacks.OfFinalizer);
            return new FinalizerStackReply(frames);
        });
    }

    private Reply ExplainResources(ExplainResourcesRequest request)
    {
        if (!_identities.TryGetValue(request.SinceCensusId, out ResourceIdentities? since))
            return Reply.Failed($"No census {request.SinceCensusId} with resources was taken in this check.");
        return UnderTimeLimit(request.Target.Timeout, () =>
        {
            (List<ResourceFindingMessage> findings, _) = _reader.ReadImage(request.Target,
                runtime => ResourceExplainer.Explain(runtime, _scanner, _types, since, request.Resources, TargetReader.ReadsLiveSystem(request.Target) ? _targetPid : null));
            return new ResourceFindingsReply(findings);
        });
    }

    /// <summary>Runs one request against the target under the time limit that protects it, and turns failures into replies.</summary>
    private static Reply UnderTimeLimit(TimeSpan timeout, Func<IWireMessage> work)
    {
        try
        {
            // Exiting detaches ptrace and resumes the process under test; work that hangs must not freeze it. A dump
            // writer still running is stopped first, since it would outlive the inspector and hold the process.
            using (new Timer(_ =>
            {
                DumpWriter.StopRunning();
                InspectorPlatform.Current.ExitNow(InspectorProtocol.CensusTimedOutExitCode);
            }, null, timeout, Timeout.InfiniteTimeSpan))
                return Reply.Ok(work());
        }
        catch (InspectorException e)
        {
            return Reply.Failed(e.Message, e.Status);
        }
        catch (ImageTooLargeException e)
        {
            return Reply.Failed($"No image of the process was taken: {e.Message}.");
        }
        catch (Exception e)
        {
            return Reply.Failed($"{e.GetType().Name}: {e.Message}");
        }
    }

    private Reply Histograms(HistogramsRequest request)
    {
        var histograms = new Histogram[request.CensusIds.Count];
        for (int i = 0; i < histograms.Length; i++)
        {
            int id = request.CensusIds[i];
            if (!_censuses.TryGetValue(id, out Histogram? histogram))
                return Reply.Failed($"No census {id} was taken in this check.");
            histograms[i] = histogram;
        }

        var series = new List<TypeSeries>();
        for (int type = 0; type < _types.Count; type++)
        {
            if (!histograms.Any(h => h.CountOf(type) != 0))
                continue;
            series.Add(new TypeSeries(_types[type],
                histograms.Select(h => h.CountOf(type)).ToArray(),
                histograms.Select(h => h.BytesOf(type)).ToArray()));
        }
        return Reply.Ok(new HistogramsReply(histograms.Length, series));
    }

    /// <summary>A reply's status, the kind byte of its frame, and its message.</summary>
    private readonly record struct Reply(InspectorStatus Status, IWireMessage Message)
    {
        public static Reply Ok(IWireMessage message) => new(InspectorStatus.Ok, message);

        public static Reply Failed(string message, InspectorStatus status = InspectorStatus.Failed) => new(status, new FailureReply(message));
    }
}
