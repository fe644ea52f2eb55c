using LeakHunter.Census;

namespace LeakHunter;

/// <summary>
/// The names of the resources a report counts besides objects (<see cref="ResourceUsage.Name"/>,
/// <see cref="ResourceCount.Name"/>), as the JSON report spells them: compare with these, not with string literals.
/// </summary>
/// <example>
/// <code>
/// ResourceUsage? threads = report.Resources.FirstOrDefault(r => r.Name == LeakResourceNames.Threads);
/// </code>
/// </example>
public static class LeakResourceNames
{
    /// <summary>The process's threads, operating-system and managed.</summary>
    public const string Threads = ResourceNames.Threads;

    /// <summary>GC handles, by kind: strong, pinned, weak, dependent, ref-counted.</summary>
    public const string GcHandles = ResourceNames.GcHandles;

    /// <summary>Objects ready for their finalizer that it has not run yet.</summary>
    public const string FinalizationQueue = ResourceNames.FinalizationQueue;

    /// <summary>Open file descriptors, by kind: file, socket, pipe, other.</summary>
    public const string FileDescriptors = ResourceNames.FileDescriptors;

    /// <summary>Native memory in bytes: resident memory outside the GC's, and what the allocator handed out.</summary>
    public const string NativeMemory = ResourceNames.NativeMemory;

    /// <summary>Loaded assemblies, by kind: loaded, dynamic, collectible.</summary>
    public const string Assemblies = ResourceNames.Assemblies;

    /// <summary>Every resource name, in the order reports list them.</summary>
    public static IReadOnlyList<string> All { get; } = ResourceNames.All;
}
