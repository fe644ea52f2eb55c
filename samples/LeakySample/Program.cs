using LeakHunter;

// A request handler that looks harmless: every request subscribes an audit listener to a long-lived
// event source and never unsubscribes, so every request's listener and its buffer live forever.
//
//   PriceFeed.PriceChanged (static event) -> EventHandler -> AuditListener -> byte[] buffer
var handler = new QuoteHandler();
LeakReport report = LeakDetector.Run(() => handler.Handle("ACME"));
Console.WriteLine(report);
// `dotnet run --project samples/LeakySample -- --html report.html` also writes the report as one HTML page.
if (args is ["--html", string page])
    File.WriteAllText(page, report.ToHtml());
return report.HasLeaks ? 1 : 0;

internal static class PriceFeed
{
    public static event EventHandler<decimal>? PriceChanged;

    public static void Publish(decimal price) => PriceChanged?.Invoke(null, price);
}

internal sealed class AuditListener
{
    private readonly byte[] _buffer = new byte[256];
    private readonly string _symbol;

    public AuditListener(string symbol) => _symbol = symbol;

    public void OnPriceChanged(object? sender, decimal price) => _buffer[0] = (byte)(price + _symbol.Length);
}

internal sealed class QuoteHandler
{
    public decimal Handle(string symbol)
    {
        var listener = new AuditListener(symbol);
        PriceFeed.PriceChanged += listener.OnPriceChanged;   // the missing -= is the leak
        PriceFeed.Publish(42m);
        return 42m;
    }
}
