using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Akka.Actor;
using Akka.Streams;
using Akka.Streams.Dsl;
using AkkaL4.Actors.DataPlane.Transport;
using AkkaL4.Tests.Support;
using static AkkaL4.Tests.DataPlane.Transport.AcceptPumpTests;

namespace AkkaL4.Tests.DataPlane.Transport;

/// <summary>
/// TCP_NODELAY on the socket transport's accepted sockets. Linux gives each accepted socket its listener's, so the listener
/// sets it once and an accept makes no setsockopt of its own (a system call per connection fewer: bench/README.md, session
/// 20); elsewhere each accepted socket sets it. Both accept paths: the pump (ListenerActor's) and the accept stream. Addresses
/// 127.228.1.x.
/// </summary>
[Trait("Category", TestCategories.EndToEnd)]
[Trait(TestCategories.TransportTrait, TestCategories.TransportNamed)]
public sealed class AcceptedNoDelayTests : IAsyncDisposable
{
    private static readonly AddressBlock Block = AddressBlocks.Of(228);
    private readonly ActorSystem _system = ActorSystem.Create("t", "akka.loglevel=WARNING");

    public async ValueTask DisposeAsync()
    {
        await _system.Terminate().WaitAsync(Patience);
        _system.Dispose();
    }

    [Fact]
    public async Task The_pump_listens_with_no_delay_and_its_accepted_sockets_have_it()
    {
        var at = Block.At(1, 1, 62801);
        var listener = new Recorder();
        listener.Actor = _system.ActorOf(Props.Create(() => new Forward(listener.Channel.Writer)));
        var pump = (AcceptPump)new SocketTransport(_system.Scheduler).Listen(at, 16, listener.Actor, new Init(), new Done(), e => new Failed(e),
            _system.Log);
        await listener.NextAsync<Init>();
        if (OperatingSystem.IsLinux()) Assert.True(pump.NoDelay, "the listening socket has no TCP_NODELAY for its accepted sockets to take");

        using var client = await ConnectAsync(at);
        pump.Tell(Ack.Instance);
        var accepted = await listener.NextAsync<TcpConnection>();
        Assert.True(accepted.Socket!.NoDelay, "an accepted socket without TCP_NODELAY: Nagle would hold the relay's small writes");
        accepted.Close();
    }

    [Fact]
    public async Task The_accept_streams_sockets_have_no_delay()
    {
        var at = Block.At(1, 2, 62802);
        var (bound, accepted) = new SocketTransport(_system.Scheduler).Bind(at, 16)
            .ToMaterialized(Sink.Queue<TcpConnection>(), Keep.Both).Run(_system.Materializer());
        await bound.WaitAsync(Patience);

        using var client = await ConnectAsync(at);
        var connection = await accepted.PullAsync().WaitAsync(Patience);
        Assert.True(connection.Value.Socket!.NoDelay, "an accepted socket without TCP_NODELAY: Nagle would hold the relay's small writes");
        connection.Value.Close();
    }

    private static async Task<Socket> ConnectAsync(IPEndPoint to)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.Bind(new IPEndPoint(IPAddress.Parse(Block.Host(1, 200)), 0));
            await socket.ConnectAsync(to).WaitAsync(Patience);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private sealed class Forward(ChannelWriter<object> to) : UntypedActor
    {
        protected override void OnReceive(object message) => to.TryWrite(message);
    }
}
