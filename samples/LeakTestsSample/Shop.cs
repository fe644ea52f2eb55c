namespace LeakTestsSample;

// The code under test: a small shop's client.

/// <summary>A long-lived service: one per application.</summary>
public sealed class StockService
{
    public static StockService Instance { get; } = new();

    public event EventHandler<int>? StockChanged;

    public void Publish(int level) => StockChanged?.Invoke(this, level);
}

/// <summary>Subscribes to the service and never unsubscribes: every view-model ever shown stays alive.</summary>
public sealed class LeakyProductViewModel
{
    public LeakyProductViewModel() => StockService.Instance.StockChanged += OnStockChanged;

    public int Stock { get; private set; }

    private void OnStockChanged(object? sender, int level) => Stock = level;
}

/// <summary>The fix: unsubscribe when the view closes.</summary>
public sealed class ProductViewModel : IDisposable
{
    public ProductViewModel() => StockService.Instance.StockChanged += OnStockChanged;

    public int Stock { get; private set; }

    public void Dispose() => StockService.Instance.StockChanged -= OnStockChanged;

    private void OnStockChanged(object? sender, int level) => Stock = level;
}

/// <summary>Caches prices by product id, and never forgets one.</summary>
public sealed class UnboundedPriceCache
{
    private static readonly Dictionary<int, decimal> s_prices = new();

    public decimal PriceOf(int productId) => s_prices.TryGetValue(productId, out decimal price) ? price : s_prices[productId] = productId * 1.5m;
}

/// <summary>The fix: a bound; the oldest entry goes when a new one would pass it.</summary>
public sealed class BoundedPriceCache(int capacity)
{
    private static readonly Dictionary<int, decimal> s_prices = new();
    private static readonly Queue<int> s_order = new();

    public decimal PriceOf(int productId)
    {
        if (s_prices.TryGetValue(productId, out decimal price))
            return price;
        if (s_prices.Count == capacity)
            s_prices.Remove(s_order.Dequeue());
        s_order.Enqueue(productId);
        return s_prices[productId] = productId * 1.5m;
    }
}

/// <summary>Owns a timer, but Dispose forgets it: the timer queue keeps the poller, through the timer's callback.</summary>
public sealed class LeakyCartPoller : IDisposable
{
    private readonly Timer _timer;

    public LeakyCartPoller() => _timer = new Timer(_ => Poll(), null, TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(5));

    public int Polls { get; private set; }

    public void Dispose()
    {
    }

    private void Poll() => Polls++;
}

/// <summary>The fix: Dispose disposes the timer it owns.</summary>
public sealed class CartPoller : IDisposable
{
    private readonly Timer _timer;

    public CartPoller() => _timer = new Timer(_ => Poll(), null, TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(5));

    public int Polls { get; private set; }

    public void Dispose() => _timer.Dispose();

    private void Poll() => Polls++;
}
