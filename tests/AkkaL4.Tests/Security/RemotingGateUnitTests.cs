using Akka.Actor;
using Akka.Configuration;
using Akka.Event;
using Akka.Remote.Transport;
using AkkaL4.Actors;

namespace AkkaL4.Tests.Security;

/// <summary>
/// <see cref="RemotingGate"/>'s choices, on handles of a fake transport (no sockets): which pending connection it closes
/// over each limit, that a connection that authenticates or ends frees its place, how sources are counted (IPv6 by /64),
/// and which settings it refuses. RemotingGateTests shows the same gate on a node's real remoting port.
/// </summary>
[Trait("Category", "Unit")]
public sealed class RemotingGateUnitTests
{
    private static readonly Address Local = new("akka.tcp", "akkal4", "127.0.0.1", 4053);

    private static RemotingGate Gate(int perSource, int inAll) =>
        new(new FakeTransport(), NoLogger.Instance, perSource, inAll, TimeSpan.FromSeconds(10));

    private static (RemotingGate.GatedHandle Gated, FakeHandle Inner) Connect(RemotingGate gate, string host, int port)
    {
        var inner = new FakeHandle(new Address("akka.tcp", "akkal4", host, port));
        var gated = new RemotingGate.GatedHandle(inner, gate);
        gate.Admit(gated);
        return (gated, inner);
    }

    [Fact]
    public void Over_the_per_source_limit_the_oldest_of_that_source_is_closed()
    {
        var gate = Gate(perSource: 2, inAll: 10);
        var other = Connect(gate, "10.0.0.9", 1);
        var first = Connect(gate, "10.0.0.1", 1);
        var second = Connect(gate, "10.0.0.1", 2);
        Assert.False(first.Inner.Closed);
        var third = Connect(gate, "10.0.0.1", 3);
        Assert.True(first.Inner.Closed, "the source's oldest");
        Assert.False(second.Inner.Closed || third.Inner.Closed || other.Inner.Closed, "only the source's oldest");
    }

    [Fact]
    public void Over_the_total_the_busiest_source_loses_its_oldest_not_a_member_with_one_pending()
    {
        var gate = Gate(perSource: 4, inAll: 6);
        // A member's connection, the oldest of all, then a flood from three addresses.
        var member = Connect(gate, "10.0.1.1", 1);
        var flood = new List<FakeHandle>();
        foreach (var host in new[] { "10.0.2.1", "10.0.2.2", "10.0.2.3" })
            for (var i = 0; i < 3; i++)
                flood.Add(Connect(gate, host, i).Inner);
        Assert.False(member.Inner.Closed, $"the member's one pending connection was closed ({flood.Count(f => f.Closed)} of the flood's)");
        Assert.Equal(4, flood.Count(f => f.Closed));
        // Each close was the oldest of the source with the most pending at that moment.
        Assert.True(flood[0].Closed, "10.0.2.1's oldest");
    }

    [Fact]
    public void A_connection_that_authenticates_or_ends_leaves_its_place()
    {
        var gate = Gate(perSource: 2, inAll: 10);
        var first = Connect(gate, "10.0.0.1", 1);
        var second = Connect(gate, "10.0.0.1", 2);
        gate.Leave(first.Gated, authenticated: true);
        gate.Leave(second.Gated, authenticated: false);
        var more = new[] { Connect(gate, "10.0.0.1", 3), Connect(gate, "10.0.0.1", 4) };
        Assert.DoesNotContain(more, c => c.Inner.Closed);
        Assert.False(first.Inner.Closed || second.Inner.Closed);
        // Leaving twice (its first frame, later its end) frees one place, not two.
        gate.Leave(first.Gated, authenticated: false);
        Connect(gate, "10.0.0.1", 5);
        Assert.True(more[0].Inner.Closed, "two pending from the source: the third closed the oldest");
    }

