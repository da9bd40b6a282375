using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using AkkaL4.Actors.DataPlane.Transport;
using AkkaL4.Messages.Model;
using AkkaL4.Node.Echo;
using AkkaL4.Tests.Support;
using static AkkaL4.Tests.DataPlane.Kit;

namespace AkkaL4.Tests.DataPlane.Transport;

/// <summary>
/// SO_REUSEPORT only where it is wanted (sec13 §4): by default another socket of the node's uid can no longer bind a
/// node's listener address and take a share of its clients, while the node's own listeners that Linux lets sit side by
/// side only with it (a Gateway on 0.0.0.0:PORT beside a Service address on PORT) still bind, in either order; with
/// <c>akkal4.data-plane.reuse-port = on</c> two nodes on one host share an address (compose replicas). Run on both
/// transports (<c>AKKAL4_TRANSPORT</c>). Addresses: 127.204.1-9.x; the wildcard test's port, 24204, on every address.
/// </summary>
[Trait("Category", "EndToEnd")]
public sealed class ReusePortTests
{
    private static readonly AddressBlock Block = AddressBlocks.Of(204);
    private const int SolSocket = 1;
    private const int SoReusePort = 15;

    [Fact]
    public async Task Another_socket_of_the_nodes_uid_cannot_bind_a_listener_address_and_every_client_reaches_the_node()
    {
        await using var pod = new EchoServer(Block.At(1, 11, 9000), "echo");
        await using var router = TestRouter.Start("reuse-default");
        var vip = Block.At(1, 10, 19000);
        await router.ApplyAsync(1,
            Service("echo", vip.Address.ToString(), 19000, 9000, "echo"),
            WorkloadEntry("echo-1", Block.Host(1, 11), "{app: echo}"));
        Assert.Equal("echo hello", (await TestClient.OneLineAsync(Block.Host(1, 30), vip, "hello")).Reply.Trim());

        // Another program of the same uid, setting SO_REUSEPORT on its own socket as the kernel asks (sec13's repro).
        using var squatter = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        squatter.SetRawSocketOption(SolSocket, SoReusePort, BitConverter.GetBytes(1));
        var refused = Assert.Throws<SocketException>(() =>
        {
            squatter.Bind(vip);
            squatter.Listen(64);
        });
        Assert.Equal(SocketError.AddressAlreadyInUse, refused.SocketErrorCode);
        for (var i = 0; i < 40; i++)
            Assert.Equal($"echo {i}", (await TestClient.OneLineAsync(Block.Host(1, 31), vip, $"{i}")).Reply.Trim());
    }

