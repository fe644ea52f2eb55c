using LeakHunter.Census;
using LeakHunter.Inspector.Census;
using LeakHunter.Inspector.Paths;

namespace LeakHunter.Inspector;

/// <summary>Answers the requests of one process under test; keeps every census of the current check.</summary>
internal sealed class InspectorServer
{
    private readonly TypeTable _types = new();
    private readonly Dictionary<int, Histogram> _censuses = new();
    private readonly HeapScanner _scanner;
    private readonly TargetReader _reader;
    private Dictionary<int, ulong[]> _marked = new();

    public InspectorServer(int targetPid)
    {
        _scanner = new HeapScanner(_types);
        _reader = new TargetReader(targetPid, _scanner);
    }

    /// <returns>false when the parent asked the inspector to quit.</returns>
    public bool Serve(BinaryReader requests, BinaryWriter replies)
    {
        var command = (InspectorCommand)requests.ReadByte();
        switch (command)
        {
            case InspectorCommand.Quit:
                return false;
            case InspectorCommand.Reset:
                _censuses.Clear();
                _marked = new();
                replies.Write((byte)InspectorStatus.Ok);
                return true;
            case InspectorCommand.Census:
                ServeCensus(requests, replies);
                return true;
            case InspectorCommand.GetHistograms:
                ServeHistograms(requests, replies);
                return true;
            case InspectorCommand.Mark:
                ServeMark(requests, replies);
                return true;
            case InspectorCommand.Explain:
                ServeExplain(requests, replies);
                return true;
            case InspectorCommand.ExplainWatched:
                ServeExplainWatched(requests, replies);
                return true;
            default:
                WriteFailure(replies, InspectorStatus.Failed, $"Unknown request {command}.");
                return true;
        }
    }

    private void ServeCensus(BinaryReader requests, BinaryWriter replies)
    {
        int censusId = requests.ReadInt32();
        (CensusRoute route, string dumpPath, TimeSpan timeout) = ReadTarget(requests);
        bool reachableOnly = requests.ReadBoolean();
        var histogram = new Histogram();
        Serve(replies, timeout, () =>
        {
            CensusOutcome outcome = reachableOnly
                ? ReachableCensus(route, dumpPath, histogram)
                : _reader.TakeCensus(route, dumpPath, histogram);
            _censuses[censusId] = histogram;
            replies.Write((byte)InspectorStatus.Ok);
            replies.Write(outcome.Totals.Objects);
            replies.Write(outcome.Totals.Bytes);
            replies.Write(outcome.PauseMs);
            replies.Write((long)outcome.Totals.UnreadableBytes);
        });
    }

    private CensusOutcome ReachableCensus(CensusRoute route, string dumpPath, Histogram histogram)
    {
        (ScanTotals totals, double pauseMs) = _reader.Read(route, dumpPath, runtime => LeakExplainer.ReachableCensus(runtime, _scanner, histogram));
        return new CensusOutcome(totals, pauseMs);
    }

    private void ServeMark(BinaryReader requests, BinaryWriter replies)
    {
        (CensusRoute route, string dumpPath, TimeSpan timeout) = ReadTarget(requests);
        int count = requests.ReadInt32();
        var typeIndices = new List<int>(count);
        for (int i = 0; i < count; i++)
            typeIndices.Add(_types.GetIndex(requests.ReadString()));
        bool everyInstanceIsNew = requests.ReadBoolean();
        if (everyInstanceIsNew)
        {
            // Nothing to look at: the explanation that follows counts every instance of these types.
            _marked = typeIndices.ToDictionary(t => t, _ => Array.Empty<ulong>());
            replies.Write((byte)InspectorStatus.Ok);
            replies.Write(0.0);
            return;
        }
        Serve(replies, timeout, () =>
        {
            (_marked, double pauseMs) = _reader.Read(route, dumpPath, runtime => InstanceMarker.Mark(_scanner, runtime, typeIndices));
            replies.Write((byte)InspectorStatus.Ok);
            replies.Write(pauseMs);
        });
    }

