namespace LeakHunter.Running;

/// <summary>
/// One check at a time per process: two checks would count each other's objects. A check started from the code a
/// check runs (its fragment, or whatever that fragment starts or awaits) would wait for the gate its own caller holds,
/// so it fails at once instead.
/// </summary>
internal static class CheckGate
{
    private static readonly SemaphoreSlim s_oneCheckAtATime = new(1, 1);
    private static readonly AsyncLocal<bool> s_insideCheck = new();
    private static long s_started;

    /// <summary>The checks started in this process so far: a suite's test that starts one is a leak check of its own.</summary>
    public static long Started => Interlocked.Read(ref s_started);

    /// <summary>Runs <paramref name="work"/> with no other check running alongside.</summary>
    public static T Exclusive<T>(Func<T> work, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref s_started);
        ThrowIfNested();
        s_oneCheckAtATime.Wait(cancellationToken);
        try
        {
            s_insideCheck.Value = true;
            return work();
        }
        finally
        {
            s_insideCheck.Value = false;
            s_oneCheckAtATime.Release();
        }
    }

    /// <summary>Awaits <paramref name="work"/> with no other check running alongside.</summary>
    public static async Task<T> ExclusiveAsync<T>(Func<Task<T>> work, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref s_started);
        ThrowIfNested();
        await s_oneCheckAtATime.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // Set inside this async method, so it flows into the work and is gone for the caller when it returns.
            s_insideCheck.Value = true;
            return await work().ConfigureAwait(false);
        }
        finally
        {
            s_oneCheckAtATime.Release();
        }
    }

    private static void ThrowIfNested()
    {
        if (s_insideCheck.Value)
            throw new LeakHunterException(LeakHunterFailure.NestedCheck,
                "A leak check was started inside another one (from the code under test, or from its fragment). " +
                "Checks cannot nest: the inner one would count the outer one's objects and wait for it forever. " +
                "Start each check from the test itself, one after the other.");
    }
}
