using System.Net;
using System.Net.Sockets;
using Akka.IO;
using Akka.Streams.Dsl;
using AkkaL4.Actors.DataPlane;
using AkkaL4.Actors.DataPlane.Transport;
using static AkkaL4.Tests.DataPlane.Kit;
using static AkkaL4.Tests.DataPlane.Transport.TransportKit;

namespace AkkaL4.Tests.DataPlane.Transport;

/// <summary>A client wire, a backend wire and the relay between them, as a connection actor runs it (<see cref="RelayKit.RelayAsync"/>).</summary>
internal sealed record Relayed(Rig Rig, Wire Client, Wire Backend, RelayParts Parts, Task<RelayEnded> Ended) : IAsyncDisposable
{
    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        Backend.Dispose();
        await Rig.DisposeAsync();
    }
}

/// <summary>The relay tests' one set-up, over real loopback sockets, and what they wait for.</summary>
internal static class RelayKit
{
    /// <summary>
    /// The socket transport with the upstream handed over as a flow only (<see cref="SocketStage"/> on the dialled socket),
    /// so the relay is a <see cref="RelayStage"/> between two flows, as TLS origination runs it; with
    /// <see cref="TcpTransports.Sockets"/> both ends are sockets and the relay is the socket relay stage.
    /// </summary>
    public const string SocketStages = "socket-stages";

    /// <summary>
    /// A client on <paramref name="clientHost"/> connected to a relay listening on <paramref name="relayAt"/>, the relay's
    /// dial to a backend on <paramref name="backendAt"/>, and <see cref="Relays.Run"/> between the two connections.
    /// <paramref name="path"/> is a transport's name or <see cref="SocketStages"/>.
    /// </summary>
    public static async Task<Relayed> RelayAsync(string path, IPEndPoint relayAt, IPEndPoint backendAt, string clientHost,
        ByteString? preamble = null, int? clientReceiveBuffer = null, TimeSpan? idle = null, bool inlineCompletions = true)
    {
        var rig = new Rig(path == SocketStages ? TcpTransports.Sockets : path);
        using var backendListener = PlainListener(backendAt);
        var listener = await rig.BindAsync(relayAt);
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        if (clientReceiveBuffer is { } size) socket.ReceiveBufferSize = size;
        socket.Bind(new IPEndPoint(IPAddress.Parse(clientHost), 0));
        await socket.ConnectAsync(relayAt);
        var client = new Wire(socket);
        var accepted = await listener.AcceptAsync();
        var dial = rig.ConnectAsync(backendAt);
        var backend = new Wire(await WithinAsync(backendListener.AcceptAsync(), "the backend to accept"));
        var upstream = await WithinAsync(dial, "ConnectAsync to the backend");
        if (path == SocketStages)
        {
            var dialled = upstream.Socket!;
            upstream = new TcpConnection(null, upstream.Remote, () => Flow.FromGraph(new SocketStage(dialled)), dialled.Dispose,
                (into, cancel) => dialled.ReceiveAsync(into, SocketFlags.None, cancel));
        }
        var ended = new TaskCompletionSource<RelayEnded>(TaskCreationOptions.RunContinuationsAsynchronously);
        var parts = new RelayParts(idle, e => ended.TrySetResult(e), UpstreamPreamble: preamble);
        new Relays(rig.Materializer, 1, rig.System.Log, inlineCompletions).Run(accepted, upstream, parts);
        return new Relayed(rig, client, backend, parts, ended.Task);
    }

    /// <summary>Waits until the relay's count of bytes to the client has stopped moving (its send to the client is stuck).</summary>
    public static async Task StalledAsync(RelayParts parts)
    {
        long last = -1;
        var since = DateTime.UtcNow;
        await EventuallyAsync(() =>
        {
            var now = parts.Control.BytesToClient;
            if (now != last)
            {
                last = now;
                since = DateTime.UtcNow;
                return false;
            }
            return now > 0 && DateTime.UtcNow - since > TimeSpan.FromSeconds(1);
        }, "the relay's bytes to the client to stop moving");
    }
}