    private void ServeExplain(BinaryReader requests, BinaryWriter replies)
    {
        (CensusRoute route, string dumpPath, TimeSpan timeout) = ReadTarget(requests);
        int maxInstancesPerType = requests.ReadInt32();
        var timeLimit = TimeSpan.FromMilliseconds(requests.ReadDouble());
        Serve(replies, timeout, () =>
        {
            (Explanation explanation, double pauseMs) = _reader.Read(route, dumpPath,
                runtime => LeakExplainer.Explain(runtime, _scanner, _types, _marked, maxInstancesPerType, timeLimit));
            replies.Write((byte)InspectorStatus.Ok);
            replies.Write(pauseMs);
            ExplanationWire.Write(replies, explanation);
        });
    }

    private void ServeExplainWatched(BinaryReader requests, BinaryWriter replies)
    {
        (CensusRoute route, string dumpPath, TimeSpan timeout) = ReadTarget(requests);
        var timeLimit = TimeSpan.FromMilliseconds(requests.ReadDouble());
        var handles = new ulong[requests.ReadInt32()];
        for (int i = 0; i < handles.Length; i++)
            handles[i] = requests.ReadUInt64();
        Serve(replies, timeout, () =>
        {
            (Explanation explanation, double pauseMs) = _reader.Read(route, dumpPath,
                runtime => LeakExplainer.ExplainWatched(runtime, _scanner, _types, handles, timeLimit));
            replies.Write((byte)InspectorStatus.Ok);
            replies.Write(pauseMs);
            ExplanationWire.Write(replies, explanation);
        });
    }

    private static (CensusRoute Route, string DumpPath, TimeSpan Timeout) ReadTarget(BinaryReader requests) =>
        ((CensusRoute)requests.ReadByte(), requests.ReadString(), TimeSpan.FromMilliseconds(requests.ReadDouble()));

    /// <summary>Runs one request against the target under the time limit that protects it, and turns failures into replies.</summary>
    private static void Serve(BinaryWriter replies, TimeSpan timeout, Action work)
    {
        try
        {
            // Exiting detaches ptrace and resumes the process under test; work that hangs must not freeze it.
            using (new Timer(_ => NativeMethods.ExitNow(InspectorProtocol.CensusTimedOutExitCode), null, timeout, Timeout.InfiniteTimeSpan))
                work();
        }
        catch (InspectorException e)
        {
            WriteFailure(replies, e.Status, e.Message);
        }
        catch (Exception e)
        {
            WriteFailure(replies, InspectorStatus.Failed, $"{e.GetType().Name}: {e.Message}");
        }
    }

    private void ServeHistograms(BinaryReader requests, BinaryWriter replies)
    {
        int count = requests.ReadInt32();
        var histograms = new Histogram[count];
        for (int i = 0; i < count; i++)
        {
            int id = requests.ReadInt32();
            if (!_censuses.TryGetValue(id, out Histogram? histogram))
            {
                // Drain the rest of the request before answering, so the pipe stays in step.
                for (int j = i + 1; j < count; j++)
                    requests.ReadInt32();
                WriteFailure(replies, InspectorStatus.Failed, $"No census {id} was taken in this check.");
                return;
            }
            histograms[i] = histogram;
        }

        replies.Write((byte)InspectorStatus.Ok);
        var present = new List<int>();
        for (int type = 0; type < _types.Count; type++)
        {
            if (histograms.Any(h => h.CountOf(type) != 0))
                present.Add(type);
        }
        replies.Write(present.Count);
        foreach (int type in present)
        {
            replies.Write(_types[type]);
            foreach (Histogram histogram in histograms)
            {
                replies.Write(histogram.CountOf(type));
                replies.Write(histogram.BytesOf(type));
            }
        }
    }

    private static void WriteFailure(BinaryWriter replies, InspectorStatus status, string message)
    {
        replies.Write((byte)status);
        replies.Write(message);
    }
}
