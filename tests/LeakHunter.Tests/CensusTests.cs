using LeakHunter.Census;
using Xunit;

namespace LeakHunter.Tests;

/// <summary>The census parses the heap's segments in bulk; it must walk every object, of every size, without losing its way.</summary>
public sealed class CensusTests
{
    // StringsOfEveryLength.s_strings (static array) -> string of length 0..999, arrays of every length, odd-sized objects
    private static object[]? s_mixed;

    [Theory]
    [InlineData(CensusStrategy.Attach)]
    [InlineData(CensusStrategy.Dump)]
    public void BulkScan_WalksEveryObjectOfEverySize(CensusStrategy strategy)
    {
        FillMixed();
        var taker = new CensusTaker(new LeakOptions { Strategy = strategy });
        taker.Take(); // first-use costs of the census path, as the check's own priming census does

        Running.CheckRunner.SettleHeap();
        CensusReply before = taker.Take().Reply;
        s_mixed = null;
        Running.CheckRunner.SettleHeap();
        CensusReply after = taker.Take().Reply;

        Assert.Equal(0, before.UnreadableBytes);
        Assert.Equal(0, after.UnreadableBytes);
        // The 3000 objects and their array are gone, give or take what the test runner did meanwhile.
        Assert.InRange(before.Objects - after.Objects, 3001 - 50, 3001 + 50);
    }

    // CollectibleTypes.s_instances (static array) -> instances of a type emitted into a collectible assembly
    private static object[]? s_collectibleInstances;

    [Fact]
    public void CollectibleTypes_AreCountedUntilTheirAssemblyIsUnloaded()
    {
        var taker = new CensusTaker(new LeakOptions { Strategy = CensusStrategy.Attach });
        taker.Take();

        WeakReference firstAssembly = HoldInstancesOfCollectibleType("Plugins.FirstWidget", 500);
        Running.CheckRunner.SettleHeap();
        int first = taker.Take().Id;

        s_collectibleInstances = null;
        for (int i = 0; i < 20 && firstAssembly.IsAlive; i++)
            Running.CheckRunner.SettleHeap();
        Assert.False(firstAssembly.IsAlive, "the collectible assembly should have been unloaded");
        HoldInstancesOfCollectibleType("Plugins.SecondWidget", 300);
        Running.CheckRunner.SettleHeap();
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
        var mixed = new object[3000];
        for (int i = 0; i < 1000; i++)
        {
            mixed[i] = new string('s', i);
            mixed[1000 + i] = new byte[i];
            mixed[2000 + i] = new char[i % 7];
        }
        s_mixed = mixed;
    }
}
