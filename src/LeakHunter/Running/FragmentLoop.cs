namespace LeakHunter.Running;

/// <summary>
/// Runs the fragment and counts its iterations. While the counted censuses run, it also adds up what other threads
/// allocate beside a synchronous fragment: a parallel test's objects would pollute the counts.
/// </summary>
internal sealed class FragmentLoop(Fragment fragment, CancellationToken cancellationToken)
{
    /// <summary>The fragment this loop runs.</summary>
    public Fragment Fragment => fragment;

    /// <summary>How many times the fragment has run so far.</summary>
    public int Iterations { get; private set; }

    /// <summary>Whether what other threads allocate is added up; from the first counted census on.</summary>
    public bool WatchOtherThreads { get; set; }

    /// <summary>What other threads allocated while this thread ran the fragment or took a census, since <see cref="WatchOtherThreads"/> was set.</summary>
    public long OtherThreadsBytes { get; private set; }

    /// <summary>Runs the fragment <paramref name="count"/> times.</summary>
    public async ValueTask RunAsync(int count)
    {
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        if (fragment is Fragment.Synchronous)
        {
            var window = AllocationWindow.Open();
            await fragment.RunAsync(count, cancellationToken).ConfigureAwait(false);
            Close(window);
        }
        else
        {
            // An async fragment's own continuations run on other threads: only the censuses can tell its work from theirs.
            await fragment.RunAsync(count, cancellationToken).ConfigureAwait(false);
        }
        Iterations += count;
        CheckTimings.AddFragment(started);
    }

    /// <summary>Waits as the fragment would wait between calls, without running it.</summary>
    public ValueTask IdleAsync(TimeSpan duration) => fragment.IdleAsync(duration, cancellationToken);

    /// <summary>Adds what other threads allocated since <paramref name="window"/> opened, if they are watched.</summary>
    public void Close(AllocationWindow window)
    {
        if (WatchOtherThreads)
            OtherThreadsBytes += window.OtherThreadsBytes;
    }
}

/// <summary>
/// What other threads allocate while this thread runs one stretch of synchronous work. The stretch must not cross an
/// await: the current thread's own count means nothing on another thread.
/// </summary>
internal readonly record struct AllocationWindow(long Total, long Mine)
{
    public static AllocationWindow Open() => new(GC.GetTotalAllocatedBytes(precise: false), GC.GetAllocatedBytesForCurrentThread());

    public long OtherThreadsBytes =>
        (GC.GetTotalAllocatedBytes(precise: false) - Total) - (GC.GetAllocatedBytesForCurrentThread() - Mine);
}
