using System.Reflection;

namespace LeakHunter.Suites.Discovery;

/// <summary>
/// NUnit tests: <c>[Test]</c>, <c>[TestCase]</c> and <c>[TestCaseSource]</c> rows, <c>[Ignore]</c> and <c>[Explicit]</c>
/// skipped. NUnit makes one instance per fixture: <c>[OneTimeSetUp]</c> runs once on it before counting, and each run is
/// <c>[SetUp]</c>, the method, then <c>[TearDown]</c> on that instance.
/// </summary>
internal static class NUnitTests
{
    private const string Test = "NUnit.Framework.TestAttribute";
    private const string TestCase = "NUnit.Framework.TestCaseAttribute";
    private const string TestCaseSource = "NUnit.Framework.TestCaseSourceAttribute";

    public static IEnumerable<SuiteTest> Discover(Type[] types)
    {
        foreach (Type type in types.Where(t => t.IsClass && !t.IsAbstract && !t.ContainsGenericParameters))
        {
            MethodInfo[] methods = type.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static)
                .Where(m => TestReflection.Attributes(m, Test, TestCase, TestCaseSource).Any()).ToArray();
            if (methods.Length == 0)
                continue;
            string? classSkip = Skip(type);
            var fixture = new NUnitFixture(type);
            foreach (MethodInfo method in methods)
            {
                string? skip = classSkip ?? Skip(method);
                foreach (SuiteTest test in Rows(type, method, fixture, skip))
                    yield return test;
            }
        }
    }

    private static string? Skip(MemberInfo member) =>
        TestReflection.Attributes(member, "NUnit.Framework.IgnoreAttribute").Select(a => a.ConstructorArguments.FirstOrDefault().Value as string ?? "ignored").FirstOrDefault()
        ?? (TestReflection.Attributes(member, "NUnit.Framework.ExplicitAttribute").Any() ? "explicit: it runs only when asked for by name" : null);

    private static IEnumerable<SuiteTest> Rows(Type type, MethodInfo method, NUnitFixture fixture, string? skip)
    {
        var rows = new List<(object?[] Values, string? Skip)>();
        string? error = null;
        try
        {
            foreach (CustomAttributeData testCase in TestReflection.Attributes(method, TestCase))
                rows.Add((TestReflection.ConstructorValues(testCase), TestReflection.Named(testCase, "Ignore") as string ?? TestReflection.Named(testCase, "IgnoreReason") as string));
            foreach (CustomAttributeData source in TestReflection.Attributes(method, TestCaseSource))
            {
                // [TestCaseSource(nameof(Cases))] or [TestCaseSource(typeof(Cases), nameof(Cases.All))], with method arguments after the name.
                object?[] values = [.. source.ConstructorArguments.Select(TestReflection.Value)];
                Type owner = values.FirstOrDefault() as Type ?? type;
                string name = (string)values.First(v => v is string)!;
                object?[]? parameters = values.SkipWhile(v => v is not string).Skip(1).FirstOrDefault() as object?[];
                rows.AddRange(TestReflection.SourceRows(owner, name, parameters).Select(r => (r, (string?)null)));
            }
        }
        catch (Exception e) when (e is InvalidOperationException or TargetInvocationException or InvalidCastException)
        {
            error = $"The test's cases could not be read: {(e.InnerException ?? e).Message}";
        }
        if (rows.Count == 0 || error is not null)
        {
            yield return SuiteTest.Of(type, method, fixture, null, skip, error ?? (method.GetParameters().Length > 0 ? "The test takes arguments but has no [TestCase] or [TestCaseSource]." : null));
            yield break;
        }
        foreach ((object?[] values, string? rowSkip) in rows)
            yield return SuiteTest.Of(type, method, fixture, values, skip ?? rowSkip, null);
    }

    /// <summary>An NUnit fixture: one instance, its one-time set-up before counting, and set-up and tear-down around each run.</summary>
    private sealed class NUnitFixture(Type type) : TestClass(type)
    {
        private object? _instance;

        protected override async Task SetUpOnceAsync()
        {
            _instance = Type.IsAbstract && Type.IsSealed ? null : TestReflection.Create(Type, []);
            foreach (MethodInfo setUp in TestReflection.MethodsWith(Type, "NUnit.Framework.OneTimeSetUpAttribute"))
                await TestReflection.InvokeAsync(setUp, setUp.IsStatic ? null : _instance, null).ConfigureAwait(false);
        }

        protected override async Task TearDownOnceAsync()
        {
            foreach (MethodInfo tearDown in TestReflection.MethodsWith(Type, "NUnit.Framework.OneTimeTearDownAttribute").Reverse())
                await TestReflection.InvokeAsync(tearDown, tearDown.IsStatic ? null : _instance, null).ConfigureAwait(false);
            await TestReflection.DisposeAsync(_instance).ConfigureAwait(false);
            _instance = null;
        }

        public override async Task RunAsync(SuiteTest test)
        {
            foreach (MethodInfo setUp in TestReflection.MethodsWith(Type, "NUnit.Framework.SetUpAttribute"))
                await TestReflection.InvokeAsync(setUp, setUp.IsStatic ? null : _instance, null).ConfigureAwait(false);
            try
            {
                await TestReflection.InvokeAsync(test.Method, test.Method.IsStatic ? null : _instance, [.. test.Arguments]).ConfigureAwait(false);
            }
            finally
            {
                foreach (MethodInfo tearDown in TestReflection.MethodsWith(Type, "NUnit.Framework.TearDownAttribute").Reverse())
                    await TestReflection.InvokeAsync(tearDown, tearDown.IsStatic ? null : _instance, null).ConfigureAwait(false);
            }
        }
    }
}
