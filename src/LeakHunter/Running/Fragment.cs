using System.Runtime.CompilerServices;

namespace LeakHunter.Running;

/// <summary>The code under test, run in frames of its own so the check's frames keep nothing it allocated alive.</summary>
internal abstract class Fragment
{
    /// <summary>The user's code the fragment runs.</summary>
    public abstract Delegate Code { get; }

    /// <summary>
    /// The method whose calls a fix names: the delegate's own, unless the fragment runs it for another (a suite's test
    /// method, run by its framework's lifecycle).
    /// </summary>
    public System.Reflection.MethodBase UserMethod => _userMethod ?? Code.Method;

    private System.Reflection.MethodBase? _userMethod;

    /// <summary>This fragment, with its fixes named from <paramref name="method"/>'s calls.</summary>
    public Fragment RunningFor(System.Reflection.MethodBase method)
    {
        _userMethod = method;
        return this;
    }

    public abstract ValueTask RunAsync(int iterations, CancellationToken cancellationToken);

    public abstract ValueTask IdleAsync(TimeSpan duration, CancellationToken cancellationToken);

    /// <summary>A synchronous fragment runs on the calling thread and never yields, so the whole check stays on it.</summary>
    public sealed class Synchronous(Action action) : Fragment
    {
        public override Delegate Code => action;

        public override ValueTask RunAsync(int iterations, CancellationToken cancellationToken)
        {
            for (int i = 0; i < iterations; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                Invoke(action);
            }
            return ValueTask.CompletedTask;
        }

        public override ValueTask IdleAsync(TimeSpan duration, CancellationToken cancellationToken)
        {
            // A token's WaitHandle is created on first use; sleeping avoids counting it as idle growth.
            if (cancellationToken.CanBeCanceled)
                cancellationToken.WaitHandle.WaitOne(duration);
            else
                Thread.Sleep(duration);
            cancellationToken.ThrowIfCancellationRequested();
            return ValueTask.CompletedTask;
        }

        [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.NoOptimization)]
        private static void Invoke(Action action) => action();
    }

    public sealed class Asynchronous(Func<Task> function) : Fragment
    {
        public override Delegate Code => function;

        public override async ValueTask RunAsync(int iterations, CancellationToken cancellationToken)
        {
            for (int i = 0; i < iterations; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                await Invoke(function).ConfigureAwait(false);
            }
        }

        public override async ValueTask IdleAsync(TimeSpan duration, CancellationToken cancellationToken) =>
            await Task.Delay(duration, cancellationToken).ConfigureAwait(false);

        [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.NoOptimization)]
        private static Task Invoke(Func<Task> function) =>
            function() ?? throw new InvalidOperationException("The fragment returned a null Task; return a Task that completes when its work is done.");
    }
}
