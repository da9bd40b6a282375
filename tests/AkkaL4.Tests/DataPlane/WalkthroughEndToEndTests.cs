using System.Net;
using AkkaL4.Actors.Config;
using AkkaL4.Actors.DataPlane;
using AkkaL4.Messages.Model;
using AkkaL4.Node.Echo;
using AkkaL4.Tests.Support;
using static AkkaL4.Tests.DataPlane.Kit;

namespace AkkaL4.Tests.DataPlane;

/// <summary>Tests that bind the seed's fixed addresses (127.0.10.x, 127.0.20.x, 127.0.40.x) run one at a time.</summary>
[CollectionDefinition(Name)]
public sealed class SeedAddressesCollection
{
    public const string Name = "seed addresses (127.0.10/20/40.x)";
}

/// <summary>
/// The walkthrough's world on loopback: the three echo pods and two router nodes in one cluster —
/// router-1 serves the mesh and ingressgateway-1, router-2 only ingressgateway-2.
/// </summary>
public sealed class SeedWorld : IAsyncLifetime
{
    private readonly List<EchoServer> _pods = [];
    internal TestRouter Router1 { get; private set; } = null!;
    internal TestRouter Router2 { get; private set; } = null!;

    public Task InitializeAsync()
    {
        _pods.Add(new EchoServer(IPEndPoint.Parse("127.0.10.1:9000"), "hello"));
        _pods.Add(new EchoServer(IPEndPoint.Parse("127.0.10.2:9000"), "hello-gray"));
        _pods.Add(new EchoServer(IPEndPoint.Parse("127.0.10.3:9000"), "hello-2"));
        Router1 = TestRouter.Start("router-1", Labels.Of(("istio", "ingressgateway-1")));
        Router2 = TestRouter.Start("router-2", Labels.Of(("istio", "ingressgateway-2")), serveMesh: false, seeds: [Router1.Node.ClusterAddress]);
        return Task.CompletedTask;
    }

    /// <summary>world.yaml plus one case file, in force on both nodes.</summary>
    internal async Task ApplyAsync(string caseFile, long revision)
    {
        var report = Check(ManifestFiles.Read([Repo.Path("examples", "seed", "world.yaml"), Repo.Path("examples", "seed", caseFile)]));
        Assert.True(report.Ok, "seed manifests rejected: " + string.Join("; ", report.Errors));
        await Router1.ApplyAsync(report.Resources, revision);
        await Router2.ApplyAsync(report.Resources, revision);
    }

    public async Task DisposeAsync()
    {
        await Router2.DisposeAsync();
        await Router1.DisposeAsync();
        foreach (var pod in _pods) await pod.DisposeAsync();
    }
}

/// <summary>
/// Every case of the walkthrough (shared/seed-walkthrough.md) end to end: examples/seed applied to real
/// router nodes, a real client sending <c>test</c> from the walkthrough's client address, and the
/// answer the walkthrough gives.
/// </summary>
[Collection(SeedAddressesCollection.Name)]
[Trait("Category", "EndToEnd")]
public sealed class WalkthroughEndToEndTests(SeedWorld world) : IClassFixture<SeedWorld>
{
    private const string TelnetClient = "127.0.30.1";
    private const string TelnetClient2 = "127.0.30.2";
    private const string TelnetClientFoo = "127.0.30.3";
    private static readonly IPEndPoint EchoService = At("127.0.20.1", 19000);
    private static readonly IPEndPoint Gateway1 = At("127.0.40.1", 19000);
    private static readonly IPEndPoint Gateway2 = At("127.0.40.2", 19000);

    // echo-server selects both its prod and its gray pod.
    private static readonly string[] EchoServerAnswers = ["hello test", "hello-gray test"];
    private static readonly string EchoServer2Cluster = $"outbound|19000||{Fqdn("echo-server-2")}";
    private static readonly string EchoServerCluster = $"outbound|19000||{Fqdn("echo-server")}";

    private static async Task<(string Reply, ConnectionId Id)> Telnet(string source, IPEndPoint destination) =>
        await TestClient.OneLineAsync(source, destination, "test");

