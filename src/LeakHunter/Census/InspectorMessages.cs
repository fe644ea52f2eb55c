namespace LeakHunter.Census;

// Shared by the library and the inspector process (linked into both): every message that crosses the pipe, each
// laid out once, by its own Write and Read, so the two sides cannot disagree on a layout. A Frame (see
// InspectorProtocol.cs) carries one message; its kind byte says which.

/// <summary>A message with one layout on the wire.</summary>
internal interface IWireMessage
{
    void Write(BinaryWriter writer);
}

/// <summary>A message that can be read back: <c>Read</c> reverses <see cref="IWireMessage.Write"/>.</summary>
internal interface IWireMessage<TSelf> : IWireMessage
    where TSelf : IWireMessage<TSelf>
{
    static abstract TSelf Read(BinaryReader reader);
}

/// <summary>A request; its command is the kind byte of its frame.</summary>
internal interface IInspectorRequest : IWireMessage
{
    InspectorCommand Command { get; }
}

/// <summary>A request the inspector answers with a <typeparamref name="TReply"/> when it succeeds, and a <see cref="FailureReply"/> when not.</summary>
internal interface IInspectorRequest<TReply> : IInspectorRequest
    where TReply : IWireMessage<TReply>
{
}

/// <summary>
/// The inspector's first frame, after <see cref="InspectorProtocol.ReadyMarker"/>. Its layout never changes, so
/// any two builds can read each other's versions and name a mismatch.
/// </summary>
/// <param name="ProtocolVersion">The <see cref="InspectorProtocol.Version"/> the inspector was built with.</param>
/// <param name="InspectorVersion">The inspector assembly's informational version.</param>
internal sealed record HandshakeMessage(int ProtocolVersion, string InspectorVersion) : IWireMessage<HandshakeMessage>
{
    public void Write(BinaryWriter writer)
    {
        writer.Write(ProtocolVersion);
        writer.Write(InspectorVersion);
    }

    public static HandshakeMessage Read(BinaryReader reader) => new(reader.ReadInt32(), reader.ReadString());
}

/// <summary>Where a request that reads the heap reads it, and how long the inspector may take before it gives up and exits.</summary>
internal readonly record struct HeapTarget(CensusRoute Route, string DumpPath, TimeSpan Timeout)
{
    public void Write(BinaryWriter writer)
    {
        writer.Write((byte)Route);
        writer.Write(DumpPath);
        WireValues.WriteDuration(writer, Timeout);
    }

    public static HeapTarget Read(BinaryReader reader)
    {
        var route = (CensusRoute)reader.ReadByte();
        if (!Enum.IsDefined(route))
            throw new InvalidDataException($"census route {(byte)route} is not one this inspector knows");
        return new HeapTarget(route, reader.ReadString(), WireValues.ReadDuration(reader, "census timeout"));
    }
}

/// <summary>Counts the objects of the heap by type; the inspector keeps the histogram under <paramref name="CensusId"/>.</summary>
/// <param name="CensusId">The number the histogram and the resources' identities are kept under.</param>
/// <param name="Target">Where the heap is read.</param>
/// <param name="ReachableOnly">Count only what a GC root reaches.</param>
/// <param name="CountResources">Count the threads, handles, descriptors, native memory and assemblies too.</param>
internal sealed record CensusRequest(int CensusId, HeapTarget Target, bool ReachableOnly, bool CountResources = true)
    : IInspectorRequest<CensusReplyMessage>, IWireMessage<CensusRequest>
{
    public InspectorCommand Command => InspectorCommand.Census;

    public void Write(BinaryWriter writer)
    {
        writer.Write(CensusId);
        Target.Write(writer);
        writer.Write(ReachableOnly);
        writer.Write(CountResources);
    }

    public static CensusRequest Read(BinaryReader reader) => new(reader.ReadInt32(), HeapTarget.Read(reader), reader.ReadBoolean(), reader.ReadBoolean());
}

