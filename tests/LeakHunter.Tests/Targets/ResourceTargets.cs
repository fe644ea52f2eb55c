using System.Net;
using System.Net.Sockets;
using System.Reflection;
using System.Reflection.Emit;
using System.Runtime.InteropServices;
using System.Xml.Serialization;

namespace LeakHunter.Tests.Targets;

// Leaks of what the GC heap does not show, each with its clean twin. What a leaky call keeps goes into an array
// sized up front, so the managed heap stays flat and only the resource grows; Release gives it all back.

// A thread started per call that never ends (until Release).
internal static class ResourceThreads
{
    private static readonly ManualResetEventSlim s_release = new();
    // Sized up front, so keeping the threads adds no object while a check counts.
    private static readonly Thread[] s_leaked = new Thread[10_000];
    private static int s_count;

    public static void Leak()
    {
        var worker = new Thread(() => s_release.Wait()) { IsBackground = true, Name = "leaked worker" };
        worker.Start();
        s_leaked[s_count++] = worker;
    }

    public static void Clean()
    {
        var worker = new Thread(() => { }) { IsBackground = true, Name = "finished worker" };
        worker.Start();
        worker.Join();
    }

    /// <summary>
    /// Ends every leaked thread and waits until the system has let them go: a thread that is still exiting frees its
    /// stack and handles while the next test counts, and its native memory and GC handles seem to shrink.
    /// </summary>
    public static void Release()
    {
        int before = OsThreads();
        s_release.Set();
        for (int i = 0; i < s_count; i++)
            s_leaked[i].Join();
        var exiting = System.Diagnostics.Stopwatch.StartNew();
        while (OsThreads() > before - s_count && exiting.Elapsed < TimeSpan.FromSeconds(30))
            Thread.Yield();
        Array.Clear(s_leaked, 0, s_count);
        s_count = 0;
        s_release.Reset();
    }

    private static int OsThreads() => Directory.GetDirectories("/proc/self/task").Length;
}

// Blocking work spread over the thread pool: the pool adds threads while it is short of them, up to what the work
// needs, then stops. Its threads are the pool's to keep, not a leak.
internal static class ResourceThreadPool
{
    public static void Work() => Parallel.For(0, 8, new ParallelOptions { MaxDegreeOfParallelism = 8 }, _ => Thread.Sleep(2));
}

// A weak GC handle on a long-lived object, allocated per call and never freed: the handle table grows, the heap does
// not. (The runtime's debugging interface lists only handles whose object is alive, so the target outlives the call.)
internal static class ResourceGcHandles
{
    private static readonly object s_settings = new();
    private static readonly GCHandle[] s_handles = new GCHandle[100_000];
    private static int s_count;

    public static void Leak() => s_handles[s_count++] = GCHandle.Alloc(s_settings, GCHandleType.Weak);

    public static void Clean() => GCHandle.Alloc(s_settings, GCHandleType.Weak).Free();

    public static void Release()
    {
        for (int i = 0; i < s_count; i++)
            s_handles[i].Free();
        s_count = 0;
    }
}

// A weak GC handle to an object made per call, never freed: the object dies at the next GC, the handle stays in use,
// pointing at nothing. The runtime's debugging interface no longer lists it; its handle table still does.
internal static class ResourceEmptiedGcHandles
{
    private static readonly GCHandle[] s_handles = new GCHandle[100_000];
    private static int s_count;

    public static void Leak() => s_handles[s_count++] = GCHandle.Alloc(new object(), GCHandleType.Weak);

    public static void Clean() => GCHandle.Alloc(new object(), GCHandleType.Weak).Free();

    public static void Release()
    {
        for (int i = 0; i < s_count; i++)
            s_handles[i].Free();
        s_count = 0;
    }
}

// A file descriptor opened through P/Invoke per call and never closed.
internal static partial class ResourceFileDescriptors
{
    private static readonly int[] s_descriptors = new int[100_000];
    private static int s_count;

    public static void Leak() => s_descriptors[s_count++] = open("/dev/null", 0);

    public static void Clean() => _ = close(open("/dev/null", 0));

    public static void Release()
    {
        for (int i = 0; i < s_count; i++)
            _ = close(s_descriptors[i]);
        s_count = 0;
    }

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags);

    [LibraryImport("libc")]
    private static partial int close(int descriptor);
}

// A TCP connection to a loopback listener per call, never closed: each connection is one socket descriptor, owned by
// the Socket's SafeSocketHandle. ResourceSockets.s_leaked (static) -> Socket[] -> Socket -> SafeSocketHandle.
internal static class ResourceSockets
{
    private static readonly Socket[] s_leaked = new Socket[100_000];
    private static int s_count;
    private static TcpListener? s_listener;

    /// <summary>The listener the calls connect to; its backlog holds the other end, so no descriptor is added for it.</summary>
    public static IPEndPoint Listener
    {
        get
        {
            if (s_listener is null)
            {
                s_listener = new TcpListener(IPAddress.Loopback, 0);
                s_listener.Start(backlog: 100_000);
            }
            return (IPEndPoint)s_listener.LocalEndpoint;
        }
    }

    public static void Leak()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Connect(Listener);
        s_leaked[s_count++] = socket;
    }

    public static void Clean()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Connect(Listener);
    }

    public static void Release()
    {
        for (int i = 0; i < s_count; i++)
            s_leaked[i].Dispose();
        Array.Clear(s_leaked, 0, s_count);
        s_count = 0;
        s_listener?.Stop();
        s_listener = null;
    }
}

// Native memory owned by a managed wrapper per call, kept: the wrapper grows beside the memory and owns it.
// ResourceOwnedNativeMemory.s_kept (static) -> NativeBlock[] -> NativeBlock (holds 1 MiB outside the GC heap).
internal static class ResourceOwnedNativeMemory
{
    private static readonly NativeBlock[] s_kept = new NativeBlock[100_000];
    private static int s_count;

