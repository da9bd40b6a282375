namespace AkkaL4.Tests.Chaos;

/// <summary>
/// Each run's chaos figure lines go to a file of its own: when every run on the machine appended to one file, .ci/run's
/// summary printed other runs' lines (session 18: a helper's failed run with downed=9 beside a run that passed).
/// </summary>
[Trait("Category", "Unit")]
public class ChaosFiguresFileTests
{
    [Fact]
    public void A_run_writes_its_figures_to_the_file_it_names_else_to_one_of_its_own_process()
    {
        // .ci/run names its own file.
        Assert.Equal("/tmp/ci-run-1/figures.txt", ChaosCluster.FiguresFileOf("/tmp/ci-run-1/figures.txt", 41));
        // Two test processes that name none (two worktrees' runs at once) write apart.
        Assert.NotEqual(ChaosCluster.FiguresFileOf(null, 41), ChaosCluster.FiguresFileOf(null, 42));
        Assert.NotEqual(ChaosCluster.FiguresFileOf("", 41), ChaosCluster.FiguresFileOf("", 42));
        // This process's file is by those rules.
        Assert.Equal(ChaosCluster.FiguresFileOf(Environment.GetEnvironmentVariable(ChaosCluster.FiguresVariable), Environment.ProcessId), ChaosCluster.FiguresFile);
    }
}
