using System.Diagnostics;
using LeakHunter.Census;
using LeakHunter.Inspector.Platform;
using Microsoft.Diagnostics.Runtime;

namespace LeakHunter.Inspector.Census;

/// <summary>Opens the process under test, live or through a dump of itself, for exactly one census.</summary>
/// <param name="targetPid">The process under test.</param>
/// <param name="scanner">The heap walk every census uses.</param>
/// <param name="imageInFileFrom">
/// The size from which an image of the process is moved to a file with no name once the process runs on, so that it
/// and the graph made from it are not in memory together: the peak is then the larger of the two, not their sum.
/// </param>
internal sealed class TargetReader(int targetPid, HeapScanner scanner, long imageInFileFrom = InspectorProtocol.DefaultImageInFileFrom)
{
    // Pieces smaller than this (the runtime's tables, stacks) stay in memory: ClrMD reads them often, a few bytes at a time.
    private const long PieceInFileFrom = 1 << 20;

    private readonly GcAddressRanges _gcRanges = new();

    private const int MaxAttempts = 50;

    private static readonly Version? s_runtimeVersion =
        Version.TryParse(Environment.GetEnvironmentVariable(InspectorProtocol.RuntimeVersionVariable), out Version? version) ? version : null;

    private static readonly string? s_runtimeFolder = Environment.GetEnvironmentVariable(InspectorProtocol.RuntimeFolderVariable);

    public CensusOutcome TakeCensus(HeapTarget target, Histogram histogram, bool countResources) => TakeCensus(target, runtime => scanner.Scan(runtime, histogram), countResources);

    /// <summary>
    /// One census counted by <paramref name="count"/>, with the process's resources when <paramref name="countResources"/>:
    /// the runtime's and the system's read while it is held still (a dump file's process may be long gone, so it has
    /// only the runtime's).
    /// </summary>
    public CensusOutcome TakeCensus(HeapTarget target, Func<ClrRuntime, ScanTotals> count, bool countResources)
    {
        if (!countResources)
        {
            (ScanTotals counted, double paused) = Read(target, count);
            return new CensusOutcome(counted, paused, [], null);
        }
        bool live = ReadsLiveSystem(target);
        Task<(SystemSnapshot Snapshot, IReadOnlyList<(ulong Start, ulong End)> GcHeap, SystemResources Resources)?>? early = null;
        Task<SystemResources?>? reading = null;
        ((ScanTotals totals, (List<ResourceReading> resources, ResourceIdentities identities)), double pauseMs) =
            Read(target, whenHeld: live ? ReadSystemEarly : null, work: runtime =>
            {
                ScanTotals counted = count(runtime);
                if (live)
                {
                    // A dump's process is held by its writer, not here: its system's side is read now.
                    if (early is null)
                        ReadSystemEarly();
                    // Only where the GC has taken ranges since the last census are the GC's pages counted again.
                    IReadOnlyList<(ulong Start, ulong End)> gcHeap = _gcRanges.Of(runtime);
                    reading = Task.Run(() => early!.GetAwaiter().GetResult() is var (snapshot, countedIn, system)
                        ? countedIn.SequenceEqual(gcHeap) ? system : InspectorPlatform.Current.Resources(snapshot, targetPid, gcHeap)
                        : null);
                }
                return (counted, ResourceCounter.OfRuntime(runtime));
            });
        SystemResources? system = reading?.GetAwaiter().GetResult();
        if (identities.Warning is string warning)
            totals.Warnings = [.. totals.Warnings ?? [], warning];
        return new CensusOutcome(totals, pauseMs, ResourceCounter.WithSystem(resources, identities, system), identities);

        // The system's side is read on the other core as soon as the process is held, while this thread attaches the
        // runtime's reader, which is one thread's work: the heap walk, which takes both cores, comes after. The GC's
        // pages are counted in the ranges known from the censuses before, which are nearly always all of them; the
        // runtime's counters and the release, one thread's work again, leave the other core to count the rest.
        void ReadSystemEarly()
        {
            IReadOnlyList<(ulong Start, ulong End)> known = _gcRanges.Known;
            early = Task.Run(() => InspectorPlatform.Current.ReadSystem(targetPid) is SystemSnapshot snapshot
                ? (snapshot, known, InspectorPlatform.Current.Resources(snapshot, targetPid, known))
                : ((SystemSnapshot, IReadOnlyList<(ulong Start, ulong End)>, SystemResources)?)null);
        }
    }

