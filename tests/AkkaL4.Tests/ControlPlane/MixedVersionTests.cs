using Akka.Actor;
using Akka.Cluster;
using Akka.DistributedData;
using Akka.Serialization;
using AkkaL4.Actors;
using AkkaL4.Actors.ControlPlane;
using AkkaL4.Messages.Model;
using AkkaL4.Tests.Support;
using static AkkaL4.Tests.ControlPlane.ControlPlaneKit;

namespace AkkaL4.Tests.ControlPlane;

/// <summary>
/// A cluster of two releases (review2-s11 #2): nodes before 0.5.0 cannot read the configuration by namespace (cg). Each
/// node tells the cluster its release (akka.cluster.app-version, from the assembly); while an older one is Up the writer
/// replicates the single list (cc) it reads, and by namespace again once none is. Three nodes on real remoting
/// (127.180.101.x), one of them saying it is 0.4.0.
/// </summary>
[Trait("Category", TestCategories.EndToEnd)]
public sealed class MixedVersionTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private static RouterNode Start(int n, string? appVersion, params string[] seeds) => RouterNode.Start(new RouterNodeOptions
    {
        Name = $"mixed-{n}",
        Seeds = seeds,
        Overrides = $"akka.loglevel = WARNING\n{SharedAddresses}\n"
                    + $"akka.remote.dot-netty.tcp {{ hostname = \"{AddressBlocks.Of(180).Host(101, n)}\", port = 0 }}\n"
                    + (appVersion is null ? "" : $"akka.cluster.app-version = \"{appVersion}\"\n"),
    });

    /// <summary>The replicated configuration as the node's replicator holds it, and the manifest it came (and goes on) under.</summary>
    private static async Task<(ConfigContent Content, string Manifest)> HeldAsync(RouterNode node, long revision)
    {
        ConfigContent? content = null;
        await EventuallyAsync(async () =>
        {
            var replicator = DistributedData.Get(node.ClusterSystem).Replicator;
            content = await replicator.Ask<IGetResponse>(Dsl.Get(ConfigWriter.Key, ReadLocal.Instance), Patience) is GetSuccess found
                ? found.Get(ConfigWriter.Key).Value
                : null;
            return content?.Revision >= revision;
        }, () => $"{node.ClusterAddress} holds revision {revision} (it holds {content?.Revision.ToString() ?? "nothing"})", Patience);
        var serializer = (SerializerWithStringManifest)node.ClusterSystem.Serialization.FindSerializerFor(content!);
        return (content!, serializer.Manifest(content!));
    }

    [Fact]
    public async Task While_a_node_of_the_previous_release_is_up_it_is_sent_the_single_list_and_by_namespace_once_it_left()
    {
        await using var first = Start(1, null);
        await using var newer = Start(2, null, first.ClusterAddress);
        var older = Start(3, "0.4.0", first.ClusterAddress);
        try
        {
            await EventuallyAsync(() => Cluster.Get(first.ClusterSystem).State.Members.Count(m => m.Status == MemberStatus.Up) == 3, "three members are up", Patience);
            // Each node's release, from the assembly (the test host's own version otherwise).
            Assert.Equal(Release.Version, Cluster.Get(first.ClusterSystem).SelfMember.AppVersion.ToString());
            Assert.Equal("0.5.0", Release.Version);
            Assert.Contains(Cluster.Get(first.ClusterSystem).State.Members, m => m.AppVersion.ToString() == "0.4.0");

            // Written through the new node that does not run the writer (the first, oldest, does).
            var one = await WriteConfigAsync(newer, Service("one", "mixed", "127.180.101.10"), Patience);
            foreach (var node in new[] { older, newer, first })
            {
                var (content, manifest) = await HeldAsync(node, one.Revision);
                Assert.True(manifest == "cc", $"{node.ClusterAddress} holds revision {content.Revision} as {manifest}, not cc");
                Assert.Equal("Service/mixed/one", Assert.Single(content.Resources).Key.ToString());
            }
            Assert.True(await older.WaitForRevisionAsync(one.Revision, Patience), "the 0.4.0 node applied the revision");
        }
        finally
        {
            await older.DisposeAsync();
        }

        // The older node left: by namespace again.
        await EventuallyAsync(() => Cluster.Get(first.ClusterSystem).State.Members.Count == 2, "the 0.4.0 node has left", Patience);
        var two = await WriteConfigAsync(newer, Service("two", "mixed", "127.180.101.11"), Patience);
        var (again, form) = await HeldAsync(newer, two.Revision);
        Assert.Equal("cg", form);
        Assert.Equal(["Service/mixed/one", "Service/mixed/two"], again.Resources.Select(r => r.Key.ToString()).Order().ToArray());
    }
}
