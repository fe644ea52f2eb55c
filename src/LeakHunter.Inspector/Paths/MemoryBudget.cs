namespace LeakHunter.Inspector.Paths;

/// <summary>
/// What the inspector may still take for a graph of the heap and its searches: what its GC may still hand out (its
/// heap limit, or the container's or the machine's memory), and no more than the system has available now. A graph
/// that would not fit is not built: the explanation says what it left out instead of failing for want of memory.
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

    private static long Available(bool collect)
    {
        long gcRoom = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes - GC.GetTotalMemory(forceFullCollection: collect);
        long system = Platform.InspectorPlatform.Current.AvailableMemory() ?? long.MaxValue;
        return Math.Max(0, Math.Min(gcRoom, system));
    }

    /// <summary>"about 1,234 MiB", for a person.</summary>
    public static string Describe(long bytes) => $"about {Math.Max(1, bytes >> 20):N0} MiB";
}
