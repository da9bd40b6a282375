using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Security.Cryptography;
using Akka.IO;
using AkkaL4.Actors.DataPlane;
using AkkaL4.Actors.DataPlane.Transport;
using Xunit.Abstractions;
using static AkkaL4.Tests.DataPlane.Kit;
using static AkkaL4.Tests.DataPlane.Transport.TransportKit;

namespace AkkaL4.Tests.DataPlane.Transport;

/// <summary>
/// The socket transport's relay (Relays.Run with two sockets: perf11's SocketRelayStage) over real loopback
/// sockets on 127.121.2.x: partial sends with a preamble, half-close while a send is pending, and a gentle stop or idle
/// timeout while a send to a client that does not read is pending (review1-s11 #1: bounded by a flush deadline, then reset).
/// </summary>
[Trait("Category", "EndToEnd")]
public sealed class RelayStopFlushTests(ITestOutputHelper output)
{
    private static IPEndPoint At(int host, int port) => new(IPAddress.Parse($"127.121.2.{host}"), port);

    private sealed record Relayed(Rig Rig, Wire Client, Wire Backend, TcpConnection Accepted, RelayParts Parts, Task<RelayEnded> Ended) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            Client.Dispose();
            Backend.Dispose();
            await Rig.DisposeAsync();
        }
    }

    /// <summary>A client wire, a backend wire and the relay between them, as a connection actor runs it.</summary>
    private static async Task<Relayed> RelayAsync(int port, ByteString? preamble = null, int? clientReceiveBuffer = null, TimeSpan? idle = null)
    {
        var rig = new Rig(TcpTransports.Sockets);
        var relayAt = At(1, port);
        var backendAt = At(2, port);
        using var backendListener = PlainListener(backendAt);
        var listener = await rig.BindAsync(relayAt);
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        if (clientReceiveBuffer is { } size) socket.ReceiveBufferSize = size;
        socket.Bind(new IPEndPoint(IPAddress.Parse("127.121.2.3"), 0));
        await socket.ConnectAsync(relayAt);
        var client = new Wire(socket);
        var accepted = await listener.AcceptAsync();
        var dial = rig.ConnectAsync(backendAt);
        var backend = new Wire(await WithinAsync(backendListener.AcceptAsync(), "the backend to accept"));
        var upstream = await WithinAsync(dial, "ConnectAsync to the backend");
        var ended = new TaskCompletionSource<RelayEnded>(TaskCreationOptions.RunContinuationsAsynchronously);
        var parts = new RelayParts(idle, e => ended.TrySetResult(e), UpstreamPreamble: preamble);
        new Relays(rig.Materializer, 1, rig.System.Log).Run(accepted, upstream, parts);
        return new Relayed(rig, client, backend, accepted, parts, ended.Task);
    }

    /// <summary>Whether the kernel still has an established connection between the relay's address and the client's.</summary>
    internal static bool Established(IPEndPoint relay, IPEndPoint client) =>
        IPGlobalProperties.GetIPGlobalProperties().GetActiveTcpConnections().Any(c =>
            c.State == TcpState.Established && Plain(c.LocalEndPoint).Equals(relay) && Plain(c.RemoteEndPoint).Equals(client));

    /// <summary>Waits until the relay's count of bytes to the client has stopped moving (its send to the client is stuck).</summary>
    internal static async Task StalledAsync(RelayParts parts)
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

    [Fact]
    public async Task A_preamble_larger_than_the_socket_buffers_goes_first_then_the_clients_bytes_then_its_FIN()
    {
        var preamble = Pattern(8 << 20, 1);
        var fromClient = Pattern(3 << 20, 2);
        await using var r = await RelayAsync(62190, ByteString.FromBytes(preamble));

        // The client sends everything and half-closes at once, while the preamble is still being written.
        await r.Client.SendAsync(fromClient);
        r.Client.ShutdownSend();
        var (received, reset) = await r.Backend.ReadToEndAsync();

        Assert.False(reset, "the backend's side was reset");
        AssertSameBytes([.. preamble, .. fromClient], received);

        // The other direction still flows after the client's FIN, and ends with the backend's.
        await r.Backend.SendAsync("bye");
        r.Backend.ShutdownSend();
        var (reply, clientReset) = await r.Client.ReadToEndAsync();
        Assert.False(clientReset);
        Assert.Equal("bye", System.Text.Encoding.ASCII.GetString(reply));
        var ended = await WithinAsync(r.Ended, "RelayEnded");
        Assert.Null(ended.First.Failure);
        Assert.Null(ended.Second.Failure);
        Assert.Equal(fromClient.Length, r.Parts.Control.BytesFromClient);
        Assert.Equal(3, r.Parts.Control.BytesToClient);
    }

    [Fact]
    public async Task Both_ways_at_once_with_slow_readers_and_a_half_close_mid_stream_arrive_intact()
    {
        const int size = 24 << 20;
        var up = Pattern(size, 3);
        var down = Pattern(size, 4);
        await using var r = await RelayAsync(62191, clientReceiveBuffer: 32 << 10);

        // Each end reads slowly at first (sends to it pile up and go asynchronous), while it sends its own bulk.
        async Task<byte[]> SlowThenAll(Wire wire)
        {
            var got = new MemoryStream();
            var buffer = new byte[7919];
            for (var i = 0; i < 200; i++)
            {
                var n = await wire.Socket.ReceiveAsync(buffer, SocketFlags.None);
                if (n == 0) return got.ToArray();
                got.Write(buffer, 0, n);
                if (i % 20 == 0) await Task.Delay(5);
            }
            var (rest, reset) = await wire.ReadToEndAsync();
            Assert.False(reset, "reset while reading");
            got.Write(rest);
            return got.ToArray();
        }
        var clientReads = SlowThenAll(r.Client);
        var backendReads = SlowThenAll(r.Backend);
        var clientSends = Task.Run(async () => { await r.Client.SendAsync(up); r.Client.ShutdownSend(); });
        var backendSends = Task.Run(async () => { await r.Backend.SendAsync(down); r.Backend.ShutdownSend(); });

        await Task.WhenAll(clientSends, backendSends).WaitAsync(TimeSpan.FromMinutes(2));
        var atBackend = await WithinAsync(backendReads, "the backend's reads", TimeSpan.FromMinutes(2));
        var atClient = await WithinAsync(clientReads, "the client's reads", TimeSpan.FromMinutes(2));

        Assert.Equal(SHA256.HashData(up), SHA256.HashData(atBackend));
        Assert.Equal(SHA256.HashData(down), SHA256.HashData(atClient));
        var ended = await WithinAsync(r.Ended, "RelayEnded");
        Assert.Null(ended.First.Failure);
        Assert.Null(ended.Second.Failure);
        Assert.Equal(size, r.Parts.Control.BytesFromClient);
        Assert.Equal(size, r.Parts.Control.BytesToClient);
    }

    /// <summary>
    /// A graceful stop (max duration, the drain timeout) or the idle timeout, while the relay's send to a client that
    /// never reads is pending: the relay reports the connection ended at once (the connection actor stops, the access log
    /// line is written), but the sockets stay open until the send completes, which is never: a client can hold the node's
    /// descriptors (two per connection) and a pooled 64 KiB buffer for ever, past every timeout meant to reclaim them.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_stop_or_idle_timeout_while_a_send_to_a_client_that_never_reads_is_pending_still_closes_the_client_socket(bool idle)
    {
        var port = idle ? 62194 : 62193;
        await using var r = await RelayAsync(port, clientReceiveBuffer: 16 << 10, idle: idle ? TimeSpan.FromSeconds(2) : null);
        var clientAt = r.Client.Local;
        using var stop = new CancellationTokenSource();
        var sending = r.Backend.SendAsync(new byte[32 << 20], stop.Token);
        await StalledAsync(r.Parts);

        if (!idle) r.Parts.Control.Stop(null);

        var ended = await WithinAsync(r.Ended, "RelayEnded");
        output.WriteLine($"ended: {ended}; {r.Parts.Control.BytesToClient} bytes to the client");
        await EventuallyAsync(() => !Established(At(1, port), clientAt),
            "the relay's socket to the client that never reads to be closed after the relay reported its end", TimeSpan.FromSeconds(20));
        stop.Cancel();
        await SettledAsync(sending, "the backend's send");
    }
}
