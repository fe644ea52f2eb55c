using System.Diagnostics;
using System.Globalization;

namespace LeakHunter.Cli;

/// <summary>
/// <c>leakhunter test</c>'s two halves. The tool builds the suite if it must, then runs it in a host process of its
/// own: this same tool, told by <see cref="HostVariable"/> to run the suite itself. The host is the tests' own process,
/// so a test that crashes it (a stack overflow, an exit) ends that process, not the tool, which says which test
/// was running; what the tests write to standard output goes to standard error, never into the report; and the host
/// ends when the tool does, as its standard input closes.
/// </summary>
internal static class SuiteHost
{
    /// <summary>Set to 1 in the host's environment: run the suite here.</summary>
    public const string HostVariable = "LEAKHUNTER_SUITE_HOST";

    public static bool IsHost => Environment.GetEnvironmentVariable(HostVariable) == "1";

    /// <summary>In the host: ends this process when the tool that started it ends, which closes the host's standard input.</summary>
    public static void EndWithTheTool()
    {
        var watcher = new Thread(() =>
        {
            using Stream input = Console.OpenStandardInput();
            var buffer = new byte[64];
            while (input.Read(buffer) > 0)
            {
            }
            Environment.Exit(130);
        })
        { IsBackground = true, Name = "leakhunter: end with the tool" };
        watcher.Start();
    }

    /// <summary>The built test assembly for <paramref name="path"/>: the assembly itself, or a project (or its folder), built first unless told not to.</summary>
    public static string Assembly(string path, bool build, string configuration)
    {
        string full = Path.GetFullPath(path);
        if (File.Exists(full) && full.EndsWith(".dll", StringComparison.OrdinalIgnoreCase))
            return full;
        string project = Project(full, path);
        string? framework = Framework(project, configuration);
        string[] chosen = framework is null ? [] : ["-f", framework];
        if (build)
        {
            Progress.Line($"building {project} ({configuration}{(framework is null ? "" : ", " + framework)})...");
            (int code, string output) = Dotnet(["build", project, "-c", configuration, .. chosen, "-nologo", "-v", "q"]);
            if (code != 0)
                throw new CliException($"{project} did not build (dotnet build exit code {code}). Fix the build, then run again:{Environment.NewLine}{Tail(output)}");
        }
        (int status, string targetPath) = Dotnet(["msbuild", project, "-getProperty:TargetPath", $"-p:Configuration={configuration}",
            .. framework is null ? Array.Empty<string>() : [$"-p:TargetFramework={framework}"], "-nologo"]);
        string assembly = targetPath.Trim();
        if (status != 0 || assembly.Length == 0)
            throw new CliException($"The test assembly of {project} could not be found (it may target several frameworks). Give its built .dll instead, such as bin/{configuration}/net10.0/{Path.GetFileNameWithoutExtension(project)}.dll.");
        if (!File.Exists(assembly))
            throw new CliException($"{project} has not been built: {assembly} does not exist. Run without --no-build, or build it first.");
        return assembly;
    }

    /// <summary>
    /// For a project that targets several frameworks (<c>TargetFrameworks</c>, even with one), the one to run: the
    /// newest .NET this runtime can run. Null for a project with one <c>TargetFramework</c>.
    /// </summary>
    private static string? Framework(string project, string configuration)
    {
        (int status, string output) = Dotnet("msbuild", project, "-getProperty:TargetFrameworks", $"-p:Configuration={configuration}", "-nologo");
        string[] frameworks = output.Trim().Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (status != 0 || frameworks.Length == 0)
            return null;
        var runnable = frameworks.Select(f => (Name: f, Version: System.Text.RegularExpressions.Regex.Match(f, @"^net(\d+)\.(\d+)$")))
            .Where(f => f.Version.Success && int.Parse(f.Version.Groups[1].Value, CultureInfo.InvariantCulture) <= Environment.Version.Major)
            .OrderByDescending(f => int.Parse(f.Version.Groups[1].Value, CultureInfo.InvariantCulture)).ThenByDescending(f => int.Parse(f.Version.Groups[2].Value, CultureInfo.InvariantCulture))
            .Select(f => f.Name).FirstOrDefault();
        return runnable ?? throw new CliException(
            $"{project} targets {string.Join(", ", frameworks)}, none of which this .NET {Environment.Version.Major} can run. Add a net{Environment.Version.Major}.0 target, or give a built test assembly (.dll).");
    }

    private static string Project(string full, string given)
    {
        if (File.Exists(full) && Path.GetExtension(full) is ".csproj" or ".fsproj" or ".vbproj")
            return full;
        if (Directory.Exists(full))
        {
            string[] projects = Directory.GetFiles(full, "*.*proj").Where(p => Path.GetExtension(p) is ".csproj" or ".fsproj" or ".vbproj").ToArray();
            return projects.Length switch
            {
                1 => projects[0],
                0 => throw new CliException($"{given} holds no test project (.csproj, .fsproj or .vbproj). Give a test project, its folder, or a built test assembly (.dll)."),
                _ => throw new CliException($"{given} holds {projects.Length} projects ({string.Join(", ", projects.Select(Path.GetFileName))}). Give the test project's path."),
            };
        }
        throw new CliException(File.Exists(full)
            ? $"{given} is neither a test project nor a built test assembly. Give a .csproj (or its folder) or a .dll."
            : $"There is no {given}. Give a test project, its folder, or a built test assembly (.dll).");
    }

