namespace LeakHunter.Tests.Targets;

// BaselineArchive.s_records -> List<Record> -> Record[]: a leak a team has accepted for now.
internal static class BaselineArchive
{
    private static readonly List<Record> s_records = [];

    public static void Keep() => s_records.Add(new Record());

    /// <summary>Lets go of what the checks kept, so later tests' heaps do not carry it.</summary>
    public static void Clear() => s_records.Clear();

    public sealed class Record
    {
        public long Stamp = Environment.TickCount64;
    }
}

// BaselineFeed.Updated -> EventHandler -> Reader: a leak the baseline does not know.
internal static class BaselineFeed
{
    public static event EventHandler? Updated;

    public static void Subscribe() => Updated += new Reader().OnUpdated;

    public static void Raise() => Updated?.Invoke(null, EventArgs.Empty);

    /// <summary>Removes every subscriber the checks left, so later tests' heaps do not carry them.</summary>
    public static void Clear() => Updated = null;

    public sealed class Reader
    {
        private int _seen;

        public void OnUpdated(object? sender, EventArgs e) => _seen++;
    }
}
