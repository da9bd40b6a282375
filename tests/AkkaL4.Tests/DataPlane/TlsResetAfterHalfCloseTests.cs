using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Text;
using AkkaL4.Tests.Support;
using static AkkaL4.Tests.DataPlane.Kit;

namespace AkkaL4.Tests.DataPlane;

/// <summary>
/// TLS-originated connections (DestinationRule tls SIMPLE) where one side half-closes and the other then resets (SO_LINGER
/// 0): the client's FIN, then the upstream's RST; the upstream's close_notify and FIN, then the client's RST or its own. On
/// either transport (CI runs the class on both), both sockets must close (the peer of each sees its end), the connection
/// must end with exactly one access-log line, and no connection may stay counted as active. Addresses: 127.217.1-3.x.
/// </summary>
[Trait("Category", "EndToEnd")]
public sealed class TlsResetAfterHalfCloseTests
{
    private static readonly AddressBlock Block = AddressBlocks.Of(217);
    private readonly string _client = Block.Host(1, 100);

    public enum Upstream
    {
        /// <summary>Answers the line, reads until the client's close_notify or FIN, then resets.</summary>
        ResetsAfterClientFin,
        /// <summary>Answers the line, sends close_notify and a FIN, then reads until the router closes or resets.</summary>
        HalfClosesFirst,
        /// <summary>Answers the line, sends close_notify and a FIN, then resets once told to (<see cref="ResettingServer.ResetNow"/>).</summary>
        HalfClosesThenResets,
    }

    [Fact]
    public async Task Client_FIN_then_upstream_RST_closes_both_and_logs_once()
    {
        await using var world = await World.StartAsync(1, Upstream.ResetsAfterClientFin);
        await using var client = await TestClient.ConnectAsync(_client, world.Front);
        Assert.Equal($"reset sni=tls-reset.default.svc.cluster.local client=-: hello", await client.AskAsync("hello"));
        client.ShutdownSend();
        // The upstream saw the client's end (close_notify or FIN) and reset: the router must close the client's socket.
        await WithinAsync(world.Server.Ended, "the upstream's reset");
        await client.ReadToCloseAsync();
        await world.EndedOnceAsync(client.Id);
    }

    [Fact]
    public async Task Upstream_FIN_then_client_RST_closes_both_and_logs_once()
    {
        await using var world = await World.StartAsync(2, Upstream.HalfClosesFirst);
        await using var client = await TestClient.ConnectAsync(_client, world.Front);
        await client.SendLineAsync("hello");
        var end = await client.ReadToCloseAsync();
        Assert.Equal("reset sni=tls-reset.default.svc.cluster.local client=-: hello\n", end.Text);
        Assert.False(end.Reset);
        client.Reset();
        // The upstream, still reading after its half-close, must see its connection end (FIN or RST).
        await WithinAsync(world.Server.Ended, "the end of the upstream's connection after the client's reset");
        await world.EndedOnceAsync(client.Id);
    }

    /// <summary>
    /// The upstream half-closes (the client gets the whole answer and a FIN), then resets while the client still sends. The
    /// router finds the reset only when it writes the client's next bytes: the client's connection must then be reset too,
    /// not closed as if all had gone well (its bytes went nowhere). Before the fix the client's socket stayed in CLOSE_WAIT:
    /// the router's socket stage took the upstream's failure, which reached it as a cancellation, for the end of its reading
    /// and closed with a FIN it had already sent.
    /// </summary>
    [OwnTransportFact("after its half-close Akka.IO's TCP stage takes the reading side's cancellation, failure or not, for a close: the client stays in CLOSE_WAIT (session 22)")]
    public async Task Upstream_FIN_then_upstream_RST_resets_the_client_that_still_sends()
    {
        await using var world = await World.StartAsync(3, Upstream.HalfClosesThenResets);
        await using var client = await TestClient.ConnectAsync(_client, world.Front);
        await client.SendLineAsync("hello");
        var end = await client.ReadToCloseAsync();
        Assert.Equal("reset sni=tls-reset.default.svc.cluster.local client=-: hello\n", end.Text);
        world.Server.ResetNow.SetResult();
        await WithinAsync(world.Server.Ended, "the upstream's reset");
        await client.SendLineAsync("more");
        await EventuallyAsync(() => client.TcpState == TcpClosed, () => $"the client's connection reset (its TCP state is {client.TcpState}; 8 is CLOSE_WAIT)");
        await world.EndedOnceAsync(client.Id);
    }

    /// <summary>Linux's TCP_CLOSE: the state of a socket that received an RST.</summary>
    private const int TcpClosed = 7;

    private sealed class World : IAsyncDisposable
    {
        public required TestRouter Router { get; init; }
        public required ResettingServer Server { get; init; }
        public required IPEndPoint Front { get; init; }

