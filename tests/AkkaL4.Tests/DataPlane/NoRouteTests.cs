using AkkaL4.Actors.DataPlane;
using AkkaL4.Messages.Model;
using AkkaL4.Node.Echo;
using static AkkaL4.Tests.DataPlane.Kit;

namespace AkkaL4.Tests.DataPlane;

/// <summary>
/// One node, one configuration with four ways for a connection to have nowhere to go.
/// Addresses: 127.1.3.x.
/// </summary>
public sealed class NoRouteWorld : IAsyncLifetime
{
    private EchoServer _pod = null!;
    internal TestRouter Router { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        // The service has a live endpoint (version v1); only the routes below miss it.
        _pod = new EchoServer(At("127.1.3.11", 9000), "echo");
        Router = TestRouter.Start("no-route", Labels.Of(("istio", "edge")));
        await Router.ApplyAsync(1,
            Service("echo", "127.1.3.10", 19000, 9000, "echo"),
            WorkloadEntry("echo-v1", "127.1.3.11", "{app: echo, version: v1}"),
            Service("empty-subset", "127.1.3.1", 19000, 9000, "nothing"),
            Service("undeclared-subset", "127.1.3.2", 19000, 9000, "nothing"),
            Service("unknown-host", "127.1.3.3", 19000, 9000, "nothing"),
            DestinationRule("echo", "default", """
            host: echo
            subsets:
            - {name: v1, labels: {version: v1}}
            - {name: v3, labels: {version: v3}}
            """),
            VirtualService("to-empty-subset", "default", """
            hosts: [empty-subset]
            tcp:
            - route: [{destination: {host: echo, subset: v3}}]
            """),
            VirtualService("to-undeclared-subset", "default", """
            hosts: [undeclared-subset]
            tcp:
            - route: [{destination: {host: echo, subset: v9}}]
            """),
            VirtualService("to-unknown-host", "default", """
            hosts: [unknown-host]
            tcp:
            - route: [{destination: {host: nowhere}}]
            """),
            Gateway("edge", "default", """
            selector: {istio: edge}
            servers:
            - port: {number: 19100, name: tcp, protocol: TCP}
              bind: 127.1.3.4
              hosts: ["*"]
            """),
            VirtualService("edge-other-port", "default", """
            hosts: ["*"]
            gateways: [edge]
            tcp:
            - match: [{port: 19101}]
              route: [{destination: {host: echo, port: {number: 19000}}}]
            """));
    }

    public async Task DisposeAsync()
    {
        await Router.DisposeAsync();
        await _pod.DisposeAsync();
    }
}

/// <summary>
/// istio-l4-semantics.md: unknown host or undeclared subset → NC (no cluster found) and downstream_cx_no_route; a declared
/// subset without endpoints → UH and upstream_cx_none_healthy; a gateway port no rule matches → NR (no route), as Envoy says.
/// The client sees its connection closed with no data.
/// </summary>
[Trait("Category", "EndToEnd")]
public sealed class NoRouteTests(NoRouteWorld world) : IClassFixture<NoRouteWorld>
{
    private const string Client = "127.1.3.30";

    private async Task<AccessLogEntry> RefusedAsync(string ip, int port)
    {
        await using var client = await TestClient.ConnectAsync(Client, At(ip, port));
        await client.SendLineAsync("test");
        client.ShutdownSend();
        var end = await client.ReadToCloseAsync();
        Assert.True(end.NoData, $"expected the connection closed with no data, got '{end.Text}'");
        return await world.Router.Log.ForAsync(client.Id);
    }

    [Fact]
    public async Task Subset_without_endpoints_is_closed_with_UH()
    {
        var noneHealthy = world.Router.Metrics["envoy_cluster_upstream_cx_none_healthy"];

        var entry = await RefusedAsync("127.1.3.1", 19000);

        Assert.Equal(ResponseFlags.NoHealthyUpstream, entry.Flags);
        Assert.Equal($"outbound|19000|v3|{Fqdn("echo")}", entry.Cluster);
        Assert.Null(entry.Upstream);
        await world.Router.Metrics.WaitForAsync("envoy_cluster_upstream_cx_none_healthy", noneHealthy + 1);
    }

    [Fact]
    public async Task Subset_no_destination_rule_declares_is_closed_with_NC()
    {
        var noRoute = world.Router.Metrics["envoy_tcp_downstream_cx_no_route"];

        var entry = await RefusedAsync("127.1.3.2", 19000);

        Assert.Equal(ResponseFlags.NoClusterFound, entry.Flags);
        Assert.Null(entry.Upstream);
        await world.Router.Metrics.WaitForAsync("envoy_tcp_downstream_cx_no_route", noRoute + 1);
    }

    [Fact]
    public async Task Unknown_host_is_closed_with_NC()
    {
        var noRoute = world.Router.Metrics["envoy_tcp_downstream_cx_no_route"];

        var entry = await RefusedAsync("127.1.3.3", 19000);

        Assert.Equal(ResponseFlags.NoClusterFound, entry.Flags);
        Assert.Null(entry.Upstream);
        await world.Router.Metrics.WaitForAsync("envoy_tcp_downstream_cx_no_route", noRoute + 1);
    }

    [Fact]
    public async Task Gateway_port_no_rule_matches_is_closed_with_NR()
    {
        var noRoute = world.Router.Metrics["envoy_tcp_downstream_cx_no_route"];

        var entry = await RefusedAsync("127.1.3.4", 19100);

        Assert.Equal(ResponseFlags.NoRoute, entry.Flags);
        Assert.Null(entry.Upstream);
        await world.Router.Metrics.WaitForAsync("envoy_tcp_downstream_cx_no_route", noRoute + 1);
    }

    [Fact]
    public async Task The_routable_service_itself_still_answers()
    {
        var (reply, _) = await TestClient.OneLineAsync(Client, At("127.1.3.10", 19000), "test");

        Assert.Equal("echo test", reply);
    }
}
