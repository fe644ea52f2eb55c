using NUnit.Framework;

namespace Inventory.Tests;

// Clean: the Warehouse is built once for the fixture and kept on purpose until the fixture is done; the per-test list
// is made afresh and emptied around each test.
[TestFixture]
public sealed class WarehouseTests
{
    private Warehouse _warehouse = null!;
    private List<int> _counts = null!;

    [OneTimeSetUp]
    public void CreateWarehouse() => _warehouse = new Warehouse();

    [OneTimeTearDown]
    public void DisposeWarehouse() => _warehouse.Dispose();

    [SetUp]
    public void CreateCounts() => _counts = new List<int>(16);

    [TearDown]
    public void ClearCounts() => _counts.Clear();

    [Test]
    public void Warehouse_HasStock()
    {
        _counts.Add(_warehouse.Stock);
        Assert.That(_counts, Is.EqualTo(new[] { 1000 }));
    }
}