/// <summary>
/// The totals of one census, what could not be read while counting, and the process's resources beyond its objects
/// at that moment; its histogram stays in the inspector.
/// </summary>
internal sealed record CensusReplyMessage(long Objects, long Bytes, double PauseMs, long UnreadableBytes, IReadOnlyList<string> Warnings,
    IReadOnlyList<ResourceReading> Resources) : IWireMessage<CensusReplyMessage>
{
    public void Write(BinaryWriter writer)
    {
        writer.Write(Objects);
        writer.Write(Bytes);
        writer.Write(PauseMs);
        writer.Write(UnreadableBytes);
        WireValues.WriteStrings(writer, Warnings);
        writer.Write(Resources.Count);
        foreach (ResourceReading reading in Resources)
        {
            writer.Write(reading.Resource);
            writer.Write(reading.Kind);
            writer.Write(reading.Count);
        }
    }

    public static CensusReplyMessage Read(BinaryReader reader)
    {
        (long objects, long bytes, double pauseMs, long unreadable) = (reader.ReadInt64(), reader.ReadInt64(), reader.ReadDouble(), reader.ReadInt64());
        string[] warnings = WireValues.ReadStrings(reader, "warnings");
        var resources = new List<ResourceReading>();
        for (int i = WireValues.ReadCount(reader, 1 + 1 + sizeof(long), "resource readings"); i > 0; i--)
            resources.Add(new ResourceReading(reader.ReadString(), reader.ReadString(), reader.ReadInt64()));
        return new CensusReplyMessage(objects, bytes, pauseMs, unreadable, warnings, resources);
    }
}

/// <summary>One count, at one census, of a resource the GC heap's objects do not show: <c>gcHandles</c> of kind <c>weak</c>, say.</summary>
internal sealed record ResourceReading(string Resource, string Kind, long Count);

/// <summary>
/// The names under which a census counts the items of collections of value types (a <c>List&lt;int&gt;</c>'s, a
/// <c>Channel&lt;Guid&gt;</c>'s queue's), beside the objects: such items are no objects of their own, so only their
/// count shows a collection that gains one per call.
/// </summary>
internal static class ItemCounts
{
    public const string Prefix = "items of ";

    /// <summary>The name the items of <paramref name="collectionType"/> are counted under.</summary>
    public static string Of(string collectionType) => Prefix + collectionType;

    /// <summary>Whether <paramref name="type"/> names items rather than objects.</summary>
    public static bool Are(string type) => type.StartsWith(Prefix, StringComparison.Ordinal);
}

/// <summary>The resources a census counts besides objects, as the JSON report names them, and the kinds of each.</summary>
internal static class ResourceNames
{
    public const string Threads = "threads";
    public const string GcHandles = "gcHandles";
    public const string FinalizationQueue = "finalizationQueue";
    public const string FileDescriptors = "fileDescriptors";
    public const string NativeMemory = "nativeMemory";
    public const string Assemblies = "assemblies";

    /// <summary>Every resource, in the order reports list them.</summary>
    public static readonly string[] All = [Threads, GcHandles, FinalizationQueue, FileDescriptors, NativeMemory, Assemblies];

    /// <summary>
    /// The types whose GC handles are the runtime's own, taken for its live threads and for collectible contexts that
    /// are asked to unload: they go with those, and are never told as handles the code should free.
    /// </summary>
    public static readonly string[] RuntimeOwnHandleTargets =
        ["System.Threading.Thread", "System.Runtime.Loader.AssemblyLoadContext", "System.Reflection.LoaderAllocator", "System.Reflection.LoaderAllocatorScout"];

    /// <summary>The reading of a resource's own count; every other kind is part of its breakdown.</summary>
    public const string Total = "total";

    /// <summary>
    /// Native memory the allocator handed out and did not get back, read by the process under test itself (only it can
    /// ask its allocator): it sees blocks nobody wrote to yet, which are not resident.
    /// </summary>
    public const string MallocInUse = "mallocInUse";

