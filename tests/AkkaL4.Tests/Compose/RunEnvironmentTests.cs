using AkkaL4.Tests.Support;

namespace AkkaL4.Tests.Compose;

/// <summary>
/// The AKKAL4_* variables the compose file configures nodes with reach `run`'s options (each case stops
/// at a usage check or a rejected manifest, before the node binds anything).
/// </summary>
[Trait("Category", "EndToEnd")]
public sealed class RunEnvironmentTests
{
    private static Task<CliRun> Run(params (string Key, string Value)[] environment) =>
        Akkal4Process.RunAsync(["run"], environment: environment.ToDictionary(e => e.Key, e => e.Value));

    [Fact]
    public async Task A_mesh_variable_that_is_no_boolean_is_a_usage_error_naming_it()
    {
        var run = await Run(("AKKAL4_MESH", "maybe"));
        Assert.Equal(2, run.ExitCode);
        Assert.Contains("AKKAL4_MESH 'maybe' is not true or false", run.Stderr);
    }

    [Fact]
    public async Task The_admin_address_comes_from_its_variable()
    {
        var run = await Run(("AKKAL4_ADMIN", "nonsense"));
        Assert.Equal(2, run.ExitCode);
        Assert.Contains("--admin 'nonsense' is not IP:PORT", run.Stderr);
    }

    [Fact]
    public async Task Manifests_come_from_the_files_variable_comma_separated()
    {
        var dir = Directory.CreateTempSubdirectory("akkal4-env-");
        try
        {
            var good = Path.Combine(dir.FullName, "world.yaml");
            File.Copy(Repo.Path("examples", "seed", "world.yaml"), good);
            var bad = Path.Combine(dir.FullName, "bad.yaml");
            await File.WriteAllTextAsync(bad, "kind: Nope\n");
            var run = await Run(("AKKAL4_FILES", $"{good}, {bad}"), ("AKKAL4_DATA", Path.Combine(dir.FullName, "data")));
            Assert.Equal(1, run.ExitCode);
            Assert.Contains("unknown kind 'Nope'", run.Stdout);
            Assert.Contains("bad.yaml", run.Stdout);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
