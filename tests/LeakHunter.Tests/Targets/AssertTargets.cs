namespace LeakHunter.Tests.Targets;

// AuditTrail.s_entries (static) -> List<Entry> -> Entry[] -> Entry
internal static class AuditTrail
{
    private static readonly List<Entry> s_entries = new();

    public static void Record() => s_entries.Add(new Entry());

    public static async Task RecordAsync()
    {
        await Task.Yield();
        s_entries.Add(new Entry());
    }

    public sealed class Entry
    {
        public long At = Environment.TickCount64;
    }
}

// VendorTelemetry.s_samples (static, inside "a library we cannot change") -> List<Sample> -> Sample[] -> Sample
internal static class VendorTelemetry
{
    private static readonly List<Sample> s_samples = new();

    public static void Track() => s_samples.Add(new Sample());

    public sealed class Sample
    {
        public double Value = 1.0;
    }
}

// PriceTicker.Ticked (static event) -> EventHandler -> QuoteViewModel. The view-model forgets to unsubscribe
// unless it is disposed.
internal static class PriceTicker
{
    public static event EventHandler? Ticked;

    public static void Tick() => Ticked?.Invoke(null, EventArgs.Empty);
}

internal sealed class QuoteViewModel : IDisposable
{
    public int Updates;

    public QuoteViewModel() => PriceTicker.Ticked += OnTicked;

    public void Dispose() => PriceTicker.Ticked -= OnTicked;

    private void OnTicked(object? sender, EventArgs e) => Updates++;
}

// SessionRegistry.s_open (static) -> List<UserSession> -> UserSession[] -> UserSession
internal static class SessionRegistry
{
    private static readonly List<UserSession> s_open = new();

    public static UserSession Open()
    {
        var session = new UserSession();
        s_open.Add(session);
        return session;
    }

    public static void CloseAll() => s_open.Clear();
}

internal sealed class UserSession
{
    public long Opened = Environment.TickCount64;
}

internal sealed class Widget
{
    public int Size = 1;
}

// ImportBatch.s_lines (static) -> List<Line> -> Line[] -> Line, filled with more lines than the referrer counts name.
internal static class ImportBatch
{
    private static readonly List<Line> s_lines = new();

    public static void Fill(int count)
    {
        for (int i = 0; i < count; i++)
            s_lines.Add(new Line());
    }

    public static void Clear() => s_lines.Clear();

    public sealed class Line
    {
        public long Read = Environment.TickCount64;
    }
}
