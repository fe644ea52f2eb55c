using LeakHunter.Analysis;
using LeakHunter.Census;

namespace LeakHunter.Running;

/// <summary>
/// The explain stage for resources, a check's and a watch's alike: what the new items of each grown resource are
/// since the first census (the threads, handles, descriptors and assemblies made since, and for native memory the
/// growing types beside it).
/// </summary>
internal static class ResourceExplanation
{
    /// <param name="censuses">The session whose censuses were judged.</param>
    /// <param name="resources">The judged resources; only the grown ones are explained.</param>
    /// <param name="sinceCensusId">The first census, from which new items are told.</param>
    /// <param name="growingTypes">The growing types with their bytes per <paramref name="unit"/>.</param>
    /// <param name="unit">What the rates are per: <c>iteration</c> or <c>second</c>.</param>
    /// <param name="warnings">Where a failure to explain is told.</param>
    public static IReadOnlyList<ResourceUsage> Explain(InspectionSession censuses, IReadOnlyList<ResourceUsage> resources, int sinceCensusId,
        IReadOnlyList<(string Type, double BytesPerUnit)> growingTypes, string unit, List<string> warnings)
    {
        string[] grown = resources.Where(r => r.Growing).Select(r => r.Name).ToArray();
        if (grown.Length == 0)
            return resources;
        IReadOnlyList<ResourceFindingMessage> found;
        try
        {
            found = censuses.ExplainResources(sinceCensusId, grown);
        }
        catch (LeakHunterException e) when (e.Failure is LeakHunterFailure.CensusFailed)
        {
            warnings.Add($"The resources that grew could not be explained: {e.Message}");
            found = [];
        }
        return ResourceFindings.Explained(resources, found, growingTypes, unit);
    }
}
