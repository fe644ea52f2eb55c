extern alias inspector;

using LeakHunter.Census;
using Microsoft.Diagnostics.Runtime;
using Xunit;
using CensusRoute = inspector::LeakHunter.Census.CensusRoute;
using HeapScanner = inspector::LeakHunter.Inspector.Census.HeapScanner;
using InspectorPlatform = inspector::LeakHunter.Inspector.Platform.InspectorPlatform;
using ImageBuffers = inspector::LeakHunter.Inspector.Census.ImageBuffers;
using ImageRange = inspector::LeakHunter.Inspector.Census.ImageRange;
using ImageRangeKind = inspector::LeakHunter.Inspector.Census.ImageRangeKind;
using HeapTarget = inspector::LeakHunter.Census.HeapTarget;
using TargetReader = inspector::LeakHunter.Inspector.Census.TargetReader;
using TypeTable = inspector::LeakHunter.Inspector.Census.TypeTable;

namespace LeakHunter.Tests;

/// <summary>
/// The image of a live process that the heavy readings (paths, a resource's new items) work on: taken while the
/// process is held, then read while it runs on, with its heap, its roots and its threads' stacks as they were.
/// </summary>
public sealed class HeapImageTests
{
    private static readonly TimeSpan s_generous = TimeSpan.FromMinutes(2);

    [Fact]
    public void AnImage_IsReadWhileTheProcessRunsOn_WithItsHeapAndEveryRootKind()
    {
        // Stopped by this process itself, through the inspector's own reader: so it must not be this process's child.
        using TargetProcess target = TargetProcess.StartServingDetached("leak");
        target.WaitForOrdersAbove(5, s_generous);
        var reader = new TargetReader(target.Id, new HeapScanner(new TypeTable()));
        var live = new HeapTarget(CensusRoute.Attach, "", s_generous);

        (Reading image, double imagePause) = reader.ReadImage(live, runtime => Read(runtime, target.Id));
        (Reading held, double heldPause) = reader.Read(live, runtime => Read(runtime, target.Id));

        // Read while held, the process is in a tracing stop; read from its image, it runs on.
        Assert.Equal('t', held.StateWhileRead);
        Assert.NotEqual('t', image.StateWhileRead);
        Assert.NotEqual('X', image.StateWhileRead);
        Assert.True(imagePause > 0 && heldPause > 0);

        // The image has what the held process has: the leaked orders, held by their static, and the threads' stacks,
        // walked from the registers taken while it was held.
        Assert.True(image.Orders > 0);
        Assert.InRange(image.Orders, 1, held.Orders);
        Assert.Subset(image.RootKinds.ToHashSet(), held.RootKinds.Where(kind => kind != ClrRootKind.FinalizerQueue).ToHashSet());
        Assert.Contains(ClrRootKind.Stack, image.RootKinds);
        Assert.True(image.StackFrames > 0);
    }

