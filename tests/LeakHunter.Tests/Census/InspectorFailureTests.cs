extern alias inspector;

using System.Diagnostics;
using System.Runtime.InteropServices;
using LeakHunter.Census;
using Xunit;

namespace LeakHunter.Tests;

/// <summary>
/// A real inspector process that dies, stalls or is stuck: every request then surfaces as a <see cref="LeakHunterException"/>
/// naming what happened, at once or within the request's time limit, and never hangs the caller.
/// </summary>
public sealed class InspectorFailureTests
{
    private const int NoTarget = 0;
    private static readonly TimeSpan s_generous = TimeSpan.FromMinutes(2);
    public enum Command
    {
        Census,
        GetHistograms,
        Reset,
        Mark,
        Explain,
        ExplainWatched,
    }

    [Theory]
    [InlineData(Command.Census)]
    [InlineData(Command.GetHistograms)]
    [InlineData(Command.Reset)]
    [InlineData(Command.Mark)]
    [InlineData(Command.Explain)]
    [InlineData(Command.ExplainWatched)]
    public void AnInspectorKilledBeforeTheRequest_FailsAsInspectorExited_AndSoDoesEveryLaterRequest(Command command)
    {
        using InspectorClient client = InspectorClient.StartFor(NoTarget);
        client.DumpFile = "/nonexistent/never-read.dump";
        TargetProcess.KillAndWait(client.ProcessId);

        var error = Assert.Throws<LeakHunterException>(() => Send(client, command));
        var later = Assert.Throws<LeakHunterException>(() => Send(client, command));

        Assert.Equal(LeakHunterFailure.InspectorExited, error.Failure);
        Assert.Contains($"{command} request", error.Message);
        Assert.Equal(LeakHunterFailure.InspectorExited, later.Failure);
    }

    [Theory]
    [InlineData(Command.Census)]
    [InlineData(Command.Mark)]
    [InlineData(Command.Explain)]
    [InlineData(Command.ExplainWatched)]
    public async Task AnInspectorKilledWithARequestUnanswered_FailsAsInspectorExited(Command command)
    {
        using InspectorClient client = InspectorClient.StartFor(NoTarget);
        client.DumpFile = "/nonexistent/never-read.dump";
        // Stopped, the inspector cannot answer: the request waits in its input until it is killed. (A FIFO standing
        // in for the dump did not hold it: the inspector rejects a file it cannot map at once, and that answer raced
        // the kill.)
        Assert.Equal(0, kill(client.ProcessId, SignalStop));

        Task request = Task.Run(() => Send(client, command));
        Assert.True(SpinWait.SpinUntil(() => UnreadInput(client.ProcessId) > 0, s_generous), "the request never reached the inspector's input");
        TargetProcess.KillAndWait(client.ProcessId);

        var error = await Assert.ThrowsAsync<LeakHunterException>(() => request.WaitAsync(s_generous));
        Assert.Equal(LeakHunterFailure.InspectorExited, error.Failure);
        Assert.Contains($"{command} request", error.Message);
    }

    /// <summary>Bytes written to a process's standard input that it has not read yet.</summary>
    private static int UnreadInput(int processId)
    {
        // Opening /proc/<pid>/fd/0 opens the same pipe; FIONREAD counts what waits in it without taking any.
        using Microsoft.Win32.SafeHandles.SafeFileHandle input = File.OpenHandle($"/proc/{processId}/fd/0", FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        Assert.Equal(0, ioctl((int)input.DangerousGetHandle(), FionRead, out int unread));
        return unread;
    }

    [Fact]
    public void AHeapRequestPastItsTimeLimit_FailsAsCensusTimedOut()
    {
        using var folder = new FifoFolder();
        using InspectorClient client = InspectorClient.StartFor(NoTarget);
        client.DumpFile = folder.Fifo;

        // No one ever opens the FIFO to write, so the inspector waits on it until its own time limit stops it.
        var error = Assert.Throws<LeakHunterException>(() => client.TakeCensus(1, CensusRoute.DumpFile, TimeSpan.FromSeconds(1)));

        Assert.Equal(LeakHunterFailure.CensusTimedOut, error.Failure);
        Assert.Contains("CensusTimeout", error.Message);
    }

    [Theory]
    [InlineData(Command.Reset)]
    [InlineData(Command.GetHistograms)]
    public void AStuckInspector_IsStoppedByTheWatchdog_OnABookkeepingRequestToo(Command command)
    {
        using InspectorClient client = InspectorClient.StartFor(NoTarget);
        client.BookkeepingTimeout = TimeSpan.FromSeconds(1);
        Assert.Equal(0, kill(client.ProcessId, SignalStop));

        var error = Assert.Throws<LeakHunterException>(() => Send(client, command));

        Assert.Equal(LeakHunterFailure.CensusTimedOut, error.Failure);
        Assert.Contains($"did not answer a {command} request within 1 s", error.Message);
    }

    [Fact]
    public void TheRealInspector_AnswersEveryBookkeepingRequest()
    {
        using InspectorClient client = InspectorClient.StartFor(NoTarget);

        client.Reset();
        Assert.Empty(client.GetHistograms([]));
        var error = Assert.Throws<LeakHunterException>(() => client.GetHistograms([42]));
        Assert.Equal(LeakHunterFailure.CensusFailed, error.Failure);
        Assert.Contains("No census 42", error.Message);
        // The failure left the pipe in step.
        client.Reset();
    }

    private static void Send(InspectorClient client, Command command)
    {
        TimeSpan timeout = TimeSpan.FromSeconds(30);
        switch (command)
        {
            case Command.Census:
                _ = client.TakeCensus(1, CensusRoute.DumpFile, timeout);
                break;
            case Command.GetHistograms:
                _ = client.GetHistograms([1]);
                break;
            case Command.Reset:
                client.Reset();
                break;
            case Command.Mark:
                _ = client.Mark(["Shop.Order"], everyInstanceIsNew: false, 2, CensusRoute.DumpFile, timeout);
                break;
            case Command.Explain:
                _ = client.Explain(3, CensusRoute.DumpFile, timeout, 10, timeout, []);
                break;
            case Command.ExplainWatched:
                _ = client.ExplainWatched([0x1000], 4, CensusRoute.DumpFile, timeout, timeout);
                break;
        }
    }

    private const int SignalStop = 19; // SIGSTOP on Linux
    private const ulong FionRead = 0x541B; // FIONREAD on Linux

    [DllImport("libc", SetLastError = true)]
    private static extern int ioctl(int fd, ulong request, out int count);

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);

    [DllImport("libc", SetLastError = true)]
    private static extern int mkfifo(string path, uint mode);

    /// <summary>A private folder holding a FIFO that stands in for a dump file: whoever opens it waits for the other end.</summary>
    private sealed class FifoFolder : IDisposable
    {
        private readonly string _folder = Directory.CreateTempSubdirectory("leakhunter-protocol-").FullName;

        public FifoFolder()
        {
            Fifo = Path.Combine(_folder, "census.dump");
            if (mkfifo(Fifo, 0x180 /* 0600 */) != 0)
                throw new IOException($"mkfifo {Fifo} failed: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        }

        public string Fifo { get; }

        public void Dispose() => Directory.Delete(_folder, recursive: true);
    }
}
