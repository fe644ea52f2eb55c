using System.Runtime.InteropServices;
using LeakHunter.Inspector.Platform;
using Microsoft.Diagnostics.Runtime;
using Microsoft.Win32.SafeHandles;

namespace LeakHunter.Inspector.Census;

/// <summary>What a range of a process image holds: bytes copied while the process was held, or pages never touched.</summary>
internal enum ImageRangeKind
{
    Copied,
    Zeros,
}

/// <summary>A range of a process's writable memory, page aligned.</summary>
internal readonly record struct ImageRange(ulong Start, ulong End, ImageRangeKind Kind)
{
    public ulong Length => End - Start;
}

/// <summary>
/// An image of a live process, taken while it was held: its writable memory copied (the GC heap, the runtime's
/// tables, every thread's stack), every thread's registers, and its modules. Read through ClrMD, it is the process
/// at that moment, while the process itself runs on: an explanation that takes seconds stops it only for the copy.
/// Memory that cannot change (code, read-only data of the files it maps) is read from the process when asked for.
/// </summary>
/// <remarks>
/// The copy lives in native memory owned by the image, freed when it is disposed. A big image can be moved to a file
/// with no name (<see cref="MoveToFile"/>), so that it and the graph made from it are not in memory at once.
/// </remarks>
internal sealed unsafe class HeapImage : ProcessMemoryReader, IDisposable
{
    private const int ContextBytes = 4096;
    // Small enough that the cores share out the copy evenly, large enough that each read is one system call's worth.
    private const int CopyChunkBytes = 8 << 20;

    private readonly ulong[] _starts;
    private readonly ulong[] _ends;
    private readonly nint[] _copies;
    private readonly long[] _fileOffsets;
    private ImageBuffers? _buffers;
    private SafeFileHandle? _file;
    private readonly Dictionary<uint, byte[]> _contexts;
    private readonly ModuleInfo[] _modules;

    private HeapImage(IDataReader process, List<ImageRange> ranges, nint[] copies, ImageBuffers buffers, Dictionary<uint, byte[]> contexts, ModuleInfo[] modules)
        : base(process)
    {
        _starts = ranges.Select(r => r.Start).ToArray();
        _ends = ranges.Select(r => r.End).ToArray();
        _copies = copies;
        _fileOffsets = Enumerable.Repeat(-1L, copies.Length).ToArray();
        _buffers = buffers;
        _contexts = contexts;
        _modules = modules;
        CopiedBytes = ranges.Where(r => r.Kind == ImageRangeKind.Copied).Sum(r => (long)r.Length);
    }

    /// <summary>The bytes copied out of the process.</summary>
    public long CopiedBytes { get; }

    /// <summary>
    /// Moves every piece of the copy of at least <paramref name="minBytes"/> into <paramref name="file"/>, which the
    /// image owns from now on, freeing each piece's memory as soon as it is written: the image's memory goes to the
    /// system's file cache, which writes it to disk and gives it back when memory runs short, and the pieces are read
    /// from there. The small pieces (the runtime's tables, the stacks), which ClrMD reads often and a few bytes at a
    /// time, stay in memory.
    /// </summary>
    public void MoveToFile(SafeFileHandle file, long minBytes)
    {
        _file = file;
        List<(nint Memory, long Bytes, long FileOffset)> moved = _buffers!.MoveToFile(file, minBytes);
        for (int range = 0; range < _copies.Length; range++)
        {
            if (_copies[range] == 0)
                continue;
            foreach ((nint memory, long bytes, long fileOffset) in moved)
            {
                if (_copies[range] >= memory && _copies[range] < memory + (nint)bytes)
                {
                    _fileOffsets[range] = fileOffset + (_copies[range] - memory);
                    _copies[range] = 0;
                    break;
                }
            }
        }
    }

