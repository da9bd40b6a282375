using System.Collections.Concurrent;
using System.Net;
using System.Text;
using Akka.Actor;
using Akka.Configuration;
using AkkaL4.Actors;
using AkkaL4.Actors.DataPlane;
using AkkaL4.Actors.DataPlane.Preamble;
using AkkaL4.Node.Echo;
using AkkaL4.Tests.ControlPlane;
using AkkaL4.Tests.DataPlane;
using AkkaL4.Tests.Support;
using static AkkaL4.Tests.DataPlane.Kit;

namespace AkkaL4.Tests.Security;

/// <summary>
/// A gateway expecting PROXY headers believes them only from akkal4.data-plane.proxy-protocol-trusted-sources:
/// the load balancer (127.150.1.0/24) names the client; any other peer (127.150.2.x) is refused before its header is
/// read, so it can never claim an address. Addresses: 127.150.0.x (gateway, upstream), 127.150.1-2.x (clients).
/// </summary>
public sealed class ProxyProtocolTrustWorld : IAsyncLifetime
{
    public static readonly IPEndPoint Edge = At("127.150.0.1", 18000);
    private EchoServer _upstream = null!;
    internal TestRouter Router { get; private set; } = null!;
    internal ConcurrentQueue<string> Warnings { get; } = new();
    public int UpstreamConnections => _upstream.Connections;

    public async Task InitializeAsync()
    {
        _upstream = new EchoServer(At("127.150.0.11", 9000), "a:");
        Router = TestRouter.Start("pp-trust", AkkaL4.Messages.Model.Labels.Of(("istio", "pp-trust")), serveMesh: false,
            settings: """
                      akka.loglevel = WARNING
                      akkal4.data-plane.accept-proxy-protocol = on
                      akkal4.data-plane.proxy-protocol-trusted-sources = ["127.150.1.0/24"]
                      """);
        var tap = Router.Node.System.ActorOf(Props.Create(() => new EventTap<Akka.Event.Warning>(w => Warnings.Enqueue(w.Message.ToString() ?? ""))));
        Router.Node.System.EventStream.Subscribe(tap, typeof(Akka.Event.Warning));
        await Router.ApplyAsync(1, [
            Service("pool", "127.150.0.21", 9000, 9000, "pool"),
            WorkloadEntry("pod-a", "127.150.0.11", "{app: pool}"),
            .. GatewayRoute("edge", "pp-trust", "127.150.0.1", 18000, "pool", 9000)]);
    }

    public async Task DisposeAsync()
    {
        await Router.DisposeAsync();
        await _upstream.DisposeAsync();
    }
}

[Trait("Category", "EndToEnd")]
public sealed class ProxyProtocolTrustTests(ProxyProtocolTrustWorld world) : IClassFixture<ProxyProtocolTrustWorld>
{
    private const string Untrusted = "akkal4_listener_proxy_protocol_untrusted_total";