    public static void Leak() => s_kept[s_count++] = new NativeBlock();

    public static void Release()
    {
        for (int i = 0; i < s_count; i++)
            s_kept[i].Free();
        Array.Clear(s_kept, 0, s_count);
        s_count = 0;
    }

    /// <summary>A buffer outside the GC heap and the object that owns it.</summary>
    public sealed class NativeBlock
    {
        private readonly IntPtr _block = ResourceNativeMemory.Touched(Marshal.AllocHGlobal(ResourceNativeMemory.Size));

        public void Free() => Marshal.FreeHGlobal(_block);
    }
}

// 1 MiB of native memory per call, written to so it is resident, and never freed: 10 MiB per counted interval, well
// above what the runtime's own native memory (the GC's bookkeeping, the allocator's arenas) moves by in one.
internal static class ResourceNativeMemory
{
    public const int Size = 1024 * 1024;
    private static readonly IntPtr[] s_blocks = new IntPtr[100_000];
    private static int s_count;

    public static void Leak() => s_blocks[s_count++] = Touched(Marshal.AllocHGlobal(Size));

    public static void Clean() => Marshal.FreeHGlobal(Touched(Marshal.AllocHGlobal(Size)));

    public static void Release()
    {
        for (int i = 0; i < s_count; i++)
            Marshal.FreeHGlobal(s_blocks[i]);
        s_count = 0;
    }

    public static IntPtr Touched(IntPtr block)
    {
        for (int offset = 0; offset < Size; offset += 4096)
            Marshal.WriteByte(block, offset, 1);
        return block;
    }
}

// 64 KiB of malloc per call, never freed and never written: the pages are not resident, so only the allocator's own
// count of the bytes it handed out rises (640 KiB an interval).
internal static class ResourceUntouchedMalloc
{
    public const int Size = 64 * 1024;
    private static readonly IntPtr[] s_blocks = new IntPtr[100_000];
    private static int s_count;

    public static void Leak() => s_blocks[s_count++] = Marshal.AllocHGlobal(Size);

    public static void Clean() => Marshal.FreeHGlobal(Marshal.AllocHGlobal(Size));

    public static void Release()
    {
        for (int i = 0; i < s_count; i++)
            Marshal.FreeHGlobal(s_blocks[i]);
        s_count = 0;
    }
}

// 1 MiB per call never given back, taken first from 30 MiB the process allocated and wrote on its first call, as an
// allocator hands out what earlier frees left it before it asks the system for more: resident memory stays flat
// through the first two counted intervals (iterations 10 to 30), then rises by 1 MiB a call.
internal static class ResourceNativeMemoryReused
{
    private const int Reusable = 30;
    private static IntPtr s_reusable;
    private static readonly IntPtr[] s_blocks = new IntPtr[100_000];
    private static int s_count;

    public static void Leak()
    {
        if (s_reusable == IntPtr.Zero)
            s_reusable = Marshal.AllocHGlobal(Reusable * ResourceNativeMemory.Size);
        for (int offset = 0; s_count == 0 && offset < Reusable * ResourceNativeMemory.Size; offset += 4096)
            Marshal.WriteByte(s_reusable, offset, 1);
        s_blocks[s_count] = s_count < Reusable
            ? s_reusable + s_count * ResourceNativeMemory.Size
            : ResourceNativeMemory.Touched(Marshal.AllocHGlobal(ResourceNativeMemory.Size));
        s_count++;
    }

    public static void Release()
    {
        for (int i = Reusable; i < s_count; i++)
            Marshal.FreeHGlobal(s_blocks[i]);
        Marshal.FreeHGlobal(s_reusable);
        s_reusable = IntPtr.Zero;
        s_count = 0;
    }
}

// What the allocator keeps of the memory earlier tests freed, given back to the system, so a native memory leak in
// the next test is seen from its first call (glibc's malloc_trim).
internal static class NativeHeap
{
    public static void ReturnFreedMemory() => _ = malloc_trim(0);

    [DllImport("libc", EntryPoint = "malloc_trim")]
    private static extern int malloc_trim(nuint pad);
}

// A managed array of a megabyte kept per call, written to on every page so all of it is in RAM (the GC hands out
// fresh memory unwritten): the process's anonymous memory grows by as much, and all of it is the GC's.
internal static class ResourceManagedArrays
{
    public const int Size = 1024 * 1024;
    private static readonly byte[][] s_kept = new byte[1_000][];
    private static int s_count;

    public static void Leak()
    {
        var kept = new byte[Size];
        for (int offset = 0; offset < Size; offset += 4096)
            kept[offset] = 1;
        s_kept[s_count++] = kept;
    }

    public static void Release()
    {
        Array.Clear(s_kept, 0, s_count);
        s_count = 0;
    }
}

// An assembly generated per call, never unloaded; and XmlSerializer(Type), which the runtime generates once and caches.
internal static class ResourceAssemblies
{
    private static int s_generated;

    public static void Leak()
    {
        AssemblyBuilder assembly = AssemblyBuilder.DefineDynamicAssembly(new AssemblyName($"LeakHunter.Generated{++s_generated}"), AssemblyBuilderAccess.Run);
        assembly.DefineDynamicModule("Generated").DefineType("Proxy", TypeAttributes.Public).CreateType();
    }

    public static void Clean() => GC.KeepAlive(new XmlSerializer(typeof(ResourceXmlOrder)));
}

/// <summary>A type XmlSerializer can see: it serializes public types only.</summary>
public sealed class ResourceXmlOrder
{
    /// <summary>The order's number.</summary>
    public int Id { get; set; }
}
