using System.Net;
using System.Net.Sockets;
using AkkaL4.Actors.DataPlane;
using AkkaL4.Actors.DataPlane.Transport;
using AkkaL4.Tests.Support;
using Xunit.Abstractions;
using static AkkaL4.Tests.DataPlane.Kit;
using static AkkaL4.Tests.DataPlane.Transport.RelayKit;
using static AkkaL4.Tests.DataPlane.Transport.TransportKit;

namespace AkkaL4.Tests.DataPlane.Transport;

/// <summary>
/// A relay's gentle stop (max duration, the drain timeout) or idle timeout while its send to a client that never reads
/// is pending, over real loopback sockets (127.171.1.x): both of the relay's sockets must be let go of within the flush
/// deadline (then they are reset), or a client that stops reading holds two of the node's descriptors and the bytes pending
/// for ever, past every timeout meant to reclaim them (review1-s11 #1). On every path a relay runs: the socket relay stage
/// (socket transport), <see cref="RelayStage"/> between a socket and a flow (TLS origination's), and Akka.IO's flows (stock
/// transport: there they were held for ever, TcpConnection.Reset did nothing to Akka.IO's connections, dp14-reset's
/// finding). Each row names its path, so AKKAL4_TRANSPORT changes nothing here.
/// </summary>
[Trait("Category", "EndToEnd")]
[Trait(TestCategories.TransportTrait, TestCategories.TransportNamed)]
public sealed class StopWithSendPendingTests(ITestOutputHelper output)
{
    private static readonly AddressBlock Block = AddressBlocks.Of(171);

    [Theory]
    [InlineData(TcpTransports.Sockets, false, 62301)]
    [InlineData(TcpTransports.Sockets, true, 62302)]
    [InlineData(TcpTransports.AkkaStreams, false, 62303)]
    [InlineData(TcpTransports.AkkaStreams, true, 62304)]
    [InlineData(SocketStages, false, 62305)]
    [InlineData(SocketStages, true, 62306)]
    public async Task A_stop_or_idle_timeout_while_a_send_to_a_client_that_never_reads_is_pending_closes_both_sockets(string path, bool idle, int port)
    {
        var (relayAt, backendAt) = (Block.At(1, 1, port), Block.At(1, 2, port));
        await using var r = await RelayAsync(path, relayAt, backendAt, Block.Host(1, 3), clientReceiveBuffer: 16 << 10,
            idle: idle ? TimeSpan.FromSeconds(2) : null);
        using var stop = new CancellationTokenSource();
        var sending = r.Backend.SendAsync(new byte[32 << 20], stop.Token);
        await StalledAsync(r.Parts);
        if (!idle) r.Parts.Control.Stop(null);

        output.WriteLine($"ended: {await WithinAsync(r.Ended, "RelayEnded")}; {r.Parts.Control.BytesToClient} bytes to the client");
        // The flush deadline is 5 s: well within 20.
        await EventuallyAsync(() => Task.FromResult(Held(relayAt, r.Client.Local) is null && Held(r.Backend.Remote, backendAt) is null),
            () => $"both of the relay's sockets closed after it reported its end (to the client: {Held(relayAt, r.Client.Local)}, "
                  + $"to the backend: {Held(r.Backend.Remote, backendAt)})", TimeSpan.FromSeconds(20));
        stop.Cancel();
        await SettledAsync(sending, "the backend's send");
    }
}

/// <summary>
/// <see cref="StopWithSendPendingTests"/> end to end through a node, on 127.209.2.x, on the transport of this run (CI runs
/// it on both).
/// </summary>
[Trait("Category", "EndToEnd")]
public sealed class NodeStopWithSendPendingTests(ITestOutputHelper output)
{
    private static readonly AddressBlock Block = AddressBlocks.Of(209);

