using System.Collections.Concurrent;
using System.Diagnostics;

namespace LeakHunter.Tests;

/// <summary>The LeakHunter.TestTarget program, started as a process of its own and read line by line.</summary>
internal sealed class TargetProcess : IDisposable
{
    private readonly Process _process;
    private readonly BlockingCollection<string> _lines = new();

    private readonly string? _privateCopy;

    private TargetProcess(Process process, string? privateCopy = null)
    {
        _process = process;
        _privateCopy = privateCopy;
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

    // The target's own id when it is not the process started (setsid -f forks it off).
    private int? _detachedId;

    public int Id => _detachedId ?? _process.Id;

    public ConcurrentBag<string> StandardError { get; } = new();

    public static TargetProcess Start(IEnumerable<string> arguments, IDictionary<string, string>? environment = null, string[]? prefix = null) =>
        Start(TargetFolder, arguments, environment, prefix, privateCopy: null);

    /// <summary>
    /// A target serving orders that is not this process's child: started through <c>setsid -f</c>, so this process
    /// can stop it with ptrace itself, as the inspector does. The runtime waits on this process's own children, and
    /// would take the stops ptrace reports for one of them. <paramref name="environment"/> sizes what it holds
    /// besides (<c>LEAKHUNTER_TEST_BALLAST</c>, <c>LEAKHUNTER_TEST_THREADS</c>, <c>LEAKHUNTER_TEST_COLLECTING</c>).
    /// </summary>
    public static TargetProcess StartServingDetached(string mode, IDictionary<string, string>? environment = null)
    {
        TargetProcess target = Start(TargetFolder, ["serve", mode], environment, prefix: ["setsid", "-f"], privateCopy: null);
        string? ready = target.ReadLineStartingWith("ready", TimeSpan.FromMinutes(2));
        if (ready is null)
        {
            target.Dispose();
            throw new TimeoutException($"The target serving '{mode}' never said it was ready.");
        }
        target._detachedId = int.Parse(ready["ready ".Length..], System.Globalization.CultureInfo.InvariantCulture);
        return target;
    }

    /// <summary>A target serving orders ("leak" keeps every order in a static list, "clean" keeps none), once it says it is ready.</summary>
    public static TargetProcess StartServing(string mode)
    {
        TargetProcess target = Start(["serve", mode]);
        if (target.ReadLineStartingWith("ready", TimeSpan.FromMinutes(2)) is null)
        {
            target.Dispose();
            throw new TimeoutException($"The target serving '{mode}' never said it was ready.");
        }
        return target;
    }

    /// <summary>
    /// Starts the target as another, unprivileged user. That user may not be able to read the build output where the
    /// clone happens to live (a checkout under a 0700 folder), so the target runs from a world-readable copy of it,
    /// deleted on dispose.
    /// </summary>
    public static TargetProcess StartAsUnprivileged(IEnumerable<string> arguments, IDictionary<string, string>? environment = null)
    {
        string[]? asUnprivileged = Environment.UserName == "root"
            ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "env", "HOME=/tmp"]
            : null;
        string copy = Directory.CreateTempSubdirectory("leakhunter-target-").FullName;
        try
        {
            CopyReadableByAll(TargetFolder, copy);
            return Start(copy, arguments, environment, asUnprivileged, copy);
        }
        catch
        {
            Directory.Delete(copy, recursive: true);
            throw;
        }
    }

    private static string TargetFolder => AppContext.BaseDirectory.Replace("LeakHunter.Tests", "LeakHunter.TestTarget", StringComparison.Ordinal);

    private static void CopyReadableByAll(string from, string to)
    {
        const UnixFileMode ReadableByAll = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
        const UnixFileMode ListableByAll = ReadableByAll | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
        File.SetUnixFileMode(to, ListableByAll);
        foreach (string folder in Directory.GetDirectories(from, "*", SearchOption.AllDirectories))
        {
            string copy = Path.Combine(to, Path.GetRelativePath(from, folder));
            Directory.CreateDirectory(copy);
            File.SetUnixFileMode(copy, ListableByAll);
        }
        foreach (string file in Directory.GetFiles(from, "*", SearchOption.AllDirectories))
        {
            string copy = Path.Combine(to, Path.GetRelativePath(from, file));
            File.Copy(file, copy);
            File.SetUnixFileMode(copy, ReadableByAll);
        }
    }

