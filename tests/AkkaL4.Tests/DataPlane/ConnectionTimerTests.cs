using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using AkkaL4.Actors.DataPlane;
using AkkaL4.Node.Echo;
using AkkaL4.Tests.Support;
using static AkkaL4.Tests.DataPlane.Kit;

namespace AkkaL4.Tests.DataPlane;

/// <summary>
/// A connection's timers end to end: the idle timeout (one sweep per node, <see cref="IdleSweepTests"/>) fires for a
/// silent relay, never for one whose bytes flow in either direction, and never early; maxConnectionDuration, on the
/// scheduler. Addresses: 127.130.1.x.
/// </summary>
[Trait("Category", "EndToEnd")]
public sealed class ConnectionTimerTests
{
    /// <summary>
    /// An upstream that, per connection, does what the first line says: "push" writes a line every 100 ms (bytes only
    /// towards the client), "sink" reads (bytes only from the client) and answers "got N" to "end", "quiet" only reads.
    /// </summary>
    private sealed class Upstream : IAsyncDisposable
    {
        private readonly TcpListener _listener;
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _accepting;

        public Upstream(string ip, int port)
        {
            _listener = new TcpListener(At(ip, port));
            _listener.Start();
            _accepting = Task.Run(async () =>
            {
                while (!_stop.IsCancellationRequested)
                {
                    var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                    _ = Task.Run(() => ServeAsync(client));
                }
            });
        }

        private async Task ServeAsync(TcpClient client)
        {
            using var _ = client;
            var stream = client.GetStream();
            using var reader = new StreamReader(stream, Encoding.ASCII);
            try
            {
                var mode = await reader.ReadLineAsync(_stop.Token);
                if (mode == "push")
                {
                    for (var i = 0; ; i++)
                    {
                        await stream.WriteAsync(Encoding.ASCII.GetBytes($"tick {i}\n"), _stop.Token);
                        await Task.Delay(100, _stop.Token);
                    }
                }
                var lines = 0;
                while (await reader.ReadLineAsync(_stop.Token) is { } line)
                {
                    if (line == "end") await stream.WriteAsync(Encoding.ASCII.GetBytes($"got {lines}\n"), _stop.Token);
                    else lines++;
                }
            }
            catch (Exception e) when (e is IOException or OperationCanceledException or SocketException)
            {
                // The relay closed it, or the test is over.
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Stop();
            try { await _accepting; } catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException) { }
        }
    }

    private static readonly AddressBlock Block = AddressBlocks.Of(130);

    /// <summary>
    /// A router sending service <paramref name="name"/> (127.130.1.N:19000) to its one pod 127.130.1.1N:9000, with
    /// <paramref name="tcp"/> as the DestinationRule's <c>connectionPool.tcp</c>.
    /// </summary>
    private static async Task<TestRouter> RouterToAsync(string node, string name, int n, string tcp)
    {
        var router = TestRouter.Start(node);
        try
        {
            await router.ApplyAsync(1,
                Service(name, Block.Host(1, n), 19000, 9000, name),
                WorkloadEntry($"{name}-pod", Block.Host(1, 10 + n), $"{{app: {name}}}"),
                TrafficPolicy(name, $"{{connectionPool: {{tcp: {tcp}}}}}"));
            return router;
        }
        catch
        {
            await router.DisposeAsync();
            throw;
        }
    }

