using LeakHunter.Census;
using Xunit;

namespace LeakHunter.Tests;

/// <summary>The census parses the heap's segments in bulk; it must walk every object, of every size, without losing its way.</summary>
public sealed class CensusTests
{
    // CensusTests.s_mixed (static array) -> strings of length 0..999, arrays of 1-byte and 3-byte structs of every length, objects
    private static object[]? s_mixed;

    [Theory]
    [InlineData(CensusStrategy.Attach)]
    [InlineData(CensusStrategy.Dump)]
    public void BulkScan_WalksEveryObjectOfEverySize(CensusStrategy strategy)
    {
        FillMixed();
        var taker = new CensusTaker(new LeakOptions { Strategy = strategy });
        taker.Take(); // first-use costs of the census path, as the check's own priming census does

        Running.HeapSettler.SettleHeap();
        (int before, CensusReply beforeReply) = taker.Take();
        s_mixed = null;
        Running.HeapSettler.SettleHeap();
        (int after, CensusReply afterReply) = taker.Take();

        // A walk that lost its way would skip bytes, or miscount the objects after the place it went wrong.
        Assert.Equal(0, beforeReply.UnreadableBytes);
        Assert.Equal(0, afterReply.UnreadableBytes);
        var counts = taker.GetHistograms([before, after]).ToDictionary(s => s.Type, s => s.Counts);
        // Types of their own, so nothing the test runner does meanwhile can change their counts.
        Assert.Equal([1000L, 0L], counts["LeakHunter.Tests.CensusTests+OneByte[]"]);
        Assert.Equal([1000L, 0L], counts["LeakHunter.Tests.CensusTests+ThreeBytes[]"]);
        Assert.Equal([1000L, 0L], counts["LeakHunter.Tests.CensusTests+Sized"]);
        // Each string of every length was allocated just before one of these, so a string whose size the walk got
        // wrong would have thrown the count of what follows it. (The runner's own strings come and go, so strings
        // themselves cannot be counted exactly.)
    }

    // Element sizes of 1 and 3 bytes, so arrays end at every alignment.
    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Sequential, Size = 1)]
    private struct OneByte;

    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Sequential, Size = 3)]
    private struct ThreeBytes;

    private sealed class Sized(string text)
    {
        public string Text = text;
    }

    // CollectibleTypes.s_instances (static array) -> instances of a type emitted into a collectible assembly
    private static object[]? s_collectibleInstances;

    [Fact]
    public void CollectibleTypes_AreCountedUntilTheirAssemblyIsUnloaded()
    {
        var taker = new CensusTaker(new LeakOptions { Strategy = CensusStrategy.Attach });
        taker.Take();

        WeakReference firstAssembly = HoldInstancesOfCollectibleType("Plugins.FirstWidget", 500);
        Running.HeapSettler.SettleHeap();
        int first = taker.Take().Id;

        s_collectibleInstances = null;
        for (int i = 0; i < 20 && firstAssembly.IsAlive; i++)
            Running.HeapSettler.SettleHeap();
        Assert.False(firstAssembly.IsAlive, "the collectible assembly should have been unloaded");
        HoldInstancesOfCollectibleType("Plugins.SecondWidget", 300);
        Running.HeapSettler.SettleHeap();
        int second = taker.Take().Id;
        s_collectibleInstances = null;

        var series = taker.GetHistograms([first, second]).ToDictionary(s => s.Type, s => s.Counts);
        Assert.Equal([500L, 0L], series["Plugins.FirstWidget"]);
        Assert.Equal([0L, 300L], series["Plugins.SecondWidget"]);
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static WeakReference HoldInstancesOfCollectibleType(string typeName, int count)
    {
        var assembly = System.Reflection.Emit.AssemblyBuilder.DefineDynamicAssembly(
            new System.Reflection.AssemblyName("Plugins" + Guid.NewGuid().ToString("N")), System.Reflection.Emit.AssemblyBuilderAccess.RunAndCollect);
        var type = assembly.DefineDynamicModule("Plugins").DefineType(typeName, System.Reflection.TypeAttributes.Public);
        type.DefineField("_payload", typeof(long), System.Reflection.FieldAttributes.Public);
        Type widget = type.CreateType();
        var instances = new object[count];
        for (int i = 0; i < count; i++)
            instances[i] = Activator.CreateInstance(widget)!;
        s_collectibleInstances = instances;
        return new WeakReference(assembly);
    }

    // A frame of its own: a Debug build keeps a method's locals alive until it returns.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static void FillMixed()
    {
        var mixed = new object[4000];
        for (int i = 0; i < 1000; i++)
        {
            string text = new('s', i);
            mixed[i] = text;
            mixed[1000 + i] = new OneByte[i];
            mixed[2000 + i] = new ThreeBytes[i % 7];
            mixed[3000 + i] = new Sized(text);
        }
        s_mixed = mixed;
    }
}
