using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Akka.Event;
using AkkaL4.Actors.DataPlane;
using AkkaL4.Actors.DataPlane.Transport;
using AkkaL4.Actors.Routing;
using AkkaL4.Tests.Support;

namespace AkkaL4.Tests.DataPlane;

/// <summary>
/// TLS origination's failures: an unreadable client certificate is a configuration error (not the endpoint's), every
/// failed handshake closes its connection, the connect timeout is one deadline for connect and handshake, and a node lets
/// go of the files its configuration no longer names. Addresses: 127.140.1.x, 127.200.3.x.
/// </summary>
[Trait("Category", "EndToEnd")]
public sealed class TlsOriginationTests
{
    /// <summary>The files of <paramref name="tls"/>, waited for (a test's thread may block).</summary>
    private static TlsFiles Load(UpstreamTls tls, ILoggingAdapter log) => TlsOrigination.LoadAsync(tls, log, TimeSpan.FromSeconds(30)).AsTask().GetAwaiter().GetResult();

    private static UpstreamTls Mutual(string certificate, string key) =>
        new("MUTUAL", null, certificate, key, null, AkkaL4.Messages.Model.Seq<string>.Empty, InsecureSkipVerify: true) { Rules = "DestinationRule/data/db-tls" };

    [Theory]
    [InlineData("missing")]
    [InlineData("")] // not an IOException: ArgumentException, once let through with the connection left open
    public void An_unreadable_client_certificate_is_a_configuration_error_not_an_endpoint_failure(string name)
    {
        var path = name.Length == 0 ? "" : Path.Combine(Path.GetTempPath(), $"akkal4-missing-{Guid.NewGuid():N}.pem");
        var e = Assert.Throws<UpstreamTlsConfigurationException>(() => Load(Mutual(path, path), NoLogger.Instance));
        Assert.Contains($"DestinationRule/data/db-tls tls.clientCertificate {path} / tls.privateKey {path} cannot be read", e.Message);
        Assert.True(LocalFailure.Is(e), "not counted against the endpoint");
        Assert.False(LocalFailure.Is(new SocketException((int)SocketError.ConnectionRefused)), "a refused connect is the endpoint's");
    }

    /// <summary>Upstreams that break the handshake in different ways; each must see its connection closed.</summary>
    public static TheoryData<string> Breakages => ["garbage", "close mid-handshake", "caller cancels"];

    [Theory]
    [MemberData(nameof(Breakages))]
    public async Task A_failed_handshake_closes_the_upstream_connection_whatever_the_failure(string breakage)
    {
        using var upstream = new TcpListener(IPEndPoint.Parse("127.140.1.4:0"));
        upstream.Start();
        using var system = Akka.Actor.ActorSystem.Create("tls-handshake");
        var plain = await new SocketTransport(system.Scheduler).ConnectAsync(upstream.LocalEndpoint, new ConnectOptions(TimeSpan.FromSeconds(5), null), default);
        using var accepted = await upstream.AcceptSocketAsync();
        using var cancel = new CancellationTokenSource();
        var handshake = TlsOrigination.WrapAsync(plain, new UpstreamTls("SIMPLE", null, null, null, null, AkkaL4.Messages.Model.Seq<string>.Empty, InsecureSkipVerify: true),
            default, "db.example.com", null, null!, TimeSpan.FromMinutes(5), Stopwatch.GetTimestamp(), cancel.Token);

        // The ClientHello arrives first, whatever happens next.
        var buffer = new byte[64 * 1024];
        using var patience = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        Assert.True(await accepted.ReceiveAsync(buffer, SocketFlags.None, patience.Token) > 0, "no ClientHello");
        switch (breakage)
        {
            case "garbage": await accepted.SendAsync("HTTP/1.1 400 Bad Request\r\n\r\n"u8.ToArray(), SocketFlags.None); break;
            case "close mid-handshake": accepted.Shutdown(SocketShutdown.Send); break;
            default: await cancel.CancelAsync(); break;
        }
        await Assert.ThrowsAnyAsync<Exception>(() => handshake);

        Assert.True(plain.Socket!.SafeHandle.IsClosed, "the upstream socket is closed");
        // And the upstream sees it end: nothing more, then end of stream (or a reset).
        try
        {
            while (await accepted.ReceiveAsync(buffer, SocketFlags.None, patience.Token) > 0) { }
        }
        catch (SocketException) { }
    }

    [Fact]
    public async Task The_handshake_gets_what_is_left_of_the_connect_timeout_not_a_second_one()
    {
        // An upstream that accepts and never answers the ClientHello.
        using var silent = new TcpListener(IPEndPoint.Parse("127.140.1.3:0"));
        silent.Start();
        using var system = Akka.Actor.ActorSystem.Create("tls-timeout");
        var plain = await new SocketTransport(system.Scheduler).ConnectAsync(silent.LocalEndpoint, new ConnectOptions(TimeSpan.FromSeconds(5), null), default);
        using var accepted = await silent.AcceptTcpClientAsync();
        var timeout = TimeSpan.FromSeconds(60);
        // The connect took all but half a second of the minute.
        var dialStarted = Stopwatch.GetTimestamp() - (long)((timeout.TotalSeconds - 0.5) * Stopwatch.Frequency);
        var clock = Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<TimeoutException>(() => TlsOrigination.WrapAsync(plain,
            new UpstreamTls("SIMPLE", null, null, null, null, AkkaL4.Messages.Model.Seq<string>.Empty, InsecureSkipVerify: true), default, "db.example.com", null, null!, timeout, dialStarted, default));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"the handshake waited {clock.Elapsed} of a connect timeout already nearly spent");
        Assert.Contains("timed out after 00:01:00", e.Message);
    }

    [Fact]
    public async Task A_node_lets_go_of_the_files_of_a_DestinationRule_its_new_configuration_no_longer_has()
    {
        using var ca = new TestCa("akkal4 node files CA");
        var block = AddressBlocks.Of(200);
        string[] service = [Service("files", block.Host(3, 2), 9000, 9000), WorkloadEntry("files", block.Host(3, 10), "{app: files}")];
        await using var router = TestRouter.Start("tls-files");
        var snapshot = await router.ApplyAsync(1, [.. service, TrafficPolicy(Fqdn("files"), $"{{tls: {{mode: SIMPLE, caCertificates: {ca.CaFile}}}}}")]);
        var tls = Assert.Single(snapshot.Clusters.Select(c => c.Policy.Tls).OfType<UpstreamTls>());
        var authorities = Loaded(tls);
        Collect();
        Assert.True(authorities.IsAlive, "the CA bundle of a rule in force was not kept");

        await router.ApplyAsync(2, service);
        Collect();
        Assert.False(authorities.IsAlive, "the CA bundle of a rule no longer in force is still referenced");
    }

    /// <summary>Loads as a connection would; only a weak reference to the CA bundle, so the caller holds nothing.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static WeakReference Loaded(UpstreamTls tls) => new(Load(tls, NoLogger.Instance).Authorities);

    private static void Collect()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }
}
