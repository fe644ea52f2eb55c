using Microsoft.Diagnostics.Runtime;

namespace LeakHunter.Inspector.Census;

/// <summary>
/// Reads a process that is held still, a page at a time, and keeps each page read: nothing in it can change until the
/// process runs again, and the runtime's data-access layer reads the same few pages of the runtime's tables (its
/// handle table, its threads, its modules) hundreds of times in small pieces, each otherwise a system call.
/// </summary>
/// <remarks>
/// Large reads (the heap scan's, megabytes at a time) go straight through: each is read once. The reader lives only
/// while the process is held: a page kept past that could be stale.
/// </remarks>
internal sealed class HeldMemoryReader(IDataReader process) : ProcessMemoryReader(process)
{
    private const int PageSize = 4096;
    private const int CachedReadLimit = PageSize;
    // A census reads a few hundred pages of the runtime's tables; an explanation that reads objects one field at a
    // time would keep the whole heap. Past this many pages (16 MiB), reads go straight through.
    private const int CachedPageLimit = 4096;
    private readonly Dictionary<ulong, (byte[] Bytes, int Readable)> _pages = new();

    public override void FlushCachedData()
    {
        lock (_pages)
            _pages.Clear();
        Process.FlushCachedData();
    }

    public override int Read(ulong address, Span<byte> buffer)
    {
        if (buffer.Length > CachedReadLimit)
            return Process.Read(address, buffer);
        // The heap scan's workers read object headers at the ends of their ranges from several threads.
        lock (_pages)
            return ReadCached(address, buffer);
    }

    private int ReadCached(ulong address, Span<byte> buffer)
    {
        int done = 0;
        while (done < buffer.Length)
        {
            ulong at = address + (ulong)done;
            ulong page = at & ~(ulong)(PageSize - 1);
            if (!_pages.TryGetValue(page, out (byte[] Bytes, int Readable) kept))
            {
                if (_pages.Count >= CachedPageLimit)
                    return done + Math.Max(0, Process.Read(at, buffer[done..]));
                var bytes = new byte[PageSize];
                kept = (bytes, Math.Max(0, Process.Read(page, bytes)));
                _pages.Add(page, kept);
            }
            int offset = (int)(at - page);
            int count = Math.Min(buffer.Length - done, kept.Readable - offset);
            if (count <= 0)
                break;
            kept.Bytes.AsSpan(offset, count).CopyTo(buffer[done..]);
            done += count;
        }
        return done;
    }
}
