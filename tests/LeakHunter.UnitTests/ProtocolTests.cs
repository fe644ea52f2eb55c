extern alias inspector;

using System.Buffers.Binary;
using LeakHunter.Census;
using Xunit;
using InspectorServer = inspector::LeakHunter.Inspector.InspectorServer;

namespace LeakHunter.Tests;

/// <summary>
/// The library/inspector protocol, against the inspector's server in this process: every message survives its own
/// Write and Read, a bad frame costs only its reply, and a mismatched inspector is named.
/// </summary>
public sealed class ProtocolTests
{
    private const int NoTarget = 0;
    private static readonly HeapTarget s_target = new(CensusRoute.Dump, "/tmp/leakhunter-census-7.dump", TimeSpan.FromSeconds(90));

    [Fact]
    public void EveryRequest_RoundTripsThroughItsFrame()
    {
        AssertRoundTrip(new CensusRequest(7, s_target, ReachableOnly: true));
        AssertRoundTrip(new HistogramsRequest([3, 1, 4]));
        AssertRoundTrip(new ResetRequest());
        AssertRoundTrip(new QuitRequest());
        AssertRoundTrip(new MarkRequest(s_target with { Route = CensusRoute.Attach, DumpPath = "" }, ["Shop.Order", "System.Collections.Generic.List<Shop.Order>"], EveryInstanceIsNew: false));
        AssertRoundTrip(new MarkRequest(s_target, ["Shop.Order"], EveryInstanceIsNew: true, KeepAddresses: true));
        AssertRoundTrip(new ExplainRequest(s_target with { Route = CensusRoute.DumpFile }, 25, TimeSpan.FromMilliseconds(1500), ["System.Byte[]", "Shop.Order"]));
        AssertRoundTrip(new ExplainWatchedRequest(s_target, TimeSpan.FromSeconds(2), [0x7f00_1000UL, ulong.MaxValue]));
    }

    [Fact]
    public void EveryReply_RoundTripsThroughItsFrame()
    {
        AssertRoundTrip(new HandshakeMessage(InspectorProtocol.Version, "1.2.3+abcdef"));
        AssertRoundTrip(new CensusReplyMessage(Objects: 120_000, Bytes: 9_600_000, PauseMs: 12.5, UnreadableBytes: 64, Warnings: [],
            Resources: [new ResourceReading("gcHandles", "total", 120), new ResourceReading("gcHandles", "weak", 80), new ResourceReading("fileDescriptors", "socket", 3)]));
        AssertRoundTrip(new CensusReplyMessage(Objects: 1, Bytes: 24, PauseMs: 0.5, UnreadableBytes: 0, Warnings: ["2 thread stacks could not be walked (the first: thread exited)"], Resources: []));
        AssertRoundTrip(new HistogramsReply(2, [new TypeSeries("Shop.Order", [10, 20], [240, 480]), new TypeSeries("System.String", [5, 0], [130, 0])]));
        AssertRoundTrip(new HistogramsReply(3, []));
        AssertRoundTrip(new Acknowledgement());
        AssertRoundTrip(new MarkReply(3.25));
        AssertRoundTrip(new ExplanationReply(41.0, new Explanation(
            [new LeakPath("Shop.Order", 100, RootKindCode.StaticField, "Shop.Cache.s_orders",
                [new PathStep("System.Collections.Generic.List<Shop.Order>", "s_orders", "list"), new PathStep("Shop.Order[]", "_items", null)], AccumulationPoint: 1, Cause: 0)
                { Bytes = 2_400, RetainedBytes = 123_456 },
             new LeakPath("System.Byte[]", 1, RootKindCode.Unknown, "unknown", [new PathStep("System.Byte[]", null, null)], AccumulationPoint: -1, Cause: -1)],
            [new TypeReferrerCounts("Shop.Order", [new ReferrerCount("Shop.Order[]", "[]", 100)])],
            NewInstances: 100, PartialReason: "the time limit ran out", GraphObjects: 5000, GraphBytes: 1 << 20,
            Warnings: ["2 thread stack(s) could not be walked (the first: InvalidOperationException: no frames)", "Referrers of Shop.Order were counted for its first 10,000 references only"])
        {
            RetainedSizesMs = 12.5,
            RetainedSizesBytes = 48_000,
        }));
        AssertRoundTrip(new ExplanationReply(0.5, new Explanation([], [], NewInstances: 0, PartialReason: null, GraphObjects: 0, GraphBytes: 0, Warnings: [])));
        AssertRoundTrip(new FailureReply("No census 5 was taken in this check."));
    }

