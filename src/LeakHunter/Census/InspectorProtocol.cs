using System.Buffers.Binary;
using System.Reflection;

namespace LeakHunter.Census;

// Shared by the library and the inspector process (linked into both). The inspector starts its output with
// InspectorProtocol.ReadyMarker and a handshake frame; after that every request and every reply is one frame:
//
//   uint32 little-endian N (at most MaxFrameBytes), then N payload bytes: one kind byte (the InspectorCommand of a
//   request, the InspectorStatus of a reply) and the message body, laid out by that message's one Write and Read
//   in InspectorMessages.cs. A reply with any status but Ok carries a FailureReply.
//
// Frames are read whole before they are parsed, so a request the inspector cannot parse costs only its reply and
// never leaves the pipe out of step. Replies to a census carry only totals, so the process under test never holds
// a per-census histogram: histograms stay in the inspector until the check asks for them, after its last census.
internal enum InspectorCommand : byte
{
    Quit = 0,
    Census = 1,
    GetHistograms = 2,
    Reset = 3,

    /// <summary>Records where the instances of some types are now, so a later <see cref="Explain"/> can tell the new ones.</summary>
    Mark = 4,

    /// <summary>Paths from the roots to the instances of some types that are new since <see cref="Mark"/>.</summary>
    Explain = 5,

    /// <summary>Paths from the roots to the objects that some weak GC handles still point at.</summary>
    ExplainWatched = 6,

    /// <summary>The managed frames of the finalizer thread's stack, asked for when it seems blocked.</summary>
    FinalizerStack = 7,

    /// <summary>The threads, GC handles, descriptors, assemblies and finalizable objects made since a census, grouped, for the resources that grew.</summary>
    ExplainResources = 8,
}

internal enum CensusRoute : byte
{
    Attach = 1,
    Dump = 2,

    /// <summary>A dump file someone else wrote: read, never deleted.</summary>
    DumpFile = 3,
}

internal enum InspectorStatus : byte
{
    Ok = 0,
    PtraceDenied = 1,

    // 2 was DiagnosticsDisabled, when the dump route went through the runtime's diagnostics server.
    TargetNotDotNet = 3,
    HeapNotWalkable = 4,
    Failed = 5,
    DumpFailed = 6,
}

internal static class InspectorProtocol
{
    /// <summary>
    /// The version of the frames and messages both sides speak; raise it whenever a message's layout or meaning
    /// changes. Version 1 was the protocol before frames, whose inspector announced itself with <see cref="LegacyReadyMarker"/>.
    /// Version 3: the inspector writes dumps with the runtime's createdump, so no diagnostics status is sent any more;
    /// an explanation ends with its warnings. Version 5: each leak path carries the number of its cause. Version 6: an
    /// explanation names the marked types it explains. Version 7: each leak path carries its instances' bytes, and a mark can keep
    /// the previous mark's addresses. Version 8: a mark no longer takes a midpoint, a path's root may be a loaded assembly, and the finalizer thread's stack can be asked for.
    /// Version 9: each leak path carries what its cause's new entries retain, and an explanation how long that took and its memory;
    /// a census reply carries the process's resources (threads, GC handles, file descriptors, native memory, assemblies).
    /// Version 10: a census request says whether to count resources, and the resources made since a census can be asked for.
    /// </summary>
    public const int Version = 10;

    /// <summary>First byte the inspector writes; the handshake frame follows it.</summary>
    public const byte ReadyMarker = 0x48;

    /// <summary>
    /// The only thing an inspector of protocol 1 wrote before waiting for requests. A byte of its own, so the
    /// library can name that mismatch at once instead of waiting for a handshake frame that never comes.
    /// </summary>
    public const byte LegacyReadyMarker = 0x4C;

    /// <summary>The largest payload a frame may carry. A request over it is skipped and answered with a failure.</summary>
    public const int MaxFrameBytes = 256 * 1024 * 1024;

    /// <summary>
    /// Exit code of an inspector that gave up on a census past its time limit. The process under test cannot time
    /// the census itself: during a live attach all of its threads are stopped.
    /// </summary>
    public const int CensusTimedOutExitCode = 4;

    /// <summary>
    /// Environment variable carrying the runtime version of the process under test. ClrMD reads it as 0.0 on
    /// .NET 10 on Linux, and without it skips the roots of thread-static fields.
    /// </summary>
    public const string RuntimeVersionVariable = "LEAKHUNTER_RUNTIME_VERSION";

    /// <summary>
    /// Environment variable carrying the folder of the runtime of the process under test, where the runtime's own
    /// dump writer, <c>createdump</c>, sits. The inspector runs it for the dump route.
    /// </summary>
    public const string RuntimeFolderVariable = "LEAKHUNTER_RUNTIME_FOLDER";

    /// <summary>
    /// Environment variable naming the process to inspect when it is not the inspector's parent: the command-line
    /// tool inspects other processes.
    /// </summary>
    public const string TargetPidVariable = "LEAKHUNTER_TARGET_PID";

    /// <summary>Environment variable naming the process the inspector serves and must not outlive.</summary>
    public const string ParentPidVariable = "LEAKHUNTER_PARENT_PID";

    /// <summary>
    /// Environment variable a user may set: the size in bytes from which the inspector moves an image of a live
    /// process to a file with no name once the process runs on (<see cref="DefaultImageInFileFrom"/> when unset; 0
    /// moves every image). The inspector inherits it from the process that starts it.
    /// </summary>
    public const string ImageInFileFromVariable = "LEAKHUNTER_IMAGE_IN_FILE_FROM";

