namespace LeakHunter.Census;

// Shared by the library and the inspector process (linked into both): the explanation of a check's growing types
// as it crosses the pipe, inside an ExplanationReply. The library turns it into the public report model.

/// <summary>One step of a path: the object's type, the field of the previous object that holds it, and its idiom.</summary>
internal sealed record PathStep(string Type, string? Field, string? Note)
{
    /// <summary>The public method that releases the object (Dispose, Close, Shutdown, ...), or null.</summary>
    public string? Closer { get; init; }

    /// <summary>Whether the object was made since the mark.</summary>
    public bool IsNew { get; init; }

    /// <summary>For a timer set to fire once (a Task.Delay's), the milliseconds it was set to fire after; otherwise -1.</summary>
    public int OneShotDelayMs { get; init; } = -1;

    /// <summary>For a dictionary's entries where new instances pile up: the shapes of its newest keys (<c>tenant-N</c>), never their values.</summary>
    public List<string>? KeyShapes { get; init; }
}

/// <summary>A thread started since the mark and still running, whose stack or thread statics are a path's root.</summary>
/// <param name="Name">The thread's name, or null.</param>
/// <param name="StartMethod">The method it runs, <c>Namespace.Type.Method</c>.</param>
/// <param name="StartedBy">The type of that method, outside the runtime's own frames.</param>
/// <param name="StopMethod">The method of <paramref name="StartedBy"/> that releases it, or null.</param>
/// <param name="Threads">How many such threads hold the path's instances.</param>
internal sealed record PathThread(string? Name, string StartMethod, string StartedBy, string? StopMethod, int Threads);

/// <summary>
/// Paths that differ only in array indices and addresses, and how many new instances they hold, and their bytes
/// (scaled up from the traced sample, as the instances are). <paramref name="Cause"/>
/// numbers the cause the path is part of (signatures of one owner share it), or is -1 when no root holds the path
/// (garbage, or objects only waiting for finalization).
/// </summary>
internal sealed record LeakPath(string Type, int Instances, RootKindCode RootKind, string RootName, List<PathStep> Steps, int AccumulationPoint, int Cause = -1)
{
    public long Bytes { get; init; }

    /// <summary>
    /// The bytes this signature's share of its cause's new entries retain (scaled up as its instances are), or -1 when
    /// not measured: the signature is in no cause, or the time limit stopped the dominator computation.
    /// </summary>
    public long RetainedBytes { get; init; } = -1;

    /// <summary>For a <see cref="RootKindCode.Thread"/> root, the thread; otherwise null.</summary>
    public PathThread? Thread { get; init; }
}

/// <summary>The number a <see cref="LeakPath"/>'s cause takes when it is part of none.</summary>
internal static class CauseNumber
{
    /// <summary>No root holds the path, or only the finalizer queue or work in flight on a thread.</summary>
    public const int None = -1;
}

/// <summary>Names of roots that both sides recognise.</summary>
internal static class RootNames
{
    /// <summary>
    /// A strong or pinned handle on an <c>Object[]</c>: the runtime's own table of references (statics, interned
    /// strings, loaded assemblies' objects), never a handle user code allocated.
    /// </summary>
    public const string RuntimeHandleTable = "the runtime's own handle table (a pinned Object[] of statics, interned strings and loaded assemblies' objects)";
}

internal sealed record ReferrerCount(string Type, string Field, int Count);

internal sealed record TypeReferrerCounts(string Type, List<ReferrerCount> From);

/// <summary>Everything the inspector found about the new instances of the growing types.</summary>
/// <param name="Leaks">The signatures, most instances first.</param>
/// <param name="Referrers">Who refers to the new instances, per growing type.</param>
/// <param name="NewInstances">New instances found, traced or not.</param>
/// <param name="PartialReason">Why the explanation stopped short, or null when it is complete.</param>
/// <param name="GraphObjects">Objects in the heap graph the paths were searched on.</param>
/// <param name="GraphBytes">The inspector's memory for that graph and its search, in bytes.</param>
/// <param name="Warnings">What could not be read or was cut short (roots, fields, delegates, referrer counts), each kind once with its count.</param>
internal sealed record Explanation(List<LeakPath> Leaks, List<TypeReferrerCounts> Referrers, int NewInstances, string? PartialReason, long GraphObjects, long GraphBytes,
    List<string> Warnings)
{
    /// <summary>How long the causes' retained sizes took (the heap's dominator tree), in milliseconds.</summary>
    public double RetainedSizesMs { get; init; }

    /// <summary>The inspector's memory for the dominator tree, in bytes, on top of <see cref="GraphBytes"/>.</summary>
    public long RetainedSizesBytes { get; init; }

    /// <summary>How long the process was stopped for this explanation, in milliseconds: set by the client from the reply.</summary>
    public double TargetPauseMs { get; init; }
}