    [Fact]
    public async Task Idle_timeout_closes_the_silent_connection_and_not_those_with_bytes_one_way_only()
    {
        const string client = "127.130.1.30";
        var idle = TimeSpan.FromSeconds(2);
        await using var pod = new Upstream("127.130.1.11", 9000);
        await using var router = await RouterToAsync("idle-sweep", "sweep", 1, "{idleTimeout: 2s}");
        var service = At("127.130.1.1", 19000);

        await using var quiet = await TestClient.ConnectAsync(client, service);
        await using var pushed = await TestClient.ConnectAsync(client, service);
        await using var sending = await TestClient.ConnectAsync(client, service);
        await pushed.SendLineAsync("push");
        await sending.SendLineAsync("sink");
        await quiet.SendLineAsync("quiet");
        var silent = Stopwatch.StartNew();
        var closing = quiet.ReadToCloseAsync(TimeSpan.FromSeconds(30));

        // Bytes only towards the client on one, only from it on the other, paced by the upstream's 100 ms ticks, for
        // one and a half times the idle timeout and until the silent one has been closed.
        var active = Stopwatch.StartNew();
        var sent = 0;
        for (var i = 0; active.Elapsed < 1.5 * idle || !closing.IsCompleted; i++)
        {
            Assert.Equal($"tick {i}", await WithinAsync(pushed.ReadLineAsync(), "the next tick"));
            await sending.SendLineAsync($"line {i}");
            sent++;
            Assert.True(active.Elapsed < TimeSpan.FromSeconds(30), "the silent connection was never closed");
        }

        var end = await closing;
        Assert.True(end.NoData, $"unexpected data '{end.Text}'");
        Assert.False(end.Reset, "an idle connection is closed with a FIN");
        Assert.True(silent.Elapsed >= idle - TimeSpan.FromMilliseconds(100), $"closed after only {silent.Elapsed} of silence");
        var entry = await router.Log.ForAsync(quiet.Id);
        Assert.StartsWith("idle for", entry.Detail);

        // Both active ones still relay, each way.
        Assert.StartsWith("tick ", await WithinAsync(pushed.ReadLineAsync(), "a tick after the silent one closed"));
        await sending.SendLineAsync("end");
        Assert.Equal($"got {sent}", await WithinAsync(sending.ReadLineAsync(), "the sink's count"));
        Assert.Equal(1, router.Metrics["envoy_tcp_idle_timeout"]);

        // Each relay leaves the idle sweep when it ends, however it ends: timed out, closed by the client, reset.
        Assert.Equal(2, router.Node.Relays.IdleRelays);
        await pushed.DisposeAsync();
        await EventuallyAsync(() => router.Node.Relays.IdleRelays == 1, () => $"the closed relay left the sweep (it holds {router.Node.Relays.IdleRelays})");
        sending.Reset();
        await EventuallyAsync(() => router.Node.Relays.IdleRelays == 0, () => $"the reset relay left the sweep (it holds {router.Node.Relays.IdleRelays})");
    }

    [Fact]
    public async Task Max_connection_duration_closes_a_talking_connection_with_DT()
    {
        await using var pod = new EchoServer(At("127.130.1.12", 9000), "long");
        await using var router = await RouterToAsync("max-duration", "long", 2, "{maxConnectionDuration: 1s, idleTimeout: 1h}");

        await using var client = await TestClient.ConnectAsync("127.130.1.30", At("127.130.1.2", 19000));
        var age = Stopwatch.StartNew();
        // Talking (never idle) until the router ends it.
        var answered = 0;
        try
        {
            for (var i = 0; age.Elapsed < TimeSpan.FromSeconds(30); i++)
            {
                Assert.Equal($"long x{i}", await client.AskAsync($"x{i}"));
                answered++;
            }
        }
        catch (Exception e) when (e is IOException or SocketException)
        {
            // Closed by the router.
        }
        Assert.True(answered > 0);
        var entry = await router.Log.ForAsync(client.Id);
        Assert.Equal(ResponseFlags.DurationTimeout, entry.Flags);
        Assert.True(entry.Duration >= TimeSpan.FromSeconds(1), $"ended after only {entry.Duration}");
        await router.Metrics.WaitForAsync("envoy_tcp_max_downstream_connection_duration", 1);
        // Its idle timeout (an hour) never fired, yet it left the sweep when the duration ended it.
        await EventuallyAsync(() => router.Node.Relays.IdleRelays == 0, () => $"the relay left the sweep (it holds {router.Node.Relays.IdleRelays})");
    }
}
