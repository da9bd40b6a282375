using System.Text;
using AkkaL4.Actors.Config;
using AkkaL4.Actors.Config.Analysis;
using AkkaL4.Actors.Routing;
using AkkaL4.Messages.Model;
using AkkaL4.Tests.Support;
using static AkkaL4.Tests.Routing.RoutingFixtures;

namespace AkkaL4.Tests.Config;

/// <summary>
/// A TCP Gateway server and a TLS one at the same address and port: a node serving both Gateways makes one listener of them,
/// and it is a TLS one (RouteCompiler), whatever their order. Each case first asks the router compiled for such a node what
/// a connection meets (a plain TCP client: no SNI; a TLS client: its SNI), then what the analysis says: a warning at the TCP
/// server's port naming the TLS server, where it happens (every node serving the TCP Gateway, or only nodes labelled for
/// both), and the VirtualServices whose tcp rules never match there; nothing when no node can serve both.
/// </summary>
[Trait("Category", TestCategories.Unit)]
public sealed class TlsTakenListenerTests
{
    private static readonly string Bind = AddressBlocks.Of(235).Host(4, 1);

    private static string Manifest(string tcpSelector, string tlsSelector, bool tlsFirst = false)
    {
        var tcp = Manifests.Gateway("plain", "edge", $$"""
            selector: {{tcpSelector}}
            servers: [{port: {number: 8443, name: tcp, protocol: TCP}, bind: "{{Bind}}", hosts: ["*"]}]
            """);
        var tls = Manifests.Gateway("secure", "edge", $$"""
            selector: {{tlsSelector}}
            servers: [{port: {number: 8443, name: tls, protocol: TLS}, bind: "{{Bind}}", hosts: ["*.example.com"], tls: {mode: PASSTHROUGH} }]
            """);
        return Manifests.Join(tlsFirst ? tls : tcp, tlsFirst ? tcp : tls,
            Manifests.Service("backend", AddressBlocks.Of(235).Host(4, 2), port: 9000, ns: "edge"),
            Manifests.VirtualService("plain-tcp", "edge", """
                hosts: ["*"]
                gateways: [plain]
                tcp: [{match: [{port: 8443}], route: [{destination: {host: backend, port: {number: 9000}}}]}]
                """),
            Manifests.VirtualService("secure-sni", "edge", """
                hosts: ["*.example.com"]
                gateways: [secure]
                tls: [{match: [{sniHosts: [api.example.com]}], route: [{destination: {host: backend, port: {number: 9000}}}]}]
                """));
    }

    private static Decision Connect(RouteSnapshot snapshot, string? sni) =>
        snapshot.Decide(At(Bind, 8443), Ip(AddressBlocks.Of(235).Host(4, 3)), Ip(Bind), sni);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Same_selector_the_TLS_server_takes_the_listener_on_every_node_and_the_TCP_server_is_warned_about(bool tlsFirst)
    {
        var manifest = Manifest("{istio: ingress}", "{istio: ingress}", tlsFirst);

        // What a node serving them does, whichever Gateway comes first: one TLS listener, no tcp rule in it.
        var snapshot = RouteCompiler.Compile(Resources(manifest).ToList(), Labels.Of(("istio", "ingress")), serveMesh: false);
        var listener = Assert.Single(snapshot.Listeners);
        Assert.True(listener.Tls);
        Assert.Equal(DecisionResult.NoRoute, Connect(snapshot, sni: null).Result);
        Assert.Equal("edge/secure-sni", Connect(snapshot, "api.example.com").Target?.VirtualService);

        var report = ConfigCheck.Check(manifest, "edge.yaml");
        var warning = Assert.Single(report.Warnings, w => w.Resource == "Gateway/edge/plain");
        Assert.Equal("spec.servers[0].port", warning.Field);
        Assert.Equal($"edge.yaml:{(tlsFirst ? 13 : 6)}:14", warning.Location); // the TCP server's port
        Assert.Contains($"this TCP server shares {Bind}:8443 with the TLS server spec.servers[0] of Gateway edge/secure, and every node serving this "
                        + "Gateway serves that Gateway too (its selector {istio=ingress} is within this one's, {istio=ingress})", warning.Message);
        Assert.Contains($"the tcp rules of VirtualService edge/plain-tcp never match at {Bind}:8443, and a client that does not open with a "
                        + "TLS ClientHello is closed with no route (NR)", warning.Message);
        Assert.DoesNotContain(report.Warnings, w => w.Resource == "Gateway/edge/secure");
    }

    [Fact]
    public void A_TLS_selector_beyond_the_TCP_ones_takes_the_listener_only_on_nodes_labelled_for_both()
    {
        var manifest = Manifest("{istio: ingress}", "{istio: ingress, edge: secure}");
        var resources = Resources(manifest).ToList();

        var plainNode = RouteCompiler.Compile(resources, Labels.Of(("istio", "ingress")), serveMesh: false);
        Assert.Equal("edge/plain-tcp", Connect(plainNode, sni: null).Target?.VirtualService);
        var bothNode = RouteCompiler.Compile(resources, Labels.Of(("istio", "ingress"), ("edge", "secure")), serveMesh: false);
        Assert.Equal(DecisionResult.NoRoute, Connect(bothNode, sni: null).Result);

        var warning = Assert.Single(ConfigAnalyzer.Analyze(resources), w => w.Resource == "Gateway/edge/plain");
        Assert.Contains("a node whose labels include {istio=ingress, edge=secure} serves both Gateways", warning.Message);
        Assert.Contains($"never match at {Bind}:8443 on such a node", warning.Message);
    }

    [Fact]
    public void No_warning_when_the_selectors_give_one_label_two_values()
    {
        var resources = Resources(Manifest("{istio: ingress, edge: plain}", "{istio: ingress, edge: secure}")).ToList();

        Assert.DoesNotContain(ConfigAnalyzer.Analyze(resources), w => w.Message.Contains("TLS server", StringComparison.Ordinal));
    }

    /// <summary>
    /// N TCP tenants and N TLS tenants on one port, a selector each (no two on one node): the TLS selectors are looked up per
    /// TCP selector (one key set), not compared with each; N × N comparisons per write otherwise. Tenant 0's TLS Gateway shares
    /// its TCP one's selector: one warning.
    /// </summary>
    [Fact]
    public void N_tenants_with_TCP_and_TLS_servers_on_one_port_are_looked_up_in_linear_work()
    {
        const int n = 500;
        var y = new StringBuilder(TenantManifests.SelectorPerTenant(n));
        for (var i = 0; i < n; i++)
            y.Append(Manifests.Gateway($"tls-{i}", "default", $$"""
                selector: {istio: ingress, tenant: {{(i == 0 ? "t-0" : $"tls-{i}")}}}
                servers: [{port: {number: 31400, name: tls, protocol: TLS}, hosts: ["s{{i}}.example.com"], tls: {mode: PASSTHROUGH} }]
                """)).Append("\n---\n");
        var resources = Resources(y.ToString()).ToList();

        var work = new WorkCounts();
        var warnings = TlsTakenListeners.Find(resources, work);
        var selectorVisits = work.Selectors;

        var warning = Assert.Single(warnings);
        Assert.Equal("Gateway/default/gw-0", warning.Resource);
        Assert.Contains("the TLS server spec.servers[0] of Gateway default/tls-0", warning.Message);
        // Per distinct TCP selector: one key set for within, one for compatible (and the one it finds).
        Assert.InRange(selectorVisits, n, 3 * n);
    }
}
