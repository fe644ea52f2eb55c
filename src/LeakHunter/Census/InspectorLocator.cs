using System.Runtime.InteropServices;

namespace LeakHunter.Census;

/// <summary>Finds the inspector assembly and the dotnet host that runs it.</summary>
internal static class InspectorLocator
{
    public const string PathVariable = "LEAKHUNTER_INSPECTOR_PATH";
    private const string FolderName = "leakhunter-inspector";
    private const string AssemblyName = "LeakHunter.Inspector.dll";

    public static string FindInspector()
    {
        string? overridden = Environment.GetEnvironmentVariable(PathVariable);
        if (!string.IsNullOrEmpty(overridden))
        {
            if (File.Exists(overridden))
                return overridden;
            throw new LeakHunterException(LeakHunterFailure.InspectorStartFailed,
                $"{PathVariable} names '{overridden}', which does not exist. Point it at LeakHunter.Inspector.dll or unset it.");
        }

        var candidates = new List<string> { Path.Combine(AppContext.BaseDirectory, FolderName, AssemblyName) };
        string? libraryFolder = Path.GetDirectoryName(typeof(InspectorLocator).Assembly.Location);
        if (!string.IsNullOrEmpty(libraryFolder))
            candidates.Add(Path.Combine(libraryFolder, FolderName, AssemblyName));

        foreach (string candidate in candidates)
        {
            if (File.Exists(candidate))
                return candidate;
        }
        throw new LeakHunterException(LeakHunterFailure.InspectorStartFailed,
            $"The LeakHunter inspector was not found; looked for {string.Join(" and ", candidates.Distinct())}. " +
            $"Rebuild the project that references LeakHunter so the {FolderName} folder is copied to its output, or set {PathVariable}.");
    }

    /// <summary>The dotnet host of the running runtime, so the inspector runs on the same runtime as the process under test.</summary>
    public static string FindDotnetHost()
    {
        string executable = OperatingSystem.IsWindows() ? "dotnet.exe" : "dotnet";
        // <root>/shared/Microsoft.NETCore.App/<version>/ -> <root>/dotnet
        var runtimeDirectory = new DirectoryInfo(RuntimeEnvironment.GetRuntimeDirectory());
        string? root = runtimeDirectory.Parent?.Parent?.Parent?.FullName;
        if (root is not null && File.Exists(Path.Combine(root, executable)))
            return Path.Combine(root, executable);

        string? hostPath = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (!string.IsNullOrEmpty(hostPath) && File.Exists(hostPath))
            return hostPath;
        return executable;
    }
}