    private static TargetProcess Start(string folder, IEnumerable<string> arguments, IDictionary<string, string>? environment, string[]? prefix, string? privateCopy)
    {
        string dll = Path.Combine(folder, "LeakHunter.TestTarget.dll");
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
        return new TargetProcess(Process.Start(start)!, privateCopy);
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

    /// <summary>
    /// Waits until a "serve leak" target says it holds more than <paramref name="orders"/> orders, and returns how many
    /// it holds: what a test that needs the leak to have grown waits for, instead of a sleep.
    /// </summary>
    public long WaitForOrdersAbove(long orders, TimeSpan timeout) => WaitForHeldAbove("orders", orders, timeout);

    /// <summary>
    /// The orders a "serve leak" target said it held last: the lines printed so far are read without waiting, and
    /// only when none of them told the orders is the next one waited for. It holds fewer than this plus 10 now.
    /// </summary>
    public long LatestOrders(TimeSpan timeout)
    {
        long latest = -1;
        while (_lines.TryTake(out string? line))
        {
            if (line.StartsWith("orders ", StringComparison.Ordinal))
                latest = long.Parse(line["orders ".Length..], System.Globalization.CultureInfo.InvariantCulture);
        }
        return latest >= 0 ? latest : WaitForOrdersAbove(0, timeout);
    }

    /// <summary>Waits for a "<paramref name="what"/> N" line with N above <paramref name="count"/>, and returns N.</summary>
    public long WaitForHeldAbove(string what, long count, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            string? line = ReadLineStartingWith(what + " ", timeout - clock.Elapsed);
            if (line is null)
                break;
            long held = long.Parse(line[(what.Length + 1)..], System.Globalization.CultureInfo.InvariantCulture);
            if (held > count)
                return held;
        }
        throw new TimeoutException($"The target never held more than {count} {what}.");
    }

    public bool WaitForExit(TimeSpan timeout) => _process.WaitForExit(timeout);

    public int ExitCode => _process.ExitCode;

    public void Kill()
    {
        if (_detachedId is int detached)
        {
            KillDetached(detached);
            return;
        }
        _process.Kill(entireProcessTree: false);
        _process.WaitForExit();
        RuntimeFiles.DeleteOf(_process.Id);
    }

    /// <summary>
    /// The modes and lengths of the files with no name (O_TMPFILE: "/tmp/#inode (deleted)") that process
    /// <paramref name="pid"/> has open now; none once it has exited.
    /// </summary>
    public static List<(UnixFileMode Mode, long Bytes)> UnnamedFilesOf(int pid)
    {
        var files = new List<(UnixFileMode, long)>();
        try
        {
            foreach (FileSystemInfo descriptor in new DirectoryInfo($"/proc/{pid}/fd").EnumerateFileSystemInfos())
            {
                if (descriptor.LinkTarget is not string link || !link.StartsWith(Path.GetTempPath(), StringComparison.Ordinal)
                    || !link.Contains("/#", StringComparison.Ordinal) || !link.EndsWith(" (deleted)", StringComparison.Ordinal))
                    continue;
                using Microsoft.Win32.SafeHandles.SafeFileHandle file = File.OpenHandle(descriptor.FullName);
                files.Add((File.GetUnixFileMode(descriptor.FullName), RandomAccess.GetLength(file)));
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The process, or the descriptor, went away while it was listed.
        }
        return files;
    }

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

    /// <summary>Kills a process of this test run (an inspector, say) and waits for it to be gone.</summary>
    public static void KillAndWait(int processId)
    {
        using Process process = Process.GetProcessById(processId);
        process.Kill();
        if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
            throw new TimeoutException($"Process {processId} did not exit when killed.");
    }

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

    private static void KillDetached(int processId)
    {
        try
        {
            using Process detached = Process.GetProcessById(processId);
            detached.Kill();
            // Not this process's child: wait for it to be gone by its /proc entry.
            var clock = Stopwatch.StartNew();
            while (StateOf(processId) is not ('X' or 'Z') && clock.Elapsed < TimeSpan.FromSeconds(30))
                Thread.Sleep(10);
        }
        catch (ArgumentException)
        {
            // Gone already.
        }
        RuntimeFiles.DeleteOf(processId);
    }

    public void Dispose()
    {
        if (_detachedId is int detached)
            KillDetached(detached);
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit();
                RuntimeFiles.DeleteOf(_process.Id);
            }
        }
        catch (InvalidOperationException)
        {
        }
        _process.Dispose();
        if (_privateCopy is not null)
            Directory.Delete(_privateCopy, recursive: true);
    }
}

/// <summary>
/// The files a .NET runtime keeps in the temporary folder while it runs (its diagnostics socket and debugger pipes).
/// A runtime removes them when it exits, but not when it is killed, so whoever kills one removes them.
/// </summary>
internal static class RuntimeFiles
{
    public static void DeleteOf(int processId)
    {
        foreach (string pattern in new[] { $"dotnet-diagnostic-{processId}-*", $"clr-debug-pipe-{processId}-*" })
        {
            foreach (string file in Directory.EnumerateFiles(Path.GetTempPath(), pattern))
                File.Delete(file);
        }
    }
}
