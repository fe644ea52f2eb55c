using System.Reflection;

namespace LeakHunter.Reports;

/// <summary>
/// Attaches a failed check's reports to the running test where NUnit or MSTest keep a test's files, found the way
/// assertion libraries find their framework: by its assembly, loaded in this process, and its current test context.
/// No reference to either is taken, so a test project gets this by referencing LeakHunter alone.
/// </summary>
internal static class TestAttachments
{
    /// <summary>The name each report file starts with, then the test's name and the format's extension.</summary>
    public const string FilePrefix = "leakhunter-report";

    /// <summary>
    /// Writes the full text, JSON and HTML reports as files of the current test and attaches them: NUnit's
    /// <c>TestContext.AddTestAttachment</c>, MSTest's <c>TestContext.AddResultFile</c>.
    /// </summary>
    /// <returns>Where the reports are, as a failure's message says it; null when no such framework runs a test here.</returns>
    public static string? Attach(string text, string? json, string? html)
    {
        try
        {
            return NUnit(text, json, html) ?? MSTest(text, json, html);
        }
        catch (Exception e) when (e is TargetInvocationException or InvalidOperationException or IOException or UnauthorizedAccessException or NullReferenceException)
        {
            // A framework of another version, or a test context that has none: the message keeps the whole report.
            return null;
        }
    }

    private static string? NUnit(string text, string? json, string? html)
    {
        Type? context = Loaded("nunit.framework")?.GetType("NUnit.Framework.TestContext");
        object? current = context?.GetProperty("CurrentContext")?.GetValue(null);
        object? test = current?.GetType().GetProperty("Test")?.GetValue(current);
        string? name = test?.GetType().GetProperty("Name")?.GetValue(test) as string;
        string? folder = current?.GetType().GetProperty("WorkDirectory")?.GetValue(current) as string;
        MethodInfo? attach = context?.GetMethod("AddTestAttachment", [typeof(string), typeof(string)]);
        // Outside a test, NUnit's context is an ad hoc one with no method to run.
        if (string.IsNullOrEmpty(name) || folder is null || attach is null || test!.GetType().GetProperty("MethodName")?.GetValue(test) is null)
            return null;
        string[] files = Written(Path.Combine(folder, "leakhunter"), name, text, json, html);
        foreach (string file in files)
            attach.Invoke(null, [file, "LeakHunter report"]);
        return $"attached to the test as {Listed(files)}";
    }

    private static string? MSTest(string text, string? json, string? html)
    {
        Type? context = Loaded("MSTest.TestFramework.Extensions")?.GetType("Microsoft.VisualStudio.TestTools.UnitTesting.TestContext");
        object? current = context?.GetProperty("Current", BindingFlags.Public | BindingFlags.Static)?.GetValue(null);
        string? name = current?.GetType().GetProperty("TestName")?.GetValue(current) as string;
        MethodInfo? attach = current?.GetType().GetMethod("AddResultFile", [typeof(string)]);
        if (string.IsNullOrEmpty(name) || attach is null)
            return null;
        string folder = current!.GetType().GetProperty("TestResultsDirectory")?.GetValue(current) as string
            ?? Path.Combine(AppContext.BaseDirectory, "TestResults");
        string[] files = Written(Path.Combine(folder, "leakhunter"), name, text, json, html);
        foreach (string file in files)
            attach.Invoke(current, [file]);
        return $"attached to the test result as {Listed(files)}";
    }

    private static readonly HashSet<string> s_writtenThisRun = new(StringComparer.Ordinal);

    private static Assembly? Loaded(string name) =>
        AppDomain.CurrentDomain.GetAssemblies().FirstOrDefault(a => string.Equals(a.GetName().Name, name, StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// The reports as files named after the test, numbered when the test already attached some in this run (two
    /// checks in one test); a file an earlier run left is overwritten.
    /// </summary>
    private static string[] Written(string folder, string testName, string text, string? json, string? html)
    {
        Directory.CreateDirectory(folder);
        string safe = string.Concat(testName.Select(c => Path.GetInvalidFileNameChars().Contains(c) || c is '(' or ')' or '"' or ' ' ? '_' : c));
        string stem = Path.Combine(folder, $"{FilePrefix}-{safe}");
        lock (s_writtenThisRun)
        {
            for (int check = 2; !s_writtenThisRun.Add(stem); check++)
                stem = Path.Combine(folder, $"{FilePrefix}-{safe}-{check}");
        }
        var files = new List<string>();
        foreach ((string extension, string? content) in new[] { ("txt", text), ("json", json), ("html", html) })
        {
            if (content is null)
                continue;
            File.WriteAllText($"{stem}.{extension}", content);
            files.Add($"{stem}.{extension}");
        }
        return [.. files];
    }

    /// <summary>"a", "a and b", "a, b and c".</summary>
    public static string Listed(IReadOnlyList<string> names) =>
        names.Count <= 1 ? string.Concat(names) : $"{string.Join(", ", names.Take(names.Count - 1))} and {names[^1]}";
}
