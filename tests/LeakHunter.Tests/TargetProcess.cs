using System.Collections.Concurrent;
using System.Diagnostics;

namespace LeakHunter.Tests;

/// <summary>The LeakHunter.TestTarget program, started as a process of its own and read line by line.</summary>
internal sealed class TargetProcess : IDisposable
{
    private readonly Process _process;
    private readonly BlockingCollection<string> _lines = new();

    private TargetProcess(Process process)
    {
        _process = process;
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
                _lines.CompleteAdding();
            else
                _lines.Add(e.Data);
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
                StandardError.Add(e.Data);
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public int Id => _process.Id;

    public ConcurrentBag<string> StandardError { get; } = new();

    public static TargetProcess Start(IEnumerable<string> arguments, IDictionary<string, string>? environment = null, string[]? prefix = null)
    {
        string dll = Path.Combine(AppContext.BaseDirectory.Replace("LeakHunter.Tests", "LeakHunter.TestTarget", StringComparison.Ordinal), "LeakHunter.TestTarget.dll");
        if (!File.Exists(dll))
            throw new FileNotFoundException("Build tests/LeakHunter.TestTarget first; the test project references it so a normal build does.", dll);

        var start = new ProcessStartInfo(prefix?[0] ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string part in (prefix ?? ["dotnet"]).Skip(1))
            start.ArgumentList.Add(part);
        if (prefix is not null)
            start.ArgumentList.Add("dotnet");
        start.ArgumentList.Add(dll);
        foreach (string argument in arguments)
            start.ArgumentList.Add(argument);
        foreach ((string name, string value) in environment ?? new Dictionary<string, string>())
            start.Environment[name] = value;
        return new TargetProcess(Process.Start(start)!);
    }

    /// <summary>The next line it prints, or null once it has exited or the time is up.</summary>
    public string? ReadLine(TimeSpan timeout) =>
        _lines.TryTake(out string? line, timeout) ? line : null;

    public string? ReadLineStartingWith(string prefix, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            string? line = ReadLine(timeout - clock.Elapsed);
            if (line is null)
                return null;
            if (line.StartsWith(prefix, StringComparison.Ordinal))
                return line;
        }
        return null;
    }

    public bool WaitForExit(TimeSpan timeout) => _process.WaitForExit(timeout);

    public int ExitCode => _process.ExitCode;

    public void Kill() => _process.Kill(entireProcessTree: false);

    /// <summary>The state letter from /proc (R running, S sleeping, t stopped by a tracer, T stopped).</summary>
    public static char StateOf(int pid)
    {
        try
        {
            string status = File.ReadAllText($"/proc/{pid}/status");
            int at = status.IndexOf("State:", StringComparison.Ordinal);
            return at < 0 ? '?' : status[(at + 6)..].TrimStart()[0];
        }
        catch (IOException)
        {
            return 'X';
        }
    }

    /// <summary>Child processes of <paramref name="parentPid"/> running the LeakHunter inspector.</summary>
    public static int[] InspectorsOf(int parentPid) =>
        Directory.EnumerateDirectories("/proc")
            .Select(d => int.TryParse(Path.GetFileName(d), out int pid) ? pid : -1)
            .Where(pid => pid > 0 && ParentOf(pid) == parentPid && CommandLineOf(pid).Contains("LeakHunter.Inspector.dll", StringComparison.Ordinal))
            .ToArray();

    public static bool IsRunning(int pid) => File.Exists($"/proc/{pid}/status") && StateOf(pid) is not ('Z' or 'X');

    private static int ParentOf(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return int.Parse(fields[1]);
        }
        catch (Exception e) when (e is IOException or FormatException or IndexOutOfRangeException)
        {
            return -1;
        }
    }

    private static string CommandLineOf(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline");
        }
        catch (IOException)
        {
            return string.Empty;
        }
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
                _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
        }
        _process.Dispose();
    }
}
