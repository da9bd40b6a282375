using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Configuration;
using Akka.Streams.Dsl;
using AkkaL4.Actors;
using AkkaL4.Actors.DataPlane;
using AkkaL4.Actors.DataPlane.Transport;
using AkkaL4.Node.Echo;
using AkkaL4.Tests.Support;
using static AkkaL4.Tests.DataPlane.Kit;

namespace AkkaL4.Tests.DataPlane.Transport;

/// <summary>
/// review1-s14 R6: with reuse-port off (the default since 4cec741) a bind refused because the address is in use says what
/// to do when that is another node sharing it, in the listener's status (and the same text in the log line); R5: a listener
/// added back while its predecessor "still closes" waits at most one bind retry for it, then binds. 127.195.200.x, .201.x.
/// </summary>
[Trait("Category", TestCategories.EndToEnd)]
public sealed class ListenerBindHintTests
{
    private static readonly AddressBlock Block = AddressBlocks.Of(195);

    [OwnTransportFact]
    public async Task A_bind_refused_because_another_socket_holds_the_address_names_the_reuse_port_setting()
    {
        await using var pod = new EchoServer(Block.At(200, 11, 9000), "echo");
        await using var router = TestRouter.Start("bind-hint");
        var vip = Block.At(200, 10, 19000);
        // Another node of the host, as one before the upgrade or one with reuse-port on: its socket holds the address.
        using var other = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        other.Bind(vip);
        other.Listen(16);
        router.Node.Apply(Resources(Service("echo", vip.Address.ToString(), 19000, 9000, "echo"), WorkloadEntry("echo-1", Block.Host(200, 11), "{app: echo}")).ToList(), 1);
        string? error = null;
        await EventuallyAsync(async () => (error = (await router.Node.ListenersAsync()).SingleOrDefault()?.Error) is not null,
            "the listener reports its bind failure");
        Assert.Contains("in use by another process", error);
        Assert.Contains("akkal4.data-plane.reuse-port = on", error);

        // The address free again: the listener binds on its next retry and serves.
        other.Dispose();
        await EventuallyAsync(async () => (await router.Node.ListenersAsync()).All(l => l.Bound), "the listener bound once the address was free");
        Assert.Equal("echo hello", (await TestClient.OneLineAsync(Block.Host(200, 30), vip, "hello")).Reply.Trim());
    }

    [Fact]
    public async Task A_listener_added_back_binds_after_one_bind_retry_although_its_predecessor_never_says_it_closed()
    {
        await using var pod = new EchoServer(Block.At(201, 11, 9000), "echo");
        await using var transport = new StuckPredecessorTransport();
        await using var router = TestRouter.Start("bind-stuck", transport: transport);
        var vip = Block.At(201, 10, 19000);
        string[] docs = [Service("echo", vip.Address.ToString(), 19000, 9000, "echo"), WorkloadEntry("echo-1", Block.Host(201, 11), "{app: echo}")];
        await router.ApplyAsync(1, docs);
        Assert.Equal("echo one", (await TestClient.OneLineAsync(Block.Host(201, 30), vip, "one")).Reply.Trim());
        router.Node.Apply([], 2);
        await EventuallyAsync(async () => (await router.Node.ListenersAsync()).Count == 0 && await TestClient.TryConnectAsync(Block.Host(201, 31), vip) is SocketError.ConnectionRefused,
            "the listener removed and its socket closed");

        // Its predecessor (closed, in truth) still "closes" for ever: the new listener waits one bind retry (1 s), then binds.
        transport.Stuck = vip;
        router.Node.Apply(Resources(docs).ToList(), 3);
        await EventuallyAsync(async () => (await router.Node.ListenersAsync()) is [{ Bound: true }], "the listener added back bound within a bind retry and patience");
        Assert.True(transport.Asked > 0, "the listener asked whether its predecessor still closes");
        Assert.Equal("echo two", (await TestClient.OneLineAsync(Block.Host(201, 30), vip, "two")).Reply.Trim());
    }

    /// <summary>The node's own transport, but one address's previous listener is said to close for ever once <see cref="Stuck"/>.</summary>
    private sealed class StuckPredecessorTransport : ITcpTransport, IAsyncDisposable
    {
        private readonly ActorSystem _system = ActorSystem.Create("stuck-predecessor-transport", "akka.loglevel = ERROR");
        private readonly ITcpTransport _inner;
        private readonly TaskCompletionSource _never = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _asked;

        public StuckPredecessorTransport() =>
            _inner = TcpTransports.Create(_system, DataPlaneSettings.From(ConfigurationFactory.ParseString(RouterNode.BuiltInHocon())).Transport);

        public volatile IPEndPoint? Stuck;

        public int Asked => Volatile.Read(ref _asked);

        public Source<TcpConnection, Task<IListenerBinding>> Bind(IPEndPoint address, int backlog) => _inner.Bind(address, backlog);

        public Source<TcpConnection, Task<IListenerBinding>> Bind(IPEndPoint address, int backlog, Action overflowed, bool reusePort) =>
            _inner.Bind(address, backlog, overflowed, reusePort);

        public Task? Closing(IPEndPoint address)
        {
            if (Stuck is not { } stuck || !stuck.Equals(address)) return _inner.Closing(address);
            Interlocked.Increment(ref _asked);
            return _never.Task;
        }

        public void Connect(EndPoint remote, ConnectOptions options, ConnectAttempt attempt) => _inner.Connect(remote, options, attempt);

        public async ValueTask DisposeAsync() => await _system.Terminate();
    }
}
