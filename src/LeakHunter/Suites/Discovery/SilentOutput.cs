using System.Reflection;

namespace LeakHunter.Suites.Discovery;

/// <summary>
/// The test output xunit hands a test's constructor, keeping nothing: a real one buffers every line for the
/// runner's result, which would grow with every run and be blamed on the test.
/// </summary>
internal class SilentOutput : DispatchProxy
{
    /// <summary>An instance of the framework's output interface <paramref name="outputInterface"/> that writes nowhere.</summary>
    internal static object For(Type outputInterface) => Create(outputInterface, typeof(SilentOutput));

    /// <inheritdoc />
    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args) =>
        targetMethod?.ReturnType == typeof(string) ? "" : null;
}
