namespace LeakHunter.Inspector.Platform;

/// <summary>
/// What the inspector needs from the operating system: holding a live process still while its heap is read,
/// knowing its parent, and exiting at once. Each supported system is a folder beside this file; a dump file is
/// read the same way everywhere and needs none of this.
/// </summary>
internal interface IInspectorPlatform
{
    /// <summary>Stops every thread of <paramref name="processId"/> until the result is disposed.</summary>
    /// <exception cref="Census.InspectorException">A thread could not be stopped; the census must not go on.</exception>
    IDisposable HoldStill(int processId);

    /// <summary>The inspector's parent now, or null where the system cannot tell; a change means the parent has exited.</summary>
    int? ParentProcessId();

    /// <summary>Ends the inspector at once, without waiting for threads that may be stuck reading the target.</summary>
    void ExitNow(int exitCode);

    /// <summary>Resumes <paramref name="processId"/> if a stop is pending or in force (after a dump writer was killed mid-dump).</summary>
    void Continue(int processId);

    /// <summary>
    /// The writable memory of <paramref name="processId"/>, held still, in address order: what an image of it must copy,
    /// and what reads as zeros. Null where the system cannot tell; the process is then read while held.
    /// </summary>
    List<Census.ImageRange>? WritableMemory(int processId);

    /// <summary>
    /// Copies <paramref name="length"/> bytes of <paramref name="processId"/>'s memory at <paramref name="address"/> to
    /// <paramref name="into"/>, in one piece; the bytes copied, fewer where the range meets an unmapped page.
    /// </summary>
    /// <exception cref="InvalidOperationException">The process has exited.</exception>
    long CopyMemory(int processId, ulong address, nint into, long length);

    /// <summary>
    /// A file with no name in <paramref name="folder"/> that only this user can read, freed by the system when the
    /// inspector closes it or dies; null where the system cannot make one.
    /// </summary>
    Microsoft.Win32.SafeHandles.SafeFileHandle? UnnamedPrivateFile(string folder);

    /// <summary>What the system shows of <paramref name="processId"/> now (its threads, descriptors, mappings), or null where it cannot tell (or the process is gone).</summary>
    Census.SystemSnapshot? ReadSystem(int processId);

    /// <summary>What <paramref name="snapshot"/> holds, with the memory in the GC's <paramref name="gcHeap"/> ranges (sorted, merged) told apart from native memory.</summary>
    Census.SystemResources Resources(Census.SystemSnapshot snapshot, int processId, IReadOnlyList<(ulong Start, ulong End)> gcHeap);

    /// <summary>The ids of <paramref name="processId"/>'s threads now; none where the system cannot tell.</summary>
    IReadOnlySet<int> Tasks(int processId);

    /// <summary>The memory the system could give this process now without swapping (Linux's MemAvailable), or null where it cannot tell.</summary>
    long? AvailableMemory();

    /// <summary>Whether <paramref name="processId"/> has exited (a zombie waiting for its parent included); false where it cannot tell.</summary>
    bool HasExited(int processId);

    /// <summary>The name the system keeps for a thread (15 characters at most on Linux), or null.</summary>
    string? TaskName(int processId, int taskId);

    /// <summary>The process's open descriptors now, each with what it points to; none where the system cannot tell.</summary>
    IReadOnlyDictionary<int, string?> Descriptors(int processId);

    /// <summary>A descriptor's kind by what it points to: <c>file</c>, <c>socket</c>, <c>pipe</c> or <c>other</c>.</summary>
    string DescriptorKind(string? target);

    /// <summary>What a descriptor points to, for a person: a file's path, a socket's protocol and addresses; never contents.</summary>
    string DescribeDescriptor(int processId, string target);
}

/// <summary>The platform the inspector runs on.</summary>
internal static class InspectorPlatform
{
    public static IInspectorPlatform Current { get; } =
        OperatingSystem.IsLinux() ? new Linux.LinuxInspectorPlatform() : new Unsupported.UnsupportedInspectorPlatform();
}
