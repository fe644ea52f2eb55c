using LeakHunter.Census;

namespace LeakHunter.Analysis;

/// <summary>Turns the inspector's paths into the report's signatures, each with the usual fix for its shape.</summary>
internal static class LeakExplanations
{
    /// <summary>The report's view of the inspector's explanation.</summary>
    public static LeakExplanation FromInspector(Explanation explanation) => new(
        explanation.Leaks.Select(ToSignature).ToArray(),
        explanation.Referrers.Select(t => new TypeReferrers(t.Type, t.From.Select(f => new Referrer(f.Type, f.Field, f.Count)).ToArray())).ToArray(),
        explanation.PartialReason)
    {
        Warnings = explanation.Warnings,
    };

    /// <summary>
    /// What <paramref name="after"/>'s signatures hold beyond what the same signatures held in <paramref name="before"/>,
    /// another heap of the same process: two heaps share no addresses, so every instance of both was traced, and a
    /// signature is matched by its type, root and path (as a cause's id is made, so notes that carry counts and array
    /// indices do not matter). Signatures that gained nothing are left out: a culture's strings, held the same way in
    /// both heaps, are none of the growth.
    /// </summary>
    public static LeakExplanation GainedSince(LeakExplanation after, LeakExplanation before)
    {
        var heldBefore = before.Leaks.GroupBy(SignatureKey).ToDictionary(g => g.Key, g => g.Sum(s => (long)s.Instances));
        LeakSignature[] gained = after.Leaks
            .Select(s => (Signature: s, Gain: s.Instances - heldBefore.GetValueOrDefault(SignatureKey(s))))
            .Where(g => g.Gain > 0)
            .Select(g => g.Signature with
            {
                Instances = (int)g.Gain,
                Bytes = g.Signature.Bytes * g.Gain / Math.Max(1, g.Signature.Instances),
                RetainedBytes = g.Signature.RetainedBytes * g.Gain / Math.Max(1, g.Signature.Instances),
            })
            .ToArray();
        return after with { Leaks = gained };
    }

    private static (string Type, string Path) SignatureKey(LeakSignature signature) => (signature.Type, CauseIds.Of(signature.Root, signature.Path));

    private static LeakSignature ToSignature(LeakPath path)
    {
        var root = new LeakRoot((LeakRootKind)path.RootKind, path.RootName)
        {
            Thread = path.Thread is { } t ? new LeakThread(t.Name, t.StartMethod, t.StartedBy, t.StopMethod, t.Threads) : null,
        };
        LeakStep[] steps = path.Steps.Select(s => new LeakStep(s.Type, s.Field, s.Note) { Closer = s.Closer, IsNew = s.IsNew, KeyShapes = s.KeyShapes, FiresOnceAfter = s.OneShotDelayMs < 0 ? null : TimeSpan.FromMilliseconds(s.OneShotDelayMs) }).ToArray();
        int? accumulationPoint = path.AccumulationPoint >= 0 && path.AccumulationPoint < steps.Length ? path.AccumulationPoint : null;
        return new LeakSignature(path.Type, path.Instances, root, steps, accumulationPoint, LeakIdioms.Decode(root, steps).Hint)
        {
            Cause = path.Cause >= 0 ? path.Cause : null,
            Bytes = path.Bytes,
            RetainedBytes = path.RetainedBytes >= 0 ? path.RetainedBytes : null,
        };
    }
}
