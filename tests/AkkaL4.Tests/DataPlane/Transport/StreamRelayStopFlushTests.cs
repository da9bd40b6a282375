using System.Net;
using System.Net.Sockets;
using Akka.Streams.Dsl;
using AkkaL4.Actors.DataPlane;
using AkkaL4.Actors.DataPlane.Transport;
using Xunit.Abstractions;
using static AkkaL4.Tests.DataPlane.Kit;
using static AkkaL4.Tests.DataPlane.Transport.RelayStopFlushTests;
using static AkkaL4.Tests.DataPlane.Transport.TransportKit;

namespace AkkaL4.Tests.DataPlane.Transport;

/// <summary>
/// RelayStopFlushTests' stop cases on the relay's other path, <see cref="RelayStage"/> between two flows, over real loopback
/// sockets on 127.200.100.x, with <see cref="SocketStage"/> on the client's side (as TLS origination runs the socket
/// transport's client). A gentle stop or idle timeout while the send to a client that never reads is pending must still
/// close the client's socket (bounded by the flush deadline, then reset). The stock transport's Akka.IO flows:
/// StopWithSendPendingTests.
/// </summary>
[Trait("Category", "EndToEnd")]
public sealed class StreamRelayStopFlushTests(ITestOutputHelper output)
{
    private static IPEndPoint At(int host, int port) => new(IPAddress.Parse($"127.200.100.{host}"), port);

    /// <summary>SocketStage on both sides: the upstream is handed over as a flow only, so the relay is a RelayStage.</summary>
    public const string SocketStages = "socket-stages";

    [Theory]
    [InlineData(SocketStages, false, 62210)]
    [InlineData(SocketStages, true, 62211)]
    public async Task A_stop_or_idle_timeout_while_a_send_to_a_client_that_never_reads_is_pending_still_closes_the_client_socket(string path, bool idle, int port)
    {
        await using var rig = new Rig(path == SocketStages ? TcpTransports.Sockets : path);
        var relayAt = At(1, port);
        var backendAt = At(2, port);
        using var backendListener = PlainListener(backendAt);
        var listener = await rig.BindAsync(relayAt);
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true, ReceiveBufferSize = 16 << 10 };
        socket.Bind(new IPEndPoint(IPAddress.Parse("127.200.100.3"), 0));
        await socket.ConnectAsync(relayAt);
        using var client = new Wire(socket);
        var accepted = await listener.AcceptAsync();
        var dial = rig.ConnectAsync(backendAt);
        using var backend = new Wire(await WithinAsync(backendListener.AcceptAsync(), "the backend to accept"));
        var upstream = await WithinAsync(dial, "ConnectAsync to the backend");
        if (path == SocketStages)
        {
            var dialled = upstream.Socket!;
            upstream = new TcpConnection(null, upstream.Remote, () => Flow.FromGraph(new SocketStage(dialled)), dialled.Dispose,
                (into, cancel) => dialled.ReceiveAsync(into, SocketFlags.None, cancel));
        }
        var ended = new TaskCompletionSource<RelayEnded>(TaskCreationOptions.RunContinuationsAsynchronously);
        var parts = new RelayParts(idle ? TimeSpan.FromSeconds(2) : null, e => ended.TrySetResult(e));
        new Relays(rig.Materializer, 1, rig.System.Log).Run(accepted, upstream, parts);

        using var stop = new CancellationTokenSource();
        var sending = backend.SendAsync(new byte[32 << 20], stop.Token);
        await StalledAsync(parts);
        if (!idle) parts.Control.Stop(null);

        output.WriteLine($"ended: {await WithinAsync(ended.Task, "RelayEnded")}; {parts.Control.BytesToClient} bytes to the client");
        await EventuallyAsync(() => !Established(relayAt, client.Local),
            "the relay's socket to the client that never reads to be closed after the relay reported its end", TimeSpan.FromSeconds(20));
        stop.Cancel();
        await SettledAsync(sending, "the backend's send");
    }
}
