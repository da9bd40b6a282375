using System.Net;
using System.Text;
using AkkaL4.Actors.DataPlane;
using AkkaL4.Actors.DataPlane.Preamble;

using AkkaL4.Node.Echo;
using static AkkaL4.Tests.DataPlane.Kit;

namespace AkkaL4.Tests.DataPlane;

/// <summary>
/// PROXY protocol both ways. Sending: upstreams with their own PROXY parser see the real client per
/// trafficPolicy.proxyProtocol (top level V2, a subset's V1). Accepting: a node run with
/// accept-proxy-protocol takes the header's source as the client for source-IP hashing and the access
/// log, and refuses a connection without one. Addresses: 127.60.2.x (sending), 127.60.3.x (accepting), clients also 127.140.3.x.
/// </summary>
public sealed class ProxyProtocolWorld : IAsyncLifetime
{
    private ProxyLineServer _proxied = null!, _proxiedTls = null!;
    private readonly TestCa _ca = new("pp-ca");
    private EchoServer _vip = null!, _others = null!;
    internal TestRouter Sender { get; private set; } = null!;
    internal TestRouter Acceptor { get; private set; } = null!;

    public static readonly IPEndPoint Proxied = At("127.60.2.1", 9000);
    public static readonly IPEndPoint ProxiedV1 = At("127.60.2.2", 9000);
    public static readonly IPEndPoint ProxiedTls = At("127.60.2.3", 9000);
    public static readonly IPEndPoint Edge = At("127.60.3.1", 18000);

    public async Task InitializeAsync()
    {
        _proxied = new ProxyLineServer(At("127.60.2.11", 9100), "proxied");
        _proxiedTls = new ProxyLineServer(At("127.60.2.12", 9100), "proxied-tls", _ca.Issue("proxied-tls", "proxied-tls.example.com"));
        _vip = new EchoServer(At("127.60.3.11", 9000), "a:");
        _others = new EchoServer(At("127.60.3.12", 9000), "b:");
        Sender = TestRouter.Start("pp-send");
        await Sender.ApplyAsync(1,
            Service("proxied", "127.60.2.1", 9000, 9100, "proxied"),
            Service("proxied-v1", "127.60.2.2", 9000, 9100, "nothing"),
            WorkloadEntry("proxied-1", "127.60.2.11", "{app: proxied, version: v1}"),
            Service("proxied-tls", "127.60.2.3", 9000, 9100, "proxied-tls"),
            WorkloadEntry("proxied-tls-1", "127.60.2.12", "{app: proxied-tls}"),
            $$"""
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: proxied-tls, namespace: default}
            spec:
              host: proxied-tls
              trafficPolicy:
                proxyProtocol: {version: V2}
                tls: {mode: SIMPLE, caCertificates: {{_ca.CaFile}}, sni: proxied-tls.example.com}
            """,
            """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: proxied, namespace: default}
            spec:
              host: proxied
              trafficPolicy:
                proxyProtocol: {version: V2}
              subsets:
              - name: v1
                labels: {version: v1}
                trafficPolicy:
                  proxyProtocol: {version: V1}
            """,
            """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: proxied-v1, namespace: default}
            spec:
              hosts: [proxied-v1]
              tcp:
              - route: [{destination: {host: proxied, subset: v1, port: {number: 9000}}}]
            """);

        Acceptor = TestRouter.Start("pp-accept", AkkaL4.Messages.Model.Labels.Of(("istio", "pp-edge")), serveMesh: false,
            settings: "akkal4.data-plane.accept-proxy-protocol = on\nakkal4.data-plane.proxy-protocol-trusted-sources = [\"127.60.3.0/24\", \"127.140.3.0/24\"]");
        await Acceptor.ApplyAsync(1, [
            Service("pool", "127.60.3.21", 9000, 9000, "pool"),
            WorkloadEntry("pod-a", "127.60.3.11", "{app: pool}"),
            WorkloadEntry("pod-b", "127.60.3.12", "{app: pool}"),
            """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: pool, namespace: default}
            spec:
              host: pool
              trafficPolicy:
                loadBalancer: {consistentHash: {useSourceIp: true}}
            """,
            .. GatewayRoute("edge", "pp-edge", "127.60.3.1", 18000, "pool", 9000)]);
    }

    public async Task DisposeAsync()
    {
        await Sender.DisposeAsync();
        await Acceptor.DisposeAsync();
        await _proxied.DisposeAsync();
        await _proxiedTls.DisposeAsync();
        _ca.Dispose();
        await _vip.DisposeAsync();
        await _others.DisposeAsync();
    }
}

[Trait("Category", "EndToEnd")]
public sealed class ProxyProtocolTests(ProxyProtocolWorld world) : IClassFixture<ProxyProtocolWorld>
{
    [Fact]
    public async Task An_upstream_behind_proxyProtocol_V2_sees_the_real_client_and_the_dialled_address()
    {
        var (reply, id) = await TestClient.OneLineAsync("127.60.2.100", ProxyProtocolWorld.Proxied, "hello");
        Assert.Equal($"proxied v2 src={id.Local} dst=127.60.2.1:9000: hello", reply);
        var entry = await world.Sender.Log.ForAsync(id);
        Assert.Equal(6, entry.BytesReceived); // the header is not the client's
    }