    [Fact]
    public async Task Case1_destination_subnets_sends_the_service_range_to_echo_server_2()
    {
        await world.ApplyAsync("01-destination-subnets.yaml", 1);

        var (reply, local) = await Telnet(TelnetClient, EchoService);

        Assert.Equal("hello-2 test", reply);
        var entry = await world.Router1.Log.ForAsync(local);
        Assert.Equal("default/echo-by-subnet", entry.VirtualService);
        Assert.Equal(EchoServer2Cluster, entry.Cluster);
        Assert.Equal("127.0.10.3:9000", entry.Upstream);
        Assert.Equal(ResponseFlags.None, entry.Flags);
    }

    [Fact]
    public async Task Case2_port_match_sends_19000_to_echo_server_2()
    {
        await world.ApplyAsync("02-port.yaml", 2);

        var (reply, local) = await Telnet(TelnetClient, EchoService);

        Assert.Equal("hello-2 test", reply);
        var entry = await world.Router1.Log.ForAsync(local);
        Assert.Equal("default/echo-by-port", entry.VirtualService);
        Assert.Equal(EchoServer2Cluster, entry.Cluster);
    }

    [Fact]
    public async Task Case3_source_labels_send_only_telnet_client_to_echo_server_2()
    {
        await world.ApplyAsync("03-source-labels.yaml", 3);

        var (fromClient1, _) = await Telnet(TelnetClient, EchoService);
        var (fromClient2, local2) = await Telnet(TelnetClient2, EchoService);

        Assert.Equal("hello-2 test", fromClient1);
        Assert.Contains(fromClient2, EchoServerAnswers);
        var entry = await world.Router1.Log.ForAsync(local2);
        Assert.Null(entry.VirtualService); // no rule matched: the dialled service itself
        Assert.Equal(EchoServerCluster, entry.Cluster);
    }

    [Fact]
    public async Task Case4_gateways_route_gateway_2_to_echo_server_2_and_gateway_1_to_echo_server()
    {
        await world.ApplyAsync("04-gateways.yaml", 4);

        var (viaGateway1, local1) = await Telnet(TelnetClient, Gateway1);
        var (viaGateway2, local2) = await Telnet(TelnetClient, Gateway2);
        var (viaService, _) = await Telnet(TelnetClient, EchoService);

        Assert.Contains(viaGateway1, EchoServerAnswers);
        Assert.Equal("hello-2 test", viaGateway2);
        // The service address is mesh traffic, which a gateway-bound VirtualService does not touch.
        Assert.Contains(viaService, EchoServerAnswers);

        var entry1 = await world.Router1.Log.ForAsync(local1);
        Assert.Equal("istio-system/ingressgateway-1", entry1.Gateway);
        Assert.Equal("istio-system/ingressgateway", entry1.VirtualService);
        Assert.Equal(EchoServerCluster, entry1.Cluster);
        // Gateway 2 is served by the second node only.
        var entry2 = await world.Router2.Log.ForAsync(local2);
        Assert.Equal("istio-system/ingressgateway-2", entry2.Gateway);
        Assert.Equal(EchoServer2Cluster, entry2.Cluster);
        Assert.DoesNotContain(world.Router1.Log.Entries, local2.Matches);
    }

    [Fact]
    public async Task Case5_source_namespace_sends_namespace_foo_to_echo_server_2()
    {
        await world.ApplyAsync("05-source-namespace.yaml", 5);

        var (fromFoo, _) = await Telnet(TelnetClientFoo, EchoService);
        var (fromDefault, local) = await Telnet(TelnetClient, EchoService);

        Assert.Equal("hello-2 test", fromFoo);
        Assert.Contains(fromDefault, EchoServerAnswers);
        var entry = await world.Router1.Log.ForAsync(local);
        Assert.Equal("default/echo-by-source-namespace", entry.VirtualService);
        Assert.Equal(1, entry.Rule); // tcp[1], the catch-all rule
        Assert.Equal(EchoServerCluster, entry.Cluster);
    }

    [Fact]
    public async Task Case6_weight_80_20_gives_four_hello_and_one_hello_gray_in_five()
    {
        await world.ApplyAsync("06-weight.yaml", 6);

        var replies = new List<string>();
        for (var i = 0; i < 5; i++) replies.Add((await Telnet(TelnetClient, EchoService)).Reply);

        Assert.Equal(4, replies.Count(r => r == "hello test"));
        Assert.Equal(1, replies.Count(r => r == "hello-gray test"));
    }
}
