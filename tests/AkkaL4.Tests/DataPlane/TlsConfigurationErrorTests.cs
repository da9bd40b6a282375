using System.Collections.Concurrent;
using System.Net.Sockets;
using Akka.Actor;
using AkkaL4.Actors.DataPlane;
using AkkaL4.Tests.Support;
using static AkkaL4.Tests.DataPlane.Kit;

namespace AkkaL4.Tests.DataPlane;

/// <summary>
/// DestinationRules with tls MUTUAL whose client certificate cannot be read (missing, then fixed, then missing again),
/// each in front of a real mutual-TLS upstream that counts what it accepts. Addresses: 127.140.2.x.
/// </summary>
public sealed class TlsConfigurationWorld : IAsyncLifetime
{
    internal TestCa Ca { get; } = new("akkal4 config-error CA");
    internal TlsLineServer Unreachable { get; private set; } = null!;
    internal TlsLineServer Rotating { get; private set; } = null!;
    internal TestRouter Router { get; private set; } = null!;
    /// <summary>Error log lines of the router, in order.</summary>
    internal ConcurrentQueue<string> Errors { get; } = new();

    public static readonly System.Net.IPEndPoint Missing = At("127.140.2.1", 9000);
    public static readonly System.Net.IPEndPoint Rotated = At("127.140.2.2", 9000);
    public static readonly System.Net.IPEndPoint MissingUpstream = At("127.140.2.11", 9444);

    /// <summary>Never written.</summary>
    internal string MissingCertificate => Path.Combine(Ca.Directory, "never-written.pem");
    /// <summary>Written, deleted and written again by the test.</summary>
    internal string RotatedCertificate => Path.Combine(Ca.Directory, "rotated.pem");
    internal string RotatedKey => Path.Combine(Ca.Directory, "rotated-key.pem");

    public async Task InitializeAsync()
    {
        Unreachable = new TlsLineServer(MissingUpstream, "missing", Ca.Issue("missing", "mutual.example.com"), clientCa: Ca);
        Rotating = new TlsLineServer(At("127.140.2.12", 9444), "rotated", Ca.Issue("rotated", "mutual.example.com"), clientCa: Ca);
        Router = TestRouter.Start("tls-config");
        var tap = Router.Node.System.ActorOf(Props.Create(() => new EventTap<Akka.Event.Error>(e => Errors.Enqueue(e.Message.ToString() ?? ""))), "test-errors");
        Router.Node.System.EventStream.Subscribe(tap, typeof(Akka.Event.Error));
        await Router.ApplyAsync(1,
            Service("cfg-missing", "127.140.2.1", 9000, 9444, "cfg-missing"),
            Service("cfg-rotated", "127.140.2.2", 9000, 9444, "cfg-rotated"),
            WorkloadEntry("cfg-missing", "127.140.2.11", "{app: cfg-missing}"),
            WorkloadEntry("cfg-rotated", "127.140.2.12", "{app: cfg-rotated}"),
            Rule("cfg-missing", MissingCertificate, MissingCertificate),
            Rule("cfg-rotated", RotatedCertificate, RotatedKey));
    }

    private string Rule(string host, string certificate, string key) => $$"""
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: {{host}}, namespace: default}
        spec:
          host: {{host}}
          trafficPolicy:
            tls: {mode: MUTUAL, caCertificates: {{Ca.CaFile}}, clientCertificate: {{certificate}}, privateKey: {{key}}, subjectAltNames: [mutual.example.com]}
        """;

    public async Task DisposeAsync()
    {
        await Router.DisposeAsync();
        await Unreachable.DisposeAsync();
        await Rotating.DisposeAsync();
        Ca.Dispose();
    }
}

[Trait("Category", "EndToEnd")]
public sealed class TlsConfigurationErrorTests(TlsConfigurationWorld world) : IClassFixture<TlsConfigurationWorld>
{
    private const string Client = "127.140.2.100";

