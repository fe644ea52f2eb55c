using System.Reflection;
using System.Runtime.Loader;

namespace LeakHunter.Suites.Discovery;

/// <summary>The tests of one built test assembly, found by its framework's own attributes.</summary>
internal sealed record DiscoveredSuite(string AssemblyPath, string Framework, IReadOnlyList<SuiteTest> Tests);

/// <summary>
/// Loads a built test assembly with its own dependencies (its deps file and output folder, as its test host would),
/// tells its framework from what it references, and lists its tests.
/// </summary>
internal static class TestDiscovery
{
    public const string XunitV3 = "xunit v3";
    public const string XunitV2 = "xunit v2";
    public const string NUnit = "NUnit";
    public const string MSTest = "MSTest";

    public static DiscoveredSuite Discover(string assemblyPath)
    {
        string path = Path.GetFullPath(assemblyPath);
        if (!File.Exists(path))
            throw new LeakHunterException(LeakHunterFailure.InvalidTarget, $"There is no test assembly at '{assemblyPath}'. Give a built test assembly (.dll), or its project, and LeakHunter builds it.");
        Assembly assembly;
        try
        {
            assembly = new SuiteLoadContext(path).LoadFromAssemblyPath(path);
        }
        catch (BadImageFormatException e)
        {
            throw new LeakHunterException(LeakHunterFailure.InvalidTarget, $"'{assemblyPath}' is not a .NET assembly ({e.Message}). Give the test project's built .dll.", e);
        }
        string[] references = assembly.GetReferencedAssemblies().Select(a => a.Name ?? "").ToArray();
        string framework = references.Contains("xunit.v3.core", StringComparer.OrdinalIgnoreCase) ? XunitV3
            : references.Contains("xunit.core", StringComparer.OrdinalIgnoreCase) ? XunitV2
            : references.Contains("nunit.framework", StringComparer.OrdinalIgnoreCase) ? NUnit
            : references.Contains("Microsoft.VisualStudio.TestPlatform.TestFramework", StringComparer.OrdinalIgnoreCase) || references.Contains("MSTest.TestFramework", StringComparer.OrdinalIgnoreCase) ? MSTest
            : throw new LeakHunterException(LeakHunterFailure.InvalidTarget,
                $"'{assemblyPath}' references no test framework LeakHunter can drive. It runs xunit v3, xunit v2, NUnit and MSTest suites; its references are {string.Join(", ", references.Order())}.");
        Type[] types = Types(assembly);
        IEnumerable<SuiteTest> tests = framework switch
        {
            XunitV3 or XunitV2 => XunitTests.Discover(assembly, types, new FixtureScope(AssemblyFixtures(assembly))),
            NUnit => NUnitTests.Discover(types),
            _ => MSTestTests.Discover(types),
        };
        return new DiscoveredSuite(path, framework, tests.ToList());
    }

    // xunit v3's [assembly: AssemblyFixture(typeof(T))].
    private static IEnumerable<Type> AssemblyFixtures(Assembly assembly) =>
        TestReflection.Attributes(assembly, "Xunit.AssemblyFixtureAttribute").Select(a => a.ConstructorArguments[0].Value).OfType<Type>();

    private static Type[] Types(Assembly assembly)
    {
        try
        {
            return assembly.GetTypes();
        }
        catch (ReflectionTypeLoadException e)
        {
            // A type whose dependency is missing is no test this run can reach; the rest still run.
            return e.Types.OfType<Type>().ToArray();
        }
    }

    /// <summary>
    /// The suite's own context: its assemblies from its output folder, by its deps file, so the suite runs with the
    /// versions it was built with, and a new one each time, so each run of a suite starts from fresh statics as its
    /// own test host would. LeakHunter itself is shared with the default context, so a test that runs a leak check of
    /// its own meets the same process-wide gate.
    /// </summary>
    private sealed class SuiteLoadContext(string assemblyPath) : AssemblyLoadContext($"LeakHunter suite {Path.GetFileName(assemblyPath)}")
    {
        private readonly AssemblyDependencyResolver _resolver = new(assemblyPath);

        protected override Assembly? Load(AssemblyName assemblyName)
        {
            if (assemblyName.Name == typeof(TestDiscovery).Assembly.GetName().Name)
                return null;
            return _resolver.ResolveAssemblyToPath(assemblyName) is { } path ? LoadFromAssemblyPath(path) : null;
        }

        protected override IntPtr LoadUnmanagedDll(string unmanagedDllName) =>
            _resolver.ResolveUnmanagedDllToPath(unmanagedDllName) is { } path ? LoadUnmanagedDllFromPath(path) : IntPtr.Zero;
    }
}