internal static class ExplanationWire
{
    public static void Write(BinaryWriter writer, Explanation explanation)
    {
        writer.Write(explanation.NewInstances);
        writer.Write(explanation.PartialReason ?? string.Empty);
        writer.Write(explanation.GraphObjects);
        writer.Write(explanation.GraphBytes);
        writer.Write(explanation.Leaks.Count);
        foreach (LeakPath leak in explanation.Leaks)
        {
            writer.Write(leak.Type);
            writer.Write(leak.Instances);
            writer.Write(leak.Bytes);
            writer.Write(leak.RetainedBytes);
            writer.Write((byte)leak.RootKind);
            writer.Write(leak.RootName);
            writer.Write(leak.AccumulationPoint);
            writer.Write(leak.Cause);
            writer.Write(leak.Thread is not null);
            if (leak.Thread is { } thread)
            {
                writer.Write(thread.Name ?? string.Empty);
                writer.Write(thread.StartMethod);
                writer.Write(thread.StartedBy);
                writer.Write(thread.StopMethod ?? string.Empty);
                writer.Write(thread.Threads);
            }
            writer.Write(leak.Steps.Count);
            foreach (PathStep step in leak.Steps)
            {
                writer.Write(step.Type);
                writer.Write(step.Field ?? string.Empty);
                writer.Write(step.Note ?? string.Empty);
                writer.Write(step.Closer ?? string.Empty);
                writer.Write(step.IsNew);
                writer.Write(step.OneShotDelayMs);
                writer.Write(step.KeyShapes?.Count ?? 0);
                foreach (string shape in step.KeyShapes ?? [])
                    writer.Write(shape);
            }
        }
        writer.Write(explanation.Referrers.Count);
        foreach (TypeReferrerCounts type in explanation.Referrers)
        {
            writer.Write(type.Type);
            writer.Write(type.From.Count);
            foreach (ReferrerCount from in type.From)
            {
                writer.Write(from.Type);
                writer.Write(from.Field);
                writer.Write(from.Count);
            }
        }
        writer.Write(explanation.RetainedSizesMs);
        writer.Write(explanation.RetainedSizesBytes);
        writer.Write(explanation.Warnings.Count);
        foreach (string warning in explanation.Warnings)
            writer.Write(warning);
    }

    public static Explanation Read(BinaryReader reader)
    {
        int newInstances = reader.ReadInt32();
        string partial = reader.ReadString();
        long graphObjects = reader.ReadInt64();
        long graphBytes = reader.ReadInt64();
        var leaks = new List<LeakPath>();
        for (int i = WireValues.ReadCount(reader, 1, "leak paths"); i > 0; i--)
        {
            string type = reader.ReadString();
            int instances = reader.ReadInt32();
            long bytes = reader.ReadInt64();
            long retainedBytes = reader.ReadInt64();
            var kind = (RootKindCode)reader.ReadByte();
            string root = reader.ReadString();
            int accumulationPoint = reader.ReadInt32();
            int cause = reader.ReadInt32();
            PathThread? thread = reader.ReadBoolean()
                ? new PathThread(NullIfEmpty(reader.ReadString()), reader.ReadString(), reader.ReadString(), NullIfEmpty(reader.ReadString()), reader.ReadInt32())
                : null;
            var steps = new List<PathStep>();
            for (int s = WireValues.ReadCount(reader, 5 + 2 * sizeof(int), "path steps"); s > 0; s--)
            {
                var step = new PathStep(reader.ReadString(), NullIfEmpty(reader.ReadString()), NullIfEmpty(reader.ReadString()))
                {
                    Closer = NullIfEmpty(reader.ReadString()),
                    IsNew = reader.ReadBoolean(),
                    OneShotDelayMs = reader.ReadInt32(),
                };
                var shapes = new List<string>();
                for (int k = WireValues.ReadCount(reader, 1, "key shapes"); k > 0; k--)
                    shapes.Add(reader.ReadString());
                steps.Add(shapes.Count > 0 ? step with { KeyShapes = shapes } : step);
            }
            leaks.Add(new LeakPath(type, instances, kind, root, steps, accumulationPoint, cause) { Bytes = bytes, RetainedBytes = retainedBytes, Thread = thread });
        }
        var referrers = new List<TypeReferrerCounts>();
        for (int i = WireValues.ReadCount(reader, 1, "referred types"); i > 0; i--)
        {
            string type = reader.ReadString();
            var from = new List<ReferrerCount>();
            for (int f = WireValues.ReadCount(reader, 1 + 1 + sizeof(int), "referrers"); f > 0; f--)
                from.Add(new ReferrerCount(reader.ReadString(), reader.ReadString(), reader.ReadInt32()));
            referrers.Add(new TypeReferrerCounts(type, from));
        }
        double retainedSizesMs = reader.ReadDouble();
        long retainedSizesBytes = reader.ReadInt64();
        var warnings = new List<string>();
        for (int i = WireValues.ReadCount(reader, 1, "warnings"); i > 0; i--)
            warnings.Add(reader.ReadString());
        return new Explanation(leaks, referrers, newInstances, NullIfEmpty(partial), graphObjects, graphBytes, warnings)
        {
            RetainedSizesMs = retainedSizesMs,
            RetainedSizesBytes = retainedSizesBytes,
        };
    }

    private static string? NullIfEmpty(string value) => value.Length == 0 ? null : value;
}
