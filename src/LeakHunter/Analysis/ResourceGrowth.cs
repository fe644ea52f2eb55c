using LeakHunter.Census;

namespace LeakHunter.Analysis;

/// <summary>
/// Judges what a process holds besides its objects, census by census, by the rules a growing type is judged by: it
/// rose in every counted interval, did not rise while the fragment was idle by half as much as a counted interval
/// added, and kept at least half its slowest counted pace in every confirmation round. Native memory must also rise by more than allocator noise in every counted
/// interval: an arena's high-water mark or a page of JIT code moves it a little, and now and then. Where confirmation
/// decides, native memory may instead start flat (within the noise, or an eighth of its smallest rise) and rise in every counted interval from some point on: an allocator
/// hands out the memory it kept from earlier frees before it asks the system for more, so a leak shows in resident
/// memory only once that memory is used up. Confirmation must then see it go on at half the pace it rose at.
/// </summary>
internal static class ResourceGrowth
{
    /// <summary>The resources of a run of censuses.</summary>
    /// <param name="readings">
    /// Census by census, one value per <see cref="ResourceNames.Slots"/> entry (-1 where a census did not carry it):
    /// census c's readings start at c × <see cref="ResourceNames.Slots"/>.Length.
    /// </param>
    /// <param name="positions">Each census's iteration (a check) or second (a watch), the unit of the rates.</param>
    /// <param name="countedLast">The last counted census; the counted ones start at 0.</param>
    /// <param name="idle">The census taken after a pause in which the fragment did not run, if one was taken.</param>
    /// <param name="confirmations">The censuses after each confirmation round.</param>
    /// <param name="selected">The resources to report.</param>
    /// <param name="nativeNoiseBytes">What native memory may rise by in an interval without it counting as growth.</param>
    /// <param name="rules">Ignore rules: a resource rule leaves a resource out of the verdict, with its reason.</param>
    /// <param name="confirmationDecides">
    /// Whether confirmation rounds follow a resource that grew in the counted run (a check), so native memory that
    /// started flat may be a candidate; without them (a watch, a check with confirmation off) it must rise in every interval.
    /// </param>
    public static IReadOnlyList<ResourceUsage> Judge(long[] readings, IReadOnlyList<double> positions, int countedLast, int? idle, IReadOnlyList<int> confirmations,
        LeakResources selected, long nativeNoiseBytes, IReadOnlyList<LeakIgnore> rules, bool confirmationDecides)
    {
        int slots = ResourceNames.Slots.Length;
        int censuses = positions.Count;
        long[] Series(int slot) => Enumerable.Range(0, censuses).Select(c => readings[c * slots + slot]).ToArray();

        var usages = new List<ResourceUsage>();
        foreach (string name in ResourceNames.All.Where(n => (selected & FlagOf(n)) != 0))
        {
            long[] counts = Series(ResourceNames.SlotOf(name, ResourceNames.Total));
            if (counts.Length < 2 || counts.Any(c => c < 0))
                continue; // not measured here: a dump file's process has no threads or descriptors to read
            var details = ResourceNames.Slots.Select((s, i) => (s, i)).Where(p => p.s.Resource == name && p.s.Kind != ResourceNames.Total)
                .Select(p => (p.s.Kind, Counts: Series(p.i))).Where(d => d.Counts.All(c => c >= 0))
                .ToDictionary(d => d.Kind, d => (IReadOnlyList<long>)d.Counts);
            bool native = name == ResourceNames.NativeMemory;
            long noise = native ? nativeNoiseBytes : 0;
            double span = positions[^1] - positions[0];
            LeakIgnore? rule = rules.FirstOrDefault(r => r.Kind == LeakIgnoreKind.Resource && Wildcard.ToRegex(r.Pattern).IsMatch(name));
            bool grows = Grows(counts, positions, countedLast, idle, confirmations, noise, mayStartFlat: native && confirmationDecides);
            // Blocks malloc handed out and nobody wrote to are not resident: the allocator's own count shows them, and
            // when it grows where resident memory does not, it is the series the verdict and the rate come from. Where
            // both grow, resident memory shows only the pages written (a block's first, where its header is): the
            // allocator's count is the rate when it is half again as fast.
            if (native && details.TryGetValue(ResourceNames.MallocInUse, out IReadOnlyList<long>? allocated)
                && Grows([.. allocated], positions, countedLast, idle, confirmations, noise, mayStartFlat: confirmationDecides)
                && (!grows || allocated[^1] - allocated[0] > 1.5 * (counts[^1] - counts[0])))
                (counts, grows) = ([.. allocated], true);
            usages.Add(new ResourceUsage(name, counts, span <= 0 ? 0 : (counts[^1] - counts[0]) / span, grows, details) { IgnoredReason = rule?.Reason });
        }
        return usages;
    }

    private static bool Grows(long[] counts, IReadOnlyList<double> positions, int countedLast, int? idle, IReadOnlyList<int> confirmations, long noise,
        bool mayStartFlat)
    {
        if (countedLast < 1)
            return false;
        // The first interval of the rise: every interval from it on rose by more than the noise, and each before it
        // stayed within the noise (memory freed earlier being handed out again).
        int first = countedLast + 1;
        while (first > 1 && counts[first - 1] - counts[first - 2] > noise)
            first--;
        if (first > countedLast || (first > 1 && !mayStartFlat))
            return false;
        double slowest = double.MaxValue;
        long smallestRise = long.MaxValue;
        for (int c = first; c <= countedLast; c++)
        {
            long rise = counts[c] - counts[c - 1];
            slowest = Math.Min(slowest, rise / Math.Max(1e-9, positions[c] - positions[c - 1]));
            smallestRise = Math.Min(smallestRise, rise);
        }
        // Flat is flat beside the rise: the process's own work (the GC's bookkeeping, JIT code, another thread's
        // allocations) may once move resident memory by more than the noise, while the leak adds megabytes an interval.
        // A step of an eighth of the smallest rise or more is growth of its own (an arena grown once), and no flat start.
        long flat = Math.Max(noise, smallestRise / 8);
        for (int c = 1; c < first; c++)
            if (Math.Abs(counts[c] - counts[c - 1]) > flat)
                return false;
        // The idle pause lasts as long as a counted interval: growing by half the least a counted interval added is
        // growing on its own (the thread pool, another thread's work). Less is the runtime's own churn, not a rate.
        if (idle is int quiet && counts[quiet] - counts[countedLast] > Math.Max(noise, smallestRise / 2))
            return false;
        if (confirmations.Count == 0)
            return true; // a candidate, or a verdict where nothing confirms: a rise that started flat is never confirmed by none
        // Every round must keep half the slowest counted pace, as a growing type's count must: memory the allocator
        // keeps (thread stacks it caches, arenas it does not trim) rises while threads come and go, then stops at
        // its high-water mark, and a single round that rose a lot must not carry the ones after it.
        int from = idle ?? countedLast;
        foreach (int round in confirmations)
        {
            if (counts[round] - counts[from] < 0.5 * slowest * (positions[round] - positions[from]))
                return false;
            from = round;
        }
        return true;
    }

    private static LeakResources FlagOf(string name) => name switch
    {
        ResourceNames.Threads => LeakResources.Threads,
        ResourceNames.GcHandles => LeakResources.GcHandles,
        ResourceNames.FinalizationQueue => LeakResources.FinalizationQueue,
        ResourceNames.FileDescriptors => LeakResources.FileDescriptors,
        ResourceNames.NativeMemory => LeakResources.NativeMemory,
        ResourceNames.Assemblies => LeakResources.Assemblies,
        _ => LeakResources.None,
    };
}
