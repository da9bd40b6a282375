using Akka.DistributedData;
using AkkaL4.Actors;
using AkkaL4.Actors.ControlPlane;
using AkkaL4.Tests.Support;

namespace AkkaL4.Tests.ControlPlane;

/// <summary>
/// A running node's distributed data goes through <see cref="ReplicatorMessages"/> (cluster.hocon binds it in place of
/// Akka's serializer, whose settings the replicator adds when it starts): RemotingPathCostTests checks it with the
/// settings alone. Address: 127.203.0.2 (remoting, any port).
/// </summary>
[Trait("Category", TestCategories.EndToEnd)]
public sealed class ReplicatorMessagesBindingTests
{
    [Fact]
    public async Task A_running_node_serializes_distributed_datas_gossip_with_ours()
    {
        await using var node = RouterNode.Start(new RouterNodeOptions
        {
            Name = $"rel14-binding-{Guid.NewGuid():N}",
            Overrides = "akka.loglevel = ERROR\nakka.stdout-loglevel = ERROR\nakka.remote.dot-netty.tcp.hostname = 127.203.0.2",
        });
        var system = node.ClusterSystem;
        // The replicator is running (the route cache subscribes to it at start): its settings are in.
        Assert.NotNull(DistributedData.Get(system).Replicator);
        var gossip = Activator.CreateInstance(ReplicatorMessages.GossipType, System.Collections.Immutable.ImmutableDictionary<string, Akka.DistributedData.Internal.DataEnvelope>.Empty, false, null, null)!;
        Assert.IsType<ReplicatorMessages>(system.Serialization.FindSerializerFor(gossip));
    }
}
