using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Akka.IO;
using AkkaL4.Actors.DataPlane;
using AkkaL4.Actors.DataPlane.Transport;
using AkkaL4.Tests.Support;
using static AkkaL4.Tests.DataPlane.Kit;
using static AkkaL4.Tests.DataPlane.Transport.TransportKit;

namespace AkkaL4.Tests.DataPlane.Transport;

/// <summary>
/// The socket transport's relay (Relays.Run with two sockets: perf11's SocketRelayStage) over real loopback
/// sockets on 127.121.2.x: partial sends with a preamble, and half-close while a send is pending. A gentle stop or idle
/// timeout while a send to a client that does not read is pending: StopWithSendPendingTests.
/// </summary>
[Trait("Category", "EndToEnd")]
[Trait(TestCategories.TransportTrait, TestCategories.TransportNamed)]
public sealed class RelayStopFlushTests
{
    private static IPEndPoint At(int host, int port) => new(IPAddress.Parse($"127.121.2.{host}"), port);

    /// <summary>A client wire, a backend wire and the socket relay between them, as a connection actor runs it.</summary>
    private static Task<Relayed> RelayAsync(int port, ByteString? preamble = null, int? clientReceiveBuffer = null) =>
        RelayKit.RelayAsync(TcpTransports.Sockets, At(1, port), At(2, port), "127.121.2.3", preamble, clientReceiveBuffer);

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
}
