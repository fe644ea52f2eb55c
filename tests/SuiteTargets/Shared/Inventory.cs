namespace Inventory;

// The code under test. The same in each suite, so each framework's runs can be compared.
public static class Catalog
{
    // The leak: Lookup keeps every Item it makes, and nothing ever empties the list.
    private static readonly List<Item> s_recent = new();

    public static event EventHandler? PricesChanged;

    public static Item Lookup(string sku)
    {
        var item = new Item(sku, new byte[256]);
        s_recent.Add(item);
        return item;
    }

    // Clean: allocates nothing that outlives the call.
    public static decimal Price(string sku) => sku.Length * 1.5m;

    // Leaks through the event when the watcher is never unwatched: the static event keeps it.
    public static void Watch(PriceWatcher watcher) => PricesChanged += watcher.OnChanged;

    public static void Unwatch(PriceWatcher watcher) => PricesChanged -= watcher.OnChanged;

    public static void ChangePrices() => PricesChanged?.Invoke(null, EventArgs.Empty);
}

public sealed record Item(string Sku, byte[] Photo);

public sealed class PriceWatcher
{
    public int Seen;

    public void OnChanged(object? sender, EventArgs e) => Seen++;
}

// An expensive shared fixture: its thousand items are built once and kept until it is disposed, on purpose.
public sealed class Warehouse : IDisposable
{
    private readonly List<Item> _items = new();

    public Warehouse()
    {
        for (int i = 0; i < 1000; i++)
        {
            _items.Add(new Item($"sku-{i}", new byte[256]));
        }
    }

    public int Stock => _items.Count;

    public void Dispose() => _items.Clear();
}
