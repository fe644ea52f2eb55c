using System.Runtime.InteropServices;
using LeakHunter.Census;

namespace LeakHunter.Inspector.Census;

/// <summary>
/// Stops every thread of the process under test for the length of a scan, with PTRACE_SEIZE and PTRACE_INTERRUPT.
/// </summary>
/// <remarks>
/// A plain PTRACE_ATTACH sends SIGSTOP: if the inspector dies after sending it and before collecting the stop,
/// the signal stays pending and later stops the whole process, with no one left to resume it. Seizing sends no
/// signal at all, so whenever the inspector dies, the kernel detaches and the process under test runs on.
/// </remarks>
internal sealed partial class ProcessFreezer : IDisposable
{
    private const int PtraceDetach = 17;
    private const int PtraceSeize = 0x4206;
    private const int PtraceInterrupt = 0x4207;
    private const int WaitAllChildren = 0x40000000; // __WALL: also wait for threads, which are not our children
    private const int PtraceEventStop = 128;
    private const int NoSuchProcess = 3; // ESRCH
    private const int Interrupted = 4; // EINTR

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

    /// <summary>Lets every thread run again, handing back any signal that arrived while it was stopped.</summary>
    public void Dispose()
    {
        foreach ((int threadId, int pendingSignal) in _stopped)
            _ = ptrace(PtraceDetach, threadId, 0, pendingSignal);
        _stopped.Clear();
    }

    private void Stop(int processId, int threadId)
    {
        if (ptrace(PtraceSeize, threadId, 0, 0) != 0)
        {
            int error = Marshal.GetLastPInvokeError();
            if (error == NoSuchProcess)
                return; // the thread has exited
            throw new InspectorException(InspectorStatus.PtraceDenied,
                $"Attaching to process {processId} with ptrace was denied: {Marshal.GetPInvokeErrorMessage(error)}.");
        }

        if (ptrace(PtraceInterrupt, threadId, 0, 0) != 0)
        {
            _ = ptrace(PtraceDetach, threadId, 0, 0);
            return;
        }

        int status;
        while (waitpid(threadId, out status, WaitAllChildren) < 0)
        {
            if (Marshal.GetLastPInvokeError() != Interrupted)
            {
                _ = ptrace(PtraceDetach, threadId, 0, 0);
                return; // the thread exited before it stopped
            }
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