    /// <summary>
    /// Every reading a census may carry, in the order reports list them: a check keeps them in one array sized before
    /// its first census, so its own bookkeeping never grows while it counts.
    /// </summary>
    public static readonly (string Resource, string Kind)[] Slots =
    [
        (Threads, Total), (Threads, "os"), (Threads, "managed"),
        (GcHandles, Total), (GcHandles, "strong"), (GcHandles, "pinned"), (GcHandles, "weak"), (GcHandles, "dependent"), (GcHandles, "refCounted"),
        (FinalizationQueue, Total),
        (FileDescriptors, Total), (FileDescriptors, "file"), (FileDescriptors, "socket"), (FileDescriptors, "pipe"), (FileDescriptors, "other"),
        (NativeMemory, Total), (NativeMemory, "anonymous"), (NativeMemory, "fileBacked"), (NativeMemory, "gcHeapCommitted"), (NativeMemory, MallocInUse),
        (Assemblies, Total), (Assemblies, "loaded"), (Assemblies, "dynamic"), (Assemblies, "collectible"), (Assemblies, "collectibleContexts"),
    ];

    /// <summary>The kinds a resource is broken down into, as <see cref="Slots"/> lists them.</summary>
    public static IEnumerable<string> KindsOf(string resource) => Slots.Where(s => s.Resource == resource && s.Kind != Total).Select(s => s.Kind);

    /// <summary>The index of a reading in <see cref="Slots"/>, or -1 for one this build does not know.</summary>
    public static int SlotOf(string resource, string kind) => Array.IndexOf(Slots, (resource, kind));

    /// <summary>Writes census <paramref name="census"/>'s readings into its stretch of <paramref name="series"/>, -1 where it carried none.</summary>
    public static void Record(long[] series, int census, IReadOnlyList<ResourceReading> readings)
    {
        Array.Fill(series, -1, census * Slots.Length, Slots.Length);
        foreach (ResourceReading reading in readings)
        {
            int slot = SlotOf(reading.Resource, reading.Kind);
            if (slot >= 0)
                series[census * Slots.Length + slot] = reading.Count;
        }
    }
}

/// <summary>Asks for the histograms of some censuses of this check, in the order given.</summary>
internal sealed record HistogramsRequest(IReadOnlyList<int> CensusIds) : IInspectorRequest<HistogramsReply>, IWireMessage<HistogramsRequest>
{
    public InspectorCommand Command => InspectorCommand.GetHistograms;

    public void Write(BinaryWriter writer)
    {
        writer.Write(CensusIds.Count);
        foreach (int id in CensusIds)
            writer.Write(id);
    }

    public static HistogramsRequest Read(BinaryReader reader)
    {
        var ids = new int[WireValues.ReadCount(reader, sizeof(int), "census ids")];
        for (int i = 0; i < ids.Length; i++)
            ids[i] = reader.ReadInt32();
        return new HistogramsRequest(ids);
    }
}

/// <summary>One type's counts and bytes across a series of censuses.</summary>
internal sealed record TypeSeries(string Type, long[] Counts, long[] Bytes);

/// <summary>
/// Counts and bytes per type for <paramref name="CensusCount"/> censuses; a type none of them holds is left out.
/// </summary>
internal sealed record HistogramsReply(int CensusCount, IReadOnlyList<TypeSeries> Series) : IWireMessage<HistogramsReply>
{
    public void Write(BinaryWriter writer)
    {
        writer.Write(CensusCount);
        writer.Write(Series.Count);
        foreach (TypeSeries series in Series)
        {
            if (series.Counts.Length != CensusCount || series.Bytes.Length != CensusCount)
                throw new InvalidOperationException($"The series of {series.Type} covers {series.Counts.Length} censuses, not {CensusCount}.");
            writer.Write(series.Type);
            for (int c = 0; c < CensusCount; c++)
            {
                writer.Write(series.Counts[c]);
                writer.Write(series.Bytes[c]);
            }
        }
    }

    public static HistogramsReply Read(BinaryReader reader)
    {
        int censusCount = WireValues.ReadCount(reader, 0, "censuses");
        int typeCount = WireValues.ReadCount(reader, 1 + (2L * sizeof(long) * censusCount), "types");
        var series = new List<TypeSeries>(typeCount);
        for (int t = 0; t < typeCount; t++)
        {
            string type = reader.ReadString();
            var counts = new long[censusCount];
            var bytes = new long[censusCount];
            for (int c = 0; c < censusCount; c++)
            {
                counts[c] = reader.ReadInt64();
                bytes[c] = reader.ReadInt64();
            }
            series.Add(new TypeSeries(type, counts, bytes));
        }
        return new HistogramsReply(censusCount, series);
    }
}

