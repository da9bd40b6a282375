using AkkaL4.Tests.Chaos;
using AkkaL4.Tests.ControlPlane;
using AkkaL4.Tests.Support;
using Xunit.Abstractions;

namespace AkkaL4.Tests.Node;

/// <summary>
/// A node never builds .NET's app.config system: Akka's <c>ActorSystem.Create(name, setup)</c> called
/// <c>ConfigurationFactory.Load()</c> even though the setup carried the configuration, which mapped
/// System.Configuration.ConfigurationManager and the XML stack into every node (~4.7 MiB; bench/README.md, session 17).
/// A real single node on 127.225.0.1 founds its cluster and takes a write (so the cluster side, the config writer and the
/// journal stack have all started); what it mapped is read from /proc/PID/maps.
/// </summary>
[Collection(ProcessesCollection.Name)]
[Trait("Category", TestCategories.EndToEnd)]
public sealed class AppConfigNotLoadedTests(ITestOutputHelper output)
{
    private static readonly AddressBlock Block = AddressBlocks.Of(225);

    [Fact]
    public async Task A_single_node_that_took_a_write_has_not_mapped_System_Configuration()
    {
        await using var cluster = new ChaosCluster(output, block: Block.Second) { Seeds = [1] };
        cluster.Start(1);
        await cluster.EventuallyAsync(async () => await cluster.InClusterAsync(1), "node 1 founds the cluster");
        await cluster.EventuallyAsync(async () => await cluster.PutAsync(1, $$$"""
            apiVersion: networking.istio.io/v1
            kind: WorkloadEntry
            metadata: {name: entry, namespace: appconfig}
            spec: {address: {{{Block.Host(2, 1)}}}, labels: {app: entry}}
            """) == 1, "the first write");

        var maps = File.ReadAllText($"/proc/{cluster[1].Id}/maps");
        // The journal took the write, so these maps are of a node whose whole start (and the writer's stack) is behind it.
        Assert.Contains("/Microsoft.Data.Sqlite.dll", maps, StringComparison.Ordinal);
        Assert.DoesNotContain("/System.Configuration.ConfigurationManager.dll", maps, StringComparison.Ordinal);
    }
}
