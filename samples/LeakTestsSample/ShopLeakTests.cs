using LeakHunter;
using LeakHunter.Xunit;
using Xunit;
using Xunit.Abstractions;

namespace LeakTestsSample;

// Leak checks count every object in the process: they run in a collection that is never parallel to other tests.
[CollectionDefinition(LeakTests.Collection, DisableParallelization = true)]
public sealed class LeakTestsCollection;

[Collection(LeakTests.Collection)]
public sealed class ShopLeakTests(ITestOutputHelper output)
{
    private readonly LeakCheck _leaks = new(output);

    // A view-model subscribing to a long-lived service: watch one, and expect it to be collected.
    [Fact]
    public void ViewModel_ThatUnsubscribes_IsCollected() => _leaks.Collected(() =>
    {
        using var viewModel = new ProductViewModel();
        return viewModel;
    });

    [Fact]
    public void ViewModel_ThatForgetsToUnsubscribe_IsHeldByTheServicesEvent()
    {
        var failure = Assert.Throws<LeakDetectedException>(() => _leaks.Collected(() => new LeakyProductViewModel()));

        Assert.Contains("static field LeakTestsSample.StockService.Instance", failure.Message);
        Assert.Contains(".StockChanged", failure.Message);
        Assert.Contains("Unsubscribe", failure.Message);
    }

    // A cache: unbounded, it grows with every new key; bounded, it fills and stays full.
    [Fact]
    public void BoundedCache_DoesNotLeak()
    {
        var cache = new BoundedPriceCache(capacity: 100);
        int next = 0;
        _leaks.NoLeaks(() => cache.PriceOf(next++));
    }

    [Fact]
    public void UnboundedCache_Leaks_OneEntryPerNewKey()
    {
        var cache = new UnboundedPriceCache();
        int next = 0;

        var failure = Assert.Throws<LeakDetectedException>(() => _leaks.NoLeaks(() => cache.PriceOf(next++)));

        Assert.Contains("LeakTestsSample.UnboundedPriceCache.s_prices", failure.Message);
    }

    // A disposable that owns a timer: after Dispose, no poller may be left.
    [Fact]
    public void Poller_ThatDisposesItsTimer_LeavesNoInstances()
    {
        _leaks.NoLeaks(() =>
        {
            using var poller = new CartPoller();
        });
        _leaks.NoInstances<CartPoller>();
    }

    [Fact]
    public void Poller_ThatForgetsItsTimer_IsHeldByTheTimerQueue()
    {
        var failure = Assert.Throws<LeakDetectedException>(() => _leaks.NoLeaks(() =>
        {
            using var poller = new LeakyCartPoller();
        }));

        Assert.Contains("Dispose the Timer", failure.Message);
    }
}
