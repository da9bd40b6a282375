using AkkaL4.Actors.Config;
using AkkaL4.Actors.Routing;
using AkkaL4.Messages.Model;
using AkkaL4.Tests.Support;

namespace AkkaL4.Tests.Config;

/// <summary>
/// Two Gateways with TCP servers on one address and port: a node serving both makes ONE listener of them (RouteCompiler), the
/// first VirtualService bound to either and its first matching rule taking every connection (istio-l4-semantics.md "Gateway
/// traffic"). The shadowed-rule analysis once walked each Gateway's server apart, so a rule hidden through the merged
/// listener by the other Gateway's VirtualService got no warning. It is hidden on every node only when every node serving its
/// Gateway serves the other one too (the other's selector is within its own); otherwise a node serving only its Gateway
/// reaches it. Configuration only, nothing bound; each case asks the compiled router which rule a connection meets.
/// </summary>
[Trait("Category", TestCategories.Unit)]
public sealed class GatewayListenerAnalysisTests
{
    private static readonly AddressBlock Block = AddressBlocks.Of(234);
    private static readonly string Bind = Block.Host(1, 1);

    private static string Gateway(string name, string selector) => $$"""
        apiVersion: networking.istio.io/v1
        kind: Gateway
        metadata: {name: {{name}}, namespace: edge}
        spec:
          selector: {{selector}}
          servers: [{port: {number: 7000, name: tcp, protocol: TCP}, bind: "{{Bind}}", hosts: ["*"]}]
        ---

        """;

    private static string Vs(string name, string created, string gateway, string match = "") => $$"""
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: {{name}}, namespace: edge, creationTimestamp: "{{created}}"}
        spec:
          hosts: ["*"]
          gateways: [{{gateway}}]
          tcp:
          - {{match}}route:
            - destination: {host: {{name}}.edge.svc.cluster.local, port: {number: 9000} }
        ---

        """;

    private static string Service(string name, int host) => $$"""
        apiVersion: v1
        kind: Service
        metadata: {name: {{name}}, namespace: edge}
        spec: {clusterIP: "{{Block.Host(2, host)}}", ports: [{name: tcp, port: 9000}]}
        ---

        """;

    private static readonly string Services = Service("first", 1) + Service("second", 2);

    private static (ConfigReport Report, List<Diagnostic> Shadowed) Check(string manifests)
    {
        var report = ConfigCheck.Check([("test.yaml", manifests)]);
        Assert.True(report.Ok, "expected a valid configuration, got: " + string.Join("; ", report.Errors));
        return (report, report.Warnings.Where(w => w.Message.StartsWith("this rule can never match", StringComparison.Ordinal)).ToList());
    }

    /// <summary>The VirtualService whose rule a connection to the gateway listener meets on a node with these labels.</summary>
    private static string? Routed(ConfigReport report, params (string, string)[] nodeLabels)
    {
        var snapshot = RouteCompiler.Compile(report.Resources, Labels.Of(nodeLabels), serveMesh: false);
        return snapshot.Decide(new IpPort(IpKey.Parse(Bind), 7000), IpKey.Parse(Block.Host(3, 1)), IpKey.Parse(Bind)).Target?.VirtualService;
    }

    [Fact]
    public void A_rule_hidden_through_the_listener_two_gateways_of_one_selector_make_is_warned()
    {
        var (report, shadowed) = Check(Services + Gateway("gw-a", "{istio: edge}") + Gateway("gw-b", "{istio: edge}")
                                       + Vs("first", "2026-01-01T00:00:00Z", "gw-a") + Vs("second", "2026-01-02T00:00:00Z", "gw-b", "match: [{port: 7000}]\n    "));

        // The router: every node serving either serves both, and the older VirtualService takes the connection.
        Assert.Equal("edge/first", Routed(report, ("istio", "edge")));
        var warning = Assert.Single(shadowed);
        Assert.Equal(("VirtualService/edge/second", "spec.tcp[0]"), (warning.Resource, warning.Field));
        Assert.Contains($"VirtualService edge/first spec.tcp[0] takes every connection on port 7000 of the one listener ({Bind}:7000) that gateways edge/gw-a and edge/gw-b make together", warning.Message);
        Assert.Contains("it was created earlier (2026-01-01T00:00:00Z, this one 2026-01-02T00:00:00Z)", warning.Message);
        Assert.StartsWith("test.yaml:", warning.Location);
    }

    [Fact]
    public void Gateways_no_node_serves_together_are_not_merged_and_nothing_is_warned()
    {
        var (report, shadowed) = Check(Services + Gateway("gw-a", "{istio: edge-a}") + Gateway("gw-b", "{istio: edge-b}")
                                       + Vs("first", "2026-01-01T00:00:00Z", "gw-a") + Vs("second", "2026-01-02T00:00:00Z", "gw-b"));

        Assert.Equal("edge/second", Routed(report, ("istio", "edge-b")));
        Assert.Empty(shadowed);
    }

    [Fact]
    public void Only_a_gateway_whose_nodes_all_serve_the_other_one_has_its_rules_hidden_by_the_other()
    {
        // gw-zone's selector includes gw-all's: every node serving gw-zone serves gw-all, not the other way round.
        var all = Gateway("gw-all", "{istio: edge}");
        var zone = Gateway("gw-zone", "{istio: edge, zone: z1}");

        // first (older) bound to gw-all: hides second (bound to gw-zone) on every node serving gw-zone.
        var (report, shadowed) = Check(Services + all + zone + Vs("first", "2026-01-01T00:00:00Z", "gw-all") + Vs("second", "2026-01-02T00:00:00Z", "gw-zone"));
        Assert.Equal("edge/first", Routed(report, ("istio", "edge"), ("zone", "z1")));
        Assert.Equal("VirtualService/edge/second", Assert.Single(shadowed).Resource);

        // first (older) bound to gw-zone: a node with only istio=edge serves gw-all alone, and second takes its connections.
        (report, shadowed) = Check(Services + all + zone + Vs("first", "2026-01-01T00:00:00Z", "gw-zone") + Vs("second", "2026-01-02T00:00:00Z", "gw-all"));
        Assert.Equal("edge/first", Routed(report, ("istio", "edge"), ("zone", "z1")));
        Assert.Equal("edge/second", Routed(report, ("istio", "edge")));
        Assert.Empty(shadowed);
    }
}
