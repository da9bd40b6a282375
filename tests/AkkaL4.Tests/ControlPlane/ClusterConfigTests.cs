using System.Runtime.Serialization;
using Akka.Actor;
using Akka.Cluster;
using Akka.Serialization;
using AkkaL4.Actors;
using AkkaL4.Actors.Config;
using AkkaL4.Actors.ControlPlane;
using AkkaL4.Messages.Model;
using AkkaL4.Messages.Serialization;
using AkkaL4.Messages.Commands;
using AkkaL4.Messages.Events;
using AkkaL4.Messages.Queries;
using static AkkaL4.Tests.ControlPlane.ControlPlaneKit;

namespace AkkaL4.Tests.ControlPlane;

/// <summary>Router nodes in one cluster: writes through the singleton writer reach every node.</summary>
[Trait("Category", "EndToEnd")]
public class ClusterConfigTests
{
    private const string Quiet = $"akka.loglevel = WARNING\n{SharedAddresses}";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private static Task WaitForMembers(RouterNode node, int count) =>
        EventuallyAsync(() => Cluster.Get(node.ClusterSystem).State.Members.Count(m => m.Status == MemberStatus.Up) >= count, $"{count} members are up", Patience);

    [Fact]
    public async Task A_write_on_any_node_reaches_every_node_and_the_revision_survives_the_writer_leaving()
    {
        var first = RouterNode.Start(new RouterNodeOptions { Name = "cp-a", Overrides = Quiet });
        await using var second = RouterNode.Start(new RouterNodeOptions { Name = "cp-b", Seeds = [first.ClusterAddress], Overrides = Quiet });
        await using var third = RouterNode.Start(new RouterNodeOptions { Name = "cp-c", Seeds = [first.ClusterAddress], Overrides = Quiet });
        try
        {
            await WaitForMembers(second, 3);

            // Written through the second node; the writer runs on the first (the oldest).
            var one = await WriteConfigAsync(second, Service("alpha", "127.4.1.1"), Patience);
            Assert.Equal(1, one.Revision);
            Assert.True(await first.WaitForRevisionAsync(1, Patience), "the first node applied revision 1");
            Assert.True(await second.WaitForRevisionAsync(1, Patience), "the second node applied revision 1");
            Assert.True(await third.WaitForRevisionAsync(1, Patience), "the third node applied revision 1");
            Assert.Contains(third.Routes.Current.Listeners, l => l.Address.ToString() == "127.4.1.1:19000");
            Assert.Contains(first.Routes.Current.Listeners, l => l.Address.ToString() == "127.4.1.1:19000");
            Assert.Contains(second.Routes.Current.Listeners, l => l.Address.ToString() == "127.4.1.1:19000");
            // And every node serves it: the three share the address, as replicas on one host do.
            foreach (var node in new[] { first, second, third })
                Assert.Contains(await BoundAsync(node), l => l.Address == "127.4.1.1:19000");

            // Each node tells the cluster the revision it routes by (status, apply --wait).
            Assert.Empty(await second.WaitForClusterRevisionAsync(1, Patience));
            var applied = await second.AppliedRevisionsAsync();
            Assert.Equal(1, applied[first.ClusterAddress]);
            Assert.Equal(1, applied[second.ClusterAddress]);
            Assert.Equal(1, applied[third.ClusterAddress]);

            var content = await second.Writer.Ask<ConfigContent>(new ReadConfig(), Patience);
            Assert.Equal(1, content.Revision);
            Assert.Equal("Service/default/alpha", Assert.Single(content.Resources).Key.ToString());
        }
        finally
        {
            // The writer's node leaves; the singleton moves to the second node.
            await first.DisposeAsync();
        }

        var two = await WriteConfigAsync(second, Service("beta", "127.4.1.2"), Patience);
        Assert.Equal(2, two.Revision);
        Assert.True(await second.WaitForRevisionAsync(2, Patience));
        Assert.True(await third.WaitForRevisionAsync(2, Patience));
        Assert.Equal(["127.4.1.1:19000", "127.4.1.2:19000"],
            second.Routes.Current.Listeners.Select(l => l.Address.ToString()).Order().ToArray());
    }

