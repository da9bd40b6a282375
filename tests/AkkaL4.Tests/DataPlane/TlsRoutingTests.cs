using System.Net.Sockets;
using System.Text;
using AkkaL4.Actors.DataPlane;
using AkkaL4.Actors.Routing;
using AkkaL4.Messages.Model;
using static AkkaL4.Tests.DataPlane.Kit;

namespace AkkaL4.Tests.DataPlane;

/// <summary>
/// Real TLS clients and servers (certificates made here) through one node: a PASSTHROUGH gateway and
/// an AUTO_PASSTHROUGH one routed by SNI, a mesh port with tls rules, refusals with their own flags,
/// and TLS origination (SIMPLE, MUTUAL, a certificate that fails). Addresses: 127.60.1.x.
/// </summary>
public sealed class TlsWorld : IAsyncLifetime
{
    internal TestCa Ca { get; } = new("akkal4 test CA");
    private TlsLineServer _alpha = null!, _beta = null!, _mutual = null!;
    internal TestRouter Router { get; private set; } = null!;

    public static readonly System.Net.IPEndPoint Gateway = At("127.60.1.1", 18443);
    public static readonly System.Net.IPEndPoint AutoGateway = At("127.60.1.1", 18444);
    public static readonly System.Net.IPEndPoint MeshTls = At("127.60.1.2", 9443);
    public static readonly System.Net.IPEndPoint Origin = At("127.60.1.3", 9000);
    public static readonly System.Net.IPEndPoint OriginBadName = At("127.60.1.4", 9000);
    public static readonly System.Net.IPEndPoint OriginMutual = At("127.60.1.5", 9000);

    public async Task InitializeAsync()
    {
        _alpha = new TlsLineServer(At("127.60.1.11", 9443), "alpha", Ca.Issue("alpha", "alpha.example.com"));
        _beta = new TlsLineServer(At("127.60.1.12", 9443), "beta", Ca.Issue("beta", "beta.example.com"));
        _mutual = new TlsLineServer(At("127.60.1.11", 9444), "mutual", Ca.Issue("mutual", "mutual.example.com"), clientCa: Ca);
        var (clientCert, clientKey) = Ca.WritePem(Ca.Issue("router"), "router");
        Router = TestRouter.Start("tls", Labels.Of(("istio", "tls-gw")), settings: "akkal4.data-plane.preamble-timeout = 1s");
        await Router.ApplyAsync(1,
            Service("alpha", "127.60.1.21", 9443, 9443, "alpha"),
            Service("beta", "127.60.1.22", 9443, 9443, "beta"),
            Service("mesh-tls", "127.60.1.2", 9443, 9443, "nothing"),
            Service("origin", "127.60.1.3", 9000, 9443, "alpha"),
            Service("origin-bad-name", "127.60.1.4", 9000, 9443, "alpha"),
            Service("origin-mutual", "127.60.1.5", 9000, 9444, "alpha"),
            WorkloadEntry("alpha", "127.60.1.11", "{app: alpha}"),
            WorkloadEntry("beta", "127.60.1.12", "{app: beta}"),
            Gateway("tls-gw", "default", """
            selector: {istio: tls-gw}
            servers:
            - port: {number: 18443, name: tls, protocol: TLS}
              bind: 127.60.1.1
              hosts: ['*.example.com']
              tls: {mode: PASSTHROUGH}
            - port: {number: 18444, name: tls-auto, protocol: TLS}
              bind: 127.60.1.1
              hosts: ['*.svc.cluster.local']
              tls: {mode: AUTO_PASSTHROUGH}
            """),
            VirtualService("by-sni", "default", """
            hosts: ['*.example.com']
            gateways: [tls-gw]
            tls:
            - match: [{sniHosts: [alpha.example.com]}]
              route: [{destination: {host: alpha, port: {number: 9443}}}]
            - match: [{sniHosts: ['*.example.com']}]
              route: [{destination: {host: beta, port: {number: 9443}}}]
            """),
            VirtualService("mesh-by-sni", "default", """
            hosts: [mesh-tls, beta.example.com]
            tls:
            - match: [{sniHosts: [beta.example.com]}]
              route: [{destination: {host: beta, port: {number: 9443}}}]
            tcp:
            - route: [{destination: {host: alpha, port: {number: 9443}}}]
            """),
            DestinationRule("origin", "default", $$"""
            host: origin
            trafficPolicy:
              tls: {mode: SIMPLE, caCertificates: {{Ca.CaFile}}, sni: alpha.example.com}
            """),
            DestinationRule("origin-bad-name", "default", $$"""
            host: origin-bad-name
            trafficPolicy:
              tls: {mode: SIMPLE, caCertificates: {{Ca.CaFile}}, subjectAltNames: [not-alpha.example.com]}
            """),
            DestinationRule("origin-mutual", "default", $$"""
            host: origin-mutual
            trafficPolicy:
              tls: {mode: MUTUAL, caCertificates: {{Ca.CaFile}}, clientCertificate: {{clientCert}}, privateKey: {{clientKey}}, subjectAltNames: [mutual.example.com]}
            """));
    }

