using System.Runtime.InteropServices;

namespace LeakHunter.Platform.Unsupported;

/// <summary>
/// Every system LeakHunter cannot read live processes on yet (Windows and macOS for now): dump files still work,
/// and everything else fails with one error that says so.
/// </summary>
internal sealed class UnsupportedPlatform : IHostPlatform
{
    public bool ReadsLiveProcesses => false;

    public void DeclareTracer(int tracerPid)
    {
    }

    public IReadOnlyList<int> DotnetProcesses() => throw Failure("Listing .NET processes");

    public string CommandLine(int processId) => string.Empty;

    public long NativeAllocatorInUseBytes() => -1;

    public static LeakHunterException Failure(string what) =>
        new(LeakHunterFailure.PlatformNotSupported,
            $"{what} needs to read a live process, which LeakHunter supports on Linux only, and this is {RuntimeInformation.OSDescription}. " +
            "What works here: reading dump files (`leakhunter census DUMP`, `leakhunter paths DUMP --type T`, `leakhunter diff DUMP1 DUMP2`, or " +
            "HeapInspector.Open(InspectionTarget.Dump(path))). Run leak checks and live inspection on Linux: a Linux container or WSL will do.");
}
