using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using AkkaL4.Actors;
using AkkaL4.Tests.Support;

namespace AkkaL4.Tests;

/// <summary>
/// <see cref="OrderlyLeaveLogFilter"/>'s decision, without a cluster: remoting's Disassociated error for a peer is dropped
/// only when the peer is Leaving or Exiting, or no longer a member and seen leaving. Addresses 127.193.200.x (not bound).
/// </summary>
[Trait("Category", TestCategories.Unit)]
public sealed class OrderlyLeaveLogFilterTests
{
    private static readonly Address Self = Address.Parse("akka.tcp://l4@127.193.200.1:4000");
    private static readonly Address Peer = Address.Parse("akka.tcp://l4@127.193.200.2:4001");

    [Fact]
    public void A_peer_this_node_never_saw_leave_keeps_its_lines_when_it_is_not_a_member()
    {
        var filter = new OrderlyLeaveLogFilter();
        Assert.Equal(LogFilterDecision.Keep, filter.Decide(Disassociated(Peer), _ => null));
        Assert.Equal(LogFilterDecision.Keep, filter.Decide(Gated(Peer), _ => null));
        filter.Left(Address.Parse("akka.tcp://l4@127.193.200.3:4001"));
        Assert.Equal(LogFilterDecision.Keep, filter.Decide(Disassociated(Peer), _ => null));
    }

    [Theory]
    [InlineData(MemberStatus.Up)]
    [InlineData(MemberStatus.Joining)]
    [InlineData(MemberStatus.Down)]
    public void A_member_that_did_not_leave_keeps_its_lines(MemberStatus status)
    {
        var filter = new OrderlyLeaveLogFilter();
        Assert.Equal(LogFilterDecision.Keep, filter.Decide(Disassociated(Peer), _ => status));
        Assert.Equal(LogFilterDecision.Keep, filter.Decide(Gated(Peer), _ => status));
    }

    [Theory]
    [InlineData(MemberStatus.Leaving)]
    [InlineData(MemberStatus.Exiting)]
    public void A_member_leaving_loses_its_lines(MemberStatus status)
    {
        var filter = new OrderlyLeaveLogFilter();
        Assert.Equal(LogFilterDecision.Drop, filter.Decide(Disassociated(Peer), _ => status));
        Assert.Equal(LogFilterDecision.Drop, filter.Decide(Gated(Peer), _ => status));
    }

    [Fact]
    public void A_peer_seen_exiting_then_removed_loses_its_lines_until_it_joins_again()
    {
        var filter = new OrderlyLeaveLogFilter();
        filter.Left(Peer);
        Assert.Equal(LogFilterDecision.Drop, filter.Decide(Disassociated(Peer), _ => null));
        Assert.Equal(LogFilterDecision.Drop, filter.Decide(Gated(Peer), _ => MemberStatus.Removed));
        filter.Joined(Peer);
        Assert.Equal(LogFilterDecision.Keep, filter.Decide(Disassociated(Peer), _ => null));
    }

    [Fact]
    public void Only_the_last_addresses_seen_leaving_are_remembered()
    {
        var filter = new OrderlyLeaveLogFilter();
        filter.Left(Peer);
        for (var i = 0; i < OrderlyLeaveLogFilter.Remembered; i++) filter.Left(Address.Parse($"akka.tcp://l4@127.193.201.{i + 1}:4001"));
        Assert.Equal(LogFilterDecision.Keep, filter.Decide(Disassociated(Peer), _ => null));
        Assert.Equal(LogFilterDecision.Drop, filter.Decide(Disassociated(Address.Parse("akka.tcp://l4@127.193.201.1:4001")), _ => null));
    }

    [Fact]
    public void Other_lines_are_kept()
    {
        var filter = new OrderlyLeaveLogFilter();
        filter.Left(Peer);
        // Another failure of the same writer, and the same failure from another source.
        Assert.Equal(LogFilterDecision.Keep, filter.Decide(new Error(new InvalidOperationException("x"), WriterOf(Peer), typeof(OrderlyLeaveLogFilterTests), "failed"), _ => null));
        Assert.Equal(LogFilterDecision.Keep, filter.Decide(new Error(new EndpointDisassociatedException(), "akka://l4/user/x", typeof(OrderlyLeaveLogFilterTests), "Disassociated"), _ => null));
    }

    private static string WriterOf(Address peer) =>
        $"{Self}/system/endpointManager/reliableEndpointWriter-{Uri.EscapeDataString(peer.ToString())}-1/endpointWriter";

    private static Error Disassociated(Address peer) =>
        new(new EndpointDisassociatedException(), WriterOf(peer), typeof(OrderlyLeaveLogFilterTests), "Disassociated");

    private static Warning Gated(Address peer)
    {
        // The message built as Akka.Remote's supervisor builds it: a log adapter's Warning with these arguments.
        var capture = new Capture();
        capture.Warning("Association with remote system {0} has failed; address is now gated for {1} ms. Reason is: [{2}]",
            peer, 5000, new EndpointDisassociatedException());
        return new Warning($"{Self}/system/endpointManager/reliableEndpointWriter-{Uri.EscapeDataString(peer.ToString())}-1",
            typeof(OrderlyLeaveLogFilterTests), Assert.IsAssignableFrom<LogMessage>(capture.Message));
    }

    private sealed class Capture() : LoggingAdapterBase(DefaultLogMessageFormatter.Instance)
    {
        public object? Message { get; private set; }
        public override bool IsDebugEnabled => true;
        public override bool IsInfoEnabled => true;
        public override bool IsWarningEnabled => true;
        public override bool IsErrorEnabled => true;

        protected override void NotifyLog(LogLevel level, object message, Exception? cause) => Message = message;
    }

    // Named as Akka.Remote's internal exception, which the filter knows by its name.
    private sealed class EndpointDisassociatedException() : Exception("Disassociated");
}
