using System.Reflection;

namespace LeakHunter.Suites.Discovery;

/// <summary>
/// Fixtures made once and shared by the tests of a class, a collection or the assembly, before any counting, like a
/// suite's warm-up: what they hold is there from the first census on, so it never reads as growth.
/// </summary>
internal sealed class FixtureScope
{
    private readonly Type[] _types;
    private Dictionary<Type, object>? _fixtures;

    /// <summary>The fixtures <paramref name="owner"/> asks for through the generic interface <paramref name="fixtureInterface"/>.</summary>
    public FixtureScope(Type owner, string fixtureInterface) =>
        _types = TestReflection.Interfaces(owner, fixtureInterface).Select(i => i.GetGenericArguments()[0]).ToArray();

    /// <summary>The fixtures of the given types.</summary>
    public FixtureScope(IEnumerable<Type> types) => _types = types.ToArray();

    /// <summary>Creates the fixtures, and initialises those with an async lifetime, the first time only.</summary>
    public async Task EnsureCreatedAsync()
    {
        if (_fixtures is not null)
            return;
        _fixtures = [];
        foreach (Type type in _types)
        {
            ConstructorInfo constructor = type.GetConstructors().OrderBy(c => c.GetParameters().Length).FirstOrDefault()
                ?? throw new InvalidOperationException($"The fixture {type.FullName} has no public constructor.");
            // A fixture may ask for a message sink (xunit's diagnostics) or for other fixtures of the same scope.
            object?[] arguments = constructor.GetParameters().Select(p => _fixtures.GetValueOrDefault(p.ParameterType)).ToArray();
            object fixture = TestReflection.Create(type, arguments);
            if (type.GetInterfaces().FirstOrDefault(i => i.FullName == "Xunit.IAsyncLifetime")?.GetMethod("InitializeAsync") is { } initialize)
                await TestReflection.InvokeAsync(initialize, fixture, null).ConfigureAwait(false);
            _fixtures[type] = fixture;
        }
    }

    /// <summary>The fixture that fits a constructor parameter of <paramref name="type"/>, or null.</summary>
    public object? Get(Type type) => _fixtures?.FirstOrDefault(f => type.IsAssignableFrom(f.Key)).Value;

    /// <summary>Disposes the fixtures, last made first.</summary>
    public async Task DisposeAsync()
    {
        if (_fixtures is null)
            return;
        foreach (object fixture in _fixtures.Values.Reverse())
        {
            if (fixture is not IAsyncDisposable && fixture.GetType().GetInterfaces().FirstOrDefault(i => i.FullName == "Xunit.IAsyncLifetime")?.GetMethod("DisposeAsync") is { } dispose)
                await TestReflection.InvokeAsync(dispose, fixture, null).ConfigureAwait(false);
            await TestReflection.DisposeAsync(fixture).ConfigureAwait(false);
        }
        _fixtures = null;
    }
}
