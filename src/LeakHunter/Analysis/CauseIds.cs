using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace LeakHunter.Analysis;

/// <summary>
/// A cause's stable id: a hash of its owner and of the types and fields on its path to the accumulation point. It
/// leaves out what changes from one run to the next (addresses, counts, thread ids and the notes that carry them), and
/// array indices and chain lengths never reach a path, so the same leak gets the same id in every run. A collection's
/// backing array at the end of the path is left out too: whether the paths part at a list or at its array depends on
/// whether the array was replaced while the leak was traced.
/// </summary>
internal static partial class CauseIds
{
    /// <summary>Twelve hex digits: short enough to read in a report, long enough that two causes never share one.</summary>
    public static string Of(LeakRoot root, IReadOnlyList<LeakStep> path)
    {
        var text = new StringBuilder(root.Kind.ToString()).Append('|').Append(ThreadId().Replace(root.Name, "(thread)"));
        int length = path.Count;
        while (length > 1 && path[length - 1].Type.EndsWith(']'))
            length--;
        foreach (LeakStep step in path.Take(length))
            text.Append('|').Append(step.Field).Append(':').Append(step.Type);
        byte[] hash = SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString()));
        return Convert.ToHexStringLower(hash, 0, 6);
    }

    [GeneratedRegex(@"\(thread \d+\)")]
    private static partial Regex ThreadId();
}
