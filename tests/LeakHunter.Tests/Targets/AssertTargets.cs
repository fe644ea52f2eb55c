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