    /// <summary>
    /// Copies the writable memory of the process <paramref name="process"/> reads, which must be held still, with
    /// the registers of each of <paramref name="threads"/>. The copy goes into <paramref name="buffers"/>, made
    /// ready before the process was held, where they cover it; the image owns them from now on.
    /// </summary>
    /// <param name="processId">The held process, whose memory is copied in bulk.</param>
    /// <param name="process">A reader of the held process, for its threads' registers and its modules.</param>
    /// <param name="writable">Its writable memory, in address order: what to copy, and what reads as zeros.</param>
    /// <param name="threads">Its threads' ids.</param>
    /// <param name="buffers">Memory already in RAM for the ranges the process had before it was held.</param>
    /// <exception cref="InspectorException">The process could not be read (it exited meanwhile).</exception>
    public static HeapImage Capture(int processId, IDataReader process, List<ImageRange> writable, IEnumerable<int> threads, ImageBuffers buffers)
    {
        var copies = new nint[writable.Count];
        try
        {
            var chunks = new List<(ImageRange Range, nint Copy)>();
            for (int i = 0; i < writable.Count; i++)
            {
                if (writable[i].Kind != ImageRangeKind.Copied)
                    continue;
                copies[i] = buffers.For(writable[i]);
                for (ulong offset = 0; offset < writable[i].Length; offset += CopyChunkBytes)
                {
                    ulong end = Math.Min(writable[i].End, writable[i].Start + offset + CopyChunkBytes);
                    chunks.Add((new ImageRange(writable[i].Start + offset, end, ImageRangeKind.Copied), copies[i] + (nint)offset));
                }
            }
            // The process is stopped and waits for the copy alone: every core the inspector has copies.
            Parallel.ForEach(chunks, chunk => CopyRange(processId, chunk.Range, (byte*)chunk.Copy));

            var contexts = new Dictionary<uint, byte[]>();
            foreach (int thread in threads)
            {
                var context = new byte[ContextBytes];
                if (process.GetThreadContext((uint)thread, 0, context))
                    contexts[(uint)thread] = context;
            }
            return new HeapImage(process, writable, copies, buffers, contexts, process.EnumerateModules().ToArray());
        }
        catch (AggregateException e) when (e.InnerExceptions.Count > 0)
        {
            // What one copying thread met (the process gone, a read refused), as if the copy had one thread.
            buffers.Dispose();
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e.InnerExceptions[0]);
            throw;
        }
        catch
        {
            buffers.Dispose();
            throw;
        }
    }

    private static void CopyRange(int processId, ImageRange range, byte* copy)
    {
        for (ulong offset = 0; offset < range.Length;)
        {
            int length = (int)Math.Min(CopyChunkBytes, range.Length - offset);
            int read;
            try
            {
                read = (int)InspectorPlatform.Current.CopyMemory(processId, range.Start + offset, (nint)(copy + offset), length);
            }
            catch (InvalidOperationException e)
            {
                throw new InspectorException(LeakHunter.Census.InspectorStatus.Failed, $"The process exited while its memory was copied: {e.Message}", e);
            }
            // A page unmapped between listing and copying (a thread that exited, freeing its stack) reads as zeros.
            if (read < length)
                new Span<byte>(copy + offset + Math.Max(read, 0), length - Math.Max(read, 0)).Clear();
            offset += (ulong)length;
        }
    }

    public override string DisplayName => $"image of {Process.DisplayName}";

    public override IEnumerable<ModuleInfo> EnumerateModules() => _modules;

    public override bool GetThreadContext(uint threadID, uint contextFlags, Span<byte> context)
    {
        if (!_contexts.TryGetValue(threadID, out byte[]? kept))
            return false;
        kept.AsSpan(0, Math.Min(kept.Length, context.Length)).CopyTo(context);
        return true;
    }

    public override void FlushCachedData()
    {
    }

    public override int Read(ulong address, Span<byte> buffer)
    {
        int done = 0;
        while (done < buffer.Length)
        {
            ulong at = address + (ulong)done;
            int range = RangeAtOrBefore(at);
            if (range >= 0 && at < _ends[range])
            {
                int count = (int)Math.Min((ulong)(buffer.Length - done), _ends[range] - at);
                if (_copies[range] != 0)
                    new ReadOnlySpan<byte>((byte*)_copies[range] + (at - _starts[range]), count).CopyTo(buffer[done..]);
                else if (_fileOffsets[range] >= 0)
                    ReadFile(_fileOffsets[range] + (long)(at - _starts[range]), buffer.Slice(done, count));
                else
                    buffer.Slice(done, count).Clear();
                done += count;
                continue;
            }

            // Not writable when the image was taken: code or a mapped file's read-only bytes, the same now.
            ulong next = range + 1 < _starts.Length ? _starts[range + 1] : ulong.MaxValue;
            int wanted = (int)Math.Min((ulong)(buffer.Length - done), next - at);
            int read = ReadProcess(at, buffer.Slice(done, wanted));
            if (read <= 0)
                break;
            done += read;
            if (read < wanted)
                break;
        }
        return done;
    }

    private void ReadFile(long offset, Span<byte> buffer)
    {
        // The file holds all it was given; short reads come only from the system's own limits on one read.
        for (int read = 0; read < buffer.Length;)
        {
            int got = RandomAccess.Read(_file!, buffer[read..], offset + read);
            if (got <= 0)
                throw new IOException($"The image's file ended {buffer.Length - read:N0} bytes short at offset {offset + read:N0}.");
            read += got;
        }
    }

    private int ReadProcess(ulong address, Span<byte> buffer)
    {
        try
        {
            return Process.Read(address, buffer);
        }
        catch (InvalidOperationException)
        {
            // The process has exited since: what it alone held is unreadable now, as an unmapped page would be.
            return 0;
        }
    }

    /// <summary>The last range starting at or before <paramref name="address"/>, or -1.</summary>
    private int RangeAtOrBefore(ulong address)
    {
        int index = Array.BinarySearch(_starts, address);
        return index >= 0 ? index : ~index - 1;
    }

    /// <summary>
    /// Gives up the memory the image was copied into, for the next image of the same process to be copied into: made
    /// ready again, it would cost about as long as the copy for every retry. The image is unreadable from now on.
    /// </summary>
    public ImageBuffers TakeBuffers()
    {
        ImageBuffers buffers = _buffers ?? throw new InvalidOperationException("The image's memory was given up already.");
        _buffers = null;
        return buffers;
    }

    public void Dispose()
    {
        _buffers?.Dispose();
        _file?.Dispose();
    }
}

