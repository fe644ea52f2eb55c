using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace LeakHunter.Inspector.Platform.Linux;

/// <summary>Linux: ptrace holds the process still, getppid watches the parent, SIGCONT undoes a stop a killed dump writer left.</summary>
[SupportedOSPlatform("linux")]
internal sealed partial class LinuxInspectorPlatform : IInspectorPlatform
{
    private const int SignalContinue = 18;

    public IDisposable HoldStill(int processId) => ProcessFreezer.Freeze(processId);

    public int? ParentProcessId() => getppid();

    public void ExitNow(int exitCode) => _exit(exitCode);

    public void Continue(int processId) => _ = kill(processId, SignalContinue);

    public List<Census.ImageRange>? WritableMemory(int processId) => ProcMemory.Writable(processId);

    public long CopyMemory(int processId, ulong address, nint into, long length) => ProcMemory.Copy(processId, address, into, length);

    public Microsoft.Win32.SafeHandles.SafeFileHandle? UnnamedPrivateFile(string folder) => UnnamedFile.Create(folder);

    public Census.SystemSnapshot? ReadSystem(int processId) => ProcResources.Read(processId);

    public Census.SystemResources Resources(Census.SystemSnapshot snapshot, int processId, IReadOnlyList<(ulong Start, ulong End)> gcHeap) =>
        ProcResources.Summarize(snapshot, processId, gcHeap);

    public IReadOnlySet<int> Tasks(int processId) => ProcResources.Tasks(processId);

    public bool HasExited(int processId) => ProcessFreezer.HasExited(processId);

    public long? AvailableMemory() => ProcMemory.Available();

    public string? TaskName(int processId, int taskId) => ProcResources.TaskName(processId, taskId);

    public IReadOnlyDictionary<int, string?> Descriptors(int processId) => ProcResources.Descriptors(processId);

    public string DescriptorKind(string? target) => ProcResources.KindOf(target);

    public string DescribeDescriptor(int processId, string target) => ProcSockets.Describe(processId, target);

    [LibraryImport("libc")]
    private static partial int getppid();

    [LibraryImport("libc")]
    private static partial void _exit(int code);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int signal);
}
