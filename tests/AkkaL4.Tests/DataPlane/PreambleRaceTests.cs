using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Akka;
using Akka.Actor;
using Akka.Configuration;
using Akka.Streams.Dsl;
using AkkaL4.Actors;
using AkkaL4.Actors.DataPlane;
using AkkaL4.Actors.DataPlane.Transport;
using AkkaL4.Tests.Support;
using static AkkaL4.Tests.DataPlane.Kit;

namespace AkkaL4.Tests.DataPlane;

/// <summary>
/// A mesh listener that routes by SNI goes on without one at preamble-timeout. The read of the ClientHello in flight
/// then may still take the client's next bytes off the socket (its cancellation came too late): they must reach the
/// upstream, first and in order, and nothing else may read the socket meanwhile. On whichever transport the suite runs
/// (AKKAL4_TRANSPORT). A client that fails or closes while that read is in flight is gone: nothing is dialled for it.
/// Addresses: 127.150.1.x, 127.150.2.x, 127.200.1.x, 127.200.2.x, 127.200.4.x and 127.200.5.x.
/// </summary>
[Trait("Category", "EndToEnd")]
public sealed class PreambleRaceTests
{
    private const string Client = "127.150.1.100";
    private static readonly byte[] PartialHello = [22, 3];

    /// <summary>A mesh Service on <paramref name="ip"/>:9443 whose tls rule wants an SNI and whose tcp rule takes the rest to the upstream.</summary>
    private static string[] Manifests(string ip, string upstream) =>
    [
        Service("race", ip, 9443, 9000, "race-upstream"),
        WorkloadEntry("race-upstream", upstream, "{app: race-upstream}"),
        VirtualService("race", "default", """
            hosts: [race, race.example.com]
            tls:
            - match: [{sniHosts: [race.example.com]}]
              route: [{destination: {host: race, port: {number: 9443}}}]
            tcp:
            - route: [{destination: {host: race, port: {number: 9443}}}]
            """),
    ];

    [Fact]
    public async Task A_read_that_takes_bytes_after_the_preamble_timed_out_sends_them_upstream_before_the_rest()
    {
        // The read's cancellation comes too late every time (as when the kernel hands it bytes at that moment).
        await using var transport = new LateCancelTransport();
        await using var upstream = new RecordingUpstream(At("127.150.1.10", 9000));
        await using var router = TestRouter.Start("race", settings: "akkal4.data-plane.preamble-timeout = 100ms", transport: transport);
        await router.ApplyAsync(1, Manifests("127.150.1.2", "127.150.1.10"));

        for (var i = 0; i < 2; i++)
        {
            var timeouts = router.Metrics["envoy_listener_downstream_pre_cx_timeout"];
            await using var client = await TestClient.ConnectAsync(Client, At("127.150.1.2", 9443));
            await client.SendAsync(PartialHello);
            await router.Metrics.WaitForAsync("envoy_listener_downstream_pre_cx_timeout", timeouts + 1);
            // A node that goes on at once has dialled the upstream by now and relays; one that waits for the read has not
            // (and waits out this bound). Either way the bytes sent next land in the read still in flight first.
            var accepted = upstream.Accepted;
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(1);
            while (upstream.Accepted == accepted && DateTime.UtcNow < deadline) await Task.Delay(10);

            var payload = Pattern(i, 32 * 1024);
            await client.SendAsync(payload);
            client.ShutdownSend();
            await client.ReadToCloseAsync();
            AssertSame([.. PartialHello, .. payload], await upstream.NextAsync(), $"connection {i}");
            var entry = await router.Log.ForAsync(client.Id);
            Assert.Equal(ResponseFlags.None, entry.Flags); // routed by the tcp rule, as Envoy goes on after a listener filter's timeout
            Assert.Equal(PartialHello.Length + payload.Length, entry.BytesReceived);
        }
    }

