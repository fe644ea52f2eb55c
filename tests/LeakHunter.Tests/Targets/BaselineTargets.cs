namespace LeakHunter.Tests.Targets;

// BaselineArchive.s_records -> List<Record> -> Record[]: a leak a team has accepted for now.
internal static class BaselineArchive
{
    private static readonly List<Record> s_records = [];

    public static void Keep() => s_records.Add(new Record());

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

    public sealed class Reader
    {
        private int _seen;

        public void OnUpdated(object? sender, EventArgs e) => _seen++;
    }
}
