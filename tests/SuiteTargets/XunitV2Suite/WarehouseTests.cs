using Xunit;
using Xunit.Abstractions;

namespace Inventory.Tests;

// Clean: the Warehouse is a class fixture, built once for the class and kept on purpose until the class is done.
public sealed class WarehouseTests : IClassFixture<Warehouse>
{
    private readonly Warehouse _warehouse;
    private readonly ITestOutputHelper _output;

    public WarehouseTests(Warehouse warehouse, ITestOutputHelper output)
    {
        _warehouse = warehouse;
        _output = output;
    }

    [Fact]
    public void Warehouse_HasStock()
    {
        _output.WriteLine($"Stock: {_warehouse.Stock}");
        Assert.Equal(1000, _warehouse.Stock);
    }
}