    public async Task DisposeAsync()
    {
        await Router.DisposeAsync();
        await _alpha.DisposeAsync();
        await _beta.DisposeAsync();
        await _mutual.DisposeAsync();
        Ca.Dispose();
    }
}

[Trait("Category", "EndToEnd")]
public sealed class TlsRoutingTests(TlsWorld world) : IClassFixture<TlsWorld>
{
    private const string Client = "127.60.1.100";

    [Fact]
    public async Task A_passthrough_gateway_routes_each_TLS_client_by_its_SNI_as_explain_does()
    {
        var (alpha, alphaId) = await TlsClient.AskAsync(Client, TlsWorld.Gateway, "alpha.example.com", "hello", world.Ca);
        Assert.Equal("alpha sni=alpha.example.com client=-: hello", alpha);
        var (beta, betaId) = await TlsClient.AskAsync(Client, TlsWorld.Gateway, "beta.example.com", "hi", world.Ca);
        Assert.Equal("beta sni=beta.example.com client=-: hi", beta);

        foreach (var (id, sni) in new[] { (alphaId, "alpha.example.com"), (betaId, "beta.example.com") })
        {
            var entry = await world.Router.Log.ForAsync(id);
            Assert.Equal(ResponseFlags.None, entry.Flags);
            Assert.Equal(sni, entry.Sni);
            Assert.Contains($"\"requested_server_name\":\"{sni}\"", entry.ToJson());
            var explained = world.Router.Node.Routes.Current.Decide(new IpPort(IpKey.Parse("127.60.1.1"), 18443), IpKey.Parse(Client), IpKey.Parse("127.60.1.1"), sni);
            Assert.Equal((explained.Target!.VirtualService, explained.Target.Rule), (entry.VirtualService, entry.Rule));
            Assert.True(entry.BytesReceived > 200, $"the ClientHello is counted: rx={entry.BytesReceived}");
        }
        Assert.True(world.Router.Metrics["envoy_tls_inspector_sni_found"] >= 2);
    }

    [Fact]
    public async Task A_ClientHello_split_across_records_and_packets_is_routed_and_relayed_untouched()
    {
        var hello = PreambleParserTests.Refragment(await TlsClient.ClientHelloAsync("alpha.example.com"), 40);
        await using var client = await TestClient.ConnectAsync(Client, TlsWorld.Gateway);
        for (var i = 0; i < hello.Length; i += 100)
        {
            await client.SendAsync(hello.AsMemory(i, Math.Min(100, hello.Length - i)));
            await Task.Delay(20);
        }
        // The upstream (a real TLS server) answers the reassembled hello with its ServerHello: a handshake record.
        var answer = new byte[5];
        using var cts = new CancellationTokenSource(Patience);
        var n = await client.ReceiveAsync(answer, cts.Token);
        Assert.True(n > 0 && answer[0] == 22, $"expected a TLS handshake record from the upstream, got {n} byte(s) starting {answer[0]}");
        client.ShutdownSend();
        await client.ReadToCloseAsync();
        var entry = await world.Router.Log.ForAsync(client.Id);
        Assert.Equal(("default/by-sni", 0), (entry.VirtualService, entry.Rule));
        Assert.Equal(hello.Length, entry.BytesReceived);
    }

    [Fact]
    public async Task Auto_passthrough_routes_the_outbound_SNI_to_its_cluster_without_a_VirtualService()
    {
        var (reply, id) = await TlsClient.AskAsync(Client, TlsWorld.AutoGateway, "outbound_.9443_._.beta.default.svc.cluster.local", "auto", world.Ca);
        Assert.Equal("beta sni=outbound_.9443_._.beta.default.svc.cluster.local client=-: auto", reply);
        var entry = await world.Router.Log.ForAsync(id);
        Assert.Equal("outbound|9443||beta.default.svc.cluster.local", entry.Cluster);
    }

    [Fact]
    public async Task A_mesh_port_with_tls_rules_routes_by_SNI_and_falls_back_to_its_tcp_rule_without_one()
    {
        var (beta, _) = await TlsClient.AskAsync(Client, TlsWorld.MeshTls, "beta.example.com", "mesh", world.Ca);
        Assert.Equal("beta sni=beta.example.com client=-: mesh", beta);
        var (alpha, _) = await TlsClient.AskAsync(Client, TlsWorld.MeshTls, "", "no sni", world.Ca);
        Assert.Equal("alpha sni=- client=-: no sni", alpha);
    }