    [Fact]
    public void The_nodes_counts_say_how_many_were_closed_ended_and_are_pending_across_its_gates()
    {
        var counts = new RemotingGateCounts();
        var gate = new RemotingGate(new FakeTransport(), NoLogger.Instance, 2, 10, TimeSpan.FromSeconds(10), counts);
        var first = Connect(gate, "10.0.0.1", 1);
        var second = Connect(gate, "10.0.0.1", 2);
        var third = Connect(gate, "10.0.0.1", 3);
        var member = Connect(gate, "10.0.0.2", 1);
        Assert.True(first.Inner.Closed);
        Assert.Equal((1L, 0L, 3L), (counts.Closed, counts.Ended, counts.Pending));
        gate.Leave(member.Gated, authenticated: true);
        gate.Leave(second.Gated, authenticated: false);
        // A close the gate made, then told as an end by the handle, is one close.
        gate.Leave(first.Gated, authenticated: false);
        Assert.Equal((1L, 1L, 1L), (counts.Closed, counts.Ended, counts.Pending));
        // A rejoin's new cluster system makes a new gate: the node's counts run on, its pending is the new gate's.
        var next = new RemotingGate(new FakeTransport(), NoLogger.Instance, 2, 10, TimeSpan.FromSeconds(10), counts);
        Assert.Equal(0L, counts.Pending);
        var again = Connect(next, "10.0.0.3", 1);
        next.Leave(again.Gated, authenticated: false);
        Assert.Equal((1L, 2L, 0L), (counts.Closed, counts.Ended, counts.Pending));
        GC.KeepAlive(third);
    }

    [Theory]
    [InlineData("2001:db8:1:2:aaaa::1", "2001:db8:1:2:bbbb::7", true)]
    [InlineData("2001:db8:1:2::1", "2001:db8:1:3::1", false)]
    [InlineData("::ffff:10.0.0.1", "10.0.0.1", true)]
    [InlineData("10.0.0.1", "10.0.0.2", false)]
    public void Sources_are_IPv4_addresses_and_IPv6_64s(string one, string another, bool same)
    {
        Assert.Equal(same, RemotingGate.GatedHandle.SourceOf(one) == RemotingGate.GatedHandle.SourceOf(another));
        var gate = Gate(perSource: 1, inAll: 10);
        var first = Connect(gate, one, 1);
        Connect(gate, another, 2);
        Assert.Equal(same, first.Inner.Closed);
    }

    [Theory]
    [InlineData("max-unauthenticated-per-source = 0", "max-unauthenticated-per-source = 0: must be at least 1")]
    [InlineData("max-unauthenticated = 0", "max-unauthenticated = 0: must be at least 1")]
    [InlineData("max-unauthenticated-per-source = 300", "max-unauthenticated-per-source = 300: must not be more than akkal4.remoting.max-unauthenticated (256)")]
    [InlineData("refusal-log-interval = ten", "refusal-log-interval: ")]
    [InlineData("refusal-log-interval = 0s", "refusal-log-interval = 00:00:00: must be longer than 0")]
    public void Settings_out_of_range_are_refused_naming_the_key(string setting, string message)
    {
        var config = ConfigurationFactory.ParseString("akkal4.remoting { " + setting + " }")
            .WithFallback(ConfigurationFactory.ParseString("akkal4.remoting { max-unauthenticated-per-source = 16, max-unauthenticated = 256, refusal-log-interval = 10s }"));
        var refused = Assert.Throws<ConfigurationException>(() => RemotingGateSettings.From(config));
        Assert.StartsWith("akkal4.remoting." + message, refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_built_in_settings_are_accepted()
    {
        var settings = RemotingGateSettings.From(RouterNode.Layered([]));
        Assert.Equal(new RemotingGateSettings(16, 256, TimeSpan.FromSeconds(10)), settings);
        Assert.True(RemotingGateProvider.Applied(RouterNode.Layered([])));
    }

    private sealed class FakeHandle(Address remote) : AssociationHandle(Local, remote)
    {
        public bool Closed { get; private set; }

        public override bool Write(Google.Protobuf.ByteString payload) => true;

        [Obsolete("Akka's own")]
        public override void Disassociate() => Closed = true;
    }

    private sealed class FakeTransport : Transport
    {
        public override string SchemeIdentifier => "tcp";
        public override long MaximumPayloadBytes => 1 << 20;
        public override Task<(Address, TaskCompletionSource<IAssociationEventListener>)> Listen() => throw new NotSupportedException();
        public override bool IsResponsibleFor(Address remote) => true;
        public override Task<AssociationHandle> Associate(Address remoteAddress) => throw new NotSupportedException();
        public override Task<bool> Shutdown() => Task.FromResult(true);
    }
}
