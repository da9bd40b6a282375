using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Event;
using AkkaL4.Actors;
using AkkaL4.Tests.ControlPlane;
using AkkaL4.Tests.DataPlane;
using AkkaL4.Tests.Support;
using static AkkaL4.Tests.ControlPlane.ControlPlaneKit;
using static AkkaL4.Tests.Security.SecurityKit;

namespace AkkaL4.Tests.Security;

/// <summary>
/// Remoting connections that never authenticate (RemotingGate, akkal4.remoting): an outsider who reaches a TLS node's
/// remoting port and stays silent holds at most max-unauthenticated-per-source connections from one address and
/// max-unauthenticated in all (the oldest of the busiest source closed first), so the process's descriptors stay the
/// data plane's; a member with the cluster's certificate still joins while the outsiders fill the limit; and the node's
/// log says how many in one line, not eleven per connection (UnauthenticatedRemotingLogFilter, checked on the events this very node logged).
/// Addresses: 127.240.1-5.x.
/// </summary>
[Collection(ProcessesCollection.Name)]
[Trait("Category", "EndToEnd")]
public sealed class RemotingGateTests
{
    private static readonly AddressBlock Block = AddressBlocks.Of(240);
    private const int PerSource = 4, InAll = 12;

    [Fact]
    public async Task Silent_outsiders_are_bounded_per_source_and_in_all_and_a_member_still_joins()
    {
        var ca = NewCa("gate");
        using var metrics = new MetricsProbe("gate-a");
        // Akka's own handshake timeout also closes a silent connection, after 15 s: lengthened here, so every close seen is the
        // gate's. (With DotNetty, Akka.NET takes it from the transport's connection-timeout, not akka.remote.handshake-timeout.)
        await using var a = RouterNode.Start(new RouterNodeOptions
        {
            Name = "gate-a",
            Tls = NodeTls(ca, "a"),
            Overrides = $$"""
                akka.loglevel = WARNING
                akka.stdout-loglevel = ERROR
                akka.remote.dot-netty.tcp.connection-timeout = 120s
                akka.remote.dot-netty.tcp { hostname = "{{Block.Host(1, 1)}}", port = 0 }
                akkal4.remoting { max-unauthenticated-per-source = {{PerSource}}, max-unauthenticated = {{InAll}}, refusal-log-interval = 1s }
                """,
        });
        var logged = new ConcurrentQueue<LogEvent>();
        var collector = a.ClusterSystem.ActorOf(Props.Create(() => new Collector(logged)));
        a.ClusterSystem.EventStream.Subscribe(collector, typeof(Error));
        a.ClusterSystem.EventStream.Subscribe(collector, typeof(Warning));
        var port = RemotingPort(a);
        var silent = new List<Socket>();

        // Six from one address: the node keeps four.
        for (var i = 0; i < PerSource + 2; i++) silent.Add(await ConnectAsync(Block.Host(2, 1), port));
        await EventuallyAsync(() => Task.FromResult(Closed(silent) == 2), () => $"two of six closed (closed: {Closed(silent)})", TimeSpan.FromSeconds(30));
        Assert.Equal(PerSource, silent.Count - Closed(silent));
        Assert.True(Closed(silent.Take(2)) == 2, "the source's two oldest are the ones closed");
        // And /metrics says so (the counter moves just after the close).
        await metrics.WaitForAsync(ClosedTotal, 2);
        Assert.Equal(PerSource, metrics[Pending]);

        // Four more from each of three other addresses: 16 pending, the node keeps twelve.
        for (var source = 3; source <= 5; source++)
            for (var i = 0; i < PerSource; i++) silent.Add(await ConnectAsync(Block.Host(source, 1), port));
        await EventuallyAsync(() => Task.FromResult(silent.Count - Closed(silent) == InAll),
            () => $"{InAll} of {silent.Count} open (open: {silent.Count - Closed(silent)})", TimeSpan.FromSeconds(30));

        // The limit is full of outsiders: a member still joins (its connection authenticates; the oldest outsider makes room).
        await using var b = StartNode("gate-b", Block.Host(1, 2), NodeTls(ca, "b"), a.ClusterAddress);
        await AllUpAsync(a, 2);
        Assert.True(silent.Count - Closed(silent) < InAll, $"an outsider closed for the member (open: {silent.Count - Closed(silent)})");

        await EventuallyAsync(() => Task.FromResult(logged.Any(IsSummary)), () => "the gate's summary line", TimeSpan.FromSeconds(30));
        // The outsiders' TLS handshakes failed as the gate closed them: Akka logged each, and the node's filter keeps none.
        var filter = new UnauthenticatedRemotingLogFilter();
        // (DotNetty reports a closed handshake a moment after the close.)
        List<LogEvent> PerConnection() => logged.Where(e => e.LogSource?.StartsWith("TcpServerHandler", StringComparison.Ordinal) == true).ToList();
        await EventuallyAsync(() => Task.FromResult(PerConnection().Count > 0), () => "Akka's lines for the closed outsiders", TimeSpan.FromSeconds(30));
        var perConnection = PerConnection();
        Assert.All(perConnection, e => Assert.Equal(LogFilterDecision.Drop, filter.ShouldKeepMessage(e)));
        Assert.All(logged.Where(IsSummary), e => Assert.Equal(LogFilterDecision.Keep, filter.ShouldKeepMessage(e)));

        // Every close seen was the gate's (Akka's own timeout is 120 s here), and nothing else ended yet.
        await EventuallyAsync(() => Task.FromResult(metrics[ClosedTotal] == Closed(silent)),
            () => $"{ClosedTotal} {metrics[ClosedTotal]}, closed {Closed(silent)}", TimeSpan.FromSeconds(30));
        Assert.Equal(0, metrics[EndedTotal]);
        var open = silent.Count - Closed(silent);
        Assert.Equal(open, metrics[Pending]);

        // The outsiders give up: each ends before it authenticated.
        foreach (var socket in silent) socket.Dispose();
        await metrics.WaitForAsync(EndedTotal, open);
        await metrics.WaitForAsync(Pending, 0);
    }

    private const string ClosedTotal = "akkal4_remoting_unauthenticated_closed_total";
    private const string EndedTotal = "akkal4_remoting_unauthenticated_ended_total";
    private const string Pending = "akkal4_remoting_unauthenticated_pending";

    private static bool IsSummary(LogEvent e) => e is Warning && e.Message?.ToString() is { } text && text.StartsWith("remoting: ", StringComparison.Ordinal)
        && text.Contains($"closed here over the limit of {PerSource} pending per source and {InAll} in all", StringComparison.Ordinal);

    private static async Task<Socket> ConnectAsync(string source, int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Parse(source), 0));
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Parse(Block.Host(1, 1)), port));
        return socket;
    }

    /// <summary>How many of <paramref name="sockets"/> the node has closed (readable with nothing to read, or reset).</summary>
    private static int Closed(IEnumerable<Socket> sockets) => sockets.Count(s =>
    {
        try { return s.Poll(0, SelectMode.SelectRead) && s.Available == 0 && s.Receive(new byte[1], SocketFlags.Peek) == 0; }
        catch (SocketException) { return true; }
    });

    private sealed class Collector : ReceiveActor
    {
        public Collector(ConcurrentQueue<LogEvent> events) => Receive<LogEvent>(events.Enqueue);
    }
}
