using System.Text.Json;
using LeakHunter;
using LeakHunter.Corpus;

// leakhunter-corpus check CASE leak|fixed OUTPUT   runs the check and writes its JSON report to OUTPUT
// leakhunter-corpus truth CASE leak|fixed OUTPUT   runs the fragment 1x, 3x and 5x its scale without LeakHunter, and
//                                                 writes the live heap bytes and threads after each to OUTPUT
if (args.Length != 4 || args[0] is not ("check" or "truth") || args[2] is not ("leak" or "fixed"))
{
    Console.Error.WriteLine("usage: LeakHunter.Corpus check|truth CASE leak|fixed OUTPUT");
    return 2;
}
if (!LibraryCases.All.TryGetValue(args[1], out LibraryCase? libraryCase))
{
    Console.Error.WriteLine($"No case named '{args[1]}'. The cases: {string.Join(", ", LibraryCases.All.Keys)}.");
    return 2;
}
Action fragment = args[2] == "leak" ? libraryCase.Leak : libraryCase.Fixed;
if (args[0] == "check")
{
    LeakReport report = LeakDetector.Run(fragment);
    File.WriteAllText(args[3], report.ToJson());
}
else
{
    File.WriteAllText(args[3], JsonSerializer.Serialize(Truth.Measure(fragment, libraryCase.Scale)));
}
// What a case wrote beside its report (a file sink's log) goes with the process.
foreach (string left in Directory.EnumerateFiles(Path.GetTempPath(), $"leakhunter-corpus-{Environment.ProcessId}-*"))
    File.Delete(left);
return 0;