    [Fact]
    public void AnImageMovedToAFileWithNoName_IsReadAsItWasInMemory_AndTheFileGoesWithTheImage()
    {
        using TargetProcess target = TargetProcess.StartServingDetached("leak");
        target.WaitForOrdersAbove(5, s_generous);
        var live = new HeapTarget(CensusRoute.Attach, "", s_generous);
        var inMemory = new TargetReader(target.Id, new HeapScanner(new TypeTable()));
        var inFile = new TargetReader(target.Id, new HeapScanner(new TypeTable()), imageInFileFrom: 0);

        ((Reading fromFile, List<(UnixFileMode Mode, long Bytes)> filesWhileRead), _) = inFile.ReadImage(live, runtime => (Read(runtime, target.Id), UnnamedFiles()));
        ((Reading fromMemory, List<(UnixFileMode Mode, long Bytes)> filesInMemory), _) = inMemory.ReadImage(live, runtime => (Read(runtime, target.Id), UnnamedFiles()));

        // One file, this user's alone, while the image lives; none once it is gone, and none for an image kept in memory.
        (UnixFileMode mode, long bytes) = Assert.Single(filesWhileRead);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, mode);
        Assert.True(bytes >= 1 << 20, $"{bytes:N0} bytes moved to the file");
        Assert.Empty(filesInMemory);
        Assert.Empty(UnnamedFiles());
        // Its heap, roots and stacks read as those of an image in memory, taken a moment later of a process that leaks on.
        Assert.InRange(fromFile.Orders, 1, fromMemory.Orders);
        Assert.Equal(fromMemory.RootKinds.ToHashSet(), fromFile.RootKinds.ToHashSet());
        Assert.Contains(ClrRootKind.Stack, fromFile.RootKinds);
        Assert.True(fromFile.StackFrames > 0);
    }

    [Fact]
    public void AnImageFile_IsMadeOnADisksFileSystem_AndNotWhereFilesAreMemoryThemselves()
    {
        string descriptor;
        using (Microsoft.Win32.SafeHandles.SafeFileHandle? onDisk = InspectorPlatform.Current.UnnamedPrivateFile(Path.GetTempPath()))
        {
            Assert.NotNull(onDisk);
            descriptor = $"/proc/self/fd/{onDisk.DangerousGetHandle()}";
            Assert.Matches($"^{Path.GetTempPath()}#[0-9]+ \\(deleted\\)$", new FileInfo(descriptor).LinkTarget);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(descriptor));
        }
        Assert.False(File.Exists(descriptor) && new FileInfo(descriptor).LinkTarget?.Contains("(deleted)", StringComparison.Ordinal) == true);

        // /dev/shm is tmpfs: a file there is memory the inspector's peak would not show.
        Assert.Equal("tmpfs", MountTypeOf("/dev/shm"));
        Assert.Null(InspectorPlatform.Current.UnnamedPrivateFile("/dev/shm"));
    }

    private static string? MountTypeOf(string mountPoint) =>
        File.ReadLines("/proc/self/mounts").Select(line => line.Split(' ')).Where(fields => fields[1] == mountPoint).Select(fields => fields[2]).LastOrDefault();

    [Theory]
    [InlineData("1GB")]
    [InlineData("-1")]
    public void AnImageFileSettingThatIsNoNumberOfBytes_IsRefusedBeforeAnInspectorStarts_NamingTheSetting(string value)
    {
        var error = Assert.Throws<LeakHunterException>(() =>
            InspectorClient.StartFor(Environment.ProcessId, new Dictionary<string, string> { [InspectorProtocol.ImageInFileFromVariable] = value }));

        Assert.Equal(LeakHunterFailure.InvalidInput, error.Failure);
        Assert.Contains($"{InspectorProtocol.ImageInFileFromVariable} is '{value}'", error.Message, StringComparison.Ordinal);
        Assert.Contains("number of bytes", error.Message, StringComparison.Ordinal);
    }

    private static List<(UnixFileMode Mode, long Bytes)> UnnamedFiles() => TargetProcess.UnnamedFilesOf(Environment.ProcessId);

    [Fact]
    public void RangesThatGrewSinceTheirMemoryWasMadeReady_AreCopiedIntoItWhereItCoversThem_AndIntoNewMemoryBeyond()
    {
        using ImageBuffers buffers = ImageBuffers.Prepare([Copied(0x1000, 0x3000), new ImageRange(0x3000, 0x5000, ImageRangeKind.Zeros), Copied(0x5000, 0x6000)]);

        List<ImageRange> cut = buffers.CutAtBuffers([Copied(0x0, 0x7000), new ImageRange(0x8000, 0x9000, ImageRangeKind.Zeros), Copied(0x9000, 0xA000)]);

        Assert.Equal(
            [Copied(0x0, 0x1000), Copied(0x1000, 0x3000), Copied(0x3000, 0x5000), Copied(0x5000, 0x6000), Copied(0x6000, 0x7000),
             new ImageRange(0x8000, 0x9000, ImageRangeKind.Zeros), Copied(0x9000, 0xA000)],
            cut);
        nint first = buffers.For(cut[1]);
        Assert.Equal(first + 0x800, buffers.For(Copied(0x1800, 0x2000)));
        Assert.NotEqual(first + 0x2000, buffers.For(cut[2]));

        // Memory taken for a range that was not made ready serves it again when the next image is copied into the same buffers.
        nint grown = buffers.For(cut[4]);
        Assert.Equal(grown, buffers.For(Copied(0x6000, 0x7000)));
        Assert.Equal([Copied(0x5000, 0x6000), Copied(0x6000, 0x7000), Copied(0x7000, 0x7800)], buffers.CutAtBuffers([Copied(0x5000, 0x7800)]));
    }

    private static ImageRange Copied(ulong start, ulong end) => new(start, end, ImageRangeKind.Copied);

    private sealed record Reading(char StateWhileRead, int Orders, IReadOnlySet<ClrRootKind> RootKinds, int StackFrames);

    private static Reading Read(ClrRuntime runtime, int processId) => new(
        TargetProcess.StateOf(processId),
        runtime.Heap.EnumerateObjects().Count(o => o.Type?.Name == "ArchivedOrder"),
        runtime.Heap.EnumerateRoots().Select(r => r.RootKind).ToHashSet(),
        runtime.Threads.Sum(t => t.EnumerateStackTrace().Count()));
}