/// <summary>Forgets the censuses and marks of the last check.</summary>
internal sealed record ResetRequest : IInspectorRequest<Acknowledgement>, IWireMessage<ResetRequest>
{
    public InspectorCommand Command => InspectorCommand.Reset;

    public void Write(BinaryWriter writer)
    {
    }

    public static ResetRequest Read(BinaryReader reader) => new();
}

/// <summary>Asks for the managed frames of the finalizer thread's stack.</summary>
/// <param name="Target">Where the threads are read.</param>
internal sealed record FinalizerStackRequest(HeapTarget Target) : IInspectorRequest<FinalizerStackReply>, IWireMessage<FinalizerStackRequest>
{
    public InspectorCommand Command => InspectorCommand.FinalizerStack;

    public void Write(BinaryWriter writer) => Target.Write(writer);

    public static FinalizerStackRequest Read(BinaryReader reader) => new(HeapTarget.Read(reader));
}

/// <summary>The finalizer thread's managed frames, innermost first, each as <c>Type.Method</c>.</summary>
internal sealed record FinalizerStackReply(IReadOnlyList<string> Frames) : IWireMessage<FinalizerStackReply>
{
    public void Write(BinaryWriter writer)
    {
        WireValues.WriteStrings(writer, Frames);
    }

    public static FinalizerStackReply Read(BinaryReader reader)
    {
        string[] frames = WireValues.ReadStrings(reader, "frames");
        return new FinalizerStackReply(frames);
    }
}

/// <summary>What made the resources that grew since census <paramref name="SinceCensusId"/>: their new threads, handles, descriptors and assemblies, grouped.</summary>
/// <param name="Target">Where the process is read.</param>
/// <param name="SinceCensusId">The census whose resources count as old.</param>
/// <param name="Resources">The resources to explain, as <see cref="ResourceNames"/> names them.</param>
internal sealed record ExplainResourcesRequest(HeapTarget Target, int SinceCensusId, IReadOnlyList<string> Resources)
    : IInspectorRequest<ResourceFindingsReply>, IWireMessage<ExplainResourcesRequest>
{
    public InspectorCommand Command => InspectorCommand.ExplainResources;

    public void Write(BinaryWriter writer)
    {
        Target.Write(writer);
        writer.Write(SinceCensusId);
        WireValues.WriteStrings(writer, Resources);
    }

    public static ExplainResourcesRequest Read(BinaryReader reader)
    {
        HeapTarget target = HeapTarget.Read(reader);
        int since = reader.ReadInt32();
        string[] resources = WireValues.ReadStrings(reader, "resources");
        return new ExplainResourcesRequest(target, since, resources);
    }
}

/// <summary>
/// One group of a resource's new items that share what they are: threads with one start method and stack top, GC
/// handles of one kind on one type of object, descriptors to one file or peer, assemblies of one maker.
/// </summary>
/// <param name="Resource">The resource, as <see cref="ResourceNames"/> names it.</param>
/// <param name="Kind">What the items are: <c>thread</c>, <c>weak</c>, <c>socket</c>, <c>dynamic</c>, <c>XmlSerializer</c>, ...</param>
/// <param name="What">The items, described: a thread's name and start method, a handle's target type, a descriptor's path or addresses.</param>
/// <param name="Count">New items in the group.</param>
/// <param name="OwnerType">The managed type that owns the items, when one does: the Thread, the SafeHandle, the handle's target.</param>
/// <param name="Details">More lines: a thread's top frames, innermost first, or one item of the group.</param>
internal sealed record ResourceFindingMessage(string Resource, string Kind, string What, int Count, string? OwnerType, IReadOnlyList<string> Details);

/// <summary>The groups of new items of the resources asked about, most items first within each resource.</summary>
internal sealed record ResourceFindingsReply(IReadOnlyList<ResourceFindingMessage> Findings) : IWireMessage<ResourceFindingsReply>
{
    public void Write(BinaryWriter writer)
    {
        writer.Write(Findings.Count);
        foreach (ResourceFindingMessage finding in Findings)
        {
            writer.Write(finding.Resource);
            writer.Write(finding.Kind);
            writer.Write(finding.What);
            writer.Write(finding.Count);
            writer.Write(finding.OwnerType ?? "");
            WireValues.WriteStrings(writer, finding.Details);
        }
    }