    [Fact]
    public async Task Bytes_sent_as_the_preamble_times_out_all_reach_the_upstream_in_order()
    {
        // Real cancellation, real timing: the client's bytes come around the timeout, in small writes, connection after connection.
        await using var upstream = new RecordingUpstream(At("127.150.2.10", 9000));
        await using var router = TestRouter.Start("race", settings: "akkal4.data-plane.preamble-timeout = 20ms");
        await router.ApplyAsync(1, Manifests("127.150.2.2", "127.150.2.10"));
        var random = new Random(150);
        for (var i = 0; i < 40; i++)
        {
            await using var client = await TestClient.ConnectAsync("127.150.2.100", At("127.150.2.2", 9443));
            await client.SendAsync(PartialHello);
            await Task.Delay(random.Next(10, 30));
            var payload = Pattern(i, 4096);
            for (var sent = 0; sent < payload.Length; sent += 256)
            {
                await client.SendAsync(payload.AsMemory(sent, 256));
                if (random.Next(4) == 0) await Task.Delay(1);
            }
            client.ShutdownSend();
            await client.ReadToCloseAsync();
            AssertSame([.. PartialHello, .. payload], await upstream.NextAsync(), $"connection {i}");
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_client_that_fails_or_closes_after_the_preamble_timed_out_is_ended_without_dialling(bool reset)
    {
        // The read in flight at the timeout (cancellation ignored, as when it comes too late) ends with the client's RST or FIN.
        var block = AddressBlocks.Of(200);
        var third = reset ? 1 : 2;
        await using var transport = new LateCancelTransport();
        await using var upstream = new RecordingUpstream(block.At(third, 10, 9000));
        await using var router = TestRouter.Start("ended", settings: "akkal4.data-plane.preamble-timeout = 100ms", transport: transport);
        await router.ApplyAsync(1, Manifests(block.Host(third, 2), block.Host(third, 10)));

        await using var client = await TestClient.ConnectAsync(block.Host(third, 100), block.At(third, 2, 9443));
        await client.SendAsync(PartialHello);
        await router.Metrics.WaitForAsync("envoy_listener_downstream_pre_cx_timeout", 1);
        if (reset) client.Reset();
        else
        {
            client.ShutdownSend();
            Assert.True((await client.ReadToCloseAsync()).NoData, "the node sent the client something");
        }

        var entry = await router.Log.ForAsync(client.Id);
        Assert.Equal(ResponseFlags.PreambleTimeout, entry.Flags);
        Assert.Null(entry.Upstream);
        Assert.Null(entry.Cluster);
        Assert.StartsWith("no ClientHello within", entry.Detail);
        Assert.Contains(reset ? "then the client's connection failed" : "then the client closed", entry.Detail);
        Assert.Equal(0L, router.Metrics["envoy_cluster_upstream_cx_total"]);
        Assert.Equal(0, upstream.Accepted);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_client_that_half_closes_having_sent_nothing_is_routed_before_and_after_the_preamble_timeout_alike(bool afterTimeout)
    {
        // `nc -N host port </dev/null` to a server-first service: a FIN is a half-close, the client still reads. Before the
        // timeout it is no TLS client and the tcp rule routes it; after it (the read in flight ends with that FIN) it is a
        // timed-out one, routed likewise. Counted once, either way. The upstream answers after the FIN: one direction closed,
        // the other still carries it to the client.
        var block = AddressBlocks.Of(200);
        var third = afterTimeout ? 5 : 4;
        await using var transport = new LateCancelTransport();
        await using var upstream = new RecordingUpstream(block.At(third, 10, 9000), answer: "after your FIN\n"u8.ToArray());
        await using var router = TestRouter.Start("half-close", settings: $"akkal4.data-plane.preamble-timeout = {(afterTimeout ? "100ms" : "30s")}", transport: transport);
        await router.ApplyAsync(1, Manifests(block.Host(third, 2), block.Host(third, 10)));

        await using var client = await TestClient.ConnectAsync(block.Host(third, 100), block.At(third, 2, 9443));
        if (afterTimeout) await router.Metrics.WaitForAsync("envoy_listener_downstream_pre_cx_timeout", 1);
        client.ShutdownSend();
        // Routed: the upstream gets the connection and the FIN, and its answer and close come back.
        Assert.Empty(await upstream.NextAsync());
        var end = await client.ReadToCloseAsync();
        Assert.False(end.Reset, "the connection was reset");
        Assert.Equal("after your FIN\n", end.Text);
        var entry = await router.Log.ForAsync(client.Id);
        Assert.NotNull(entry.Upstream);
        Assert.Equal(ResponseFlags.None, entry.Flags);
        Assert.Equal(1, upstream.Accepted);
        Assert.Equal(afterTimeout ? 1 : 0, router.Metrics["envoy_listener_downstream_pre_cx_timeout"]);
        Assert.Equal(afterTimeout ? 0 : 1, router.Metrics["envoy_tls_inspector_tls_not_found"]);
    }

    private static byte[] Pattern(int seed, int length)
    {
        var bytes = new byte[length];
        for (var i = 0; i < length; i++) bytes[i] = (byte)((i * 7 + seed * 13 + i / 251) % 256);
        return bytes;
    }

    private static void AssertSame(byte[] expected, byte[] received, string what)
    {
        var common = Math.Min(expected.Length, received.Length);
        var first = Enumerable.Range(0, common).FirstOrDefault(i => expected[i] != received[i], common);
        Assert.True(first == expected.Length && received.Length == expected.Length,
            $"{what}: the upstream got {received.Length} of {expected.Length} bytes, the same up to byte {first}");
    }

    /// <summary>The suite's transport, whose accepted connections' reads ignore cancellation: a read ends only with bytes or the end.</summary>
    private sealed class LateCancelTransport : ITcpTransport, IAsyncDisposable
    {
        private readonly ActorSystem _system = ActorSystem.Create("late-cancel", "akka.loglevel = ERROR");
        private readonly ITcpTransport _inner;

        public LateCancelTransport() =>
            _inner = TcpTransports.Create(_system, DataPlaneSettings.From(ConfigurationFactory.ParseString(RouterNode.BuiltInHocon())).Transport);

        public Source<TcpConnection, Task<IListenerBinding>> Bind(IPEndPoint address, int backlog) =>
            _inner.Bind(address, backlog).Select(c => new TcpConnection(c.Local, c.Remote, () => c.Flow, c.Close,
                (into, _) => c.ReceiveAsync(into, CancellationToken.None), c.Socket));

        public void Connect(EndPoint remote, ConnectOptions options, ConnectAttempt attempt) => _inner.Connect(remote, options, attempt);

        public async ValueTask DisposeAsync() => await _system.Terminate();
    }

    /// <summary>An upstream that keeps what each connection sent until the client closed, then sends its answer (if any) and closes it.</summary>
    private sealed class RecordingUpstream : IAsyncDisposable
    {
        private readonly TcpListener _listener;
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _accepting;
        private readonly ConcurrentQueue<Task<byte[]>> _received = new();
        private int _accepted;
        private int _taken;

        private readonly byte[]? _answer;

        public RecordingUpstream(IPEndPoint at, byte[]? answer = null)
        {
            _answer = answer;
            _listener = new TcpListener(at);
            _listener.Start();
            _accepting = AcceptAsync();
        }

        public int Accepted => Volatile.Read(ref _accepted);

        private async Task AcceptAsync()
        {
            while (true)
            {
                Socket socket;
                try { socket = await _listener.AcceptSocketAsync(_stop.Token); }
                catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException) { return; }
                _received.Enqueue(RecordAsync(socket));
                Interlocked.Increment(ref _accepted);
            }
        }

        private async Task<byte[]> RecordAsync(Socket socket)
        {
            using var _ = socket;
            var all = new MemoryStream();
            var buffer = new byte[16 * 1024];
            int n;
            while ((n = await socket.ReceiveAsync(buffer, SocketFlags.None, _stop.Token)) > 0) all.Write(buffer, 0, n);
            if (_answer is { } answer) await socket.SendAsync(answer, SocketFlags.None, _stop.Token);
            return all.ToArray();
        }

        /// <summary>What the next connection (in the order they were accepted) sent.</summary>
        public async Task<byte[]> NextAsync()
        {
            var index = _taken++;
            await EventuallyAsync(() => _received.Count > index, $"upstream connection {index + 1}");
            return await WithinAsync(_received.ElementAt(index), $"the end of upstream connection {index + 1}");
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Stop();
            await _accepting;
        }
    }
}
