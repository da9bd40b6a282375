using System.Net;
using AkkaL4.Tests.Chaos;
using AkkaL4.Tests.Support;
using Xunit.Abstractions;

namespace AkkaL4.Tests.ControlPlane;

/// <summary>
/// The journal (the light plugin with SQLite; once Akka.Persistence.Sql with linq2db and LanguageExt) is loaded by the first persistent actor
/// on a node, not at start: two real <c>akkal4 run</c> processes on 127.220.0.N, where node 1 founds the cluster, takes
/// the first write (so it runs the config writer and the RouteTable entity) and node 2 joins after it. Node 2 routes by
/// the write and reads it through GET /v1/config without ever mapping SQLite (its RSS is ~20 MB less:
/// bench/README.md, "Memory, session 10"); once node 1 leaves, node 2 is the writer, loads the journal, and takes and
/// serves writes. No node maps Akka.Persistence.Sql's stack. What is mapped is read from /proc/PID/maps.
/// </summary>
[Collection(ProcessesCollection.Name)]
[Trait("Category", TestCategories.Chaos)]
public sealed class JournalOnDemandTests(ITestOutputHelper output)
{
    private static readonly AddressBlock Block = AddressBlocks.Of(220);

    /// <summary>Assemblies only the journal stack loads.</summary>
    private static readonly string[] JournalStack = ["Microsoft.Data.Sqlite.dll"];

    /// <summary>Akka.Persistence.Sql's stack, which the light journal replaced (issue #15).</summary>
    private static readonly string[] SqlStack = ["Akka.Persistence.Sql.dll", "linq2db.dll", "LanguageExt.Core.dll"];

    private static string Entry(string ns) => $$$"""
        apiVersion: networking.istio.io/v1
        kind: WorkloadEntry
        metadata: {name: entry, namespace: {{{ns}}}}
        spec: {address: {{{Block.Host(2, 1)}}}, labels: {app: entry}}
        """;

    private static IReadOnlyList<string> Mapped(ChaosCluster cluster, int n, string[]? of = null)
    {
        var maps = File.ReadAllText($"/proc/{cluster[n].Id}/maps");
        return (of ?? JournalStack).Where(dll => maps.Contains("/" + dll, StringComparison.Ordinal)).ToList();
    }

    private static async Task<(HttpStatusCode Status, string Body)> Get(ChaosCluster cluster, int n)
    {
        try
        {
            using var response = await cluster.Http.GetAsync(cluster.AdminOf(n) + "/v1/config");
            return (response.StatusCode, await response.Content.ReadAsStringAsync());
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return (0, e.Message);
        }
    }

    [Fact]
    public async Task A_node_without_a_persistent_actor_never_loads_the_journal_and_loads_it_when_it_becomes_the_writer()
    {
        await using var cluster = new ChaosCluster(output, block: Block.Second) { Seeds = [1] };
        cluster.Start(1);
        await cluster.EventuallyAsync(async () => await cluster.InClusterAsync(1), "node 1 founds the cluster");
        await cluster.EventuallyAsync(async () => await cluster.PutAsync(1, Entry("jod-a")) == 1, "the first write, through node 1");

        cluster.Start(2);
        await cluster.EventuallyAsync(async () => await cluster.UpMembersAsync(1) == 2, "two members up");
        await cluster.EventuallyAsync(async () => (await cluster.StatusAsync(2))?.GetProperty("revision").GetInt64() == 1, "node 2 routes by revision 1");
        // Through node 2, read from the entity on node 1.
        await cluster.EventuallyAsync(async () => await Get(cluster, 2) is { Status: HttpStatusCode.OK, Body: var body } && body.Contains("jod-a"),
            "GET /v1/config through node 2");

        Assert.Equal(JournalStack, Mapped(cluster, 1));
        Assert.Empty(Mapped(cluster, 2));
        Assert.Empty(Mapped(cluster, 1, SqlStack));

        // SIGTERM: node 1 drains and leaves; the writer and the entity's shard go to node 2.
        cluster.Signal(1, ChaosCluster.SigTerm);
        await cluster[1].WaitForExitAsync().WaitAsync(ChaosCluster.Patience);
        long? revision = null;
        await cluster.EventuallyAsync(async () => (revision = await cluster.PutAsync(2, Entry("jod-a") + "\n---\n" + Entry("jod-b"))) is not null,
            "a write through node 2 once it is the writer");
        Assert.Equal(2, revision);
        await cluster.EventuallyAsync(async () => await Get(cluster, 2) is { Status: HttpStatusCode.OK, Body: var body } && body.Contains("jod-a") && body.Contains("jod-b"),
            "GET /v1/config through node 2, from its own entities");
        Assert.Equal(JournalStack, Mapped(cluster, 2));
        Assert.Empty(Mapped(cluster, 2, SqlStack));
    }
}