    [Fact]
    public async Task A_trusted_load_balancer_names_the_client()
    {
        var claimed = new IPEndPoint(IPAddress.Parse("10.150.0.7"), 40007);
        await using var client = await TestClient.ConnectAsync("127.150.1.1", ProxyProtocolTrustWorld.Edge);
        await client.SendAsync(ProxyProtocol.V2(claimed, ProxyProtocolTrustWorld.Edge).Concat(Encoding.ASCII.GetBytes("hi\n")).ToArray());
        Assert.Equal("a: hi", await client.ReadLineAsync());
        client.ShutdownSend();
        await client.ReadToCloseAsync();
        var entry = await world.Router.Log.WaitAsync(e => e.Source == claimed.ToString(), "the connection the balancer named " + claimed);
        Assert.Equal(ResponseFlags.None, entry.Flags);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task Any_other_peer_is_refused_and_never_becomes_the_address_it_claims(int version)
    {
        var before = world.Router.Metrics[Untrusted];
        var upstreamBefore = world.UpstreamConnections;
        var claimed = new IPEndPoint(IPAddress.Parse("10.150.0.8"), 40100 + version);
        await using var client = await TestClient.ConnectAsync($"127.150.2.{version}", ProxyProtocolTrustWorld.Edge);
        var header = version == 2 ? ProxyProtocol.V2(claimed, ProxyProtocolTrustWorld.Edge) : ProxyProtocol.V1(claimed, ProxyProtocolTrustWorld.Edge);
        await client.SendAsync(header.Concat(Encoding.ASCII.GetBytes("let me in\n")).ToArray());
        Assert.True((await client.ReadToCloseAsync()).NoData);

        // Logged under its real address, refused with DPE and why; counted apart from malformed headers.
        var entry = await world.Router.Log.ForAsync(client.Id);
        Assert.Equal("DPE", ResponseFlagNames.Format(entry.Flags));
        Assert.Contains($"PROXY header not accepted from 127.150.2.{version}", entry.Detail);
        Assert.Contains(DataPlaneSettings.TrustedSourcesKey, entry.Detail);
        await world.Router.Metrics.WaitForAsync(Untrusted, before + 1);
        Assert.DoesNotContain(world.Router.Log.Entries, e => e.Source == claimed.ToString());
        Assert.Equal(upstreamBefore, world.UpstreamConnections);
        // The listener's first refusal is always warned about, naming its peer; later ones within 10 s only counted
        // (WarningThrottleTests), so only the row that ran first can check its own peer.
        if (before == 0)
            await EventuallyAsync(() => world.Warnings.Any(w => w.Contains($"from 127.150.2.{version}: ") && w.Contains("is not in " + DataPlaneSettings.TrustedSourcesKey)
                                                              && w.Contains("; 1 refused since the last such warning")),
                "a warning naming the untrusted peer, the setting and the count");
    }

    [Fact]
    public void Accepting_PROXY_headers_with_nobody_trusted_or_a_bad_CIDR_is_a_settings_error()
    {
        static Akka.Configuration.Config With(string layer) => RouterNode.Layered([layer]);

        var none = Assert.Throws<ConfigurationException>(() => DataPlaneSettings.From(With("akkal4.data-plane.accept-proxy-protocol = on")));
        Assert.Contains("proxy-protocol-trusted-sources is empty", none.Message);
        var bad = Assert.Throws<ConfigurationException>(() => DataPlaneSettings.From(With("akkal4.data-plane.proxy-protocol-trusted-sources = [\"10.0.0.0/33\"]")));
        Assert.Contains("'10.0.0.0/33' is not a CIDR", bad.Message);
        // Off (the default), nothing is required; the list is read whether or not it is used.
        var off = DataPlaneSettings.From(With("akkal4.data-plane.proxy-protocol-trusted-sources = [\"10.1.0.0/16\", \"::1\"]"));
        Assert.True(off.TrustsProxyProtocolFrom(IPAddress.Parse("10.1.2.3")));
        Assert.True(off.TrustsProxyProtocolFrom(IPAddress.Parse("::ffff:10.1.2.3")));
        Assert.True(off.TrustsProxyProtocolFrom(IPAddress.IPv6Loopback));
        Assert.False(off.TrustsProxyProtocolFrom(IPAddress.Parse("10.2.0.1")));
        Assert.False(DataPlaneSettings.From(With("")).TrustsProxyProtocolFrom(IPAddress.Loopback));
    }
}

/// <summary>The real <c>akkal4 run</c> refuses to accept PROXY headers from nobody in particular.</summary>
[Collection(ProcessesCollection.Name)]
[Trait("Category", "EndToEnd")]
public sealed class ProxyProtocolTrustCliTests : IDisposable
{
    private readonly string _directory = ControlPlaneKit.TempDirectory();

    public void Dispose() => ControlPlaneKit.DeleteDirectory(_directory);

    [Fact]
    public async Task Run_with_accept_proxy_protocol_needs_trusted_sources()
    {
        var none = await Akkal4Process.RunAsync(["run", "--admin", "127.150.9.1:0", "--data", _directory, "--accept-proxy-protocol"]);
        Assert.Equal(2, none.ExitCode);
        Assert.Contains("proxy-protocol-trusted-sources is empty", none.Stderr);

        var bad = await Akkal4Process.RunAsync(["run", "--admin", "127.150.9.1:0", "--data", _directory, "--accept-proxy-protocol"],
            environment: new Dictionary<string, string> { ["AKKAL4_PROXY_PROTOCOL_TRUSTED_SOURCES"] = "10.0.0.0/8, lb.example" });
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("--proxy-protocol-trusted-sources: 'lb.example' is not a CIDR or IP address", bad.Stderr);
    }
}