    /// <summary>1 GiB, about 25 million objects: below it, an image and the graph made from it fit in memory together on any machine LeakHunter runs on.</summary>
    public const long DefaultImageInFileFrom = 1L << 30;

    /// <summary>The value of <see cref="ImageInFileFromVariable"/>, <paramref name="value"/>.</summary>
    /// <exception cref="FormatException">It is not a number of bytes; the message names the variable and what it takes.</exception>
    public static long ImageInFileFrom(string? value) =>
        string.IsNullOrEmpty(value) ? DefaultImageInFileFrom
        : long.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long bytes) ? bytes
        : throw new FormatException($"{ImageInFileFromVariable} is '{value}': it takes a number of bytes, such as {DefaultImageInFileFrom} (1 GiB, the default), or 0 to move every image to a file.");

    /// <summary>The build an assembly came from, as its handshake and error messages name it.</summary>
    public static string BuildVersionOf(Assembly assembly) =>
        assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? assembly.GetName().Version?.ToString()
        ?? "unknown";
}

/// <summary>One frame as read off a stream: its kind byte and message body, or only its length when that was over the limit.</summary>
internal sealed class Frame
{
    private readonly byte[]? _payload;

    private Frame(uint length, byte[]? payload)
    {
        Length = length;
        _payload = payload;
    }

    /// <summary>The payload length the frame's prefix declared.</summary>
    public uint Length { get; }

    /// <summary>Whether the frame was over the limit; its payload was skipped unread.</summary>
    public bool IsTooLarge => _payload is null;

    /// <summary>The command of a request or the status of a reply.</summary>
    public byte Kind => Payload[0];

    /// <summary>The kind byte and the body, for a frame that has both.</summary>
    private byte[] Payload => _payload is { Length: > 0 } payload
        ? payload
        : throw new InvalidDataException(IsTooLarge ? $"a frame of {Length} bytes is over the {InspectorProtocol.MaxFrameBytes} byte limit" : "an empty frame has no kind byte");

    /// <summary>
    /// Parses the body as a <typeparamref name="T"/>. A body that ends early, has bytes left over or holds values
    /// the message cannot have throws <see cref="InvalidDataException"/>, never anything else.
    /// </summary>
    public T ReadMessage<T>() where T : IWireMessage<T>
    {
        byte[] payload = Payload;
        var body = new MemoryStream(payload, 1, payload.Length - 1, writable: false);
        using var reader = new BinaryReader(body);
        T message;
        try
        {
            message = T.Read(reader);
        }
        catch (EndOfStreamException)
        {
            throw new InvalidDataException($"its body of {body.Length} bytes ends before the {typeof(T).Name} does");
        }
        catch (FormatException e)
        {
            // A string whose length prefix is not a 7-bit encoded integer.
            throw new InvalidDataException($"the {typeof(T).Name} holds a malformed string ({e.Message})", e);
        }
        if (body.Position != body.Length)
            throw new InvalidDataException($"{body.Length - body.Position} bytes are left over after the {typeof(T).Name}");
        return message;
    }

    /// <summary>
    /// Writes one frame and flushes it. The frame is built whole first, so a message that fails to write sends
    /// nothing at all.
    /// </summary>
    public static void Write(Stream output, byte kind, IWireMessage message)
    {
        var buffer = new MemoryStream();
        using (var writer = new BinaryWriter(buffer, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            writer.Write(0u); // the length, filled in below
            writer.Write(kind);
            message.Write(writer);
        }
        long length = buffer.Length - sizeof(uint);
        if (length > InspectorProtocol.MaxFrameBytes)
            throw new InvalidDataException($"A {message.GetType().Name} of {length} bytes is over the {InspectorProtocol.MaxFrameBytes} byte frame limit.");
        BinaryPrimitives.WriteUInt32LittleEndian(buffer.GetBuffer(), (uint)length);
        output.Write(buffer.GetBuffer(), 0, (int)buffer.Length);
        output.Flush();
    }

    /// <summary>
    /// Reads the next frame whole, or returns null when the stream ends cleanly between frames; a stream that ends
    /// inside a frame throws <see cref="EndOfStreamException"/>. A frame over <see cref="InspectorProtocol.MaxFrameBytes"/>
    /// is skipped, so the stream stays in step, and comes back with <see cref="IsTooLarge"/>.
    /// </summary>
    public static Frame? Read(Stream input)
    {
        Span<byte> prefix = stackalloc byte[sizeof(uint)];
        int read = input.Read(prefix);
        if (read == 0)
            return null;
        input.ReadExactly(prefix[read..]);
        uint length = BinaryPrimitives.ReadUInt32LittleEndian(prefix);
        if (length > InspectorProtocol.MaxFrameBytes)
        {
            Skip(input, length);
            return new Frame(length, null);
        }
        var payload = new byte[length];
        input.ReadExactly(payload);
        return new Frame(length, payload);
    }

    private static void Skip(Stream input, long length)
    {
        var discard = new byte[64 * 1024];
        while (length > 0)
        {
            int chunk = (int)Math.Min(length, discard.Length);
            input.ReadExactly(discard, 0, chunk);
            length -= chunk;
        }
    }
}

/// <summary>What holds the first object of a path to a leaked instance.</summary>
internal enum RootKindCode : byte
{
    StaticField = 0,
    ThreadStatic = 1,
    StrongHandle = 2,
    PinnedHandle = 3,
    RefCountedHandle = 4,
    Stack = 5,
    FinalizerQueue = 6,
    Unknown = 7,
    LoadedAssembly = 8,
    Thread = 9,
}
