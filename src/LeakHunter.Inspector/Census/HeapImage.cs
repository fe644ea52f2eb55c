using System.Runtime.InteropServices;
using Microsoft.Diagnostics.Runtime;

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
/// The copy lives in native memory owned by the image, freed when it is disposed; nothing of it goes to disk.
/// </remarks>
internal sealed unsafe class HeapImage : ProcessMemoryReader, IDisposable
{
    private const int ContextBytes = 4096;
    private const int CopyChunkBytes = 64 << 20;

    private readonly ulong[] _starts;
    private readonly ulong[] _ends;
    private readonly nint[] _copies;
    private readonly Dictionary<uint, byte[]> _contexts;
    private readonly ModuleInfo[] _modules;

    private HeapImage(IDataReader process, List<ImageRange> ranges, nint[] copies, Dictionary<uint, byte[]> contexts, ModuleInfo[] modules)
        : base(process)
    {
        _starts = ranges.Select(r => r.Start).ToArray();
        _ends = ranges.Select(r => r.End).ToArray();
        _copies = copies;
        _contexts = contexts;
        _modules = modules;
        CopiedBytes = ranges.Where(r => r.Kind == ImageRangeKind.Copied).Sum(r => (long)r.Length);
    }

    /// <summary>The bytes copied out of the process.</summary>
    public long CopiedBytes { get; }

    /// <summary>
    /// Copies the writable memory of the process <paramref name="process"/> reads, which must be held still, with
    /// the registers of each of <paramref name="threads"/>.
    /// </summary>
    /// <param name="process">A reader of the held process.</param>
    /// <param name="writable">Its writable memory, in address order: what to copy, and what reads as zeros.</param>
    /// <param name="threads">Its threads' ids.</param>
    /// <exception cref="InspectorException">The process could not be read (it exited meanwhile).</exception>
    public static HeapImage Capture(IDataReader process, List<ImageRange> writable, IEnumerable<int> threads)
    {
        var copies = new nint[writable.Count];
        try
        {
            for (int i = 0; i < writable.Count; i++)
            {
                if (writable[i].Kind != ImageRangeKind.Copied)
                    continue;
                copies[i] = (nint)NativeMemory.Alloc((nuint)writable[i].Length);
                CopyRange(process, writable[i], (byte*)copies[i]);
            }

            var contexts = new Dictionary<uint, byte[]>();
            foreach (int thread in threads)
            {
                var context = new byte[ContextBytes];
                if (process.GetThreadContext((uint)thread, 0, context))
                    contexts[(uint)thread] = context;
            }
            return new HeapImage(process, writable, copies, contexts, process.EnumerateModules().ToArray());
        }
        catch
        {
            Free(copies);
            throw;
        }
    }

    private static void CopyRange(IDataReader process, ImageRange range, byte* copy)
    {
        for (ulong offset = 0; offset < range.Length;)
        {
            int length = (int)Math.Min(CopyChunkBytes, range.Length - offset);
            int read;
            try
            {
                read = process.Read(range.Start + offset, new Span<byte>(copy + offset, length));
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
                if (_copies[range] == 0)
                    buffer.Slice(done, count).Clear();
                else
                    new ReadOnlySpan<byte>((byte*)_copies[range] + (at - _starts[range]), count).CopyTo(buffer[done..]);
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

    public void Dispose() => Free(_copies);

    private static void Free(nint[] copies)
    {
        for (int i = 0; i < copies.Length; i++)
        {
            if (copies[i] != 0)
                NativeMemory.Free((void*)copies[i]);
            copies[i] = 0;
        }
    }
}
