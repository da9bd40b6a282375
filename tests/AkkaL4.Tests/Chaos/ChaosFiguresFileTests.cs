namespace AkkaL4.Tests.Chaos;

/// <summary>
/// Each run's chaos figure lines go to the file it names: when every run on the machine appended to one file, .ci/run's
/// summary printed other runs' lines (session 18: a helper's failed run with downed=9 beside a run that passed). A run that
/// names none writes none (each test process's own file was left in /tmp: review1-s19 R5).
/// </summary>
[Trait("Category", "Unit")]
public class ChaosFiguresFileTests
{
    [Fact]
    public void A_run_writes_its_figures_to_the_file_it_names_and_to_none_otherwise()
    {
        // .ci/run names its own file.
        Assert.Equal("/tmp/ci-run-1/figures.txt", ChaosCluster.FiguresFileOf("/tmp/ci-run-1/figures.txt"));
        // A run that names none (a developer's, a helper's) leaves no file behind.
        Assert.Null(ChaosCluster.FiguresFileOf(null));
        Assert.Null(ChaosCluster.FiguresFileOf(""));
        // This process's file is by those rules.
        Assert.Equal(ChaosCluster.FiguresFileOf(Environment.GetEnvironmentVariable(ChaosCluster.FiguresVariable)), ChaosCluster.FiguresFile);
    }
}
