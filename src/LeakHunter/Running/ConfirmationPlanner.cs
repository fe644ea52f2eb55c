using System.Diagnostics;

namespace LeakHunter.Running;

/// <summary>
/// The confirm stage: rounds, each as long as everything run before it, so the total doubles each time. A cache still
/// filling fills up and stops, while a collection's array, which grows in doubling steps, takes a step in nearly every
/// round. Rounds go on until the fragment has run <see cref="LeakOptions.ConfirmationIterations"/> times in all, while
/// a step-wise type is still undecided, and stop early once nothing grows or growth is a leak by any measure. Each
/// round is settled by full GCs inside it, so a runtime list that prunes its dead weak references on a GC gets to
/// prune. The rounds fit in <see cref="LeakOptions.ConfirmationBudget"/>.
/// </summary>
internal sealed class ConfirmationPlanner(InspectionSession censuses, CensusLog log, HeapSettler settler, FragmentLoop loop, GrowthJudge judge,
    GrowthTracer tracer, LeakOptions options, List<string> warnings)
{
    // Growth this large is a leak by any measure: confirmation stops rather than let the process under test grow on.
    private const long MemoryCap = 256L << 20;
    private const long InstanceCap = 1_000_000;

    // A thousand threads, handles, descriptors or assemblies more is a leak by any measure, and a process that goes on
    // may meet its descriptor limit, or the machine's.
    private const long ItemCap = 1_000;

    // At least this many rounds: a type that grows in steps is judged on two of them.
    private const int MinRounds = 2;

    /// <summary>The most rounds confirmation may take: to four times <see cref="LeakOptions.ConfirmationIterations"/>, doubling from the counted run.</summary>
    public static int MaxRounds(LeakOptions options)
    {
        long total = options.WarmupIterations + (long)(options.Censuses - 1) * options.IterationsPerCensus;
        int rounds = 0;
        while (total < 4L * options.ConfirmationIterations || rounds < MinRounds)
        {
            total *= 2;
            rounds++;
        }
        return rounds;
    }

    /// <summary>
    /// Runs the rounds after the idle census. Once instances are marked, the rounds are the explained interval and their
    /// settles do not compact (<paramref name="compacting"/> false): a compacting GC would move the marked instances so
    /// that they look new.
    /// </summary>
    /// <param name="countedTime">How long the counted run took, its censuses included.</param>
    /// <param name="compacting">Whether the rounds' settles may compact: only when no mark was taken.</param>
    public async ValueTask<GrowthConfirmation> ConfirmAsync(TimeSpan countedTime, bool compacting)
    {
        int countedIterations = (options.Censuses - 1) * options.IterationsPerCensus;
        // The counted run's time per iteration includes its censuses; once a round has run, the two are measured apart.
        double secondsPerIteration = countedTime.TotalSeconds / countedIterations;
        double censusSeconds = 0;
        int taken = 0;
        int shortened = 0;
        int startIterations = loop.Iterations;
        long startWorkingSet = Environment.WorkingSet;
        long started = Stopwatch.GetTimestamp();
        string decision;
        while (true)
        {
            int wanted = loop.Iterations;
            double left = (options.ConfirmationBudget - Stopwatch.GetElapsedTime(started)).TotalSeconds - censusSeconds;
            int affordable = secondsPerIteration <= 0 ? wanted : (int)Math.Clamp(left / secondsPerIteration, 0, wanted);
            if (affordable < options.IterationsPerCensus)
            {
                decision = $"the confirmation budget ({options.ConfirmationBudget.TotalSeconds:0.#} s) ran out after {taken} round(s); what had kept growing by then is reported";
                warnings.Add($"Growth was confirmed in {taken} round(s) only: the confirmation budget ({options.ConfirmationBudget.TotalSeconds:0.#} s) ran out. " +
                    "A cache that is still filling may be reported as a leak; raise LeakOptions.ConfirmationBudget to be sure.");
                break;
            }
            if (affordable < wanted)
                shortened++;

            long roundStarted = Stopwatch.GetTimestamp();
            await RunRoundAsync(affordable, compacting).ConfigureAwait(false);
            tracer.LastRoundIterations = affordable;
            secondsPerIteration = Stopwatch.GetElapsedTime(roundStarted).TotalSeconds / affordable;
            long censusStarted = Stopwatch.GetTimestamp();
            log.Take(censuses, settler, loop, CensusPhase.Confirmation, warnings, compacting);
            censusSeconds = Stopwatch.GetElapsedTime(censusStarted).TotalSeconds;
            taken++;
            if (tracer.MarkNeedsRetaking)
                tracer.TryMark(judge.Candidates());

            CandidateStanding standing = judge.Standing();
            int resources = judge.GrowingResources();
            if (standing.Growing + standing.Undecided + resources == 0)
            {
                decision = $"nothing kept growing at its counted rate in round {taken}: growth that stops (a cache filling to its bound, a list the runtime prunes, a pool of threads reaching its size) is not a leak";
                break;
            }
            if (taken < MinRounds)
                continue;
            // The process's own memory counts too: a generated assembly per call costs far more native memory than heap.
            long processAdded = Environment.WorkingSet - startWorkingSet;
            long itemsAdded = judge.ResourceItemsAdded();
            if (standing.BytesAdded >= MemoryCap || standing.InstancesAdded >= InstanceCap || processAdded >= MemoryCap || itemsAdded >= ItemCap)
            {
                decision = $"the growing types{AndResources(resources)} gained {standing.InstancesAdded:N0} instances and {standing.BytesAdded / (1024.0 * 1024.0):0} MiB of heap in {taken} round(s), " +
                    $"the process {processAdded / (1024.0 * 1024.0):0} MiB of memory and {itemsAdded:N0} threads, handles, descriptors or assemblies, past the " +
                    $"{InstanceCap:N0} instances, {MemoryCap >> 20} MiB or {ItemCap:N0} items at which growth is a leak by any measure";
                break;
            }
            if (loop.Iterations >= options.ConfirmationIterations && standing.Undecided == 0)
            {
                decision = $"{standing.Growing} type(s){AndResources(resources)} kept growing at their counted rate through {taken} round(s), to {loop.Iterations:N0} iterations in all";
                break;
            }
            if (log.ConfirmationsFull)
            {
                decision = $"{standing.Growing} type(s){AndResources(resources)} kept growing through {taken} round(s), to {loop.Iterations:N0} iterations in all; {standing.Undecided} that grow in steps missed their last step and are not reported";
                break;
            }
        }
        if (shortened > 0)
            warnings.Add($"{shortened} confirmation round(s) were shortened to stay within LeakOptions.ConfirmationBudget ({options.ConfirmationBudget.TotalSeconds:0.#} s).");
        return new GrowthConfirmation(taken, loop.Iterations - startIterations, decision);
    }

    private static string AndResources(int resources) => resources == 0 ? "" : $" and {resources} resource(s)";

    /// <summary>Runs one confirmation round in a few parts, with the heap settled between them.</summary>
    private async ValueTask RunRoundAsync(int iterations, bool compacting)
    {
        int parts = Math.Clamp(iterations / options.IterationsPerCensus, 1, 4);
        for (int part = 0; part < parts; part++)
        {
            if (part > 0)
                settler.Settle(compacting);
            int done = iterations * part / parts;
            await loop.RunAsync(iterations * (part + 1) / parts - done).ConfigureAwait(false);
        }
    }
}
