using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using LeakHunter.Census;
using LeakHunter.Inspector.Census;

namespace LeakHunter.Inspector.Platform.Linux;

/// <summary>
/// Stops every thread of the process under test for the length of a scan, with PTRACE_SEIZE and PTRACE_INTERRUPT.
/// </summary>
/// <remarks>
/// A plain PTRACE_ATTACH sends SIGSTOP: if the inspector dies after sending it and before collecting the stop,
/// the signal stays pending and later stops the whole process, with no one left to resume it. Seizing sends no
/// signal at all, so whenever the inspector dies, the kernel detaches and the process under test runs on.
/// </remarks>
[SupportedOSPlatform("linux")]
internal sealed partial class ProcessFreezer : IDisposable
{
    private const int PtraceDetach = 17;
    private const int PtraceSeize = 0x4206;
    private const int PtraceInterrupt = 0x4207;
    private const int WaitAllChildren = 0x40000000; // __WALL: also wait for threads, which are not our children
    private const int PtraceEventStop = 128;
    private const int NoSuchProcess = 3; // ESRCH
    private const int Interrupted = 4; // EINTR
    private const int NoChild = 10; // ECHILD

    // An exit code of its own, so the library's message can tell this exit from the others.
    private const int CouldNotReleaseExitCode = 5;

    private readonly List<(int ThreadId, int PendingSignal)> _stopped = new();

    private ProcessFreezer()
    {
    }

    /// <summary>Stops every thread of <paramref name="processId"/>, threads started meanwhile included.</summary>
    public static ProcessFreezer Freeze(int processId)
    {
        var freezer = new ProcessFreezer();
        try
        {
            var seen = new HashSet<int>();
            bool foundNew;
            do
            {
                // A thread not yet stopped may start another; look again until a pass finds none.
                foundNew = false;
                foreach (int threadId in ThreadsOf(processId))
                {
                    if (!seen.Add(threadId))
                        continue;
                    foundNew = true;
                    freezer.Stop(processId, threadId);
                }
            }
            while (foundNew);
            return freezer;
        }
        catch
        {
            freezer.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Lets every thread run again, handing back any signal that arrived while it was stopped. A thread that has
    /// exited meanwhile needs nothing. A thread that cannot be let go any other way is let go by exiting: the kernel
    /// detaches every tracee of a tracer that exits, and a process left frozen is worse than a lost inspector.
    /// </summary>
    public void Dispose()
    {
        var notReleased = new List<string>();
        foreach ((int threadId, int pendingSignal) in _stopped)
        {
            if (ptrace(PtraceDetach, threadId, 0, pendingSignal) != 0 && Marshal.GetLastPInvokeError() is int error and not NoSuchProcess)
                notReleased.Add($"thread {threadId} ({Describe(error)})");
        }
        _stopped.Clear();
        if (notReleased.Count > 0)
        {
            Console.Error.WriteLine($"leakhunter inspector: PTRACE_DETACH failed for {string.Join(", ", notReleased)}; exiting so the kernel lets the process under test run.");
            InspectorPlatform.Current.ExitNow(CouldNotReleaseExitCode);
        }
    }

    private void Stop(int processId, int threadId)
    {
        if (ptrace(PtraceSeize, threadId, 0, 0) != 0)
        {
            int error = Marshal.GetLastPInvokeError();
            if (error == NoSuchProcess)
                return; // the thread has exited
            // A process that has exited cannot be traced either, whatever the permissions.
            if (HasExited(processId))
                throw new InspectorException(InspectorStatus.Failed, $"Process {processId} has exited.");
            throw new InspectorException(InspectorStatus.PtraceDenied,
                $"Attaching to process {processId} with ptrace was denied: {Marshal.GetPInvokeErrorMessage(error)}.");
        }

        if (ptrace(PtraceInterrupt, threadId, 0, 0) != 0)
        {
            int error = Marshal.GetLastPInvokeError();
            _ = ptrace(PtraceDetach, threadId, 0, 0);
            if (error == NoSuchProcess)
                return; // the thread exited between the seize and the interrupt
            throw CouldNotStop(processId, threadId, "PTRACE_INTERRUPT", error);
        }

        int status;
        while (waitpid(threadId, out status, WaitAllChildren) < 0)
        {
            int error = Marshal.GetLastPInvokeError();
            if (error == Interrupted)
                continue;
            _ = ptrace(PtraceDetach, threadId, 0, 0);
            if (error is NoChild or NoSuchProcess)
                return; // the thread exited before it stopped, and is already reaped
            throw CouldNotStop(processId, threadId, "waiting for its stop (waitpid)", error);
        }

        const int ExitedOrKilled = 0x7f;
        if ((status & 0xff) != ExitedOrKilled)
            return; // the thread ended; the kernel has already let go of it

        // A stop for our interrupt carries the event in bits 16 and up. Any other stop is a signal on its way in,
        // which the thread must still receive when it is let go.
        int signal = (status >> 8) & 0xff;
        bool interruptStop = (status >> 16) == PtraceEventStop;
        _stopped.Add((threadId, interruptStop ? 0 : signal));
    }

    /// <summary>
    /// A thread that keeps running would change the heap under the scan, so the census fails; the caller lets go of
    /// the threads already stopped.
    /// </summary>
    private static InspectorException CouldNotStop(int processId, int threadId, string step, int error) =>
        new(InspectorStatus.Failed,
            $"Thread {threadId} of process {processId} could not be stopped for the census: {step} failed with {Describe(error)}. " +
            "A census with a thread still running would read a heap that changes under it, so none was taken; every thread already stopped was let go.");

    private static string Describe(int error) => $"errno {error}, {Marshal.GetPInvokeErrorMessage(error)}";

    /// <summary>Whether the process is gone or a zombie: its state in /proc/PID/stat is Z or X, or there is none.</summary>
    public static bool HasExited(int processId)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{processId}/stat");
            int afterName = stat.LastIndexOf(')');
            return afterName < 0 || afterName + 2 >= stat.Length || stat[afterName + 2] is 'Z' or 'X';
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return true;
        }
    }

    private static IEnumerable<int> ThreadsOf(int processId)
    {
        string[] entries;
        try
        {
            entries = Directory.GetDirectories($"/proc/{processId}/task");
        }
        catch (DirectoryNotFoundException)
        {
            throw new InspectorException(InspectorStatus.Failed, $"Process {processId} has exited.");
        }
        foreach (string entry in entries)
        {
            if (int.TryParse(Path.GetFileName(entry), out int threadId))
                yield return threadId;
        }
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial long ptrace(long request, int pid, nint address, nint data);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int waitpid(int pid, out int status, int options);
}