    /// <summary>
    /// Runs the host for <paramref name="hostArguments"/> and gives back its exit code and the report it wrote. Its
    /// progress goes to standard error as it comes; a host that crashes is a failure that names the test it was running.
    /// </summary>
    public static (int ExitCode, string? Report) Run(IReadOnlyList<string> hostArguments, CancellationToken cancellation)
    {
        string report = Path.Combine(Path.GetTempPath(), $"leakhunter-suite-{Environment.ProcessId}-{Guid.NewGuid():N}.out");
        var start = new ProcessStartInfo(Environment.ProcessPath!)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // Run as `dotnet leakhunter.dll`, the host is the same: the host program, then the tool's own assembly.
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet")
            start.ArgumentList.Add(System.Reflection.Assembly.GetEntryAssembly()!.Location);
        foreach (string argument in hostArguments)
            start.ArgumentList.Add(argument);
        start.ArgumentList.Add("--output");
        start.ArgumentList.Add(report);
        start.Environment[HostVariable] = "1";
        string? current = null;
        try
        {
            using Process host = Process.Start(start) ?? throw new CliException("The test host could not be started.");
            host.OutputDataReceived += (_, e) =>
            {
                if (e.Data is not null)
                    Console.Error.WriteLine(e.Data);
            };
            host.ErrorDataReceived += (_, e) =>
            {
                if (e.Data is null)
                    return;
                if (e.Data.StartsWith(RunningPrefix, StringComparison.Ordinal))
                    current = e.Data[RunningPrefix.Length..];
                Console.Error.WriteLine(e.Data);
            };
            host.BeginOutputReadLine();
            host.BeginErrorReadLine();
            using CancellationTokenRegistration stop = cancellation.Register(() => Kill(host));
            host.WaitForExit();
            cancellation.ThrowIfCancellationRequested();
            if (host.ExitCode is 0 or 1 or 2 or 130)
                return (host.ExitCode, File.Exists(report) ? File.ReadAllText(report) : null);
            string running = current is null ? "" : $" while running {Test(current)}";
            throw new CliException(string.Create(CultureInfo.InvariantCulture, $"The test host crashed (exit code {host.ExitCode}){running}. ") +
                "A test that overflows its stack or ends its process takes its host with it: run the others with --filter \"FullyQualifiedName!=...\", or run that test alone with dotnet test to see why.");
        }
        finally
        {
            File.Delete(report);
        }
    }

    /// <summary>What the host writes to standard error before each test: the tool reads the running test from it.</summary>
    public const string RunningPrefix = "leakhunter: [";

    /// <summary>
    /// The host's progress, a line on standard error before each test, written before the test runs (not posted for
    /// later, as <see cref="Progress{T}"/> would): a test that crashes the host is then the one the last line names.
    /// </summary>
    internal sealed class ProgressLines : IProgress<SuiteProgress>
    {
        public void Report(SuiteProgress value) => Progress.Line(ProgressLine(value));
    }

    /// <summary>The host's progress line for the test about to run.</summary>
    public static string ProgressLine(SuiteProgress progress)
    {
        string left = progress.Remaining is TimeSpan remaining ? $" (about {Left(remaining)} left)" : "";
        return string.Create(CultureInfo.InvariantCulture, $"[{progress.Done + 1}/{progress.Total}] {progress.Current}{left}");
    }

    private static string Left(TimeSpan left) => left.TotalMinutes >= 1
        ? string.Create(CultureInfo.InvariantCulture, $"{(int)left.TotalMinutes} min {left.Seconds} s")
        : string.Create(CultureInfo.InvariantCulture, $"{Math.Ceiling(left.TotalSeconds):0} s");

    // "[3/14] Shop.Tests.CartTests.Add (about 12 s left)" names the test.
    private static string Test(string line)
    {
        int name = line.IndexOf("] ", StringComparison.Ordinal) + 2;
        int left = line.LastIndexOf(" (about ", StringComparison.Ordinal);
        return left > name ? line[name..left] : line[name..];
    }

    private static void Kill(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // It has already exited.
        }
    }

    private static (int Code, string Output) Dotnet(params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in arguments)
            start.ArgumentList.Add(argument);
        using Process process = Process.Start(start) ?? throw new CliException("dotnet could not be started: the .NET SDK must be on PATH to build a test project.");
        Task<string> error = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output + error.Result);
    }

    private static string Tail(string output) => string.Join(Environment.NewLine, output.Split('\n').Select(l => l.TrimEnd()).Where(l => l.Length > 0).TakeLast(20));
}