    /// <summary>A new check has begun: the GC's free regions and bookkeeping are read again at its first census.</summary>
    public void Reset()
    {
        _gcRanges.Refresh();
        Detach();
    }

    /// <summary>
    /// The runtime of the process under test, attached once and kept from one census to the next while a check runs:
    /// attaching and creating the runtime anew cost a third of a census's pause on a small heap. Each census flushes
    /// what the reader and the runtime kept (the process's memory map, the pages read, the DAC's caches), so it reads
    /// the process as it is now. A failure drops it, and the next census attaches again.
    /// </summary>
    private ClrRuntime AttachedRuntime()
    {
        if (_attached is { } kept)
        {
            try
            {
                kept.Held.DataReader.FlushCachedData();
                kept.Runtime.FlushCachedData();
                return kept.Runtime;
            }
            catch (NotSupportedException)
            {
                // A runtime whose data-access layer cannot flush is attached afresh every time.
                Detach();
            }
        }
        DataTarget live = Attach();
        try
        {
            var held = new DataTarget(new HeldMemoryReader(live.DataReader), new DataTargetOptions());
            ClrRuntime runtime = CreateRuntime(held);
            _attached = (live, held, runtime);
            return runtime;
        }
        catch
        {
            live.Dispose();
            throw;
        }
    }

    /// <summary>Lets go of the kept runtime, if any.</summary>
    private void Detach()
    {
        if (_attached is not { } kept)
            return;
        _attached = null;
        kept.Runtime.Dispose();
        kept.Held.Dispose();
        kept.Live.Dispose();
    }

    private (DataTarget Live, DataTarget Held, ClrRuntime Runtime)? _attached;

    /// <summary>Whether the system can be asked about the process now: not for a dump file, whose process may be long gone.</summary>
    public static bool ReadsLiveSystem(HeapTarget target) => target.Route != CensusRoute.DumpFile;

    /// <summary>Runs <paramref name="work"/> against the process under test, held still, and returns how long it was held.</summary>
    public (T Result, double PauseMs) Read<T>(HeapTarget target, Func<ClrRuntime, T> work) => Read(target, work, whenHeld: null);

