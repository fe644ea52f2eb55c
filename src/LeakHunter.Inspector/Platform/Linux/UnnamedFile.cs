using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using Microsoft.Win32.SafeHandles;

namespace LeakHunter.Inspector.Platform.Linux;

/// <summary>
/// A file with no name (<c>O_TMPFILE</c>), readable and writable by this user only: no other process can open it by a
/// path, and the system frees it when its last descriptor closes, a <c>kill -9</c> of the inspector included.
/// </summary>
[SupportedOSPlatform("linux")]
internal static partial class UnnamedFile
{
    private const int ReadWrite = 0x2; // O_RDWR
    private const int NeverNamed = 0x80; // O_EXCL: with O_TMPFILE, linkat can never give it a name
    private const int CloseOnExec = 0x80000; // O_CLOEXEC
    private const int OwnerReadWrite = 0x180; // 0600

    private const long TmpfsMagic = 0x01021994;
    private const long RamfsMagic = 0x858458f6;

    /// <summary>
    /// An unnamed file on the file system of <paramref name="folder"/>; null where it refuses one (NFS, old kernels),
    /// or where the file system is memory itself (tmpfs, ramfs): a file there would take the same memory, unseen.
    /// </summary>
    public static unsafe SafeFileHandle? Create(string folder)
    {
        // struct statfs begins with f_type on every Linux architecture; the rest is not needed.
        byte* fileSystem = stackalloc byte[256];
        if (statfs(folder, fileSystem) != 0 || *(long*)fileSystem is TmpfsMagic or RamfsMagic)
            return null;
        int descriptor = open(folder, TemporaryFile | ReadWrite | NeverNamed | CloseOnExec, OwnerReadWrite);
        return descriptor < 0 ? null : new SafeFileHandle(descriptor, ownsHandle: true);
    }

    // O_TMPFILE includes O_DIRECTORY, whose value differs between architectures.
    private static int TemporaryFile => RuntimeInformation.ProcessArchitecture is Architecture.Arm64 or Architecture.Arm ? 0x404000 : 0x410000;

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags, int mode);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int statfs(string path, byte* buffer);
}