    [Fact]
    public void MalformedBodies_FailAsInvalidData_AndNothingElse()
    {
        byte[] census = Body(new CensusRequest(1, s_target, ReachableOnly: false));

        Assert.Contains("ends before", Assert.Throws<InvalidDataException>(() => Parse<CensusRequest>(census[..^3])).Message);
        Assert.Contains("left over", Assert.Throws<InvalidDataException>(() => Parse<CensusRequest>([.. census, 0])).Message);
        // A count no body could hold must not be allocated.
        Assert.Contains("census ids", Assert.Throws<InvalidDataException>(() => Parse<HistogramsRequest>([0xFF, 0xFF, 0xFF, 0x7F])).Message);
        Assert.Contains("census route", Assert.Throws<InvalidDataException>(() => Parse<CensusRequest>(WithRoute(census, 9))).Message);
        Assert.Contains("not positive", Assert.Throws<InvalidDataException>(() => Parse<ExplainRequest>(Body(new ExplainRequest(s_target, 1, TimeSpan.Zero, [])))).Message);
        // A string whose 7-bit length prefix never ends.
        Assert.Contains("malformed string", Assert.Throws<InvalidDataException>(() => Parse<FailureReply>([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF])).Message);
    }

    public static TheoryData<string, byte[], string> BadFrames()
    {
        byte[] census = Body(new CensusRequest(1, s_target, ReachableOnly: false));
        return new TheoryData<string, byte[], string>
        {
            { "truncated", RawFrame([(byte)InspectorCommand.Census, .. census[..^5]]), "The Census request was malformed: its body" },
            { "left over", RawFrame([(byte)InspectorCommand.Reset, 1, 2, 3]), "The Reset request was malformed: 3 bytes are left over" },
            { "unknown command", RawFrame([0xEE, .. "garbage that follows no layout"u8]), "Unknown command 0xEE" },
            { "empty", RawFrame([]), "empty request frame" },
            { "impossible count", RawFrame([(byte)InspectorCommand.GetHistograms, 0xFF, 0xFF, 0xFF, 0x7F, 1, 2]), "claims 2147483647 census ids" },
            { "unknown route", RawFrame([(byte)InspectorCommand.Census, .. WithRoute(census, 0xFF)]), "census route 255" },
        };
    }

    [Theory]
    [MemberData(nameof(BadFrames))]
    public void ABadFrame_GetsAnErrorReply_AndTheSameStreamStillAnswersTheNextRequest(string kind, byte[] badFrame, string expectedError)
    {
        _ = kind;
        List<Frame> replies = Serve(new MemoryStream([.. badFrame, .. ValidRequests()]));

        AssertFailure(replies[0], expectedError);
        AssertAnswersToValidRequests(replies[1..]);
    }

    [Fact]
    public void AFrameOverTheLimit_IsSkippedUnread_AndTheSameStreamStillAnswersTheNextRequest()
    {
        const uint Oversized = InspectorProtocol.MaxFrameBytes + 1u;
        var prefix = new byte[sizeof(uint)];
        BinaryPrimitives.WriteUInt32LittleEndian(prefix, Oversized);
        // The frame's bytes are generated as they are read: the server must skip them without holding them.
        using var requests = new SplicedStream(new MemoryStream(prefix), new ZerosStream(Oversized), new MemoryStream(ValidRequests()));

        List<Frame> replies = Serve(requests);

        AssertFailure(replies[0], $"A request of {Oversized} bytes is over the {InspectorProtocol.MaxFrameBytes} byte frame limit");
        AssertAnswersToValidRequests(replies[1..]);
    }

    [Fact]
    public void Quit_EndsTheServerWithoutAReply()
    {
        var requests = new MemoryStream([.. Request(new QuitRequest()), .. Request(new ResetRequest())]);

        Assert.Empty(Serve(requests));
        Assert.Equal(requests.Length - Request(new ResetRequest()).Length, requests.Position);
    }

    [Fact]
    public void TheHandshake_CarriesTheProtocolVersionAndTheInspectorsBuild()
    {
        var replies = new MemoryStream();
        new InspectorServer(NoTarget).Run(new MemoryStream(), replies);
        replies.Position = 0;

        HandshakeMessage handshake = InspectorClient.ReadHandshake(replies, "in-process");

        Assert.Equal(InspectorProtocol.Version, handshake.ProtocolVersion);
        Assert.Equal(InspectorProtocol.BuildVersionOf(typeof(InspectorServer).Assembly), handshake.InspectorVersion);
        Assert.Equal(replies.Length, replies.Position);
    }

    [Fact]
    public void AnInspectorOfAnotherProtocolVersion_FailsNamingBothVersionsAndTheFix()
    {
        var replies = new MemoryStream();
        replies.WriteByte(InspectorProtocol.ReadyMarker);
        Frame.Write(replies, (byte)InspectorStatus.Ok, new HandshakeMessage(InspectorProtocol.Version + 1, "9.9.9+future"));
        replies.Position = 0;

        var error = Assert.Throws<LeakHunterException>(() => InspectorClient.ReadHandshake(replies, "/opt/leakhunter-inspector/LeakHunter.Inspector.dll"));

        Assert.Equal(LeakHunterFailure.InspectorStartFailed, error.Failure);
        Assert.Contains("version 9.9.9+future", error.Message);
        Assert.Contains($"protocol {InspectorProtocol.Version + 1}", error.Message);
        Assert.Contains($"version {InspectorProtocol.BuildVersionOf(typeof(InspectorClient).Assembly)}", error.Message);
        Assert.Contains($"protocol {InspectorProtocol.Version}.", error.Message);
        Assert.Contains("/opt/leakhunter-inspector/LeakHunter.Inspector.dll", error.Message);
        Assert.Contains("rebuild", error.Message);
    }