    /// <summary>As <see cref="Read{T}(HeapTarget, Func{ClrRuntime, T})"/>, with <paramref name="whenHeld"/> run as soon as a live process is held.</summary>
    private (T Result, double PauseMs) Read<T>(HeapTarget target, Func<ClrRuntime, T> work, Action? whenHeld)
    {
        (CensusRoute route, string dumpPath, TimeSpan timeLimit) = target;
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                return route switch
                {
                    CensusRoute.Attach => ReadAttached(work, whenHeld),
                    CensusRoute.Dump => ReadDump(dumpPath, timeLimit, work),
                    CensusRoute.DumpFile => (ReadDumpFile(dumpPath, work), 0.0),
                    _ => throw new InspectorException(InspectorStatus.Failed, $"Unknown census route {route}."),
                };
            }
            catch (InspectorException e) when (e.Status == InspectorStatus.HeapNotWalkable && attempt < MaxAttempts)
            {
                // Another thread of the process is in the middle of a GC: let it finish, then look again.
                Thread.Sleep(Math.Min(attempt * 2, 20));
            }
        }
    }

    /// <summary>
    /// Runs <paramref name="work"/> against an image of the process under test, taken while it is held: the process
    /// is stopped only for the copy, and runs on while the work reads the image. For the heavy readings (paths, a
    /// resource's new items), which take many times longer than the copy. Routes other than a live attach read as
    /// <see cref="Read{T}(HeapTarget, Func{ClrRuntime, T})"/> does: a dump is already an image.
    /// </summary>
    /// <returns>The work's result, and how long the process was stopped, for every image taken.</returns>
    public (T Result, double PauseMs) ReadImage<T>(HeapTarget target, Func<ClrRuntime, T> work)
    {
        if (target.Route != CensusRoute.Attach)
            return Read(target, work);
        double stopped = 0;
        ImageBuffers? copiedInto = null;
        for (int attempt = 1; ; attempt++)
        {
            (HeapImage? image, DataTarget? process, double pauseMs) = Capture(copiedInto);
            copiedInto = null;
            if (image is null)
                return Read(target, work);
            stopped += pauseMs;
            try
            {
                using var imaged = new DataTarget(image, new DataTargetOptions());
                using ClrRuntime runtime = CreateRuntime(imaged);
                // No work ever sees an image of a heap in the middle of a GC, whether or not it walks the heap.
                if (!runtime.Heap.CanWalkHeap)
                    throw new InspectorException(InspectorStatus.HeapNotWalkable,
                        $"Process {targetPid} was in the middle of a GC at each of {MaxAttempts} images taken of it; try again.");
                // Only an image that will be read is worth the move.
                if (image.CopiedBytes >= imageInFileFrom && InspectorPlatform.Current.UnnamedPrivateFile(Path.GetTempPath()) is { } file)
                    image.MoveToFile(file, PieceInFileFrom);
                return (work(runtime), stopped);
            }
            catch (Exception e) when (e is not InspectorException { Status: InspectorStatus.HeapNotWalkable } && InspectorPlatform.Current.HasExited(targetPid))
            {
                // Killed while held, after the last look: its memory went away under the copy, so the image is not its.
                throw ExitedWhileImaged();
            }
            catch (InspectorException e) when (e.Status == InspectorStatus.HeapNotWalkable && attempt < MaxAttempts)
            {
                // Taken in the middle of a GC another thread of the process was running: take another, into the same memory.
                copiedInto = image.TakeBuffers();
                Thread.Sleep(Math.Min(attempt * 2, 20));
            }
            finally
            {
                image.Dispose();
                process!.Dispose();
            }
        }
    }

    private InspectorException ExitedWhileImaged() =>
        new(InspectorStatus.Failed, $"Process {targetPid} exited while its image was taken; nothing of it was read.");

    /// <summary>
    /// An image of the process, taken while it is held, and how long it was held; no image where the system cannot list
    /// its memory. It is copied into <paramref name="copiedInto"/>, the memory of an image just taken that could not be
    /// used, where that covers it, or into memory made ready for it first.
    /// </summary>
    private (HeapImage? Image, DataTarget? Process, double PauseMs) Capture(ImageBuffers? copiedInto)
    {
        DataTarget? process = null;
        ImageBuffers? buffers = copiedInto;
        try
        {
            if (buffers is null)
            {
                // Listed while the process runs, so the memory to copy into is in RAM before it is held.
                List<ImageRange>? planned = InspectorPlatform.Current.WritableMemory(targetPid);
                if (planned is null)
                    return (null, null, 0);
                long copied = planned.Where(r => r.Kind == ImageRangeKind.Copied).Sum(r => (long)r.Length);
                long available = Paths.MemoryBudget.AvailableBytes(copied);
                if (copied > available)
                {
                    throw new ImageTooLargeException($"an image of process {targetPid}'s {Paths.MemoryBudget.Describe(copied)} of written memory would not fit in " +
                        $"the {Paths.MemoryBudget.Describe(available)} the inspector may take, so the process was not held; a machine with more free memory can trace the paths");
                }
                buffers = ImageBuffers.Prepare(planned);
            }
            long started = Stopwatch.GetTimestamp();
            using (InspectorPlatform.Current.HoldStill(targetPid))
            {
                List<ImageRange>? writable = InspectorPlatform.Current.WritableMemory(targetPid);
                if (writable is null)
                {
                    buffers.Dispose();
                    return (null, null, 0);
                }
                writable = buffers.CutAtBuffers(writable);
                process = Attach();
                // Registers must be read from the thread that stopped the process (ptrace's rule), which this one is.
                HeapImage image = HeapImage.Capture(targetPid, process.DataReader, writable, InspectorPlatform.Current.Tasks(targetPid), buffers);
                // Killed while held, a process reads as zeros: such an image is no image of it.
                if (InspectorPlatform.Current.HasExited(targetPid))
                {
                    image.Dispose();
                    throw ExitedWhileImaged();
                }
                return (image, process, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            process?.Dispose();
            buffers?.Dispose();
            if (InspectorPlatform.Current.HasExited(targetPid))
                throw ExitedWhileImaged();
            // The system would not show the memory map or the page map: read the process while it is held instead.
            return (null, null, 0);
        }
        catch
        {
            process?.Dispose();
            buffers?.Dispose();
            throw;
        }
    }

    private (T, double) ReadAttached<T>(Func<ClrRuntime, T> work, Action? whenHeld)
    {
        long started = Stopwatch.GetTimestamp();
        T result;
        using (InspectorPlatform.Current.HoldStill(targetPid))
        {
            whenHeld?.Invoke();
            ClrRuntime runtime = AttachedRuntime();
            try
            {
                result = work(runtime);
            }
            catch
            {
                Detach();
                throw;
            }
        }
        return (result, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
    }

    /// <summary>ClrMD on the live process, which the freezer holds still: ClrMD only reads its memory.</summary>
    private DataTarget Attach()
    {
        try
        {
            return DataTarget.AttachToProcess(targetPid, suspend: false);
        }
        catch (Exception e) when (IsPermissionFailure(e))
        {
            throw new InspectorException(InspectorStatus.PtraceDenied,
                $"Reading the memory of process {targetPid} was denied: {e.Message}", e);
        }
    }

    private (T, double) ReadDump<T>(string dumpPath, TimeSpan timeLimit, Func<ClrRuntime, T> work)
    {
        try
        {
            // An empty file created with mode 0600 keeps that mode when the dump writer truncates and fills it.
            var privateFile = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows())
                privateFile.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            using (new FileStream(dumpPath, privateFile))
            {
            }

            long started = Stopwatch.GetTimestamp();
            DumpWriter.Write(targetPid, dumpPath, timeLimit, s_runtimeFolder);
            double pauseMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            return (ReadDumpFile(dumpPath, work), pauseMs);
        }
        finally
        {
            File.Delete(dumpPath);
        }
    }

    /// <summary>Runs <paramref name="work"/> against a dump file that someone else wrote; the file is left as it is.</summary>
    public T ReadDumpFile<T>(string path, Func<ClrRuntime, T> work)
    {
        if (!File.Exists(path))
            throw new InspectorException(InspectorStatus.Failed, $"No dump file at '{path}'. Give the path of a dump written by dotnet-dump or createdump.");
        DataTarget target;
        try
        {
            target = DataTarget.LoadDump(path, new DataTargetOptions { UseLockFreeMemoryMapReader = true });
        }
        catch (Exception e) when (e is InvalidDataException or NotSupportedException or IOException or ArgumentException or EndOfStreamException)
        {
            throw new InspectorException(InspectorStatus.Failed,
                $"'{path}' is not a readable dump: it is corrupt, truncated, or not a core dump ({e.Message.ReplaceLineEndings(" ").Trim()}). Write it again with dotnet-dump collect --type Heap.", e);
        }
        using (target)
        using (ClrRuntime runtime = CreateRuntime(target))
            return work(runtime);
    }

    private ClrRuntime CreateRuntime(DataTarget target)
    {
        if (target.ClrVersions.Length == 0)
            throw new InspectorException(InspectorStatus.TargetNotDotNet, $"Process {targetPid} has no .NET runtime loaded.");
        ClrInfo detected = target.ClrVersions[0];
        if (detected.Version.Major != 0 || s_runtimeVersion is null)
            return detected.CreateRuntime();

        // ClrMD cannot find the version of .NET 10 on Linux and then skips thread-static roots; the process under
        // test told us its version.
        var known = new ClrInfo(target, detected.ModuleInfo, s_runtimeVersion)
        {
            Flavor = detected.Flavor,
            DebuggingLibraries = detected.DebuggingLibraries,
            ContractDescriptorAddress = detected.ContractDescriptorAddress,
            IsSingleFile = detected.IsSingleFile,
            IndexTimeStamp = detected.IndexTimeStamp,
            IndexFileSize = detected.IndexFileSize,
            BuildId = detected.BuildId,
        };
        return known.CreateRuntime();
    }

    private static bool IsPermissionFailure(Exception e) =>
        e is UnauthorizedAccessException
        || e.Message.Contains("ptrace", StringComparison.OrdinalIgnoreCase)
        || e.Message.Contains("permission", StringComparison.OrdinalIgnoreCase)
        || e.Message.Contains("Permission denied", StringComparison.Ordinal)
        || e.Message.Contains("not permitted", StringComparison.OrdinalIgnoreCase)
        || (e.InnerException is not null && IsPermissionFailure(e.InnerException));
}

/// <summary>A census's totals, how long the process was held, and its resources with what identifies them (null when not counted).</summary>
internal readonly record struct CensusOutcome(ScanTotals Totals, double PauseMs, IReadOnlyList<ResourceReading> Resources, ResourceIdentities? Identities);