    public static ResourceFindingsReply Read(BinaryReader reader)
    {
        var findings = new ResourceFindingMessage[WireValues.ReadCount(reader, 4 + sizeof(int) * 2, "resource findings")];
        for (int i = 0; i < findings.Length; i++)
        {
            (string resource, string kind, string what, int count, string owner) = (reader.ReadString(), reader.ReadString(), reader.ReadString(), reader.ReadInt32(), reader.ReadString());
            string[] details = WireValues.ReadStrings(reader, "finding details");
            findings[i] = new ResourceFindingMessage(resource, kind, what, count, owner.Length == 0 ? null : owner, details);
        }
        return new ResourceFindingsReply(findings);
    }
}

/// <summary>Tells the inspector to exit; it sends no reply.</summary>
internal sealed record QuitRequest : IInspectorRequest, IWireMessage<QuitRequest>
{
    public InspectorCommand Command => InspectorCommand.Quit;

    public void Write(BinaryWriter writer)
    {
    }

    public static QuitRequest Read(BinaryReader reader) => new();
}

/// <summary>The reply to a request that returns nothing but its success.</summary>
internal sealed record Acknowledgement : IWireMessage<Acknowledgement>
{
    public void Write(BinaryWriter writer)
    {
    }

    public static Acknowledgement Read(BinaryReader reader) => new();
}

/// <summary>Notes where the instances of some types are now, so a later explanation can tell the new ones.</summary>
/// <param name="Target">Where the heap is read.</param>
/// <param name="Types">The types whose instances are noted.</param>
/// <param name="EveryInstanceIsNew">Whether every instance counts as new, so the heap need not be read now.</param>
/// <param name="KeepAddresses">
/// With <paramref name="EveryInstanceIsNew"/>: the addresses the previous mark noted stay, so the explanation knows which
/// objects existed then and routes paths through them (a watch, whose first census is marked).
/// </param>
internal sealed record MarkRequest(HeapTarget Target, IReadOnlyList<string> Types, bool EveryInstanceIsNew, bool KeepAddresses = false)
    : IInspectorRequest<MarkReply>, IWireMessage<MarkRequest>
{
    public InspectorCommand Command => InspectorCommand.Mark;

    public void Write(BinaryWriter writer)
    {
        Target.Write(writer);
        WireValues.WriteStrings(writer, Types);
        writer.Write(EveryInstanceIsNew);
        writer.Write(KeepAddresses);
    }

    public static MarkRequest Read(BinaryReader reader)
    {
        HeapTarget target = HeapTarget.Read(reader);
        string[] types = WireValues.ReadStrings(reader, "types");
        return new MarkRequest(target, types, reader.ReadBoolean(), reader.ReadBoolean());
    }
}

/// <summary>How long the process under test was held still while the instances were marked.</summary>
internal sealed record MarkReply(double PauseMs) : IWireMessage<MarkReply>
{
    public void Write(BinaryWriter writer) => writer.Write(PauseMs);

    public static MarkReply Read(BinaryReader reader) => new(reader.ReadDouble());
}

/// <summary>Paths from the roots to the instances of the marked types that are new since the mark.</summary>
/// <param name="Target">Where the heap is read.</param>
/// <param name="MaxInstancesPerType">How many new instances of each type are traced; the rest are counted.</param>
/// <param name="TimeLimit">How long the search and the naming may take before the explanation is partial.</param>
/// <param name="Types">The marked types to explain (those whose growth was confirmed); empty explains every marked type.</param>
internal sealed record ExplainRequest(HeapTarget Target, int MaxInstancesPerType, TimeSpan TimeLimit, IReadOnlyList<string> Types)
    : IInspectorRequest<ExplanationReply>, IWireMessage<ExplainRequest>
{
    public InspectorCommand Command => InspectorCommand.Explain;

    public void Write(BinaryWriter writer)
    {
        Target.Write(writer);
        writer.Write(MaxInstancesPerType);
        WireValues.WriteDuration(writer, TimeLimit);
        WireValues.WriteStrings(writer, Types);
    }

    public static ExplainRequest Read(BinaryReader reader)
    {
        HeapTarget target = HeapTarget.Read(reader);
        int maxInstances = reader.ReadInt32();
        TimeSpan timeLimit = WireValues.ReadDuration(reader, "explanation time limit");
        string[] types = WireValues.ReadStrings(reader, "types");
        return new ExplainRequest(target, maxInstances, timeLimit, types);
    }
}

