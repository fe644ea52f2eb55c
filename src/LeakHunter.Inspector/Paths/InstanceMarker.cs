using LeakHunter.Inspector.Census;
using Microsoft.Diagnostics.Runtime;

namespace LeakHunter.Inspector.Paths;

/// <summary>
/// Where the instances of some types are now. The process under test settles its heap without compacting before it
/// asks for the explanation, so an instance that was here at the mark is at the same address then, and an address
/// not marked is a new instance.
/// </summary>
internal static class InstanceMarker
{
    public static Dictionary<int, ulong[]> Mark(HeapScanner scanner, ClrRuntime runtime, IReadOnlyCollection<int> typeIndices)
    {
        var visitor = new Marker(typeIndices.ToDictionary(t => t, _ => new GrowableArray<ulong>(256)));
        scanner.Walk(runtime, ref visitor);
        // The walk visits addresses in ascending order, so each list is already sorted for binary search.
        return visitor.ByType.ToDictionary(p => p.Key, p => p.Value.Items.AsSpan(0, p.Value.Count).ToArray());
    }

    private readonly struct Marker(Dictionary<int, GrowableArray<ulong>> byType) : IObjectVisitor
    {
        public readonly Dictionary<int, GrowableArray<ulong>> ByType = byType;

        public static bool NeedsWholeObject => false;

        public void Visit(ulong address, ulong methodTable, int typeIndex, ulong size, ReadOnlySpan<byte> objectBytes)
        {
            if (ByType.TryGetValue(typeIndex, out GrowableArray<ulong>? addresses))
                addresses.Add(address);
        }
    }
}
