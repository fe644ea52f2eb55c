using System.Diagnostics;
using System.Text.Json;

namespace LeakHunter.Corpus.Tests;

/// <summary>Runs one case of the library corpus in a process of its own, and reads what it wrote.</summary>
internal static class CorpusProcess
{
    private static string CorpusDll => Path.Combine(
        AppContext.BaseDirectory.Replace("LeakHunter.Corpus.Tests", "LeakHunter.Corpus", StringComparison.Ordinal), "LeakHunter.Corpus.dll");

    /// <summary>The check's JSON report of the case's leaky code, or of its fixed twin.</summary>
    public static JsonElement Check(string name, bool leak) => Run("check", name, leak);

    /// <summary>The case's truth, measured in its own process without LeakHunter: live heap bytes and threads at 1x, 3x and 5x its scale.</summary>
    public static Truth Measure(string name, bool leak)
    {
        JsonElement truth = Run("truth", name, leak);
        return new Truth(
            truth.GetProperty("HeapBytes").EnumerateArray().Select(b => b.GetInt64()).ToArray(),
            truth.GetProperty("Threads").EnumerateArray().Select(t => t.GetInt32()).ToArray(),
            truth.GetProperty("Scale").GetInt32());
    }

    private static JsonElement Run(string mode, string name, bool leak)
    {
        string output = Path.Combine(Path.GetTempPath(), $"leakhunter-corpus-{Environment.ProcessId}-{Guid.NewGuid():N}.json");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string arg in new[] { CorpusDll, mode, name, leak ? "leak" : "fixed", output })
            start.ArgumentList.Add(arg);
        using Process process = Process.Start(start)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        try
        {
            if (!process.WaitForExit(TimeSpan.FromMinutes(5)))
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException($"The corpus case {name} ({mode}) did not finish in 5 minutes.");
            }
            process.WaitForExit();
            if (process.ExitCode != 0)
                throw new InvalidOperationException($"The corpus case {name} ({mode}) exited with {process.ExitCode}:\n{stdout.Result}\n{stderr.Result}");
            using JsonDocument document = JsonDocument.Parse(File.ReadAllText(output));
            return document.RootElement.Clone();
        }
        finally
        {
            File.Delete(output);
        }
    }
}

/// <summary>Live heap bytes and threads after 1x, 3x and 5x a case's scale of calls.</summary>
internal sealed record Truth(long[] HeapBytes, int[] Threads, int Scale)
{
    public long HeapGrowth => HeapBytes[^1] - HeapBytes[0];

    public int ThreadGrowth => Threads[^1] - Threads[0];
}
