namespace LeakHunter.Running;

/// <summary>
/// <see cref="GC.WaitForPendingFinalizers"/> with a time limit. It has none of its own, and a finalizer that blocks
/// (waiting on a lock, a socket, another thread) would hang a check for good. One waiting thread serves every check in
/// the process; while it is stuck behind a blocked finalizer, every wait asks about that same wait.
/// </summary>
internal static class FinalizerWaiter
{
    /// <summary>How long the finalizers may take before the finalizer thread counts as blocked.</summary>
    public static readonly TimeSpan Limit = TimeSpan.FromSeconds(10);

    private static readonly object s_gate = new();
    private static readonly AutoResetEvent s_request = new(false);
    private static readonly ManualResetEventSlim s_idle = new(true);
    private static Thread? s_waiter;
    private static volatile bool s_timedOut;

    /// <summary>Waits until the finalizers pending now have run; false when they had not after <paramref name="limit"/>.</summary>
    public static bool Wait(TimeSpan limit)
    {
        lock (s_gate)
        {
            // Still blocked where an earlier wait gave up: no need to wait the whole limit again.
            if (s_timedOut && !s_idle.IsSet)
                return false;
            // Still behind the finalizer an earlier wait met: that wait is this one's answer too.
            if (s_idle.IsSet)
            {
                s_idle.Reset();
                s_waiter ??= StartWaiter();
                s_request.Set();
            }
        }
        if (s_idle.Wait(limit))
            return true;
        s_timedOut = true;
        return false;
    }

    private static Thread StartWaiter()
    {
        var waiter = new Thread(() =>
        {
            while (true)
            {
                s_request.WaitOne();
                GC.WaitForPendingFinalizers();
                s_timedOut = false;
                s_idle.Set();
            }
        })
        {
            IsBackground = true,
            Name = "LeakHunter finalizer waiter",
        };
        waiter.Start();
        return waiter;
    }
}
