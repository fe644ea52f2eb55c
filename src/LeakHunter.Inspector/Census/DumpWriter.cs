using System.Diagnostics;
using LeakHunter.Census;
using LeakHunter.Inspector.Platform;

namespace LeakHunter.Inspector.Census;

/// <summary>
/// Writes a heap dump of the process under test with the runtime's own <c>createdump</c>, started from the
/// inspector. Started from here, its output is the inspector's to capture: the process under test's own output is
/// never touched. It needs ptrace permission only, not the runtime's diagnostics server, and the inspector's
/// permission to trace the process under test (<c>PR_SET_PTRACER</c>) extends to its children under Yama.
/// </summary>
internal static class DumpWriter
{
    private const string ToolName = "createdump";
    private const int OutputLinesKept = 12;

    // The createdump running now, if any, so an inspector that must exit at once can stop it first.
    private static readonly Lock s_runningGate = new();
    private static (Process Tool, int TargetPid)? s_running;

    /// <summary>
    /// Dumps <paramref name="targetPid"/> with its heap into <paramref name="dumpPath"/>, an existing file whose mode
    /// the tool keeps, with the createdump in <paramref name="runtimeFolder"/>, the runtime folder of the process
    /// under test. A tool that has not finished within <paramref name="timeLimit"/> is killed.
    /// </summary>
    /// <exception cref="InspectorException">The tool is missing, was denied ptrace, failed, or ran out of time.</exception>
    public static void Write(int targetPid, string dumpPath, TimeSpan timeLimit, string? runtimeFolder)
    {
        string tool = FindTool(targetPid, runtimeFolder);
        var start = new ProcessStartInfo(tool)
        {
            // Its stdin would otherwise be the inspector's request pipe.
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in new[] { "-f", dumpPath, "--withheap", targetPid.ToString(System.Globalization.CultureInfo.InvariantCulture) })
            start.ArgumentList.Add(argument);

        var output = new OutputTail(OutputLinesKept);
        Process process;
        lock (s_runningGate)
        {
            try
            {
                process = Process.Start(start) ?? throw new InvalidOperationException("Process.Start returned no process.");
            }
            catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
            {
                throw new InspectorException(InspectorStatus.DumpFailed, $"The runtime's dump writer ({tool}) could not be started: {e.Message}", e);
            }
            s_running = (process, targetPid);
        }
        try
        {
            process.OutputDataReceived += (_, line) => output.Add(line.Data);
            process.ErrorDataReceived += (_, line) => output.Add(line.Data);
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            process.StandardInput.Close();

            if (!process.WaitForExit(timeLimit))
            {
                StopRunning();
                throw new InspectorException(InspectorStatus.DumpFailed,
                    $"The runtime's dump writer ({tool}) had not finished a dump of process {targetPid} after {timeLimit.TotalSeconds:0.#} s, so it was stopped.{output.Describe()}");
            }
            // The timed wait returns at exit; this one also waits until the captured output has been read to its end.
            process.WaitForExit();
            if (process.ExitCode != 0)
            {
                InspectorStatus status = output.SaysPermissionDenied() ? InspectorStatus.PtraceDenied : InspectorStatus.DumpFailed;
                throw new InspectorException(status,
                    $"The runtime's dump writer ({tool}) could not write a dump of process {targetPid} (exit code {process.ExitCode}).{output.Describe()}");
            }
        }
        finally
        {
            lock (s_runningGate)
                s_running = null;
            process.Dispose();
        }
    }

    /// <summary>
    /// Kills the createdump that is running, if any, and waits for it to go. It traces with PTRACE_ATTACH, whose
    /// SIGSTOP may still be pending when it dies; SIGCONT discards a pending stop and resumes a stopped process, so
    /// the process under test is never left frozen.
    /// </summary>
    public static void StopRunning()
    {
        lock (s_runningGate)
        {
            if (s_running is not (Process tool, int targetPid))
                return;
            try
            {
                tool.Kill();
                tool.WaitForExit(TimeSpan.FromSeconds(5));
            }
            catch (InvalidOperationException)
            {
                // It had already exited.
            }
            InspectorPlatform.Current.Continue(targetPid);
            s_running = null;
        }
    }

    /// <summary>The createdump beside the runtime of the process under test, which told the inspector where that runtime is.</summary>
    private static string FindTool(int targetPid, string? runtimeFolder)
    {
        if (string.IsNullOrEmpty(runtimeFolder))
            throw new InspectorException(InspectorStatus.DumpFailed,
                $"Process {targetPid} did not say where its runtime is ({InspectorProtocol.RuntimeFolderVariable} is not set), so the runtime's {ToolName} cannot be found. " +
                "A single-file or self-contained app without its runtime folder cannot use the dump route; use CensusStrategy.Attach.");
        string tool = Path.Combine(runtimeFolder, ToolName);
        return File.Exists(tool)
            ? tool
            : throw new InspectorException(InspectorStatus.DumpFailed,
                $"The runtime's dump writer is not at {tool}, so no dump of process {targetPid} can be written. " +
                "Install the full .NET runtime (its createdump ships beside libcoreclr.so), or use CensusStrategy.Attach.");
    }

    /// <summary>The last lines the tool printed, for error messages; they are never printed anywhere.</summary>
    private sealed class OutputTail(int linesKept)
    {
        private const string Prefix = "[createdump] ";
        private readonly Queue<string> _lines = new();

        public void Add(string? line)
        {
            if (string.IsNullOrWhiteSpace(line))
                return;
            lock (_lines)
            {
                _lines.Enqueue(line.StartsWith(Prefix, StringComparison.Ordinal) ? line[Prefix.Length..] : line);
                while (_lines.Count > linesKept)
                    _lines.Dequeue();
            }
        }

        public bool SaysPermissionDenied()
        {
            lock (_lines)
            {
                return _lines.Any(line =>
                    line.Contains("permission", StringComparison.OrdinalIgnoreCase)
                    || line.Contains("not permitted", StringComparison.OrdinalIgnoreCase)
                    || (line.Contains("ptrace", StringComparison.OrdinalIgnoreCase) && line.Contains("denied", StringComparison.OrdinalIgnoreCase)));
            }
        }

        public string Describe()
        {
            lock (_lines)
                return _lines.Count == 0 ? " It printed nothing." : " It said: " + string.Join(" | ", _lines);
        }
    }
}