/// <summary>
/// The memory an image is copied into, allocated and written once while the process still runs, so that the copy
/// made while it is held pays for neither the allocation nor the first touch of each page (about as long as the copy
/// itself). A range the process did not have then gets memory of its own at the copy.
/// </summary>
internal sealed unsafe class ImageBuffers : IDisposable
{
    private const int PageBytes = 4096;
    private const ulong TouchPieceBytes = 64 << 20;

    private readonly List<(ulong Start, ulong End, nint Memory)> _prepared = new();
    private readonly List<(nint Memory, long Bytes)> _owned = new();

    /// <summary>Memory in RAM for each range of <paramref name="planned"/> to copy, on every core.</summary>
    public static ImageBuffers Prepare(IReadOnlyList<ImageRange> planned)
    {
        var buffers = new ImageBuffers();
        foreach (ImageRange range in planned.Where(r => r.Kind == ImageRangeKind.Copied))
            buffers._prepared.Add((range.Start, range.End, buffers.Allocate(range.Length)));
        // In pieces, so that both cores share even one range of gigabytes (a big GC heap is one): a page's first touch
        // costs the system about as much as copying it, and one core alone takes seconds for a heap of 100M objects.
        var pieces = buffers._prepared.SelectMany(range => Enumerable.Range(0, (int)((range.End - range.Start + TouchPieceBytes - 1) / TouchPieceBytes))
            .Select(piece => (Memory: range.Memory + (nint)((ulong)piece * TouchPieceBytes), Bytes: Math.Min(TouchPieceBytes, range.End - range.Start - (ulong)piece * TouchPieceBytes))));
        Parallel.ForEach(pieces, piece =>
        {
            for (ulong page = 0; page < piece.Bytes; page += PageBytes)
                ((byte*)piece.Memory)[page] = 0;
        });
        return buffers;
    }

