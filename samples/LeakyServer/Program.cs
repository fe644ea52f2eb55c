using LeakyServer;

// GET /orders/{id} keeps every receipt forever (OrderHistory.s_receipts); GET /quotes/{symbol} subscribes a watcher
// to a singleton's event and never unsubscribes it; GET /health keeps nothing.
// Start it with --urls http://127.0.0.1:0; it prints "listening <url>" once it accepts requests.
var builder = WebApplication.CreateBuilder(args);
builder.Logging.ClearProviders();
builder.Services.AddSingleton<PriceTicker>();
var app = builder.Build();

app.MapGet("/orders/{id:int}", (int id) => OrderHistory.Record(id));
app.MapGet("/quotes/{symbol}", (string symbol, PriceTicker ticker) => new QuoteWatcher(symbol, ticker).Describe());
app.MapGet("/health", () => "ok");

app.Lifetime.ApplicationStarted.Register(() => Console.WriteLine($"listening {app.Urls.First()}"));
app.Run();

namespace LeakyServer
{
    /// <summary>An audit trail that was meant to be flushed to storage, and never is.</summary>
    internal static class OrderHistory
    {
        private static readonly List<Receipt> s_receipts = new();

        public static string Record(int id)
        {
            var receipt = new Receipt(id, DateTime.UtcNow);
            lock (s_receipts)
                s_receipts.Add(receipt);
            return $"order {id} recorded";
        }
    }

    internal sealed record Receipt(int OrderId, DateTime At);

    /// <summary>A singleton that publishes prices: it lives as long as the server.</summary>
    internal sealed class PriceTicker
    {
        public event EventHandler<decimal>? PriceChanged;

        public void Publish(decimal price) => PriceChanged?.Invoke(this, price);
    }

    /// <summary>Made per request; it subscribes to the ticker and nothing ever unsubscribes it.</summary>
    internal sealed class QuoteWatcher
    {
        private readonly string _symbol;
        private decimal _last;

        public QuoteWatcher(string symbol, PriceTicker ticker)
        {
            _symbol = symbol;
            ticker.PriceChanged += OnPriceChanged;
        }

        public string Describe() => $"watching {_symbol} at {_last}";

        private void OnPriceChanged(object? sender, decimal price) => _last = price;
    }
}