    [Fact]
    public async Task With_TLS_origination_the_header_goes_in_the_clear_before_the_handshake()
    {
        var (reply, id) = await TestClient.OneLineAsync("127.60.2.102", ProxyProtocolWorld.ProxiedTls, "secret");
        Assert.Equal($"proxied-tls v2 src={id.Local} dst=127.60.2.3:9000 tls: secret", reply);
    }

    [Fact]
    public async Task A_subset_overrides_the_version_with_V1()
    {
        var (reply, id) = await TestClient.OneLineAsync("127.60.2.101", ProxyProtocolWorld.ProxiedV1, "v1 please");
        Assert.Equal($"proxied v1 src={id.Local} dst=127.60.2.2:9000: v1 please", reply);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(1)]
    public async Task An_accepted_PROXY_header_makes_its_source_the_client_of_the_access_log(int version)
    {
        var source = new IPEndPoint(IPAddress.Parse("10.60.0.7"), 40000 + version);
        var (reply, _) = await AskThroughHeaderAsync("127.60.3.100", source, version, "who?", together: version == 2);
        Assert.Matches("^[ab]: who\\?$", reply);
        var entry = await world.Acceptor.Log.WaitAsync(e => e.Source == source.ToString(), "the connection from " + source);
        Assert.Equal(("default/edge", 0), (entry.VirtualService, entry.Rule));
        Assert.Equal(5, entry.BytesReceived); // the header is not the client's
    }

    [Fact]
    public async Task The_header_source_is_what_source_IP_hashing_hashes()
    {
        // One real client address, eight reported ones: useSourceIp must spread them and keep each on its endpoint.
        var picks = new Dictionary<string, string>();
        for (var i = 1; i <= 8; i++)
        {
            var source = new IPEndPoint(IPAddress.Parse($"10.60.1.{i}"), 5000 + i);
            picks[source.Address.ToString()] = (await AskThroughHeaderAsync("127.60.3.101", source, 1 + i % 2, "x", together: i % 3 == 0)).Reply[..1];
        }
        Assert.Equal(2, picks.Values.Distinct().Count());
        foreach (var (address, pick) in picks.Take(3))
        {
            var again = await AskThroughHeaderAsync("127.60.3.101", new IPEndPoint(IPAddress.Parse(address), 6000), 2, "y", together: true);
            Assert.Equal(pick, again.Reply[..1]);
        }
    }

    /// <summary>Sends a PROXY header then one line (in one write, or in two packets), returns the reply.</summary>
    private static async Task<(string Reply, ConnectionId Id)> AskThroughHeaderAsync(string from, IPEndPoint source, int version, string line, bool together)
    {
        var header = version == 2 ? ProxyProtocol.V2(source, ProxyProtocolWorld.Edge) : ProxyProtocol.V1(source, ProxyProtocolWorld.Edge);
        await using var client = await TestClient.ConnectAsync(from, ProxyProtocolWorld.Edge);
        var data = Encoding.ASCII.GetBytes(line + "\n");
        if (together) await client.SendAsync(header.Concat(data).ToArray());
        else
        {
            await client.SendAsync(header);
            await Task.Delay(30);
            await client.SendAsync(data);
        }
        var reply = await client.ReadLineAsync();
        client.ShutdownSend();
        await client.ReadToCloseAsync();
        return (reply, client.Id);
    }

    [Fact]
    public async Task A_v2_header_larger_than_the_first_read_arriving_in_pieces_is_read_whole()
    {
        // 12 KB of TLVs after the addresses (the node's buffer starts at 2 KB and grows), sent 1 KB at a time with the line.
        var source = new IPEndPoint(IPAddress.Parse("10.60.2.9"), 40123);
        var header = ProxyProtocol.V2(source, ProxyProtocolWorld.Edge);
        var tlv = new byte[3 + 12 * 1024];
        tlv[0] = 0xE0;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(tlv.AsSpan(1), (ushort)(tlv.Length - 3));
        var big = header.Concat(tlv).Concat(Encoding.ASCII.GetBytes("big\n")).ToArray();
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(big.AsSpan(14), (ushort)(header.Length - 16 + tlv.Length));
        await using var client = await TestClient.ConnectAsync("127.140.3.1", ProxyProtocolWorld.Edge);
        for (var i = 0; i < big.Length; i += 1024)
            await client.SendAsync(big.AsMemory(i, Math.Min(1024, big.Length - i)));
        Assert.Matches("^[ab]: big$", await client.ReadLineAsync());
        client.ShutdownSend();
        await client.ReadToCloseAsync();
        var entry = await world.Acceptor.Log.WaitAsync(e => e.Source == source.ToString(), "the connection from " + source);
        Assert.Equal(4, entry.BytesReceived); // the header is not the client's
    }

    [Fact]
    public async Task A_connection_without_a_PROXY_header_is_refused_with_PPE()
    {
        var before = world.Acceptor.Metrics["envoy_listener_downstream_cx_proxy_proto_error"];
        await using var client = await TestClient.ConnectAsync("127.60.3.102", ProxyProtocolWorld.Edge);
        await client.SendLineAsync("no header here");
        var end = await client.ReadToCloseAsync();
        Assert.True(end.NoData);
        var entry = await world.Acceptor.Log.ForAsync(client.Id);
        Assert.Equal("DPE", ResponseFlagNames.Format(entry.Flags));
        Assert.Contains("no PROXY header", entry.Detail);
        await world.Acceptor.Metrics.WaitForAsync("envoy_listener_downstream_cx_proxy_proto_error", before + 1);
    }
}
