using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Akka.Actor;
using Akka.Event;
using AkkaL4.Actors.DataPlane.Transport;
using AkkaL4.Tests.Support;

namespace AkkaL4.Tests.DataPlane.Transport;

/// <summary>
/// The socket transport's production accept path, <see cref="AcceptPump"/> (<see cref="IDirectAccept.Listen"/>, as
/// ListenerActor uses it), driven as ListenerActor drives it: each ack asks for one connection. Addresses 127.202.1.x.
/// </summary>
[Trait("Category", TestCategories.EndToEnd)]
[Trait(TestCategories.TransportTrait, TestCategories.TransportNamed)]
public sealed class AcceptPumpTests : IAsyncDisposable
{
    private static readonly AddressBlock Block = AddressBlocks.Of(202);
    private readonly ActorSystem _system = ActorSystem.Create("t", "akka.loglevel=WARNING");

    public async ValueTask DisposeAsync()
    {
        await _system.Terminate().WaitAsync(Patience);
        _system.Dispose();
    }

    [Fact]
    public async Task Unbinding_hands_over_every_connection_the_kernel_had_queued_then_refuses_and_disposes_its_args()
    {
        var at = Block.At(1, 1, 62301);
        var (pump, listener) = Listen(at);
        await listener.NextAsync<Init>();
        var clients = new List<Socket>();
        try
        {
            for (var i = 0; i < 3; i++) clients.Add(await ConnectAsync(at));
            pump.Tell(Ack.Instance);
            var accepted = new List<TcpConnection> { await listener.NextAsync<TcpConnection>() };

            // Two still queued in the kernel: closing the socket now would reset them.
            var unbound = pump.Unbind();
            while (true)
            {
                pump.Tell(Ack.Instance);
                var next = await listener.NextAsync<object>();
                if (next is Done) break;
                accepted.Add(Assert.IsType<TcpConnection>(next));
            }
            await unbound.WaitAsync(Patience);

            Assert.Equal(3, accepted.Count);
            var refused = await Assert.ThrowsAsync<SocketException>(() => ConnectAsync(at));
            Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
            // Every queued client was handed over, none reset: each one's bytes reach it.
            for (var i = 0; i < accepted.Count; i++)
            {
                var peer = clients.Single(c => c.LocalEndPoint!.Equals(accepted[i].Remote));
                accepted[i].Socket!.Send([(byte)i]);
                var buffer = new byte[1];
                Assert.Equal(1, await peer.ReceiveAsync(buffer).WaitAsync(Patience));
                accepted[i].Close();
            }
            Assert.True(pump.ArgsDisposed, "the ended pump's accept args were left to the finalizer");
        }
        finally
        {
            foreach (var client in clients) client.Dispose();
        }
    }

    [Fact]
    public async Task Unbinding_with_an_accept_in_flight_ends_the_pump_and_its_accept_disposes_the_args()
    {
        var at = Block.At(1, 2, 62302);
        var (pump, listener) = Listen(at);
        await listener.NextAsync<Init>();
        // Nothing queued: this accept waits.
        pump.Tell(Ack.Instance);
        await EventuallyAsync(() => pump.AcceptInFlight, "the accept is in flight");

        await pump.Unbind().WaitAsync(Patience);

        await listener.NextAsync<Done>();
        await EventuallyAsync(() => pump.ArgsDisposed, "the aborted accept's completion disposes the args");
        var refused = await Assert.ThrowsAsync<SocketException>(() => ConnectAsync(at));
        Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
    }

    [Fact]
    public async Task A_listener_that_stops_ends_the_pump_its_socket_closed_and_its_args_disposed()
    {
        var at = Block.At(1, 3, 62303);
        var (pump, listener) = Listen(at);
        await listener.NextAsync<Init>();

        _system.Stop(listener.Actor);

        await EventuallyAsync(() => pump.ArgsDisposed, "the pump ends when its listener stops and disposes its args");
        var refused = await Assert.ThrowsAsync<SocketException>(() => ConnectAsync(at));
        Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
    }

    private (AcceptPump Pump, Recorder Listener) Listen(IPEndPoint at)
    {
        var recorder = new Recorder();
        recorder.Actor = _system.ActorOf(Props.Create(() => new Recording(recorder.Channel.Writer)));
        var pump = (AcceptPump)new SocketTransport(_system.Scheduler).Listen(at, 16, recorder.Actor, new Init(), new Done(), e => new Failed(e),
            _system.Log);
        return (pump, recorder);
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

    internal sealed record Init;
    internal sealed record Done;
    internal sealed record Failed(Exception Cause);

    internal sealed class Ack
    {
        public static readonly Ack Instance = new();
    }

    /// <summary>The listener's side: what the pump told it, in order.</summary>
    internal sealed class Recorder
    {
        public Channel<object> Channel { get; } = System.Threading.Channels.Channel.CreateUnbounded<object>();
        public IActorRef Actor { get; set; } = ActorRefs.Nobody;

        public async Task<T> NextAsync<T>()
        {
            using var deadline = new CancellationTokenSource(Patience);
            var next = await Channel.Reader.ReadAsync(deadline.Token);
            return next is T t ? t : throw new Xunit.Sdk.XunitException($"expected {typeof(T).Name} from the pump, got {next}");
        }
    }

    private sealed class Recording(ChannelWriter<object> to) : UntypedActor
    {
        protected override void OnReceive(object message) => to.TryWrite(message);
    }
}