/// <summary>Paths from the roots to the objects that the given weak GC handles still point at.</summary>
internal sealed record ExplainWatchedRequest(HeapTarget Target, TimeSpan TimeLimit, IReadOnlyList<ulong> WeakHandles)
    : IInspectorRequest<ExplanationReply>, IWireMessage<ExplainWatchedRequest>
{
    public InspectorCommand Command => InspectorCommand.ExplainWatched;

    public void Write(BinaryWriter writer)
    {
        Target.Write(writer);
        WireValues.WriteDuration(writer, TimeLimit);
        writer.Write(WeakHandles.Count);
        foreach (ulong handle in WeakHandles)
            writer.Write(handle);
    }

    public static ExplainWatchedRequest Read(BinaryReader reader)
    {
        HeapTarget target = HeapTarget.Read(reader);
        TimeSpan timeLimit = WireValues.ReadDuration(reader, "explanation time limit");
        var handles = new ulong[WireValues.ReadCount(reader, sizeof(ulong), "weak handles")];
        for (int i = 0; i < handles.Length; i++)
            handles[i] = reader.ReadUInt64();
        return new ExplainWatchedRequest(target, timeLimit, handles);
    }
}

/// <summary>An explanation, and how long the process under test was held still for it.</summary>
internal sealed record ExplanationReply(double PauseMs, Explanation Explanation) : IWireMessage<ExplanationReply>
{
    public void Write(BinaryWriter writer)
    {
        writer.Write(PauseMs);
        ExplanationWire.Write(writer, Explanation);
    }

    public static ExplanationReply Read(BinaryReader reader) => new(reader.ReadDouble(), ExplanationWire.Read(reader));
}

/// <summary>The body of every reply whose status is not <see cref="InspectorStatus.Ok"/>: what went wrong.</summary>
internal sealed record FailureReply(string Message) : IWireMessage<FailureReply>
{
    public void Write(BinaryWriter writer) => writer.Write(Message);

    public static FailureReply Read(BinaryReader reader) => new(reader.ReadString());
}

/// <summary>Layouts of the values several messages share, and the checks that keep a bad frame from costing more than its reply.</summary>
internal static class WireValues
{
    public static void WriteDuration(BinaryWriter writer, TimeSpan duration) => writer.Write(duration.Ticks);

    /// <summary>A count, then each string: what <see cref="ReadStrings"/> reads back.</summary>
    public static void WriteStrings(BinaryWriter writer, IReadOnlyCollection<string> strings)
    {
        writer.Write(strings.Count);
        foreach (string value in strings)
            writer.Write(value);
    }

    /// <summary>The strings <see cref="WriteStrings"/> wrote; <paramref name="what"/> names them in a malformed frame's error.</summary>
    public static string[] ReadStrings(BinaryReader reader, string what)
    {
        var strings = new string[ReadCount(reader, 1, what)];
        for (int i = 0; i < strings.Length; i++)
            strings[i] = reader.ReadString();
        return strings;
    }

    public static TimeSpan ReadDuration(BinaryReader reader, string what)
    {
        long ticks = reader.ReadInt64();
        return ticks > 0 ? TimeSpan.FromTicks(ticks) : throw new InvalidDataException($"the {what} of {ticks} ticks is not positive");
    }

    /// <summary>
    /// Reads the count of a list whose items take at least <paramref name="minBytesEach"/> bytes, and checks the
    /// rest of the body can hold that many: a corrupt count must not make the reader allocate gigabytes.
    /// </summary>
    public static int ReadCount(BinaryReader reader, long minBytesEach, string what)
    {
        int count = reader.ReadInt32();
        if (count < 0)
            throw new InvalidDataException($"it claims {count} {what}");
        Stream body = reader.BaseStream;
        if (body.CanSeek && count * minBytesEach > body.Length - body.Position)
            throw new InvalidDataException($"it claims {count} {what}, more than its {body.Length - body.Position} remaining bytes can hold");
        return count;
    }
}
