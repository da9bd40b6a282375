using AkkaL4.Tests.Support;
using static AkkaL4.Tests.ControlPlane.ControlPlaneKit;

namespace AkkaL4.Tests.Node;

/// <summary>
/// <c>akkal4 delete --ignore-not-found</c> (a teardown that can run twice) and <c>get all</c> laid out as kubectl lays out
/// several kinds, and explain's --server checked as the other verbs' is, run as real processes against a node's admin API.
/// Addresses from 127.232.x.x.
/// </summary>
[Collection(ControlPlane.ProcessesCollection.Name)]
[Trait("Category", "EndToEnd")]
public sealed class DayOneCliTests(ServerCliWorld world) : IClassFixture<ServerCliWorld>, IDisposable
{
    private static readonly AddressBlock Block = AddressBlocks.Of(232);
    private readonly string _directory = TempDirectory();

    public void Dispose() => DeleteDirectory(_directory);

    private string File(string text)
    {
        var path = Path.Combine(_directory, $"{Guid.NewGuid():N}.yaml");
        System.IO.File.WriteAllText(path, text);
        return path;
    }

    private Task<CliRun> Akkal4(params string[] args) =>
        Akkal4Process.RunAsync([.. args, "--server", world.Url], timeout: TimeSpan.FromSeconds(60));

    private static void AssertExit(int expected, CliRun run) => Assert.True(run.ExitCode == expected, run.ToString());

    [Fact]
    public async Task Delete_f_ignore_not_found_deletes_the_stored_in_one_revision_and_a_second_run_writes_nothing()
    {
        const string ns = "ops14-teardown";
        var stored = Join(Service("web", ns, Block.Host(1, 1)), Workload("web-1", ns, Block.Host(1, 101), "web"));
        AssertExit(0, await Akkal4("apply", "-f", File(stored)));
        var teardown = File(Join(stored, Workload("never-applied", ns, Block.Host(1, 102), "web")));
        var before = (await ReadAsync(world.Node, null, ns)).Revision;

        var first = await Akkal4("delete", "-f", teardown, "--ignore-not-found");
        var afterFirst = await ReadAsync(world.Node, null, ns);
        var second = await Akkal4("delete", "-f", teardown, "--ignore-not-found");
        var withoutFlag = await Akkal4("delete", "-f", teardown);

        AssertExit(0, first);
        Assert.Contains($"Service/{ns}/web deleted", first.Lines);
        Assert.Contains($"WorkloadEntry/{ns}/web-1 deleted", first.Lines);
        Assert.Contains($"WorkloadEntry/{ns}/never-applied not found (skipped: --ignore-not-found)", first.Lines);
        Assert.Empty(afterFirst.Resources);
        // The two stored ones went in one revision.
        Assert.Equal(before + 1, afterFirst.Revision);
        Assert.Equal($"revision {afterFirst.Revision}", first.Lines[^1]);

        AssertExit(0, second);
        Assert.Equal(3, second.Lines.Count(l => l.EndsWith(" not found (skipped: --ignore-not-found)", StringComparison.Ordinal)));
        Assert.Equal($"nothing was deleted; revision {afterFirst.Revision} in force", second.Lines[^1]);
        Assert.Equal(afterFirst.Revision, (await ReadAsync(world.Node, null, ns)).Revision);

        // Without the flag it stays all or nothing.
        AssertExit(1, withoutFlag);
        Assert.Contains("not found", withoutFlag.Stdout);
    }

    [Fact]
    public async Task Delete_one_ignore_not_found_skips_an_absent_resource_but_not_an_unknown_kind()
    {
        var absent = await Akkal4("delete", "vs", "nothing-here", "-n", "ops14-absent", "--ignore-not-found");
        var unknown = await Akkal4("delete", "Pod", "x", "--ignore-not-found");

        AssertExit(0, absent);
        Assert.Equal(["VirtualService/ops14-absent/nothing-here not found (skipped: --ignore-not-found)"], absent.Lines);
        AssertExit(2, unknown);
        Assert.Contains("unknown kind 'Pod'", unknown.Stderr);
    }

    [Fact]
    public async Task Get_all_prints_a_table_per_kind_each_by_namespace_then_name()
    {
        foreach (var (ns, third) in new[] { ("ops14-get-b", 2), ("ops14-get-a", 3) })
            AssertExit(0, await Akkal4("apply", "-f", File(Join(Service("web", ns, Block.Host(third, 1)), Workload("web-2", ns, Block.Host(third, 102), "web"),
                Workload("web-1", ns, Block.Host(third, 101), "web"), Route("web", ns, "web")))));

        var all = await Akkal4("get", "all", "-A");
        var one = await Akkal4("get", "all", "-n", "ops14-get-a");

        AssertExit(0, all);
        var tables = all.Stdout.Split("\n\n");
        var ours = tables.Select(t => t.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            .Select(lines => (Header: lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries),
                Rows: lines.Skip(1).Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)).Where(c => c[0].StartsWith("ops14-get-", StringComparison.Ordinal))
                    .Select(c => $"{c[0]} {c[1]}").ToList()))
            .Where(t => t.Rows.Count > 0).ToList();
        Assert.All(ours, t => Assert.Equal(["NAMESPACE", "NAME", "AGE"], t.Header));
        Assert.Equal(
        [
            ["ops14-get-a service/web", "ops14-get-b service/web"],
            ["ops14-get-a virtualservice.networking.istio.io/web", "ops14-get-b virtualservice.networking.istio.io/web"],
            ["ops14-get-a workloadentry.networking.istio.io/web-1", "ops14-get-a workloadentry.networking.istio.io/web-2",
             "ops14-get-b workloadentry.networking.istio.io/web-1", "ops14-get-b workloadentry.networking.istio.io/web-2"],
        ], ours.Select(t => t.Rows.ToArray()).ToArray());

        AssertExit(0, one);
        Assert.Equal(3, one.Stdout.Split("\n\n").Length);
        Assert.Equal(["NAME", "AGE"], one.Lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains(one.Lines, l => l.StartsWith("workloadentry.networking.istio.io/web-1 ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Explain_with_a_server_that_is_no_url_is_a_usage_error_in_a_line()
    {
        var run = await Akkal4Process.RunAsync(["explain", "--server", "localhost:15000", "-s", Block.Host(4, 1), "-d", $"{Block.Host(4, 2)}:19000"]);

        AssertExit(2, run);
        Assert.Contains("--server 'localhost:15000' is not an http:// or https:// URL", run.Stderr);
        Assert.DoesNotContain("   at ", run.Stderr);
    }
}
