// rel19: the cluster's heartbeat sender and remoting's endpoints ran on the .NET thread pool (Akka's internal-dispatcher and
// default-remote-dispatcher), where during a big write they waited for a thread; cluster.hocon gives them threads of their
// own. Timings are WriteChaosTests' heartbeat-late-max (bench/README.md); this checks where they run.
using Akka.Cluster;
using AkkaL4.Actors;
using static AkkaL4.Tests.ControlPlane.ControlPlaneKit;

namespace AkkaL4.Tests.ControlPlane;

/// <summary>Addresses: remoting on 127.213.0.1 (AddressBlocks.Of(213)); no data-plane address is bound.</summary>
[Trait("Category", "EndToEnd")]
public class HeartbeatDispatcherTests
{
    private const string Membership = "akkal4.membership-dispatcher";

    [Fact]
    public async Task The_heartbeat_sender_and_remotings_endpoints_run_on_the_membership_threads_not_the_pool()
    {
        await using var node = RouterNode.Start(new RouterNodeOptions
        {
            Name = $"heartbeats-{Guid.NewGuid():N}",
            Overrides = "akka.loglevel = ERROR\nakka.stdout-loglevel = ERROR\nakka.remote.dot-netty.tcp.hostname = 127.213.0.1",
        });
        var system = node.ClusterSystem;
        // The sender starts once the node is a member (a cluster of its own here).
        await EventuallyAsync(() => Cluster.Get(system).SelfMember.Status == MemberStatus.Up, "the node is Up", TimeSpan.FromSeconds(30));
        foreach (var path in new[] { "/system/cluster/core/daemon/heartbeatSender", "/system/endpointManager" })
        {
            var dispatcher = await DispatcherOfAsync(system, path);
            Assert.True(dispatcher.Id == Membership, $"{path} runs on {dispatcher.Id}, not {Membership}");
        }
        // Threads of its own: a dedicated pool, not an executor over the .NET thread pool.
        var config = system.Settings.Config.GetConfig(Membership);
        Assert.Equal("ForkJoinDispatcher", config.GetString("type"));
        Assert.True(config.GetInt("dedicated-thread-pool.thread-count") >= 1);
    }
}
