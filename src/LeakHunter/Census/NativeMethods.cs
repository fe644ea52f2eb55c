using System.Runtime.InteropServices;

namespace LeakHunter.Census;

internal static partial class NativeMethods
{
    private const int StandardOutput = 1;
    private const int StandardError = 2;
    private const int WriteOnly = 1;

    /// <summary>
    /// Points this process's standard output and error at /dev/null until disposed. The runtime's dump writer
    /// inherits them and prints status lines there, and the core library must print nothing; its errors still
    /// reach the caller through the diagnostics reply.
    /// </summary>
    public static IDisposable SilenceConsole()
    {
        Console.Out.Flush();
        Console.Error.Flush();
        return new Silenced(Redirect(StandardOutput), Redirect(StandardError));
    }

    private static int Redirect(int fd)
    {
        int saved = dup(fd);
        int devNull = open("/dev/null", WriteOnly);
        bool redirected = saved >= 0 && devNull >= 0 && dup2(devNull, fd) >= 0;
        if (devNull >= 0)
            _ = close(devNull);
        if (!redirected && saved >= 0)
        {
            _ = close(saved);
            saved = -1;
        }
        return saved;
    }

    private sealed class Silenced(int savedOutput, int savedError) : IDisposable
    {
        public void Dispose()
        {
            Restore(savedOutput, StandardOutput);
            Restore(savedError, StandardError);
        }

        private static void Restore(int saved, int fd)
        {
            if (saved < 0)
                return;
            _ = dup2(saved, fd);
            _ = close(saved);
        }
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int dup(int fd);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int dup2(int fd, int fd2);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);
}
