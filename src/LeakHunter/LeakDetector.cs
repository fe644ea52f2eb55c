using LeakHunter.Running;

namespace LeakHunter;

/// <summary>
/// The front door: runs a fragment in a loop, takes a census of live objects by type after a settled full GC
/// between runs, and reports the types that keep growing.
/// </summary>
/// <example>
/// <code>
/// LeakReport report = LeakDetector.Run(() => service.Handle(request));
/// Console.WriteLine(report);
/// File.WriteAllText("leak.json", report.ToJson());
/// </code>
/// </example>
public static class LeakDetector
{
    /// <summary>Runs <paramref name="fragment"/> repeatedly and reports what it leaks.</summary>
    /// <param name="fragment">The isolated piece of code to check. Whatever it keeps alive from one run to the next is a leak.</param>
    /// <param name="options">How to run the check; the defaults need no tuning.</param>
    /// <returns>The report; <see cref="LeakReport.HasLeaks"/> gives the verdict.</returns>
    /// <exception cref="LeakHunterException">The heap could not be read; the message says why and what to do.</exception>
    /// <remarks>An exception thrown by <paramref name="fragment"/> stops the check and is rethrown as it is.</remarks>
    public static LeakReport Run(Action fragment, LeakOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(fragment);
        return Check.Run(new Fragment.Synchronous(fragment), options, CancellationToken.None);
    }

    /// <summary>Runs <paramref name="fragment"/> repeatedly and reports what it leaks.</summary>
    /// <param name="fragment">The isolated piece of code to check.</param>
    /// <param name="options">How to run the check; the defaults need no tuning.</param>
    /// <param name="cancellationToken">Stops the check between iterations and censuses.</param>
    /// <exception cref="LeakHunterException">The heap could not be read; the message says why and what to do.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static LeakReport Run(Action fragment, LeakOptions? options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(fragment);
        return Check.Run(new Fragment.Synchronous(fragment), options, cancellationToken);
    }

    /// <summary>Awaits <paramref name="fragment"/> repeatedly and reports what it leaks.</summary>
    /// <param name="fragment">The isolated asynchronous piece of code to check; each run is awaited before the next.</param>
    /// <param name="options">How to run the check; the defaults need no tuning.</param>
    /// <param name="cancellationToken">Stops the check between iterations and censuses.</param>
    /// <returns>The report; <see cref="LeakReport.HasLeaks"/> gives the verdict.</returns>
    /// <exception cref="LeakHunterException">The heap could not be read; the message says why and what to do.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static Task<LeakReport> RunAsync(Func<Task> fragment, LeakOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(fragment);
        return Check.RunAsync(new Fragment.Asynchronous(fragment), options, cancellationToken);
    }
}
