using System.Diagnostics;
using System.Net;
using System.Text.Json;
using AkkaL4.Messages.Model;
using AkkaL4.Actors;
using AkkaL4.Actors.ControlPlane;
using AkkaL4.Node.Admin;
using AkkaL4.Tests.Support;
using static AkkaL4.Tests.ControlPlane.ControlPlaneKit;

namespace AkkaL4.Tests.Node;

/// <summary>One router node with an open admin API and a token-guarded one, for the CLI to talk to.</summary>
public sealed class ServerCliWorld : IAsyncLifetime
{
    public const string Token = "cli-token";

    public RouterNode Node { get; private set; } = null!;
    public AdminServer Open { get; private set; } = null!;
    public AdminServer Guarded { get; private set; } = null!;
    public string Url => $"http://{Open.Address}";
    public string GuardedUrl => $"http://{Guarded.Address}";

    public async Task InitializeAsync()
    {
        Node = await StartNodeAsync("server-cli");
        Open = await AdminServer.StartAsync(Node, new IPEndPoint(IPAddress.Loopback, FreePort()), null);
        Guarded = await AdminServer.StartAsync(Node, new IPEndPoint(IPAddress.Loopback, FreePort()), Token);
    }

    public async Task DisposeAsync()
    {
        await Guarded.DisposeAsync();
        await Open.DisposeAsync();
        await Node.DisposeAsync();
    }
}