    /// <summary>
    /// <paramref name="writable"/> with each range to copy cut where prepared memory begins or ends, so each piece lies
    /// wholly inside prepared memory or wholly outside it: a range that grew while the process was being held's
    /// memory was made ready takes new memory for its new pages only.
    /// </summary>
    public List<ImageRange> CutAtBuffers(List<ImageRange> writable)
    {
        var edges = _prepared.SelectMany(p => new[] { p.Start, p.End }).ToArray();
        var cut = new List<ImageRange>(writable.Count);
        foreach (ImageRange range in writable)
        {
            if (range.Kind != ImageRangeKind.Copied)
            {
                cut.Add(range);
                continue;
            }
            ulong start = range.Start;
            int edge = Array.BinarySearch(edges, start);
            for (edge = edge >= 0 ? edge + 1 : ~edge; edge < edges.Length && edges[edge] < range.End; edge++)
            {
                if (edges[edge] > start)
                {
                    cut.Add(range with { Start = start, End = edges[edge] });
                    start = edges[edge];
                }
            }
            cut.Add(range with { Start = start });
        }
        return cut;
    }

    /// <summary>Where to copy <paramref name="range"/>: into memory prepared for it, or new memory.</summary>
    public nint For(ImageRange range)
    {
        int index = _prepared.BinarySearch((range.Start, ulong.MaxValue, 0), StartOrder.Instance);
        index = index >= 0 ? index : ~index - 1;
        if (index >= 0 && _prepared[index].Start <= range.Start && range.End <= _prepared[index].End)
            return _prepared[index].Memory + (nint)(range.Start - _prepared[index].Start);
        // Kept in order with the rest, so that another image copied into these buffers uses it again.
        nint memory = Allocate(range.Length);
        _prepared.Insert(index + 1, (range.Start, range.End, memory));
        return memory;
    }

    private nint Allocate(ulong bytes)
    {
        // Page aligned as the process's pages are: a copy that straddles two pages of its destination for each page it
        // reads runs at a third of the speed, and the process waits for it.
        nint memory = (nint)NativeMemory.AlignedAlloc((nuint)bytes, PageBytes);
        _owned.Add((memory, (long)bytes));
        Paths.MemoryBudget.NativeTaken((long)bytes);
        return memory;
    }

    /// <summary>
    /// Writes each piece of memory of at least <paramref name="minBytes"/> into <paramref name="file"/>, one after the
    /// other, and frees it as soon as it is written, so the memory falls as the file grows.
    /// </summary>
    /// <returns>Where each piece was and where it is now in the file.</returns>
    public List<(nint Memory, long Bytes, long FileOffset)> MoveToFile(SafeFileHandle file, long minBytes)
    {
        const int WriteBytes = 64 << 20;
        var moved = new List<(nint Memory, long Bytes, long FileOffset)>();
        long fileOffset = 0;
        foreach ((nint memory, long bytes) in _owned.Where(o => o.Bytes >= minBytes).ToList())
        {
            try
            {
                for (long written = 0; written < bytes; written += WriteBytes)
                    RandomAccess.Write(file, new ReadOnlySpan<byte>((byte*)memory + written, (int)Math.Min(WriteBytes, bytes - written)), fileOffset + written);
            }
            catch (IOException)
            {
                // The disk is full: what is not in the file yet stays in memory, as a smaller image would.
                break;
            }
            moved.Add((memory, bytes, fileOffset));
            fileOffset += bytes;
            Free(memory, bytes);
            _owned.Remove((memory, bytes));
        }
        // Nothing is copied into them any more.
        _prepared.Clear();
        return moved;
    }

    private static void Free(nint memory, long bytes)
    {
        NativeMemory.AlignedFree((void*)memory);
        Paths.MemoryBudget.NativeTaken(-bytes);
    }

    public void Dispose()
    {
        foreach ((nint memory, long bytes) in _owned)
            Free(memory, bytes);
        _owned.Clear();
        _prepared.Clear();
    }

    private sealed class StartOrder : IComparer<(ulong Start, ulong End, nint Memory)>
    {
        public static readonly StartOrder Instance = new();

        public int Compare((ulong Start, ulong End, nint Memory) x, (ulong Start, ulong End, nint Memory) y) => x.Start.CompareTo(y.Start);
    }
}