    /// <summary>
    /// A Gateway server without bind listens on 0.0.0.0:PORT; a Service address on the same PORT binds beside it only with
    /// SO_REUSEPORT on both sockets, set by the node for its own (on the one already listening too), whichever came first.
    /// The kernel gives each connection to the most specific listener: the Service's address to its listener, any other
    /// address to the Gateway's. Our transport only: the stock one cannot bind 0.0.0.0 at all (Akka.Streams' Tcp().Bind takes
    /// a host name and resolves it, and .NET refuses to resolve an unspecified address).
    /// </summary>
    [OwnTransportTheory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_gateway_on_every_address_and_a_service_address_on_its_port_both_bind_whichever_comes_first(bool gatewayFirst)
    {
        const int port = 24204;
        var third = gatewayFirst ? 2 : 3;
        await using var service = new EchoServer(Block.At(third, 11, 9000), "service");
        await using var gateway = new EchoServer(Block.At(third, 12, 9000), "gateway");
        await using var router = TestRouter.Start("reuse-wildcard", Labels.Of(("istio", $"dp14-wild-{third}")));
        string[] gatewayDocs =
        [
            Gateway("wild", "default", $$"""
                selector: {istio: dp14-wild-{{third}}}
                servers:
                - port: {number: {{port}}, name: tcp, protocol: TCP}
                  hosts: ['*']
                """),
            VirtualService("wild", "default", """
                hosts: ['*']
                gateways: [wild]
                tcp:
                - route:
                  - destination:
                      host: gw.default.svc.cluster.local
                      port: {number: 9000}
                """),
            Service("gw", Block.Host(third, 20), 9000, 9000, "gw"),
            WorkloadEntry("gw-1", Block.Host(third, 12), "{app: gw}"),
        ];
        string[] serviceDocs = [Service("svc", Block.Host(third, 10), port, 9000, "svc"), WorkloadEntry("svc-1", Block.Host(third, 11), "{app: svc}")];
        await router.ApplyAsync(1, gatewayFirst ? gatewayDocs : serviceDocs);
        var both = await router.ApplyAsync(2, [.. gatewayDocs, .. serviceDocs]);
        Assert.Contains(both.Listeners, l => l.Address.ToString() == $"0.0.0.0:{port}");

        Assert.Equal("service one", (await TestClient.OneLineAsync(Block.Host(third, 30), Block.At(third, 10, port), "one")).Reply.Trim());
        Assert.Equal("gateway two", (await TestClient.OneLineAsync(Block.Host(third, 30), Block.At(third, 40, port), "two")).Reply.Trim());
        router.Node.Apply([], 3);
        await EventuallyAsync(async () => (await router.Node.ListenersAsync()).Count == 0 && await Refused(Block.At(third, 40, port)),
            "every listener unbound, 0.0.0.0:24204 free again");
    }

    [Fact]
    public async Task With_reuse_port_on_two_nodes_on_one_host_share_a_listener_address()
    {
        await using var pod = new EchoServer(Block.At(4, 11, 9000), "echo");
        const string on = "akkal4.data-plane.reuse-port = on";
        await using var first = TestRouter.Start("reuse-on-1", settings: on);
        await using var second = TestRouter.Start("reuse-on-2", settings: on);
        var vip = Block.At(4, 10, 19000);
        string[] docs = [Service("echo", vip.Address.ToString(), 19000, 9000, "echo"), WorkloadEntry("echo-1", Block.Host(4, 11), "{app: echo}")];
        await first.ApplyAsync(1, docs);
        await second.ApplyAsync(1, docs);
        // The kernel spreads new connections over the group: both nodes serve some of 40 (all on one: 2 in 2^40).
        for (var i = 0; i < 40; i++)
            Assert.Equal($"echo {i}", (await TestClient.OneLineAsync(Block.Host(4, 30), vip, $"{i}")).Reply.Trim());
        await EventuallyAsync(() => first.Log.Entries.Count + second.Log.Entries.Count == 40, "40 access-log entries");
        var (one, two) = (first.Log.Entries.Count, second.Log.Entries.Count);
        Assert.True(one > 0 && two > 0, $"both nodes served: {one} and {two}");
    }

    /// <summary>
    /// The socket transport's listener unbound while the kernel still holds a connection for it stays open until it has
    /// handed that over; meanwhile a second bind of its address fails (no SO_REUSEPORT), and <see cref="ITcpTransport.Closing"/>
    /// says when it can bind (what a listener bound again on its address waits for).
    /// </summary>
    [Fact]
    public async Task A_listener_closing_with_a_connection_queued_holds_its_address_until_it_has_handed_that_over()
    {
        using var system = ActorSystem.Create("reuse-closing", "akka.loglevel = ERROR");
        var transport = new SocketTransport(system.Scheduler);
        var at = Block.At(5, 10, 19000);
        var listener = new TaskProbe(system);
        var binding = transport.Listen(at, 16, listener.Ref, "init", "done", e => e, system.Log);
        Assert.Equal("init", await listener.Next<string>("init"));
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        client.Bind(Block.At(5, 30, 0));
        await client.ConnectAsync(at);
        Assert.Null(transport.Closing(Block.At(5, 11, 19000)));
        _ = binding.Unbind();
        var closing = transport.Closing(at);
        Assert.NotNull(closing);
        Assert.False(closing.IsCompleted, "the listener still holds a connection queued for it");
        var inUse = Assert.Throws<SocketException>(() => transport.Listen(at, 16, listener.Ref, "init", "done", e => e, system.Log));
        Assert.Equal(SocketError.AddressAlreadyInUse, inUse.SocketErrorCode);

        // Acked, it hands over the queued connection, then (acked again) closes.
        listener.Reply();
        (await listener.Next<TcpConnection>("the queued connection")).Close();
        listener.Reply();
        Assert.Equal("done", await listener.Next<string>("done"));
        await WithinAsync(closing.ContinueWith(_ => true), "the listener closed");
        Assert.Null(transport.Closing(at));
        var again = transport.Listen(at, 16, listener.Ref, "init", "done", e => e, system.Log);
        Assert.Equal("init", await listener.Next<string>("init"));
        // Acked, it waits in an accept, which its unbind ends at once.
        listener.Reply();
        await WithinAsync(again.Unbind().ContinueWith(_ => true), "the second listener unbound");
    }

    /// <summary>A theory only our own transport passes; skipped when the suite runs on the stock one (as <see cref="OwnTransportFact"/>).</summary>
    private sealed class OwnTransportTheory : TheoryAttribute
    {
        public OwnTransportTheory()
        {
            if (new OwnTransportFact().Skip is { } skip) Skip = skip;
        }
    }

    private static async Task<bool> Refused(IPEndPoint at) => await TestClient.TryConnectAsync(Block.Host(9, 1), at) is SocketError.ConnectionRefused;

    /// <summary>An actor reference that takes what it is told, one at a time, and answers the last sender when asked to.</summary>
    private sealed class TaskProbe
    {
        private readonly System.Threading.Channels.Channel<(object Message, IActorRef Sender)> _got = System.Threading.Channels.Channel.CreateUnbounded<(object, IActorRef)>();
        private IActorRef _last = ActorRefs.Nobody;

        public TaskProbe(ActorSystem system) => Ref = system.ActorOf(Props.Create(() => new Forward(_got.Writer)));

        public IActorRef Ref { get; }

        public async Task<T> Next<T>(object what)
        {
            var (message, sender) = await WithinAsync(_got.Reader.ReadAsync().AsTask(), $"{what}");
            _last = sender;
            return Assert.IsType<T>(message, exactMatch: false);
        }

        public void Reply() => _last.Tell("ack");

        private sealed class Forward : ReceiveActor
        {
            public Forward(System.Threading.Channels.ChannelWriter<(object, IActorRef)> to) => ReceiveAny(m => to.TryWrite((m, Sender)));
        }
    }
}