    /// <summary>
    /// With distributed-data gossip switched off, a node gets a revision only from the writer's own replication: a
    /// majority write alone reaches one other node of three (the one that confirms it) and leaves the third behind.
    /// </summary>
    [Fact]
    public async Task Every_node_gets_each_acknowledged_revision_from_the_writer_without_waiting_for_gossip()
    {
        static RouterNode Start(int n, params string[] seeds) => RouterNode.Start(new RouterNodeOptions
        {
            Name = $"spread-{n}",
            Seeds = seeds,
            Overrides = $"{Quiet}\nakka.cluster.distributed-data.gossip-interval = 1h\nakka.remote.dot-netty.tcp {{ hostname = \"127.180.1.{n}\", port = 0 }}",
        });
        await using var first = Start(1);
        await using var second = Start(2, first.ClusterAddress);
        await using var third = Start(3, first.ClusterAddress);
        RouterNode[] nodes = [first, second, third];
        await WaitForMembers(first, 3);
        await WaitForMembers(third, 3);

        // Several writes, so that no choice of the node that confirms a write lets this pass by chance; each through the
        // third node, which does not run the writer, and each awaited on every node before the next.
        for (var i = 1; i <= 3; i++)
        {
            var accepted = await ApplyAsync(third, $"apiVersion: v1\nkind: Service\nmetadata: {{name: spread-{i}, namespace: spread}}\n"
                                                   + $"spec:\n  clusterIP: None\n  selector: {{app: spread}}\n  ports: [{{name: tcp, port: 19000, targetPort: 9000}}]\n");
            foreach (var node in nodes)
                Assert.True(await node.WaitForRevisionAsync(accepted.Revision, Patience),
                    $"{node.ClusterAddress} routes by revision {node.Applied?.Revision ?? 0}, not the acknowledged {accepted.Revision}, {Patience.TotalSeconds:0}s later");
        }
    }

    [Fact]
    public async Task The_writer_journal_brings_back_an_acknowledged_write_after_a_full_restart_without_any_disk_copy()
    {
        var data = Path.Combine(Path.GetTempPath(), "akkal4-journal-" + Guid.NewGuid().ToString("N"));
        try
        {
            await using (var node = RouterNode.Start(new RouterNodeOptions { Name = "cp-journal", DataDirectory = data, Overrides = Quiet }))
            {
                Assert.Equal(1, (await WriteConfigAsync(node, Service("gamma", "127.4.2.1"), Patience)).Revision);
                Assert.Equal(2, (await WriteConfigAsync(node, Service("delta", "127.4.2.2"), Patience)).Revision);
            }
            // Only the writer's journal is left: no last-known-good copy, no other node.
            File.Delete(Path.Combine(data, "last-known-good.yaml"));
            Assert.True(File.Exists(Path.Combine(data, "journal.db")));

            await using var restarted = RouterNode.Start(new RouterNodeOptions { Name = "cp-journal", DataDirectory = data, Overrides = Quiet });
            Assert.True(await restarted.WaitForRevisionAsync(2, Patience), "the journaled revision is in force again");
            Assert.Equal(["127.4.2.1:19000", "127.4.2.2:19000"],
                restarted.Routes.Current.Listeners.Select(l => l.Address.ToString()).Order().ToArray());
            Assert.Equal(3, (await WriteConfigAsync(restarted, Service("epsilon", "127.4.2.3"), Patience)).Revision);
        }
        finally
        {
            if (Directory.Exists(data)) Directory.Delete(data, recursive: true);
        }
    }

