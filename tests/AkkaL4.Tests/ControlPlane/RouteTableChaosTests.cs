using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using AkkaL4.Tests.Chaos;
using AkkaL4.Tests.Support;
using Xunit.Abstractions;

namespace AkkaL4.Tests.ControlPlane;

/// <summary>
/// The RouteTable entities as the store GET /v1/config reads, on three real <c>akkal4 run</c> processes sharing a real
/// PostgreSQL journal: a write through the majority is acknowledged while the node hosting a namespace's entity is
/// SIGSTOPped; GET of that namespace says it is not readable (the read comes from the entity, not from the writer or a
/// node's copy); once the hung node is killed, the writer's outbox delivers the write to the entity's new host and GET
/// reads it. Addresses: 127.100.0.N (remoting 4053, admin 15000), the upstream 127.100.2.1.
/// </summary>
[Collection(ProcessesCollection.Name)]
[Trait("Category", "Chaos")]
[Trait("Category", "Postgres")]
public sealed class RouteTableChaosTests(ITestOutputHelper output, PostgresServer postgres) : IClassFixture<PostgresServer>
{
    private const int Namespaces = 6;

    private static string Entries(string address) => string.Join("\n---\n", Enumerable.Range(0, Namespaces).Select(i => $$$"""
        apiVersion: networking.istio.io/v1
        kind: WorkloadEntry
        metadata: {name: entry, namespace: rtc-{{{i}}}}
        spec: {address: {{{address}}}, labels: {app: entry}}
        """));

    [Fact]
    public async Task A_hung_route_table_host_delays_no_acknowledgement_and_its_namespace_is_read_again_once_its_entity_moves()
    {
        await using var cluster = new ChaosCluster(output, block: 100)
        {
            CommonArguments = ["--journal-provider", "postgres", "--journal-connection", postgres.ConnectionString],
        };
        // The hung node stays unreachable, not downed, long enough to read from it (the tests' resolver downs in 2 s).
        var slowDowning = cluster.FileOf("slow-downing.hocon", "akka.cluster.split-brain-resolver.stable-after = 12s");
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        cluster.Start(1, "--config", slowDowning);
        await cluster.EventuallyAsync(async () => await cluster.InClusterAsync(1), "node 1 founds the cluster");
        cluster.Start(2, "--config", slowDowning);
        cluster.Start(3, "--config", slowDowning);
        await cluster.EventuallyAsync(async () => await cluster.UpMembersAsync(1) == 3, "three members up");
        await cluster.EventuallyAsync(async () => await cluster.PutAsync(1, Entries("127.100.9.1")) is not null, "the first write");
        await cluster.EventuallyAsync(async () => (await Get(http, cluster, 1, "")).Status == HttpStatusCode.OK, "GET reads every namespace");

        // Where the entities live: each logs the node it starts on. On a loaded machine the first shards can all be
        // allocated before the other nodes' regions register; the coordinator's rebalance then moves some, and a read
        // starts each moved entity on its new host. The last line per namespace is where it lives now.
        var writer = (await cluster.StatusAsync(1))!.Value.GetProperty("configWriter").GetString();
        var hosts = new List<(int Node, string Namespace)>();
        await cluster.EventuallyAsync(async () =>
        {
            await Get(http, cluster, 1, "");
            hosts = Regex.Matches(cluster.Output(5000), @"^\[n(\d)\].*route table (rtc-\d): on this node", RegexOptions.Multiline)
                .Select(m => (Node: int.Parse(m.Groups[1].Value), Namespace: m.Groups[2].Value))
                .GroupBy(h => h.Namespace).Select(g => g.Last()).ToList();
            return hosts.Any(h => cluster.AddressOf(h.Node) != writer);
        }, $"a route table on a node other than the writer's ({writer})");
        var (victim, hungNamespace) = hosts.First(h => cluster.AddressOf(h.Node) != writer);
        var through = new[] { 1, 2, 3 }.First(n => n != victim && cluster.AddressOf(n) != writer);

        cluster.Signal(victim, ChaosCluster.SigStop);
        var clock = Stopwatch.StartNew();
        using var put = await http.PutAsync(cluster.AdminOf(through) + "/v1/config", new StringContent(Entries("127.100.9.2"), Encoding.UTF8, "application/yaml"));
        var acknowledged = clock.Elapsed;
        Assert.True(put.StatusCode == HttpStatusCode.OK, $"the write through the majority is acknowledged ({(int)put.StatusCode} {await put.Content.ReadAsStringAsync()})");

        // The writer holds the new revision and every other node has it; only the hung entity does not: after the
        // entity's patience the read is answered from the writer, with the acknowledged write (ConfigReader).
        var hung = await Get(http, cluster, through, $"?namespace={hungNamespace}");
        Assert.True(hung.Status == HttpStatusCode.OK && hung.Body.Contains("127.100.9.2"),
            $"GET of {hungNamespace}, whose route table is on the hung node {victim}, reads the acknowledged write from the writer: {(int)hung.Status} {hung.Body}");

        // Its host dies: the entity starts on a survivor (from the shared journal, at the old revision) and the
        // writer's outbox brings it the write it missed.
        await cluster.KillAsync(victim);
        await cluster.EventuallyAsync(async () => await Get(http, cluster, through, $"?namespace={hungNamespace}") is { Status: HttpStatusCode.OK } r
            && r.Body.Contains("127.100.9.2"), $"GET of {hungNamespace} reads the acknowledged write from its entity's new host");
        var readable = clock.Elapsed;
        // And every namespace the write changed, wherever its entity was.
        for (var deadline = DateTime.UtcNow + ChaosCluster.Patience; ; await Task.Delay(200))
        {
            var all = await Get(http, cluster, through, "");
            if (all.Status == HttpStatusCode.OK && Regex.Matches(all.Body, @"127\.100\.9\.2").Count == Namespaces) break;
            if (DateTime.UtcNow > deadline) Assert.Fail($"GET reads the acknowledged write in every namespace; the last GET: {(int)all.Status} {all.Body}\n{cluster.Output(300)}");
        }
        ChaosCluster.Report(output, "route-tables", acked: 1, lost: 0, readable.TotalSeconds,
            $"acknowledged in {acknowledged.TotalSeconds:0.00}s with {hungNamespace}'s host hung; recovery = readable again after the hang (killed, downed after the test's 12 s)");
    }

    private static async Task<(HttpStatusCode Status, string Body)> Get(HttpClient http, ChaosCluster cluster, int n, string query)
    {
        try
        {
            using var response = await http.GetAsync(cluster.AdminOf(n) + "/v1/config" + query);
            return (response.StatusCode, await response.Content.ReadAsStringAsync());
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return (0, e.Message);
        }
    }
}
