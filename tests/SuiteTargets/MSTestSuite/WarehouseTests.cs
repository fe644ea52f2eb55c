using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace Inventory.Tests;

// Clean: the Warehouse is built once for the class and kept on purpose until the class is done; the per-test list is
// made afresh and emptied around each test.
[TestClass]
public sealed class WarehouseTests
{
    private static Warehouse s_warehouse = null!;
    private List<int> _counts = null!;

    [ClassInitialize]
    public static void CreateWarehouse(TestContext context) => s_warehouse = new Warehouse();

    [ClassCleanup]
    public static void DisposeWarehouse() => s_warehouse.Dispose();

    [TestInitialize]
    public void CreateCounts() => _counts = new List<int>(16);

    [TestCleanup]
    public void ClearCounts() => _counts.Clear();

    [TestMethod]
    public void Warehouse_HasStock()
    {
        _counts.Add(s_warehouse.Stock);
        CollectionAssert.AreEqual(new[] { 1000 }, _counts);
    }
}