    [Fact]
    public async Task Without_a_usable_SNI_the_gateway_refuses_each_case_with_its_own_flag_and_counter()
    {
        var before = (NoSni: world.Router.Metrics["envoy_tls_inspector_sni_not_found"], NotTls: world.Router.Metrics["envoy_tls_inspector_tls_not_found"],
            Malformed: world.Router.Metrics["envoy_tls_inspector_client_hello_malformed"], Timeout: world.Router.Metrics["envoy_listener_downstream_pre_cx_timeout"],
            NoRoute: world.Router.Metrics["envoy_tcp_downstream_cx_no_route"]);

        var unknown = await RefusedAsync(await TlsClient.ClientHelloAsync("gamma.other.org"));
        Assert.Equal(ResponseFlags.NoRoute, unknown.Flags);
        var noSni = await RefusedAsync(await TlsClient.ClientHelloAsync(""));
        Assert.Equal(ResponseFlags.NoSni, noSni.Flags);
        var plain = await RefusedAsync(Encoding.ASCII.GetBytes("hello\n"));
        Assert.Equal(ResponseFlags.NotTls, plain.Flags);
        var malformed = await RefusedAsync([22, 3, 1, 0, 6, 2, 0, 0, 2, 0, 0]);
        Assert.Equal(ResponseFlags.MalformedClientHello, malformed.Flags);
        // Silent: the 1 s preamble-timeout of this node.
        await using (var silent = await TestClient.ConnectAsync(Client, TlsWorld.Gateway))
        {
            var end = await silent.ReadToCloseAsync();
            Assert.True(end.NoData);
            var entry = await world.Router.Log.ForAsync(silent.Id);
            Assert.Equal(ResponseFlags.PreambleTimeout, entry.Flags);
            Assert.Equal("-", ResponseFlagNames.Format(entry.Flags)); // Envoy sets no flag at a listener filter timeout
        }
        Assert.Equal(["NR", "NR", "NR", "DPE"], new[] { unknown, noSni, plain, malformed }.Select(e => ResponseFlagNames.Format(e.Flags)));
        await world.Router.Metrics.WaitForAsync("envoy_tls_inspector_sni_not_found", before.NoSni + 1);
        await world.Router.Metrics.WaitForAsync("envoy_tls_inspector_tls_not_found", before.NotTls + 1);
        await world.Router.Metrics.WaitForAsync("envoy_tls_inspector_client_hello_malformed", before.Malformed + 1);
        await world.Router.Metrics.WaitForAsync("envoy_listener_downstream_pre_cx_timeout", before.Timeout + 1);
        // Every NR refusal counts as no route, as README's metrics table says: the unknown SNI, no SNI and not TLS (once only the first).
        Assert.Equal(before.NoRoute + 3, world.Router.Metrics["envoy_tcp_downstream_cx_no_route"]);
    }

    private async Task<AccessLogEntry> RefusedAsync(byte[] first)
    {
        await using var client = await TestClient.ConnectAsync(Client, TlsWorld.Gateway);
        await client.SendAsync(first);
        var end = await client.ReadToCloseAsync();
        Assert.True(end.NoData, $"a refused connection gets nothing back: '{end.Text}'");
        return await world.Router.Log.ForAsync(client.Id);
    }

    [Fact]
    public async Task Tls_SIMPLE_originates_TLS_to_the_upstream_for_a_plain_client()
    {
        var (reply, id) = await TestClient.OneLineAsync(Client, TlsWorld.Origin, "plain in, TLS out");
        Assert.Equal("alpha sni=alpha.example.com client=-: plain in, TLS out", reply);
        Assert.Equal(ResponseFlags.None, (await world.Router.Log.ForAsync(id)).Flags);
    }

    [Fact]
    public async Task Tls_MUTUAL_presents_the_client_certificate()
    {
        var (reply, _) = await TestClient.OneLineAsync(Client, TlsWorld.OriginMutual, "who am i");
        Assert.Equal("mutual sni=origin-mutual.default.svc.cluster.local client=CN=router: who am i", reply);
    }

    [Fact]
    public async Task An_upstream_certificate_without_the_subjectAltName_asked_for_fails_the_connect()
    {
        await using var client = await TestClient.ConnectAsync(Client, TlsWorld.OriginBadName);
        await client.SendLineAsync("never");
        var end = await client.ReadToCloseAsync();
        Assert.True(end.NoData);
        var entry = await world.Router.Log.ForAsync(client.Id);
        Assert.True(entry.Flags.HasFlag(ResponseFlags.UpstreamConnectFailure), ResponseFlagNames.Format(entry.Flags));
        // Why the certificate was refused, not .NET's "rejected by the provided RemoteCertificateValidationCallback".
        Assert.Contains("TLS handshake with 127.60.1.11:9443 failed: its certificate (CN=alpha) carries none of tls.subjectAltNames [not-alpha.example.com] (it names [alpha.example.com];", entry.Detail);
        Assert.DoesNotContain("RemoteCertificateValidationCallback", entry.Detail);
    }
}
