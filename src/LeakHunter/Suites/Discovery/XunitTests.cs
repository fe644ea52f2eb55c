using System.Reflection;

namespace LeakHunter.Suites.Discovery;

/// <summary>
/// xunit v2 and v3 tests: <c>[Fact]</c> and <c>[Theory]</c> (and attributes derived from them) with <c>[InlineData]</c>,
/// <c>[MemberData]</c> and <c>[ClassData]</c> rows. Each run constructs the class (with its class and collection
/// fixtures and a test output that keeps nothing), runs <c>IAsyncLifetime.InitializeAsync</c>, the method, then
/// <c>DisposeAsync</c> and <c>Dispose</c>, as xunit does for every test.
/// </summary>
internal static class XunitTests
{
    private const string Fact = "Xunit.FactAttribute";
    private const string InlineData = "Xunit.InlineDataAttribute";
    private const string MemberData = "Xunit.MemberDataAttribute";
    private const string ClassData = "Xunit.ClassDataAttribute";

    public static IEnumerable<SuiteTest> Discover(Assembly assembly, Type[] types, FixtureScope assemblyFixtures)
    {
        var collections = types.Where(t => TestReflection.Attributes(t, "Xunit.CollectionDefinitionAttribute").Any())
            .GroupBy(t => TestReflection.Attributes(t, "Xunit.CollectionDefinitionAttribute").Select(a => a.ConstructorArguments.FirstOrDefault().Value as string).FirstOrDefault() ?? t.FullName!)
            .ToDictionary(g => g.Key, g => new FixtureScope(g.First(), "Xunit.ICollectionFixture`1"), StringComparer.Ordinal);
        foreach (Type type in types.Where(t => t.IsClass && !t.IsAbstract && !t.ContainsGenericParameters))
        {
            MethodInfo[] methods = type.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static)
                .Where(m => TestReflection.Attributes(m, Fact).Any()).ToArray();
            if (methods.Length == 0)
                continue;
            string? collection = TestReflection.Attributes(type, "Xunit.CollectionAttribute").Select(a => a.ConstructorArguments.FirstOrDefault().Value as string).FirstOrDefault();
            var testClass = new XunitClass(type, assemblyFixtures, collection is not null ? collections.GetValueOrDefault(collection) : null);
            foreach (MethodInfo method in methods)
            {
                foreach (SuiteTest test in Rows(type, method, testClass))
                    yield return test;
            }
        }
    }

    private static IEnumerable<SuiteTest> Rows(Type type, MethodInfo method, XunitClass testClass)
    {
        CustomAttributeData fact = TestReflection.Attributes(method, Fact).First();
        string? skip = TestReflection.Named(fact, "Skip") as string ?? (TestReflection.Named(fact, "Explicit") is true ? "explicit: it runs only when asked for by name" : null);
        if (!TestReflection.Is(fact.AttributeType, "Xunit.TheoryAttribute") && method.GetParameters().Length == 0)
        {
            yield return SuiteTest.Of(type, method, testClass, null, skip, null);
            yield break;
        }
        var rows = new List<(object?[]? Values, string? Skip)>();
        string? error = null;
        try
        {
            foreach (CustomAttributeData inline in TestReflection.Attributes(method, InlineData))
                rows.Add((TestReflection.ConstructorValues(inline), TestReflection.Named(inline, "Skip") as string));
            foreach (CustomAttributeData member in TestReflection.Attributes(method, MemberData))
            {
                string name = (string)member.ConstructorArguments[0].Value!;
                object?[] parameters = member.ConstructorArguments.Count > 1 && TestReflection.Value(member.ConstructorArguments[1]) is object?[] p ? p : [];
                Type source = TestReflection.Named(member, "MemberType") as Type ?? type;
                rows.AddRange(TestReflection.SourceRows(source, name, parameters).Select(r => ((object?[]?)r, TestReflection.Named(member, "Skip") as string)));
            }
            foreach (CustomAttributeData classData in TestReflection.Attributes(method, ClassData))
            {
                var source = (System.Collections.IEnumerable)TestReflection.Create((Type)classData.ConstructorArguments[0].Value!, []);
                rows.AddRange(source.Cast<object?>().Select(r => ((object?[]?)TestReflection.Row(r), (string?)null)));
            }
        }
        catch (Exception e) when (e is InvalidOperationException or TargetInvocationException or MissingMethodException or InvalidCastException)
        {
            error = $"The test's rows could not be read: {(e.InnerException ?? e).Message}";
        }
        if (error is not null || rows.Count == 0)
        {
            yield return SuiteTest.Of(type, method, testClass, null, skip, error ?? "The theory has no rows: give it [InlineData], [MemberData] or [ClassData].");
            yield break;
        }
        foreach ((object?[]? values, string? rowSkip) in rows)
            yield return SuiteTest.Of(type, method, testClass, values, skip ?? rowSkip, null);
    }

    /// <summary>An xunit test class: its class fixtures once, its collection's and the assembly's fixtures shared, and a new instance per run.</summary>
    private sealed class XunitClass(Type type, FixtureScope assemblyFixtures, FixtureScope? collection) : TestClass(type)
    {
        private readonly FixtureScope _classFixtures = new(type, "Xunit.IClassFixture`1");

        protected override async Task SetUpOnceAsync()
        {
            await assemblyFixtures.EnsureCreatedAsync().ConfigureAwait(false);
            if (collection is not null)
                await collection.EnsureCreatedAsync().ConfigureAwait(false);
            await _classFixtures.EnsureCreatedAsync().ConfigureAwait(false);
        }

        protected override Task TearDownOnceAsync() => _classFixtures.DisposeAsync();

        public override async Task RunAsync(SuiteTest test)
        {
            object? instance = test.Method.IsStatic ? null : TestReflection.Create(Type, ConstructorArguments());
            try
            {
                if (instance is not null && Lifetime(instance) is { } lifetime)
                    await TestReflection.InvokeAsync(lifetime.GetMethod("InitializeAsync")!, instance, null).ConfigureAwait(false);
                await TestReflection.InvokeAsync(test.Method, instance, [.. test.Arguments]).ConfigureAwait(false);
            }
            finally
            {
                if (instance is not null)
                    await DisposeAsync(instance).ConfigureAwait(false);
            }
        }

        // xunit v2 calls IAsyncLifetime.DisposeAsync, then Dispose; v3's IAsyncLifetime is an IAsyncDisposable, and v3
        // calls DisposeAsync where there is one, Dispose otherwise.
        private static async Task DisposeAsync(object instance)
        {
            if (instance is not IAsyncDisposable && Lifetime(instance)?.GetMethod("DisposeAsync") is { } lifetimeDispose)
                await TestReflection.InvokeAsync(lifetimeDispose, instance, null).ConfigureAwait(false);
            if (instance is IAsyncDisposable asyncDisposable)
                await asyncDisposable.DisposeAsync().ConfigureAwait(false);
            else if (instance is IDisposable disposable)
                disposable.Dispose();
        }

        private static Type? Lifetime(object instance) =>
            instance.GetType().GetInterfaces().FirstOrDefault(i => i.FullName == "Xunit.IAsyncLifetime");

        private object?[] ConstructorArguments()
        {
            ConstructorInfo constructor = Type.GetConstructors().OrderByDescending(c => c.GetParameters().Length).First();
            return constructor.GetParameters().Select(p => p.ParameterType switch
            {
                { FullName: "Xunit.Abstractions.ITestOutputHelper" or "Xunit.ITestOutputHelper" } output => SilentOutput.For(output),
                var fixture => _classFixtures.Get(fixture) ?? collection?.Get(fixture) ?? assemblyFixtures.Get(fixture)
                    ?? throw new InvalidOperationException($"{Type.FullName}'s constructor takes a {fixture.FullName}, which is no class, collection or assembly fixture of it."),
            }).ToArray();
        }
    }
}
