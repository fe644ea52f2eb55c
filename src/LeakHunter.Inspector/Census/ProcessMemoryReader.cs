using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.Diagnostics.Runtime;

namespace LeakHunter.Inspector.Census;

/// <summary>
/// A reader of a process's memory that serves ClrMD some other way than ClrMD's own (a page cache, a copied image):
/// everything but the bytes is the process's reader's, and the typed reads are the byte reads'.
/// </summary>
internal abstract class ProcessMemoryReader(IDataReader process) : IDataReader
{
    /// <summary>ClrMD's reader of the live process.</summary>
    protected IDataReader Process { get; } = process;

    public virtual string DisplayName => Process.DisplayName;
    public bool IsThreadSafe => Process.IsThreadSafe;
    public OSPlatform TargetPlatform => Process.TargetPlatform;
    public Architecture Architecture => Process.Architecture;
    public int ProcessId => Process.ProcessId;
    public int PointerSize => Process.PointerSize;

    public virtual IEnumerable<ModuleInfo> EnumerateModules() => Process.EnumerateModules();

    public virtual bool GetThreadContext(uint threadID, uint contextFlags, Span<byte> context) => Process.GetThreadContext(threadID, contextFlags, context);

    public virtual void FlushCachedData() => Process.FlushCachedData();

    public abstract int Read(ulong address, Span<byte> buffer);

    public unsafe bool Read<T>(ulong address, out T value) where T : unmanaged
    {
        Span<byte> bytes = stackalloc byte[sizeof(T)];
        if (Read(address, bytes) == bytes.Length)
        {
            value = Unsafe.ReadUnaligned<T>(ref bytes[0]);
            return true;
        }
        value = default;
        return false;
    }

    public T Read<T>(ulong address) where T : unmanaged => Read(address, out T value) ? value : default;

    public bool ReadPointer(ulong address, out ulong value) => Read(address, out value);

    public ulong ReadPointer(ulong address) => Read<ulong>(address);
}