    [Fact]
    public void AnInspectorFromBeforeFrames_IsNamedAtOnce()
    {
        var error = Assert.Throws<LeakHunterException>(() => InspectorClient.ReadHandshake(new MemoryStream([InspectorProtocol.LegacyReadyMarker]), "old.dll"));

        Assert.Equal(LeakHunterFailure.InspectorStartFailed, error.Failure);
        Assert.Contains("protocol 1", error.Message);
        Assert.Contains("rebuild", error.Message);
    }

    /// <summary>Runs the inspector's server in-process over <paramref name="requests"/> and returns its replies after the handshake.</summary>
    private static List<Frame> Serve(Stream requests)
    {
        var replies = new MemoryStream();
        new InspectorServer(NoTarget).Run(requests, replies);
        replies.Position = 0;
        _ = InspectorClient.ReadHandshake(replies, "in-process");
        var frames = new List<Frame>();
        while (Frame.Read(replies) is Frame frame)
            frames.Add(frame);
        return frames;
    }

    /// <summary>Requests the server can answer without a process to read: a reset, an unknown census, no census.</summary>
    private static byte[] ValidRequests() =>
        [.. Request(new ResetRequest()), .. Request(new HistogramsRequest([5])), .. Request(new HistogramsRequest([]))];

    private static void AssertAnswersToValidRequests(List<Frame> replies)
    {
        Assert.Equal(3, replies.Count);
        Assert.Equal((byte)InspectorStatus.Ok, replies[0].Kind);
        Assert.Equal(new Acknowledgement(), replies[0].ReadMessage<Acknowledgement>());
        AssertFailure(replies[1], "No census 5 was taken in this check.");
        Assert.Equal((byte)InspectorStatus.Ok, replies[2].Kind);
        Assert.Equivalent(new HistogramsReply(0, []), replies[2].ReadMessage<HistogramsReply>(), strict: true);
    }

    private static void AssertFailure(Frame reply, string expected)
    {
        Assert.Equal((byte)InspectorStatus.Failed, reply.Kind);
        Assert.Contains(expected, reply.ReadMessage<FailureReply>().Message);
    }

    private static void AssertRoundTrip<T>(T message) where T : IWireMessage<T>
    {
        byte kind = message is IInspectorRequest request ? (byte)request.Command : (byte)InspectorStatus.Ok;
        var stream = new MemoryStream();
        Frame.Write(stream, kind, message);
        stream.Position = 0;

        Frame frame = Assert.IsType<Frame>(Frame.Read(stream));

        Assert.Equal(kind, frame.Kind);
        Assert.Equivalent(message, frame.ReadMessage<T>(), strict: true);
        Assert.Null(Frame.Read(stream));
    }

    private static byte[] Request(IInspectorRequest request)
    {
        var stream = new MemoryStream();
        Frame.Write(stream, (byte)request.Command, request);
        return stream.ToArray();
    }

    private static byte[] Body(IWireMessage message)
    {
        var stream = new MemoryStream();
        Frame.Write(stream, 0, message);
        return stream.ToArray()[(sizeof(uint) + 1)..];
    }

    private static T Parse<T>(byte[] body) where T : IWireMessage<T>
    {
        var stream = new MemoryStream(RawFrame([0, .. body]));
        return Frame.Read(stream)!.ReadMessage<T>();
    }

    private static byte[] RawFrame(byte[] payload)
    {
        var frame = new byte[sizeof(uint) + payload.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(frame, (uint)payload.Length);
        payload.CopyTo(frame, sizeof(uint));
        return frame;
    }

    /// <summary>A census request body whose route byte (it follows the census id) is <paramref name="route"/>.</summary>
    private static byte[] WithRoute(byte[] censusBody, byte route)
    {
        byte[] copy = [.. censusBody];
        copy[sizeof(int)] = route;
        return copy;
    }

    /// <summary>Reads its parts one after another.</summary>
    private sealed class SplicedStream(params Stream[] parts) : Stream
    {
        private int _current;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            for (; _current < parts.Length; _current++)
            {
                int read = parts[_current].Read(buffer);
                if (read > 0)
                    return read;
            }
            return 0;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    /// <summary>A run of zero bytes that takes no memory.</summary>
    private sealed class ZerosStream(long length) : Stream
    {
        private long _read;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => length;

        public override long Position
        {
            get => _read;
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            int read = (int)Math.Min(buffer.Length, length - _read);
            buffer[..read].Clear();
            _read += read;
            return read;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
