using System.Runtime.InteropServices;

namespace LeakHunter.Census;

internal static partial class NativeMethods
{
    // Yama (ptrace_scope=1) lets only a declared tracer attach; declaring the inspector costs nothing elsewhere.
    // Its descendants count as declared too, so the runtime's dump writer the inspector starts may trace as well.
    private const int PrSetPtracer = 0x59616d61;

    public static void AllowTracer(int tracerPid)
    {
        if (OperatingSystem.IsLinux())
            _ = prctl(PrSetPtracer, (nuint)tracerPid, 0, 0, 0);
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int prctl(int option, nuint arg2, nuint arg3, nuint arg4, nuint arg5);
}
