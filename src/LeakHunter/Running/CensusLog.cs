using LeakHunter.Census;
using LeakHunter.Platform;

namespace LeakHunter.Running;

/// <summary>
/// The censuses of one check, in order: when each was taken, what it counted, its resource readings, and which of them
/// are the last counted census, the idle one and the confirmation rounds'. Everything is sized when the check starts
/// and never grows, so keeping it adds no object while the check counts.
/// </summary>
internal sealed class CensusLog
{
    private static readonly int s_mallocSlot = ResourceNames.SlotOf(ResourceNames.NativeMemory, ResourceNames.MallocInUse);

    private readonly CensusRecord[] _records;
    // Each census's resource readings, one per ResourceNames.Slots entry.
    private readonly long[] _resources;
    private readonly int[] _confirmations;
    private int _confirmationCount;

    public CensusLog(int censuses, int maxConfirmations)
    {
        _confirmations = new int[maxConfirmations];
        _records = new CensusRecord[censuses + 1 + maxConfirmations];
        _resources = new long[_records.Length * ResourceNames.Slots.Length];
    }

    /// <summary>How many censuses were taken.</summary>
    public int Count { get; private set; }

    /// <summary>The index of the last counted census.</summary>
    public int CountedLast { get; private set; }

    /// <summary>The index of the idle census, once one was taken.</summary>
    public int? Idle { get; private set; }

    /// <summary>The indices of the confirmation censuses taken so far.</summary>
    public ReadOnlySpan<int> Confirmations => _confirmations.AsSpan(0, _confirmationCount);

    /// <summary>The confirmation censuses' indices, as the growth rules take them.</summary>
    public int[] ConfirmationArray() => _confirmations[.._confirmationCount];

    /// <summary>Whether another confirmation census fits.</summary>
    public bool ConfirmationsFull => _confirmationCount == _confirmations.Length;

    /// <summary>The first census, from which resources' new items are told.</summary>
    public CensusRecord First => _records[0];

    /// <summary>Iterations from the first census to the last.</summary>
    public int Span => _records[Count - 1].Iteration - _records[0].Iteration;

    /// <summary>
    /// Settles the heap and takes a census, recording it as <paramref name="phase"/> at the loop's iteration, with
    /// what other threads allocated meanwhile and the census's warnings.
    /// </summary>
    public void Take(InspectionSession censuses, HeapSettler settler, FragmentLoop loop, CensusPhase phase, List<string> warnings, bool compacting = true)
    {
        var window = AllocationWindow.Open();
        settler.Settle(compacting);
        long asked = System.Diagnostics.Stopwatch.GetTimestamp();
        (int id, CensusReply reply) = censuses.Take();
        CheckTimings.AddCensus(asked);
        warnings.AddRange(InspectionSession.CensusWarnings(reply, $"Census {Count + 1}"));
        ResourceNames.Record(_resources, Count, reply.Resources);
        // Only this process can ask its own allocator; the inspector reads what is resident.
        if (reply.Resources.Count > 0)
            _resources[Count * ResourceNames.Slots.Length + s_mallocSlot] = HostPlatform.Current.NativeAllocatorInUseBytes();
        _records[Count] = new CensusRecord(id, loop.Iterations, reply.Objects, reply.Bytes, reply.PauseMs, phase);
        switch (phase)
        {
            case CensusPhase.Counted:
                CountedLast = Count;
                break;
            case CensusPhase.Idle:
                Idle = Count;
                break;
            case CensusPhase.Confirmation:
                _confirmations[_confirmationCount++] = Count;
                break;
        }
        Count++;
        loop.Close(window);
    }

    /// <summary>Forgets every census: the one that primed a route counts for nothing.</summary>
    public void Clear()
    {
        Count = 0;
        CountedLast = 0;
        Idle = null;
        _confirmationCount = 0;
    }

    /// <summary>The censuses' ids, in order.</summary>
    public int[] Ids() => _records.Take(Count).Select(r => r.Id).ToArray();

    /// <summary>The iteration at each census, in order.</summary>
    public int[] Iterations() => _records.Take(Count).Select(r => r.Iteration).ToArray();

    /// <summary>Every census's resource readings, <see cref="ResourceNames.Slots"/> per census.</summary>
    public long[] Resources() => _resources[..(Count * ResourceNames.Slots.Length)];

    /// <summary>The reading of <paramref name="slot"/> at census <paramref name="census"/>.</summary>
    public long Resource(int census, int slot) => _resources[census * ResourceNames.Slots.Length + slot];

    /// <summary>What the report says of each census.</summary>
    public CensusSummary[] Summaries() =>
        _records.Take(Count).Select(r => new CensusSummary(r.Iteration, r.Objects, r.Bytes, r.PauseMs, r.Phase)).ToArray();

    internal readonly record struct CensusRecord(int Id, int Iteration, long Objects, long Bytes, double PauseMs, CensusPhase Phase);
}
