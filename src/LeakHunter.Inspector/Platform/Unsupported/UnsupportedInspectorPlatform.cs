using LeakHunter.Census;
using LeakHunter.Inspector.Census;

namespace LeakHunter.Inspector.Platform.Unsupported;

/// <summary>
/// A system where live processes cannot be read yet: dump files still are. The library refuses live routes there
/// before it asks, so reaching <see cref="HoldStill"/> is a mismatch between the two, said as such.
/// </summary>
internal sealed class UnsupportedInspectorPlatform : IInspectorPlatform
{
    public IDisposable HoldStill(int processId) =>
        throw new InspectorException(InspectorStatus.Failed,
            $"Reading live process {processId} is supported on Linux only; this inspector runs on {System.Runtime.InteropServices.RuntimeInformation.OSDescription}. Read a dump file instead.");

    public int? ParentProcessId() => null;

    public void ExitNow(int exitCode) => Environment.Exit(exitCode);

    public void Continue(int processId)
    {
    }

    public List<ImageRange>? WritableMemory(int processId) => null;

    public long CopyMemory(int processId, ulong address, nint into, long length) =>
        throw new PlatformNotSupportedException("No image is taken here: WritableMemory lists no memory to copy.");

    public Microsoft.Win32.SafeHandles.SafeFileHandle? UnnamedPrivateFile(string folder) => null;

    public SystemSnapshot? ReadSystem(int processId) => null;

    public SystemResources Resources(SystemSnapshot snapshot, int processId, IReadOnlyList<(ulong Start, ulong End)> gcHeap) =>
        throw new PlatformNotSupportedException("This system's resources are not read: ReadSystem gives no snapshot here.");

    public IReadOnlySet<int> Tasks(int processId) => new HashSet<int>();

    public bool HasExited(int processId) => false;

    public long? AvailableMemory() => null;

    public string? TaskName(int processId, int taskId) => null;

    public IReadOnlyDictionary<int, string?> Descriptors(int processId) => new Dictionary<int, string?>();

    public string DescriptorKind(string? target) => "other";

    public string DescribeDescriptor(int processId, string target) => target;
}
