namespace LeakHunter.Platform;

/// <summary>
/// What LeakHunter needs from the operating system on the library's side: declaring the inspector as a tracer and
/// finding the .NET processes there are. Each supported system is a folder beside this file; the inspector has its
/// own seam for stopping threads and watching its parent.
/// </summary>
internal interface IHostPlatform
{
    /// <summary>Whether live processes (this one included) can be read here; dump files can be read everywhere.</summary>
    bool ReadsLiveProcesses { get; }

    /// <summary>Lets <paramref name="tracerPid"/> trace this process, where the system asks for that.</summary>
    void DeclareTracer(int tracerPid);

    /// <summary>The processes whose .NET runtime accepts diagnostics, by id.</summary>
    IReadOnlyList<int> DotnetProcesses();

    /// <summary>The command line <paramref name="processId"/> was started with, or an empty string when it cannot be read.</summary>
    string CommandLine(int processId);

    /// <summary>
    /// The bytes this process's native allocator (malloc) has handed out and not had back, or -1 where it cannot say.
    /// Memory malloc hands out is not resident until it is written, so a leak of blocks nobody touches shows only here.
    /// </summary>
    long NativeAllocatorInUseBytes();
}

/// <summary>The platform LeakHunter runs on.</summary>
internal static class HostPlatform
{
    private static IHostPlatform s_current = OperatingSystem.IsLinux() ? new Linux.LinuxPlatform() : new Unsupported.UnsupportedPlatform();

    public static IHostPlatform Current => Volatile.Read(ref s_current);

    /// <summary>Fails with the one clear error of an unsupported system unless live processes can be read here.</summary>
    /// <param name="what">What was asked for, for the message: "A leak check", "A census of process 42".</param>
    public static void ThrowIfLiveProcessesUnsupported(string what)
    {
        if (!Current.ReadsLiveProcesses)
            throw Unsupported.UnsupportedPlatform.Failure(what);
    }

    /// <summary>Runs as if on <paramref name="platform"/> until the result is disposed: how tests reach the other platforms' paths.</summary>
    internal static IDisposable Use(IHostPlatform platform)
    {
        IHostPlatform previous = Interlocked.Exchange(ref s_current, platform);
        return new Restore(previous);
    }

    private sealed class Restore(IHostPlatform previous) : IDisposable
    {
        public void Dispose() => Volatile.Write(ref s_current, previous);
    }
}
