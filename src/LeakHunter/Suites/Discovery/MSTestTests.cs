using System.Reflection;

namespace LeakHunter.Suites.Discovery;

/// <summary>
/// MSTest tests: <c>[TestMethod]</c> (and attributes derived from it) with <c>[DataRow]</c> and <c>[DynamicData]</c> rows,
/// <c>[Ignore]</c> skipped. <c>[AssemblyInitialize]</c> and <c>[ClassInitialize]</c> run once before counting (with no
/// test context); each run makes a new instance, runs <c>[TestInitialize]</c>, the method, <c>[TestCleanup]</c>, then
/// <c>Dispose</c>, as MSTest does.
/// </summary>
internal static class MSTestTests
{
    private const string Namespace = "Microsoft.VisualStudio.TestTools.UnitTesting.";
    private const string TestMethod = Namespace + "TestMethodAttribute";
    private const string DataRow = Namespace + "DataRowAttribute";
    private const string DynamicData = Namespace + "DynamicDataAttribute";

    public static IEnumerable<SuiteTest> Discover(Type[] types)
    {
        MethodInfo[] assemblySetUps = types.SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Static))
            .Where(m => TestReflection.Attributes(m, Namespace + "AssemblyInitializeAttribute").Any()).ToArray();
        var assembly = new AssemblyInitialization(assemblySetUps);
        foreach (Type type in types.Where(t => t.IsClass && !t.IsAbstract && TestReflection.Attributes(t, Namespace + "TestClassAttribute").Any()))
        {
            string? classSkip = Skip(type);
            var testClass = new MSTestClass(type, assembly);
            foreach (MethodInfo method in type.GetMethods(BindingFlags.Public | BindingFlags.Instance).Where(m => TestReflection.Attributes(m, TestMethod).Any()))
            {
                foreach (SuiteTest test in Rows(type, method, testClass, classSkip ?? Skip(method)))
                    yield return test;
            }
        }
    }

    private static string? Skip(MemberInfo member) =>
        TestReflection.Attributes(member, Namespace + "IgnoreAttribute").Select(a => a.ConstructorArguments.FirstOrDefault().Value as string ?? TestReflection.Named(a, "IgnoreMessage") as string ?? "ignored").FirstOrDefault();

    private static IEnumerable<SuiteTest> Rows(Type type, MethodInfo method, MSTestClass testClass, string? skip)
    {
        var rows = new List<object?[]>();
        string? error = null;
        try
        {
            foreach (CustomAttributeData row in TestReflection.Attributes(method, DataRow))
                rows.Add(TestReflection.ConstructorValues(row));
            foreach (CustomAttributeData dynamic in TestReflection.Attributes(method, DynamicData))
            {
                // [DynamicData(nameof(Rows))], [DynamicData(nameof(Rows), typeof(Source))], with the source kind anywhere after the name.
                object?[] values = [.. dynamic.ConstructorArguments.Select(TestReflection.Value)];
                Type owner = values.OfType<Type>().FirstOrDefault() as Type ?? TestReflection.Named(dynamic, "DynamicDataDeclaringType") as Type ?? type;
                rows.AddRange(TestReflection.SourceRows(owner, (string)values[0]!));
            }
        }
        catch (Exception e) when (e is InvalidOperationException or TargetInvocationException or InvalidCastException)
        {
            error = $"The test's rows could not be read: {(e.InnerException ?? e).Message}";
        }
        if (rows.Count == 0 || error is not null)
        {
            yield return SuiteTest.Of(type, method, testClass, null, skip, error ?? (method.GetParameters().Length > 0 ? "The test takes arguments but has no [DataRow] or [DynamicData]." : null));
            yield break;
        }
        foreach (object?[] values in rows)
            yield return SuiteTest.Of(type, method, testClass, values, skip, null);
    }

    /// <summary>The assembly's <c>[AssemblyInitialize]</c> methods, run once for the first class that runs.</summary>
    private sealed class AssemblyInitialization(MethodInfo[] methods)
    {
        private bool _done;

        public async Task EnsureRunAsync()
        {
            if (_done)
                return;
            _done = true;
            foreach (MethodInfo method in methods)
                await TestReflection.InvokeAsync(method, null, new object?[method.GetParameters().Length]).ConfigureAwait(false);
        }
    }

    /// <summary>An MSTest class: its class initialisation once, and a new instance per run.</summary>
    private sealed class MSTestClass(Type type, AssemblyInitialization assembly) : TestClass(type)
    {
        protected override async Task SetUpOnceAsync()
        {
            await assembly.EnsureRunAsync().ConfigureAwait(false);
            foreach (MethodInfo method in TestReflection.MethodsWith(Type, Namespace + "ClassInitializeAttribute").Where(m => m.IsStatic))
                await TestReflection.InvokeAsync(method, null, new object?[method.GetParameters().Length]).ConfigureAwait(false);
        }

        protected override async Task TearDownOnceAsync()
        {
            foreach (MethodInfo method in TestReflection.MethodsWith(Type, Namespace + "ClassCleanupAttribute").Where(m => m.IsStatic).Reverse())
                await TestReflection.InvokeAsync(method, null, new object?[method.GetParameters().Length]).ConfigureAwait(false);
        }

        public override async Task RunAsync(SuiteTest test)
        {
            object instance = TestReflection.Create(Type, []);
            try
            {
                foreach (MethodInfo initialize in TestReflection.MethodsWith(Type, Namespace + "TestInitializeAttribute"))
                    await TestReflection.InvokeAsync(initialize, instance, null).ConfigureAwait(false);
                try
                {
                    await TestReflection.InvokeAsync(test.Method, instance, [.. test.Arguments]).ConfigureAwait(false);
                }
                finally
                {
                    foreach (MethodInfo cleanup in TestReflection.MethodsWith(Type, Namespace + "TestCleanupAttribute").Reverse())
                        await TestReflection.InvokeAsync(cleanup, instance, null).ConfigureAwait(false);
                }
            }
            finally
            {
                await TestReflection.DisposeAsync(instance).ConfigureAwait(false);
            }
        }
    }
}