    [Fact]
    public async Task An_unreadable_client_certificate_refuses_the_connection_before_any_upstream_is_dialled()
    {
        var failedBefore = world.Router.Metrics["envoy_cluster_upstream_cx_connect_fail"];
        var entry = await RefusedAsync(TlsConfigurationWorld.Missing);
        Assert.Equal(ResponseFlags.NoClusterFound, entry.Flags);
        Assert.Contains($"DestinationRule/default/cfg-missing tls.clientCertificate {world.MissingCertificate}", entry.Detail);
        Assert.DoesNotContain("connect to", entry.Detail);
        Assert.Equal(world.Router.ClusterId(Fqdn("cfg-missing")), entry.Cluster);
        Assert.Null(entry.Upstream);

        // The upstream accepts in arrival order: had the router dialled, its connections would be counted before this one.
        using (var probe = new TcpClient())
        {
            await probe.ConnectAsync(TlsConfigurationWorld.MissingUpstream);
            await EventuallyAsync(() => Volatile.Read(ref world.Unreachable.Accepted) >= 1, "the probe connection is accepted");
        }
        Assert.Equal(1, Volatile.Read(ref world.Unreachable.Accepted));
        Assert.Equal(failedBefore, world.Router.Metrics["envoy_cluster_upstream_cx_connect_fail"]);
    }

    // Its connections half-close (TestClient.OneLineAsync) while the upstream answers.
    [Fact]
    public async Task An_unreadable_certificate_is_logged_once_and_once_read_outlives_its_deleted_file()
    {
        var mine = () => world.Errors.Where(e => e.Contains(world.RotatedCertificate)).ToList();

        // Missing: refused, logged once for two connections.
        Assert.Equal(ResponseFlags.NoClusterFound, (await RefusedAsync(TlsConfigurationWorld.Rotated)).Flags);
        Assert.Equal(ResponseFlags.NoClusterFound, (await RefusedAsync(TlsConfigurationWorld.Rotated)).Flags);

        // Fixed: the next connection presents it.
        using (var issued = world.Ca.Issue("router"))
        {
            var (certificate, key) = world.Ca.WritePem(issued, "router-source");
            File.Copy(key, world.RotatedKey);
            File.Copy(certificate, world.RotatedCertificate);
        }
        // A failed read is tried again after a check's interval, not by every connection.
        const string Presented = "rotated sni=cfg-rotated.default.svc.cluster.local client=CN=router: fixed";
        var reply = "";
        await EventuallyAsync(async () => (reply = (await TestClient.OneLineAsync(Client, TlsConfigurationWorld.Rotated, "fixed")).Reply) == Presented,
            () => $"a connection presents the fixed certificate (last reply: '{reply}')", TlsOrigination.RecheckEvery + Patience);

        // Deleted after it was read: the copy in hand stays (a failed re-read keeps the last good copy, as Envoy and nginx
        // do: review1-s14 R3), over two checks, and no connection is refused or logged as an error.
        File.Delete(world.RotatedCertificate);
        for (var until = DateTime.UtcNow + TlsOrigination.RecheckEvery * 2 + TimeSpan.FromSeconds(1); DateTime.UtcNow < until;)
        {
            var (kept, id) = await TestClient.OneLineAsync(Client, TlsConfigurationWorld.Rotated, "kept");
            if (kept != Presented.Replace(": fixed", ": kept"))
            {
                var entry = await world.Router.Log.ForAsync(id);
                Assert.Fail($"a connection after the file's deletion got '{kept}': {entry.Flags} {entry.Detail}");
            }
        }
        var logged = mine();
        Assert.Single(logged);
        Assert.Contains("cannot be read", logged[0]);
    }

    private async Task<AccessLogEntry> RefusedAsync(System.Net.IPEndPoint destination)
    {
        await using var client = await TestClient.ConnectAsync(Client, destination);
        await client.SendLineAsync("anyone there?");
        var end = await client.ReadToCloseAsync();
        Assert.True(end.NoData, $"a refused connection gets nothing back: '{end.Text}'");
        return await world.Router.Log.ForAsync(client.Id);
    }
}