    [Fact]
    public async Task Cluster_messages_use_the_akkal4_serializer_and_an_unknown_manifest_is_refused()
    {
        await using var node = RouterNode.Start(new RouterNodeOptions { Name = "cp-serializer", Overrides = Quiet });
        var serialization = node.ClusterSystem.Serialization;
        object[] messages =
        [
            new WriteConfig(Decode(ControlPlaneKit.Service("a", "default", "127.100.9.1")), DateTimeOffset.UnixEpoch.AddDays(20000)),
            new RemoveResource("Service", "default", "a", DateTimeOffset.UnixEpoch),
            new ReadConfig(null, "default"),
            new ConfigAccepted(7, [new ResourceChange(new ResourceKey("Service", "default", "a"), ChangeAction.Created)], [Diagnostic.Warning("Service/default/a", "spec", "w")]),
            new ConfigRejected([Diagnostic.Error("Service/default/a", "spec.ports[0].port", "bad", "request:3:5")], Conflict: true, NotFound: false),
            new WriteJournaled(7),
            new ConfigUncertain(7, "not on a majority"),
            new ConfigUncertain(null, "no answer"),
            new ConfigUnavailable("dropped"),
            new ConfigCommitted(7, Decode(ControlPlaneKit.Service("a", "default", "127.100.9.1"))),
            new BatchCommitted(8, [new NamespaceResources("default", Decode(ControlPlaneKit.Service("a", "default", "127.100.9.1"))), new NamespaceResources("emptied", [])]),
            new MemberRevision(8, 9, "bad CIDR"),
            new StoreNamespace("default", 8, Decode(ControlPlaneKit.Service("a", "default", "127.100.9.1")), "0123abcd"),
            new NamespaceStored("default", 8, "0123abcd"),
            new RedeliverNamespace("default", 7),
            new WriterCheckpoint(8, [new NamespaceRevision("default", 8, "0123abcd"), new NamespaceRevision("other", 3)]),
            new WriterCheckpoint(8, [new NamespaceRevision("default", 8)], Decode(ControlPlaneKit.Service("a", "default", "127.100.9.1")), ["default"]),
            new NamespaceWritten(8, "default", Decode(ControlPlaneKit.Service("a", "default", "127.100.9.1")), "0123abcd"),
            new ConfigContent(8, Decode(ControlPlaneKit.Service("a", "default", "127.100.9.1"), ControlPlaneKit.Service("b", "other", "127.100.9.2"))),
            // Read only (journals of versions that kept YAML in their events), but they still serialize alike.
            new ManifestConfigCommitted(7, "# akkal4 last-known-good revision 7\n"),
            new ManifestBatchCommitted(8, [new NamespaceManifests("default", "---\n"), new NamespaceManifests("emptied", "")]),
            new ManifestWriterCheckpoint(8, [new NamespaceRevision("default", 8)], "# akkal4 last-known-good revision 8\n", ["default"]),
            new ManifestNamespaceWritten(8, "default", "---\n"),
            ReadIndex.Instance,
            new ConfigIndex(8, [new NamespaceRevision("default", 8)]),
            new ReadNamespace("default"),
            new NamespaceContent("default", 8, Decode(ControlPlaneKit.Service("a", "default", "127.100.9.1")), "0123abcd"),
        ];
        foreach (var message in messages)
        {
            var serializer = Assert.IsType<ProtocolSerializer>(serialization.FindSerializerFor(message));
            var manifest = serializer.Manifest(message);
            Assert.True(manifest.Length <= 2, $"short manifest, not a type name: {manifest}");
            var back = serializer.FromBinary(serializer.ToBinary(message), manifest);
            Assert.Equal(System.Text.Json.JsonSerializer.Serialize(message, message.GetType(), ModelJson.Options), System.Text.Json.JsonSerializer.Serialize(back, back.GetType(), ModelJson.Options));
        }
        var any = (SerializerWithStringManifest)serialization.FindSerializerFor(messages[0]);
        Assert.Throws<SerializationException>(() => any.FromBinary([1, 2, 3], "zz"));
        // "rn" meant ReadNamespace, then RedeliverNamespace: retired, so neither version misreads the other's.
        Assert.Throws<SerializationException>(() => any.FromBinary(any.ToBinary(new RedeliverNamespace("default", 7)), "rn"));
        // A checkpoint journaled before it could carry the whole configuration still reads (index only).
        var old = Assert.IsType<ManifestWriterCheckpoint>(any.FromBinary("{\"Revision\":8,\"Namespaces\":[{\"Namespace\":\"default\",\"Revision\":8}]}"u8.ToArray(), "ck"));
        Assert.Null(old.Manifests);
        Assert.Equal(8, old.Namespaces.Single().Revision);
    }
}
