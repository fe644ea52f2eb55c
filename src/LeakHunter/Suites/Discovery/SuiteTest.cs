using System.Reflection;

namespace LeakHunter.Suites.Discovery;

/// <summary>
/// One test of a suite, as its framework runs it: one method with one row of arguments, in its class's lifecycle.
/// Each theory row and each test case source row is a test of its own.
/// </summary>
internal sealed class SuiteTest
{
    /// <summary>The class, namespace and method, with the row's arguments where there are any: <c>Shop.Tests.CartTests.Add(sku: "a")</c>.</summary>
    public required string Name { get; init; }

    /// <summary>The class's full name.</summary>
    public required string ClassName { get; init; }

    /// <summary>The method's own name.</summary>
    public required string MethodName { get; init; }

    /// <summary>Why the framework would not run it (a skip or ignore attribute, an explicit test); null when it runs.</summary>
    public string? SkipReason { get; init; }

    /// <summary>The class's lifecycle: what runs once, and what runs around each run of a test.</summary>
    public required TestClass Class { get; init; }

    /// <summary>The test method.</summary>
    public required MethodInfo Method { get; init; }

    /// <summary>The row's arguments, converted to the method's parameter types.</summary>
    public IReadOnlyList<object?> Arguments { get; init; } = [];

    /// <summary>Why the row's arguments could not be read or bound; the test then fails with this, as its framework's would.</summary>
    public string? BindingError { get; init; }

    /// <summary>
    /// The test of <paramref name="method"/> with one row of <paramref name="values"/> (null for a test without
    /// parameters) bound to its parameters; a row that does not fit them is a test that fails with why.
    /// </summary>
    public static SuiteTest Of(Type type, MethodInfo method, TestClass testClass, object?[]? values, string? skip, string? error)
    {
        object?[] arguments = [];
        if (values is not null && error is null)
        {
            try
            {
                arguments = TestReflection.Bind(method, values);
            }
            catch (Exception e) when (e is InvalidOperationException or FormatException or InvalidCastException or ArgumentException or OverflowException)
            {
                error = $"The row's values do not fit {method.Name}'s parameters: {e.Message}";
            }
        }
        return new SuiteTest
        {
            Name = TestReflection.Name(type, method, values is null ? null : error is null ? arguments : values),
            ClassName = type.FullName!,
            MethodName = method.Name,
            SkipReason = skip,
            Class = testClass,
            Method = method,
            Arguments = arguments,
            BindingError = error,
        };
    }

    /// <summary>One run of the test, as its framework runs it: construction and set-up, the method, awaited, then tear-down and disposal.</summary>
    public Task RunOnceAsync() => BindingError is null ? Class.RunAsync(this) : throw new InvalidOperationException(BindingError);
}

/// <summary>
/// A test class's lifecycle in its framework: the fixtures and one-time set-up that run before counting, and the
/// steps around each run of one of its tests.
/// </summary>
internal abstract class TestClass(Type type)
{
    private bool _setUp;

    /// <summary>The class.</summary>
    public Type Type { get; } = type;

    /// <summary>Runs what the framework runs once for the class (class fixtures, one-time set-up), the first time only.</summary>
    public async Task EnsureSetUpAsync()
    {
        if (_setUp)
            return;
        _setUp = true;
        await SetUpOnceAsync().ConfigureAwait(false);
    }

    /// <summary>Runs what the framework runs once after the class's last test, if the set-up ran.</summary>
    public async Task TearDownAsync()
    {
        if (!_setUp)
            return;
        _setUp = false;
        await TearDownOnceAsync().ConfigureAwait(false);
    }

    /// <summary>Class fixtures, one-time set-up, class initialisation.</summary>
    protected abstract Task SetUpOnceAsync();

    /// <summary>Their disposal and clean-up.</summary>
    protected abstract Task TearDownOnceAsync();

    /// <summary>One run of <paramref name="test"/>.</summary>
    public abstract Task RunAsync(SuiteTest test);
}