    /// <summary>
    /// A node's relay, ended by maxConnectionDuration
    /// or by the drain timeout while its upstream has sent far more than a client that never reads takes, lets go of both
    /// of its sockets within the flush deadline.
    /// </summary>
    [Theory]
    [InlineData(false, 1)]
    [InlineData(true, 2)]
    public async Task A_node_lets_go_of_a_connection_to_a_client_that_never_reads_once_its_max_duration_or_the_drain_ends_it(bool drain, int n)
    {
        var service = Block.At(2, n, 19000);
        var podAt = Block.At(2, 10 + n, 9000);
        await using var pod = new Flood(podAt);
        await using var router = TestRouter.Start("stop-pending-" + n);
        await router.ApplyAsync(1,
            Service("flood", service.Address.ToString(), 19000, 9000),
            WorkloadEntry("flood-pod", podAt.Address.ToString(), "{app: flood}"),
            TrafficPolicy("flood", drain ? "{connectionPool: {tcp: {idleTimeout: 1h}}}" : "{connectionPool: {tcp: {maxConnectionDuration: 3s, idleTimeout: 1h}}}"));

        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 16 << 10 };
        client.Bind(new IPEndPoint(IPAddress.Parse(Block.Host(2, 30)), 0));
        await client.ConnectAsync(service);
        var clientAt = (IPEndPoint)client.LocalEndPoint!;
        var upstream = await WithinAsync(pod.Connected, "the upstream's connection");
        // Flooding the client, which never reads: every buffer on the way fills, and the node's send to it is stuck.
        await pod.StalledAsync();
        if (drain) await router.Node.DrainAsync(TimeSpan.FromSeconds(1));

        var entry = await router.Log.WaitAsync(e => e.Source == clientAt.ToString(), "the connection's access-log line", TimeSpan.FromSeconds(30));
        output.WriteLine($"{entry.Flags} {entry.Detail}: {entry.BytesSent} bytes sent to the client, {pod.Sent} from the upstream");
        await EventuallyAsync(() => Task.FromResult(Held(service, clientAt) is null && Held(upstream, podAt) is null),
            () => $"both of the node's sockets closed after the access log's line (to the client: {Held(service, clientAt)}, "
                  + $"to the upstream: {Held(upstream, podAt)})", TimeSpan.FromSeconds(20));
    }

    /// <summary>An upstream that sends to its one connection until it fails (the relay reset or closed it).</summary>
    private sealed class Flood : IAsyncDisposable
    {
        private readonly Socket _listener;
        private readonly TaskCompletionSource<IPEndPoint> _connected = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly Task _sending;
        private Socket? _accepted;
        private long _sent;

        public Flood(IPEndPoint at)
        {
            _listener = PlainListener(at);
            _sending = Task.Run(async () =>
            {
                try
                {
                    var socket = await _listener.AcceptAsync();
                    Volatile.Write(ref _accepted, socket);
                    _connected.TrySetResult((IPEndPoint)socket.RemoteEndPoint!);
                    var chunk = new byte[64 << 10];
                    while (true) Interlocked.Add(ref _sent, await socket.SendAsync(chunk, SocketFlags.None));
                }
                catch (Exception e) when (e is SocketException or ObjectDisposedException)
                {
                    // Closed or reset by the relay, or the test is over.
                }
            });
        }

        /// <summary>The relay's end of the upstream connection (its address as the upstream sees it).</summary>
        public Task<IPEndPoint> Connected => _connected.Task;

        public long Sent => Interlocked.Read(ref _sent);

        /// <summary>Waits until the upstream has sent something and then nothing more for a second: every buffer is full.</summary>
        public async Task StalledAsync()
        {
            long last = -1;
            var since = DateTime.UtcNow;
            await EventuallyAsync(() =>
            {
                var now = Sent;
                if (now != last)
                {
                    (last, since) = (now, DateTime.UtcNow);
                    return false;
                }
                return now > 0 && DateTime.UtcNow - since > TimeSpan.FromSeconds(1);
            }, "the upstream's sending to stall");
        }

        public async ValueTask DisposeAsync()
        {
            _listener.Dispose();
            Volatile.Read(ref _accepted)?.Dispose();
            await SettledAsync(_sending, "the upstream's sending");
        }
    }
}