/// <summary>
/// <c>akkal4 apply/get/delete/status/explain --server</c> run as real processes against an admin API
/// started here: output, exit codes (0 done, 1 rejected, 2 usage, 3 unreachable) and the token.
/// Tests use their own namespace and 127.3.4.x addresses.
/// </summary>
[Collection(ControlPlane.ProcessesCollection.Name)]
[Trait("Category", "EndToEnd")]
public sealed class ServerCliTests(ServerCliWorld world) : IClassFixture<ServerCliWorld>, IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private readonly string _directory = TempDirectory();

    public void Dispose() => DeleteDirectory(_directory);

    private string File(string text, string? name = null)
    {
        var path = Path.Combine(_directory, name ?? $"{Guid.NewGuid():N}.yaml");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        System.IO.File.WriteAllText(path, text);
        return path;
    }

    private static Task<CliRun> Akkal4(params string[] args) => Akkal4With(null, null, args);

    private static Task<CliRun> Akkal4With(string? stdin, IReadOnlyDictionary<string, string>? environment, params string[] args) =>
        Akkal4Process.RunAsync(args, stdin, environment, Timeout);

    private static void AssertExit(int expected, CliRun run) => Assert.True(run.ExitCode == expected, run.ToString());

    private static long RevisionLine(CliRun run) => long.Parse(Assert.Single(run.Lines, l => l.StartsWith("revision ", StringComparison.Ordinal))["revision ".Length..]);

    private Task<ConfigContent> Stored(string ns) => ReadAsync(world.Node, null, ns);

    [Fact]
    public async Task Apply_creates_prints_each_resource_and_the_revision_then_unchanged()
    {
        var path = File(Join(Service("web", "cli-apply", "127.3.4.1"), Workload("web-1", "cli-apply", "127.3.4.101", "web")));

        var first = await Akkal4("apply", "-f", path, "--server", world.Url);
        var again = await Akkal4("apply", "-f", path, "--server", world.Url);

        AssertExit(0, first);
        Assert.Contains("Service/cli-apply/web created", first.Lines);
        Assert.Contains("WorkloadEntry/cli-apply/web-1 created", first.Lines);
        var revision = RevisionLine(first);
        AssertExit(0, again);
        Assert.Contains("Service/cli-apply/web unchanged", again.Lines);
        Assert.Contains("WorkloadEntry/cli-apply/web-1 unchanged", again.Lines);
        Assert.Equal(revision, RevisionLine(again));
        var stored = await Stored("cli-apply");
        Assert.Equal(["Service/cli-apply/web", "WorkloadEntry/cli-apply/web-1"], stored.Resources.Select(r => r.Key.ToString()));
        Assert.All(stored.Resources, r => Assert.Equal(revision.ToString(), r.Metadata.ResourceVersion));
    }

    [Fact]
    public async Task Apply_reads_a_directory_and_stdin_and_prints_warnings()
    {
        File(Workload("a", "cli-dir", "127.3.4.102", "a"), Path.Combine("dir", "a.yaml"));
        File(Workload("b", "cli-dir", "127.3.4.103", "b"), Path.Combine("dir", "sub", "b.yml"));

        var directory = await Akkal4("apply", "-f", Path.Combine(_directory, "dir"), "--server", world.Url);
        var stdin = await Akkal4With(Route("ghost", "cli-dir", "nowhere"), null, "apply", "-f", "-", "--server", world.Url);

        AssertExit(0, directory);
        Assert.Contains("WorkloadEntry/cli-dir/a created", directory.Lines);
        Assert.Contains("WorkloadEntry/cli-dir/b created", directory.Lines);
        AssertExit(0, stdin);
        Assert.Contains("VirtualService/cli-dir/ghost created", stdin.Lines);
        Assert.Contains(stdin.Lines, l => l.StartsWith("warning  VirtualService/cli-dir/ghost  spec.hosts[0]  ", StringComparison.Ordinal));
        Assert.Equal(3, (await Stored("cli-dir")).Resources.Count);
    }

    [Fact]
    public async Task Apply_prints_the_warnings_about_what_it_sent_at_their_field_and_counts_the_others()
    {
        // user9 L4: every apply printed every warning of the whole stored configuration.
        AssertExit(0, await Akkal4("apply", "-f", File(Route("old-ghost", "cli-warn", "nowhere")), "--server", world.Url));
        var path = File(Join(Workload("w", "cli-warn", "127.3.4.140", "w"), Route("new-ghost", "cli-warn", "nowhere-else")));

        var run = await Akkal4("apply", "-f", path, "--server", world.Url);

        AssertExit(0, run);
        var warnings = run.Lines.Where(l => l.StartsWith("warning  ", StringComparison.Ordinal)).ToList();
        Assert.All(warnings, w => Assert.StartsWith("warning  VirtualService/cli-warn/new-ghost  ", w));
        var warning = Assert.Single(warnings, l => l.StartsWith("warning  VirtualService/cli-warn/new-ghost  spec.hosts[0]  ", StringComparison.Ordinal));
        // At the host in the file (its second document), not at the request's line nor at the resource's first line.
        var at = System.Text.RegularExpressions.Regex.Match(warning, @"\(at (.+):(\d+):(\d+)\)$");
        Assert.True(at.Success, warning);
        Assert.Equal(path, at.Groups[1].Value);
        Assert.StartsWith("nowhere-else]", System.IO.File.ReadAllLines(path)[int.Parse(at.Groups[2].Value) - 1][(int.Parse(at.Groups[3].Value) - 1)..]);
        Assert.DoesNotContain(run.Lines, l => l.Contains("old-ghost", StringComparison.Ordinal));
        Assert.Contains(run.Lines, l => System.Text.RegularExpressions.Regex.IsMatch(l,
            @"^and \d+ warnings? about other stored resources, as before this write \(all of them: akkal4 get all -A -o yaml \| akkal4 validate -f -\)$"));
    }

    [Fact]
    public async Task Apply_prints_in_full_a_warning_it_brings_to_another_resource()
    {
        // review s11 #3: a DestinationRule that drops a subset a stored route uses made a new warning on the route, shown
        // only as one more in the count of other resources' warnings.
        AssertExit(0, await Akkal4("apply", "-f", File(Join(Service("web", "cli-new", "127.230.0.1"), Workload("web-1", "cli-new", "127.230.0.101", "web"),
            Rule("dr", "cli-new", "web", "v1"), Route("vs", "cli-new", "web", "v1"), Route("old-ghost", "cli-new", "nowhere"))), "--server", world.Url));

        var dry = await Akkal4("apply", "-f", File(Rule("dr", "cli-new", "web", "v2")), "--server", world.Url, "--dry-run=server");
        var run = await Akkal4("apply", "-f", File(Rule("dr", "cli-new", "web", "v2")), "--server", world.Url);
        var again = await Akkal4("apply", "-f", File(Rule("dr", "cli-new", "web", "v3")), "--server", world.Url);

        const string subset = "warning  VirtualService/cli-new/vs  spec.tcp[0].route[0].destination.subset  subset 'v1' ";
        AssertExit(0, dry);
        Assert.Single(dry.Lines, l => l.StartsWith(subset, StringComparison.Ordinal) && l.EndsWith(" (would be new)", StringComparison.Ordinal));
        AssertExit(0, run);
        Assert.Single(run.Lines, l => l.StartsWith(subset, StringComparison.Ordinal) && l.EndsWith(" (new)", StringComparison.Ordinal));
        Assert.DoesNotContain(run.Lines, l => l.Contains("old-ghost", StringComparison.Ordinal));
        Assert.Contains(run.Lines, l => l.StartsWith("and ", StringComparison.Ordinal) && l.Contains("as before this write", StringComparison.Ordinal));
        // Once stored, it is an old warning: counted, not repeated.
        AssertExit(0, again);
        Assert.DoesNotContain(again.Lines, l => l.StartsWith(subset, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_rejected_apply_exits_1_prints_every_error_and_applies_nothing()
    {
        var before = (await Stored("cli-bad")).Revision;
        var path = File(Join(Workload("fine", "cli-bad", "127.3.4.104", "fine"), Rule("bad", "cli-bad", "web", "V_1"), Service("svc", "cli-bad", "nope")));

        var run = await Akkal4("apply", "-f", path, "--server", world.Url);

        AssertExit(1, run);
        Assert.Contains(run.Lines, l => l.StartsWith("error  DestinationRule/cli-bad/bad  spec.subsets[0].name  ", StringComparison.Ordinal));
        Assert.Contains(run.Lines, l => l.StartsWith("error  Service/cli-bad/svc  spec.clusterIP  ", StringComparison.Ordinal));
        Assert.DoesNotContain(run.Lines, l => l.StartsWith("revision", StringComparison.Ordinal));
        var after = await Stored("cli-bad");
        Assert.Empty(after.Resources);
        Assert.True(after.Revision >= before);
    }

    [Fact]
    public async Task Apply_dry_run_server_says_what_would_change_and_changes_nothing()
    {
        var service = Service("web", "cli-dry", "127.3.4.130");
        AssertExit(0, await Akkal4("apply", "-f", File(service), "--server", world.Url));
        var before = await Stored("cli-dry");

        var dry = await Akkal4("apply", "--dry-run=server", "-f", File(Join(service, Workload("web-1", "cli-dry", "127.3.4.131", "web"))), "--server", world.Url);
        // Checked by the writer against what is stored: a stale resourceVersion is a conflict only it can see.
        var version = Assert.Single(before.Resources).Metadata.ResourceVersion!;
        var stale = service.Replace("namespace: cli-dry", $"namespace: cli-dry, resourceVersion: \"{long.Parse(version) - 1}\"");
        Assert.NotEqual(service, stale);
        var conflict = await Akkal4("apply", "--dry-run=server", "-f", File(stale), "--server", world.Url);

        AssertExit(0, dry);
        Assert.Contains("Service/cli-dry/web unchanged (server dry run)", dry.Lines);
        Assert.Contains("WorkloadEntry/cli-dry/web-1 created (server dry run)", dry.Lines);
        Assert.Contains($"revision {before.Revision} in force; nothing was changed", dry.Lines);
        AssertExit(1, conflict);
        Assert.Contains(conflict.Lines, l => l.StartsWith("error  Service/cli-dry/web  metadata.resourceVersion  ", StringComparison.Ordinal));
        var after = await Stored("cli-dry");
        Assert.Equal(before.Revision, after.Revision);
        Assert.Equal(["Service/cli-dry/web"], after.Resources.Select(r => r.Key.ToString()));
    }

    [Fact]
    public async Task An_apply_with_a_stale_resource_version_exits_1()
    {
        AssertExit(0, await Akkal4("apply", "-f", File(Workload("w", "cli-conflict", "127.3.4.105", "w")), "--server", world.Url));
        AssertExit(0, await Akkal4("apply", "-f", File(Workload("w", "cli-conflict", "127.3.4.106", "w")), "--server", world.Url));
        var current = Assert.Single((await Stored("cli-conflict")).Resources).Metadata.ResourceVersion;
        var stale = Workload("w", "cli-conflict", "127.3.4.107", "w")
            .Replace("namespace: cli-conflict}", $"namespace: cli-conflict, resourceVersion: \"{long.Parse(current!) - 1}\"}}");

        var run = await Akkal4("apply", "-f", File(stale), "--server", world.Url);

        AssertExit(1, run);
        Assert.Contains(run.Lines, l => l.StartsWith("error  WorkloadEntry/cli-conflict/w  metadata.resourceVersion  ", StringComparison.Ordinal));
        Assert.Equal(current, Assert.Single((await Stored("cli-conflict")).Resources).Metadata.ResourceVersion);
    }

    [Fact]
    public async Task Delete_f_deletes_every_resource_a_file_names_and_says_which_were_not_there()
    {
        var file = File(Join(Service("gone", "cli-delf", "127.3.4.3"), Workload("gone-1", "cli-delf", "127.3.4.110", "gone")));
        AssertExit(0, await Akkal4("apply", "-f", file, "--server", world.Url));

        var deleted = await Akkal4("delete", "-f", file, "--server", world.Url);
        var again = await Akkal4("delete", "-f", file, "--server", world.Url);

        AssertExit(0, deleted);
        Assert.Contains("Service/cli-delf/gone deleted", deleted.Stdout);
        Assert.Contains("WorkloadEntry/cli-delf/gone-1 deleted", deleted.Stdout);
        Assert.Empty((await Stored("cli-delf")).Resources);
        AssertExit(1, again);
        Assert.Contains("not found", again.Stdout);
    }

    [Fact]
    public async Task Diff_f_shows_what_a_file_would_change_and_exits_1_when_it_would()
    {
        AssertExit(0, await Akkal4("apply", "-f", File(Workload("d-1", "cli-diff", "127.3.4.120", "d")), "--server", world.Url));

        var same = await Akkal4("diff", "-f", File(Workload("d-1", "cli-diff", "127.3.4.120", "d")), "--server", world.Url);
        var changed = await Akkal4("diff", "-f", File(Join(Workload("d-1", "cli-diff", "127.3.4.121", "d"), Workload("d-2", "cli-diff", "127.3.4.122", "d"))), "--server", world.Url);

        AssertExit(0, same);
        Assert.Equal("", same.Stdout);
        AssertExit(1, changed);
        Assert.Contains("--- stored WorkloadEntry/cli-diff/d-1\n", changed.Stdout);
        Assert.Contains(changed.Lines, l => l.StartsWith('-') && l.Contains("address") && l.Contains("127.3.4.120"));
        Assert.Contains(changed.Lines, l => l.StartsWith('+') && l.Contains("address") && l.Contains("127.3.4.121"));
        Assert.Contains("--- stored WorkloadEntry/cli-diff/d-2 (absent)", changed.Stdout);
        // Nothing was applied.
        Assert.Single((await Stored("cli-diff")).Resources);
    }

    [Fact]
    public async Task Get_prints_yaml_or_json_filtered_by_kind_name_and_namespace()
    {
        AssertExit(0, await Akkal4("apply", "-f", File(Join(Service("svc", "cli-get", "127.3.4.2"),
            Workload("svc-1", "cli-get", "127.3.4.108", "svc"), Workload("svc-2", "cli-get", "127.3.4.109", "svc"))), "--server", world.Url));

        var pods = await Akkal4("get", "WorkloadEntry", "-n", "cli-get", "-o", "yaml", "--server", world.Url);
        var one = await Akkal4("get", "workloadentry", "svc-2", "-n", "cli-get", "-o", "json", "--server", world.Url);
        var all = await Akkal4("get", "all", "-n", "cli-get", "-o", "yaml", "--server", world.Url);
        var table = await Akkal4("get", "we", "-n", "cli-get", "--server", world.Url);
        var slash = await Akkal4("get", "workloadentries/svc-1", "-n", "cli-get", "-o", "wide", "--server", world.Url);
        var everywhere = await Akkal4("get", "svc", "-A", "--server", world.Url);
        var wideService = await Akkal4("get", "svc", "-n", "cli-get", "-o", "wide", "--server", world.Url);
        var elsewhere = await Akkal4("get", "svc", "--server", world.Url);
        var noScheme = await Akkal4("get", "vs", "--server", "localhost:15000");
        var missing = await Akkal4("get", "Service", "nothing", "-n", "cli-get", "--server", world.Url);
        var unknownKind = await Akkal4("get", "Pod", "--server", world.Url);

        AssertExit(0, pods);
        Assert.Equal(["WorkloadEntry/cli-get/svc-1", "WorkloadEntry/cli-get/svc-2"],
            Keys(pods.Stdout));
        AssertExit(0, one);
        using (var json = JsonDocument.Parse(one.Stdout))
        {
            Assert.Equal("List", json.RootElement.GetProperty("kind").GetString());
            var item = Assert.Single(json.RootElement.GetProperty("items").EnumerateArray());
            Assert.Equal("svc-2", item.GetProperty("metadata").GetProperty("name").GetString());
            Assert.Equal("127.3.4.109", item.GetProperty("spec").GetProperty("address").GetString());
        }
        AssertExit(0, all);
        Assert.Equal(["Service/cli-get/svc", "WorkloadEntry/cli-get/svc-1", "WorkloadEntry/cli-get/svc-2"],
            Keys(all.Stdout));
        AssertExit(1, missing);
        Assert.Contains("Service nothing not found in namespace cli-get (-A looks in every namespace)", missing.Stderr);
        // kubectl's table by default, short names, plurals, KIND/NAME, -A; without -n the namespace is default.
        AssertExit(0, table);
        var lines = table.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        // Like kubectl, NAMESPACE only with -A and no KIND column for one kind: every row would repeat the one namespace, or kind.
        Assert.Equal(["NAME", "AGE"], lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(["svc-1", "svc-2"], lines.Skip(1).Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[0]));
        AssertExit(0, slash);
        Assert.Contains("address: 127.3.4.108", slash.Stdout);
        Assert.DoesNotContain("svc-2", slash.Stdout);
        AssertExit(0, wideService);
        Assert.Matches(@"(?m)^svc\s+\S+\s+\d+\s+clusterIP: 127\.3\.4\.2, ports: 19000", wideService.Stdout);
        AssertExit(0, everywhere);
        Assert.Equal(["NAMESPACE", "NAME", "AGE"], everywhere.Stdout.Split('\n')[0].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains(everywhere.Stdout.Split('\n'), l => l.StartsWith("cli-get ", StringComparison.Ordinal) && l.Contains(" svc "));
        AssertExit(0, elsewhere);
        Assert.DoesNotContain("cli-get", elsewhere.Stdout);
        // A --server without a scheme is a usage error in a line, not a stack trace.
        AssertExit(2, noScheme);
        Assert.Contains("--server 'localhost:15000' is not an http:// or https:// URL", noScheme.Stderr);
        Assert.DoesNotContain("   at ", noScheme.Stderr);
        AssertExit(2, unknownKind);
        Assert.Contains("Pod", unknownKind.Stderr);
    }

    [Fact]
    public async Task What_get_prints_as_json_applies_back_unchanged()
    {
        AssertExit(0, await Akkal4("apply", "-f", File(Join(Service("rt", "cli-rt", "127.3.4.3"), Workload("rt-1", "cli-rt", "127.3.4.110", "rt"),
            Rule("rt", "cli-rt", "rt", "v1"), Route("rt", "cli-rt", "rt", "v1"))), "--server", world.Url));
        var revision = (await Stored("cli-rt")).Revision;

        var get = await Akkal4("get", "all", "-n", "cli-rt", "-o", "json", "--server", world.Url);
        AssertExit(0, get);
        var apply = await Akkal4("apply", "-f", File(get.Stdout, "rt.json"), "--server", world.Url);

        AssertExit(0, apply);
        Assert.Equal(4, apply.Lines.Count(l => l.EndsWith(" unchanged", StringComparison.Ordinal)));
        Assert.Equal(revision, RevisionLine(apply));
    }

    [Fact]
    public async Task Delete_exits_0_with_the_revision_then_1_when_absent()
    {
        AssertExit(0, await Akkal4("apply", "-f", File(Workload("gone", "cli-delete", "127.3.4.111", "gone")), "--server", world.Url));

        var deleted = await Akkal4("delete", "WorkloadEntry", "gone", "-n", "cli-delete", "--server", world.Url);
        var again = await Akkal4("delete", "WorkloadEntry", "gone", "-n", "cli-delete", "--server", world.Url);

        AssertExit(0, deleted);
        var line = Assert.Single(deleted.Lines);
        const string said = "WorkloadEntry/cli-delete/gone deleted, revision ";
        Assert.StartsWith(said, line);
        Assert.Equal((await Stored("cli-delete")).Revision, long.Parse(line[said.Length..]));
        Assert.Empty((await Stored("cli-delete")).Resources);
        AssertExit(1, again);
        Assert.Contains("not found", again.Stdout);
    }

    [Fact]
    public async Task Delete_defaults_to_the_default_namespace()
    {
        AssertExit(0, await Akkal4("apply", "-f", File(Workload("cli-default-ns", "default", "127.3.4.112", "x")), "--server", world.Url));

        var run = await Akkal4("delete", "WorkloadEntry", "cli-default-ns", "--server", world.Url);

        AssertExit(0, run);
        Assert.DoesNotContain((await Stored("default")).Resources, r => r.Metadata.Name == "cli-default-ns");
    }

    [Fact]
    public async Task Status_prints_a_summary_and_with_o_json_the_node_as_json()
    {
        var apply = await Akkal4("apply", "-f", File(Service("st", "cli-status", "127.3.4.4")), "--server", world.Url, "--wait");
        AssertExit(0, apply);
        // --wait answered once the node routes by the revision.
        Assert.True(world.Node.Applied!.Revision >= RevisionLine(apply), apply.ToString());
        await BoundAsync(world.Node);

        var run = await Akkal4("status", "--server", world.Url, "-o", "json");

        AssertExit(0, run);
        using var json = JsonDocument.Parse(run.Stdout);
        Assert.Equal(world.Node.Options.Name, json.RootElement.GetProperty("node").GetString());
        Assert.True(json.RootElement.GetProperty("revision").GetInt64() >= 1);
        Assert.Contains(json.RootElement.GetProperty("listeners").EnumerateArray(), l => l.GetProperty("address").GetString() == "127.3.4.4:19000");

        // Without -o: what README's "akkal4 status  # members, the revision each routes by, the writer" promises, as lines
        // and tables (it once printed the whole JSON, hundreds of lines on a busy node).
        var text = await Akkal4("status", "--server", world.Url);
        AssertExit(0, text);
        Assert.StartsWith($"node {world.Node.Options.Name} at ", text.Stdout);
        Assert.Contains("config writer: ", text.Stdout);
        var member = Assert.Single(text.Lines, l => l.StartsWith("akka.tcp://", StringComparison.Ordinal));
        Assert.Matches(@"^akka\.tcp://\S+\s+Up\s+\d+\s", member);
        Assert.Matches(@"(?m)^LISTENER\s+BOUND\s+ACTIVE\s+TOTAL\s+REFUSED$", text.Stdout);
        Assert.Matches(@"(?m)^127\.3\.4\.4:19000\s+yes\s+\d+\s+\d+\s+\d+$", text.Stdout);
    }

    [Fact]
    public async Task Apply_shows_a_syntax_error_at_its_file_and_line()
    {
        // The node decodes the joined body ("request:LINE:COLUMN"); apply maps that back to the file given, as validate prints it.
        var good = File(Service("sx", "cli-syntax", "127.3.4.77"));
        var bad = File("apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: sx, namespace: cli-syntax}\nspec:\n  hosts: [sx\n");

        var run = await Akkal4("apply", "-f", good, "-f", bad, "--server", world.Url);

        AssertExit(1, run);
        Assert.Contains($"(at {bad}:5:10)", run.Stdout);
        Assert.Contains("is not closed", run.Stdout);
    }

    [Fact]
    public async Task Explain_with_server_asks_the_live_configuration()
    {
        var apply = await Akkal4("apply", "-f", File(Join(Service("ex", "cli-explain", "127.3.4.5"), Workload("ex-1", "cli-explain", "127.3.4.113", "ex"))),
            "--server", world.Url);
        AssertExit(0, apply);
        await InForceAsync(world.Node, RevisionLine(apply));

        var routed = await Akkal4("explain", "--server", world.Url, "-s", "127.3.4.50", "-d", "127.3.4.5:19000", "-o", "json");
        var nothing = await Akkal4("explain", "--server", world.Url, "-s", "127.3.4.50", "-d", "127.3.4.99:19000", "-o", "json");
        var text = await Akkal4("explain", "--server", world.Url, "-s", "127.3.4.50", "-d", "127.3.4.5:19000");
        var labels = await Akkal4("explain", "--server", world.Url, "-s", "127.3.4.50", "-d", "127.3.4.5:19000", "--node-labels", "istio=x");

        AssertExit(0, routed);
        using (var json = JsonDocument.Parse(routed.Stdout))
        {
            Assert.Equal("route", json.RootElement.GetProperty("result").GetString());
            var destination = Assert.Single(json.RootElement.GetProperty("destinations").EnumerateArray());
            Assert.Contains("127.3.4.113:9000", destination.GetProperty("endpoints").EnumerateArray().Select(e => e.GetString()));
        }
        AssertExit(0, nothing);
        using (var json = JsonDocument.Parse(nothing.Stdout))
            Assert.Equal("no-listener", json.RootElement.GetProperty("result").GetString());
        // Text unless -o json, as from manifests (day-one review s11: the live answer was JSON whatever -o said).
        AssertExit(0, text);
        Assert.Contains("result:          route", text.Lines);
        Assert.Contains(text.Lines, l => l.StartsWith("endpoints:", StringComparison.Ordinal) && l.Contains("127.3.4.113:9000", StringComparison.Ordinal));
        // An identity the node would not use is refused, not silently ignored.
        AssertExit(2, labels);
    }

    [Fact]
    public async Task Every_verb_exits_3_when_the_node_is_unreachable()
    {
        var nobody = $"http://127.0.0.1:{FreePort()}";
        var manifest = File(Workload("x", "cli-down", "127.3.4.114", "x"));

        var runs = await Task.WhenAll(
            Akkal4("apply", "-f", manifest, "--server", nobody),
            Akkal4("get", "all", "--server", nobody),
            Akkal4("delete", "WorkloadEntry", "x", "-n", "cli-down", "--server", nobody),
            Akkal4("status", "--server", nobody),
            Akkal4("explain", "--server", nobody, "-s", "127.3.4.50", "-d", "127.3.4.5:19000"));

        Assert.All(runs, run =>
        {
            AssertExit(3, run);
            Assert.Contains("cannot reach " + nobody, run.Stderr);
            Assert.Contains("is a node's admin API there? (--server URL or $AKKAL4_SERVER;", run.Stderr);
        });
        // A write that never arrived says it changed nothing; a read does not.
        Assert.Contains("; nothing was changed; ", runs[0].Stderr);
        Assert.Contains("; nothing was changed; ", runs[2].Stderr);
        Assert.DoesNotContain("nothing was changed", runs[1].Stderr);
    }

    [Fact]
    public async Task A_guarded_node_wants_the_token_from_the_flag_or_the_environment()
    {
        var path = File(Workload("t", "cli-token", "127.3.4.115", "t"));

        var without = await Akkal4("apply", "-f", path, "--server", world.GuardedUrl);
        var wrong = await Akkal4("status", "--server", world.GuardedUrl, "--token", "wrong");
        var withFlag = await Akkal4("apply", "-f", path, "--server", world.GuardedUrl, "--token", ServerCliWorld.Token);
        var fromEnvironment = await Akkal4With(null, new Dictionary<string, string>
        {
            ["AKKAL4_SERVER"] = world.GuardedUrl,
            ["AKKAL4_ADMIN_TOKEN"] = ServerCliWorld.Token,
        }, "get", "WorkloadEntry", "t", "-n", "cli-token", "-o", "yaml");

        AssertExit(1, without);
        Assert.Contains("the node wants a bearer token", without.Stderr);
        AssertExit(1, wrong);
        Assert.Contains("the node refused the bearer token given", wrong.Stderr);
        AssertExit(0, withFlag);
        Assert.Contains("WorkloadEntry/cli-token/t created", withFlag.Lines);
        AssertExit(0, fromEnvironment);
        Assert.Equal(["WorkloadEntry/cli-token/t"], Keys(fromEnvironment.Stdout));
    }

    [Fact]
    public async Task Run_serves_its_manifests_on_the_admin_api_and_after_a_restart_its_last_known_good()
    {
        var data = Path.Combine(_directory, "data");
        var manifest = File(Join(Service("run", "cli-run", "127.3.4.6"), Workload("run-1", "cli-run", "127.3.4.116", "run")));
        var admin = $"127.0.0.1:{FreePort()}";
        var url = "http://" + admin;
        using var http = new HttpClient { BaseAddress = new Uri(url), Timeout = Patience };

        await using (var first = RunningNode.Start("run", "-f", manifest, "--admin", admin, "--data", data, "--name", "cli-run-1"))
        {
            await first.WaitReadyAsync(http);
            Assert.Equal("1", await RevisionHeaderAsync(http));
            var apply = await Akkal4("apply", "-f", File(Route("run", "cli-run", "run")), "--server", url);
            AssertExit(0, apply);
            Assert.Equal(2, RevisionLine(apply));
            await SavedAsync(data, 2);
            Assert.Equal(0, await first.StopAsync());
        }

        await using var second = RunningNode.Start("run", "--admin", admin, "--data", data, "--name", "cli-run-2");
        await second.WaitReadyAsync(http);
        Assert.Equal("2", await RevisionHeaderAsync(http));
        var get = await Akkal4("get", "all", "-n", "cli-run", "-o", "yaml", "--server", url);
        AssertExit(0, get);
        Assert.Equal(["Service/cli-run/run", "VirtualService/cli-run/run", "WorkloadEntry/cli-run/run-1"],
            Keys(get.Stdout));
        var explain = await Akkal4("explain", "--server", url, "-s", "127.3.4.50", "-d", "127.3.4.6:19000", "-o", "json");
        AssertExit(0, explain);
        using (var json = JsonDocument.Parse(explain.Stdout))
            Assert.Equal("route", json.RootElement.GetProperty("result").GetString());
        Assert.Equal(0, await second.StopAsync());
        Assert.Contains("configuration revision 2", second.Output);
    }

    [Fact]
    public async Task Run_refuses_an_unknown_transport_before_starting()
    {
        var run = await Akkal4With(null, new Dictionary<string, string> { ["AKKAL4_TRANSPORT"] = "carrier-pigeon" },
            "run", "--admin", "127.3.4.9:15000", "--data", Path.Combine(Path.GetTempPath(), $"akkal4-transport-{Guid.NewGuid():N}"));
        AssertExit(2, run);
        Assert.Contains("unknown transport \"carrier-pigeon\"", run.Stderr);
        Assert.Contains("expected one of: sockets, akka-streams", run.Stderr);
    }

    [Fact]
    public async Task Delete_against_a_node_without_a_config_writer_exits_3_without_a_stack_trace()
    {
        await using var node = StartWriterlessNode("cli-no-writer");
        await using var server = await AdminServer.StartAsync(node, new IPEndPoint(IPAddress.Loopback, FreePort()), null);

        var run = await Akkal4("delete", "WorkloadEntry", "x", "-n", "cli-no-writer", "--server", $"http://{server.Address}");

        AssertExit(3, run);
        Assert.DoesNotContain("Unhandled exception", run.Stderr);
    }

    /// <summary>The revision GET /v1/config reports, once the cluster's config writer answers it.</summary>
    private static async Task<string> RevisionHeaderAsync(HttpClient http)
    {
        string? revision = null;
        var last = "";
        await EventuallyAsync(async () =>
        {
            using var response = await http.GetAsync("/v1/config?kind=Gateway&namespace=none");
            last = $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}";
            if (response.StatusCode != HttpStatusCode.OK) return false;
            revision = response.Headers.GetValues("X-AkkaL4-Revision").Single();
            return true;
        }, () => $"GET /v1/config answers 200 (last: {last})", TimeSpan.FromSeconds(30));
        return revision!;
    }

    /// <summary>An <c>akkal4 run</c> process: its output collected, stopped with SIGTERM as a service manager would.</summary>
    internal sealed class RunningNode : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly System.Text.StringBuilder _output = new();

        private RunningNode(Process process) => _process = process;

        /// <summary>The names of the process's threads now (Linux: /proc).</summary>
        public IReadOnlyList<string> ThreadNames() =>
            [.. Directory.GetDirectories($"/proc/{_process.Id}/task").Select(task => System.IO.File.ReadAllText(Path.Combine(task, "comm")).Trim())];

        public string Output
        {
            get { lock (_output) return _output.ToString(); }
        }

        public static RunningNode Start(params string[] args)
        {
            var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet")
            {
                WorkingDirectory = Repo.Root,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "akkal4.dll"));
            foreach (var arg in args) start.ArgumentList.Add(arg);
            start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
            start.Environment.Remove("AKKAL4_ADMIN_TOKEN");
            var node = new RunningNode(Process.Start(start) ?? throw new InvalidOperationException("could not start akkal4 run"));
            node._process.OutputDataReceived += (_, e) => node.Append(e.Data);
            node._process.ErrorDataReceived += (_, e) => node.Append(e.Data);
            node._process.BeginOutputReadLine();
            node._process.BeginErrorReadLine();
            return node;
        }

        private void Append(string? line)
        {
            if (line is null) return;
            lock (_output) _output.AppendLine(line);
        }

        public async Task WaitReadyAsync(HttpClient http)
        {
            string last = "";
            await EventuallyAsync(async () =>
            {
                if (_process.HasExited) Assert.Fail($"akkal4 run exited with {_process.ExitCode}:\n{Output}");
                try
                {
                    using var response = await http.GetAsync("/readyz");
                    last = $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}";
                    return response.StatusCode == HttpStatusCode.OK;
                }
                catch (HttpRequestException e)
                {
                    last = e.Message;
                    return false;
                }
            }, () => $"akkal4 run is ready (last /readyz: {last}; output:\n{Output})", TimeSpan.FromSeconds(30));
        }

        /// <summary>SIGTERM, then the exit code.</summary>
        public async Task<int> StopAsync()
        {
            using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString()]))
                await kill.WaitForExitAsync();
            using var cts = new CancellationTokenSource(Timeout);
            await _process.WaitForExitAsync(cts.Token);
            return _process.ExitCode;
        }

        public async ValueTask DisposeAsync()
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }
            _process.Dispose();
        }
    }
}
