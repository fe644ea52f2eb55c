namespace LeakHunter.Inspector.Paths;

/// <summary>
/// What the inspector may still take for an image of a process, a graph of its heap and their searches: what its GC
/// may still hand out (its heap limit, or the container's or the machine's memory) less the images it holds, and no
/// more than the system has available now. What would not fit is not made: the explanation says what it left out
/// instead of failing for want of memory.
/// </summary>
internal static class MemoryBudget
{
    /// <summary>The bytes to spare; <paramref name="needed"/> is compared with what is left after a collection, when the garbage counts.</summary>
    public static long AvailableBytes(long needed)
    {
        long available = Available(collect: false);
        // The arrays the last walk outgrew are garbage until the next GC: collect only when they make the difference.
        return available >= needed ? available : Available(collect: true);
    }

    private static long s_nativeInUse;

    /// <summary>Notes memory the inspector holds outside its GC heap (an image of a process): it counts against the budget.</summary>
    public static void NativeTaken(long bytes) => Interlocked.Add(ref s_nativeInUse, bytes);

    private static long Available(bool collect)
    {
        long inspectorRoom = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes - GC.GetTotalMemory(forceFullCollection: collect) - Interlocked.Read(ref s_nativeInUse);
        long system = Platform.InspectorPlatform.Current.AvailableMemory() ?? long.MaxValue;
        return Math.Max(0, Math.Min(inspectorRoom, system));
    }

    /// <summary>"about 1,234 MiB", for a person.</summary>
    public static string Describe(long bytes) => $"about {Math.Max(1, bytes >> 20):N0} MiB";
}