        public static async Task<World> StartAsync(int place, Upstream behaviour)
        {
            var front = Block.At(place, 1, 9000);
            var upstream = Block.At(place, 11, 9443);
            // What is made is disposed again when a later step fails (a bound listener must not outlive a failed start).
            var ca = new TestCa("akkal4 reset-after-half-close CA");
            ResettingServer? server = null;
            TestRouter? router = null;
            try
            {
                server = new ResettingServer(upstream, ca.Issue("reset", "reset.example.com"), behaviour);
                router = TestRouter.Start("tls-reset");
                await router.ApplyAsync(1,
                    Service("tls-reset", front.Address.ToString(), front.Port, upstream.Port, "tls-reset"),
                    WorkloadEntry("tls-reset", upstream.Address.ToString(), "{app: tls-reset}"),
                    $$"""
                    apiVersion: networking.istio.io/v1
                    kind: DestinationRule
                    metadata: {name: tls-reset, namespace: default}
                    spec:
                      host: tls-reset
                      trafficPolicy:
                        tls: {mode: SIMPLE, caCertificates: {{ca.CaFile}}, subjectAltNames: [reset.example.com]}
                    """);
                return new World { Router = router, Server = server, Front = front, Ca = ca };
            }
            catch
            {
                if (router is not null) await router.DisposeAsync();
                if (server is not null) await server.DisposeAsync();
                ca.Dispose();
                throw;
            }
        }

        public required TestCa Ca { get; init; }

        /// <summary>The connection has ended: one access-log line, nothing active on either side.</summary>
        public async Task EndedOnceAsync(ConnectionId client)
        {
            var entry = await Router.Log.ForAsync(client);
            Assert.NotNull(entry.Upstream);
            await Router.Metrics.WaitForAsync("envoy_listener_downstream_cx_active", 0);
            await Router.Metrics.WaitForAsync("envoy_cluster_upstream_cx_active", 0);
            await Router.Metrics.WaitForAsync("akkal4_descriptors_connections", 0);
            Assert.Single(Router.Log.Entries, client.Matches);
        }

        public async ValueTask DisposeAsync()
        {
            await Router.DisposeAsync();
            await Server.DisposeAsync();
            Ca.Dispose();
        }
    }

    /// <summary>One TLS upstream connection at a time, answering one line, then half-closing or resetting as told.</summary>
    private sealed class ResettingServer : IAsyncDisposable
    {
        private readonly AcceptLoop _loop;
        private readonly TaskCompletionSource<bool> _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public ResettingServer(IPEndPoint address, System.Security.Cryptography.X509Certificates.X509Certificate2 certificate, Upstream behaviour) =>
            _loop = new AcceptLoop(address, client => Serve(client, certificate, behaviour));

        /// <summary>Tells <see cref="Upstream.HalfClosesThenResets"/> to reset.</summary>
        public TaskCompletionSource ResetNow { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>Completes once this side's connection has ended (it reset, or it saw the router's end).</summary>
        public Task<bool> Ended => _ended.Task;

        private async Task Serve(TcpClient client, System.Security.Cryptography.X509Certificates.X509Certificate2 certificate, Upstream behaviour)
        {
            var socket = client.Client;
            try
            {
                await using var ssl = new SslStream(new NetworkStream(socket, ownsSocket: false), leaveInnerStreamOpen: true);
                using var timeout = new CancellationTokenSource(Patience * 2);
                await ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = certificate }, timeout.Token);
                var reader = new StreamReader(ssl);
                var line = await reader.ReadLineAsync(timeout.Token);
                await ssl.WriteAsync(Encoding.UTF8.GetBytes($"reset sni={ssl.TargetHostName} client=-: {line}\n"), timeout.Token);
                if (behaviour != Upstream.ResetsAfterClientFin)
                {
                    await ssl.ShutdownAsync();
                    socket.Shutdown(SocketShutdown.Send);
                }
                if (behaviour == Upstream.HalfClosesThenResets)
                {
                    await ResetNow.Task.WaitAsync(timeout.Token);
                    socket.LingerState = new LingerOption(true, 0);
                    socket.Close();
                    _ended.TrySetResult(true);
                    return;
                }
                // Until the other side ends: the client's close_notify or FIN, or (half-closed) the router's close or reset.
                var buffer = new byte[1024];
                try
                {
                    while (await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token) > 0) { }
                }
                catch (SocketException)
                {
                }
                if (behaviour == Upstream.ResetsAfterClientFin)
                {
                    // Closed here: TcpClient.Dispose shuts the socket down first, which sends a FIN ahead of the reset.
                    socket.LingerState = new LingerOption(true, 0);
                    socket.Close();
                }
                _ended.TrySetResult(true);
            }
            catch (Exception e) when (e is IOException or AuthenticationException or OperationCanceledException or SocketException)
            {
                _ended.TrySetException(e);
            }
            finally
            {
                client.Dispose();
            }
        }

        public ValueTask DisposeAsync() => _loop.DisposeAsync();
    }
}
