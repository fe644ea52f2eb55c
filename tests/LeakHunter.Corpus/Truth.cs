namespace LeakHunter.Corpus;

/// <summary>
/// A case's truth, measured without LeakHunter: the runtime's own count of live heap bytes after a full blocking GC, and
/// the process's threads as the kernel lists them, after the fragment ran at 1x, 3x and 5x its scale. A leak grows
/// with the scale; its fixed twin stays flat.
/// </summary>
internal static class Truth
{
    public sealed record Measurement(long[] HeapBytes, int[] Threads, int Scale);

    public static Measurement Measure(Action fragment, int scale)
    {
        // Warm-up: first-use caches, JIT and the library's own statics fill before anything is measured.
        Run(fragment, scale);
        var bytes = new List<long>();
        var threads = new List<int>();
        foreach (int runs in new[] { scale, 2 * scale, 2 * scale })
        {
            Run(fragment, runs);
            bytes.Add(LiveBytes());
            threads.Add(Directory.GetDirectories("/proc/self/task").Length);
        }
        return new Measurement(bytes.ToArray(), threads.ToArray(), scale);
    }

    private static void Run(Action fragment, int times)
    {
        for (int i = 0; i < times; i++)
            fragment();
    }

    private static long LiveBytes()
    {
        for (int i = 0; i < 3; i++)
        {
            GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
        }
        return GC.GetTotalMemory(forceFullCollection: true);
    }
}
