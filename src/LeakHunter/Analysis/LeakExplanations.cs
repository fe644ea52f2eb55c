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

    private static LeakSignature ToSignature(LeakPath path)
    {
        var root = new LeakRoot((LeakRootKind)path.RootKind, path.RootName);
        LeakStep[] steps = path.Steps.Select(s => new LeakStep(s.Type, s.Field, s.Note)).ToArray();
        int? accumulationPoint = path.AccumulationPoint >= 0 && path.AccumulationPoint < steps.Length ? path.AccumulationPoint : null;
        return new LeakSignature(path.Type, path.Instances, root, steps, accumulationPoint, LeakIdioms.Decode(root, steps).Hint)
        {
            Cause = path.Cause >= 0 ? path.Cause : null,
            Bytes = path.Bytes,
        };
    }
}
