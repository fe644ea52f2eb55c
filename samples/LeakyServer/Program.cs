using LeakyServer;

// GET /orders/{id} keeps every receipt forever (OrderHistory.s_receipts); GET /health keeps nothing.
// Start it with --urls http://127.0.0.1:0; it prints "listening <url>" once it accepts requests.
var builder = WebApplication.CreateBuilder(args);
builder.Logging.ClearProviders();
var app = builder.Build();

app.MapGet("/orders/{id:int}", (int id) => OrderHistory.Record(id));
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
}
