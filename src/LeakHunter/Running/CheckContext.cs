using LeakHunter.Analysis;

namespace LeakHunter.Running;

/// <summary>
/// What every stage of one check shares: its options, the session its censuses go through, the log of those
/// censuses, the settler, the fragment's loop, and the warnings the report will carry.
/// </summary>
internal sealed class CheckContext(LeakOptions options, LeakBaseline? baseline, InspectionSession censuses, Fragment fragment, CancellationToken cancellationToken)
{
    public LeakOptions Options { get; } = options;

    public LeakBaseline? Baseline { get; } = baseline;

    public InspectionSession Censuses { get; } = censuses;

    public CensusLog Log { get; } = new(options.Censuses, ConfirmationPlanner.MaxRounds(options));

    public HeapSettler Settler { get; } = new(cancellationToken);

    public FragmentLoop Loop { get; } = new(fragment, cancellationToken);

    public List<string> Warnings { get; } = new();

    public CancellationToken CancellationToken { get; } = cancellationToken;

    /// <summary>Settles the heap and takes a census of <paramref name="phase"/>.</summary>
    public void TakeCensus(CensusPhase phase, bool compacting = true) => Log.Take(Censuses, Settler, Loop, phase, Warnings, compacting);
}
