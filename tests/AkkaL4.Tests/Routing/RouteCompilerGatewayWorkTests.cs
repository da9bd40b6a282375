using AkkaL4.Actors.Config.Analysis;
using AkkaL4.Actors.Routing;
using AkkaL4.Messages.Model;
using AkkaL4.Tests.Support;
using static AkkaL4.Tests.Routing.RoutingFixtures;

namespace AkkaL4.Tests.Routing;

/// <summary>
/// The work a listener costs the route compiler (RouteCompiler.Check, in the config writer on every write and in every
/// node's compile) and the shadowed-rule analysis: the VirtualServices looked at per listener, counted, not timed. Both once
/// walked every VirtualService for every Gateway server, and every VirtualService with a wildcard host (gateway-only ones
/// too) for every service (review1-s15: Check took 14.9 s at 2,000 Gateways); now they ask
/// <see cref="VirtualServiceIndex.BoundTo"/> for those bound to a listener's gateways and
/// <see cref="VirtualServiceIndex.BoundToMesh"/> for those bound to mesh for a service's host.
/// </summary>
[Trait("Category", TestCategories.Unit)]
public class RouteCompilerGatewayWorkTests
{
    [Fact]
    public void Each_gateway_listener_looks_only_at_the_VirtualServices_bound_to_its_gateways()
    {
        const int n = 300;
        var resources = WorkCount.Tenants(TenantManifests.GatewayPerPort, n);

        var compiler = WorkCount.Check(resources);
        var walks = WorkCount.Shadowed(resources, out var shadowed);

        // One gateway listener (and one server) per tenant, one VirtualService bound to each, none bound to mesh: n, where a
        // scan of every VirtualService per gateway listener is n × n (90,000), and per mesh listener n × n more.
        Assert.Equal(n, compiler.VirtualServices);
        Assert.Equal(n, walks.VirtualServices);
        Assert.Empty(shadowed);
        var snapshot = RouteCompiler.Compile(resources, Labels.Of(("app", "gw")), serveMesh: false);
        Assert.Equal(n, snapshot.Listeners.Count);
        Assert.All(snapshot.Listeners, l => Assert.Equal($"default/vs-{l.Address.Port - 20000}", Assert.Single(l.Rules.Tcp).Target.VirtualService));
    }

    /// <summary>
    /// N tenant Gateways on ONE port (a selector each; the writer's check serves every Gateway, so they make one listener):
    /// the servers a VirtualService is bound through are found by its gateways' names, not by scanning the listener's servers
    /// for each VirtualService (n × n: 11 s per write at 10,000 tenants).
    /// </summary>
    [Fact]
    public void A_listener_of_N_gateways_finds_the_servers_of_each_VirtualService_by_name()
    {
        const int n = 300;
        var resources = WorkCount.Tenants(TenantManifests.SelectorPerTenant, n);

        var work = WorkCount.Check(resources);

        Assert.Equal(n, work.VirtualServices);
        // Grouped by gateway once (n), then one server per VirtualService (n).
        Assert.Equal(2 * n, work.Servers);
        var tenant = Assert.Single(RouteCompiler.Compile(resources, Labels.Of(("istio", "ingress"), ("tenant", "t-7")), serveMesh: false).Listeners);
        Assert.Equal("default/vs-00007", Assert.Single(tenant.Rules.Tcp).Target.VirtualService);
    }

    /// <summary>
    /// Two Gateways with servers on one port make one listener: the VirtualServices bound to either, each once, in
    /// precedence order (creation time), whichever Gateway they are bound to; one bound to neither is not looked at.
    /// </summary>
    [Fact]
    public void A_listener_of_two_gateways_takes_the_VirtualServices_of_both_once_in_precedence_order()
    {
        static string Gateway(string name, int port = 7000) => $$"""
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: {{name}}, namespace: edge}
            spec:
              selector: {app: gw}
              servers: [{port: {number: {{port}}, name: tcp, protocol: TCP}, hosts: ["*/*"]}]
            """;
        static string Vs(string name, string created, string gateways) => $$"""
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: {{name}}, namespace: edge, creationTimestamp: "{{created}}"}
            spec:
              hosts: ["*"]
              gateways: {{gateways}}
              tcp:
              - route:
                - destination: {host: backend.edge.svc.cluster.local, port: {number: 9000} }
            """;
        var resources = Resources(
            Gateway("a"), Gateway("b"), Gateway("c"), Gateway("d", 7001),
            """
            apiVersion: v1
            kind: Service
            metadata: {name: backend, namespace: edge}
            spec: {clusterIP: 10.9.0.1, ports: [{name: tcp, port: 9000}]}
            """,
            Vs("on-a-late", "2026-01-03T00:00:00Z", "[a]"),
            Vs("on-b-early", "2026-01-01T00:00:00Z", "[b]"),
            Vs("on-both", "2026-01-02T00:00:00Z", "[a, edge/b]"),
            Vs("on-c", "2026-01-01T00:00:00Z", "[c]"),
            Vs("on-d", "2026-01-01T00:00:00Z", "[d]")).ToList();

        var snapshot = RouteCompiler.Compile(resources, Labels.Of(("app", "gw")), serveMesh: false);
        var listener = Assert.Single(snapshot.Listeners, l => l.Address.Port == 7000);
        Assert.Equal(["edge/a", "edge/b", "edge/c"], listener.Gateways.Order());
        Assert.Equal(["edge/on-b-early", "edge/on-c", "edge/on-both", "edge/on-a-late"], listener.Rules.Tcp.Select(r => r.Target.VirtualService));

        Assert.Equal(["edge/on-d"], Assert.Single(snapshot.Listeners, l => l.Address.Port == 7001).Rules.Tcp.Select(r => r.Target.VirtualService));

        // Each VirtualService is looked at once, for its own listener (on-both too, bound to two of that listener's
        // gateways): 4 at port 7000, 1 at 7001; a scan of every VirtualService per listener looks at 10.
        Assert.Equal(5, WorkCount.Check(resources).VirtualServices);
    }
}
