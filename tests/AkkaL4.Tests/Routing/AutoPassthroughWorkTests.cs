using AkkaL4.Actors.Routing;
using AkkaL4.Messages.Model;
using AkkaL4.Tests.Support;
using static AkkaL4.Tests.Routing.RoutingFixtures;

namespace AkkaL4.Tests.Routing;

/// <summary>
/// AUTO_PASSTHROUGH servers (RouteCompiler, in the config writer's check on every write and in every node's compile): the SNI
/// <c>outbound_.PORT_.SUBSET_.HOST</c> of every service a server admits. The services are looked up by the server's hosts,
/// counted, not timed: N tenant Gateways on one port, each admitting its own Service, must find N services, where asking
/// every service for every server is N × N.
/// </summary>
[Trait("Category", TestCategories.Unit)]
public sealed class AutoPassthroughWorkTests
{
    [Fact]
    public void N_tenant_servers_on_one_port_each_find_only_their_own_service()
    {
        const int n = 300;
        var resources = WorkCount.Tenants(TenantManifests.AutoPassthroughPerHost, n);

        Assert.Equal(n, WorkCount.Check(resources).Services);

        var listener = Assert.Single(RouteCompiler.Compile(resources, Labels.Of(("istio", "eastwest")), serveMesh: false).Listeners);
        Assert.Equal(300, listener.Gateways.Count);
        // Each tenant's service, without a subset and by each of its two subsets, through its own Gateway.
        Assert.Equal(3 * n, listener.AutoPassthrough.Count);
        var (target, gateway) = listener.AutoPassthrough["outbound_.9000_.v2_.svc-7.default.svc.cluster.local"];
        Assert.Equal("default/eastwest-7", gateway);
        Assert.Equal("outbound|9000|v2|svc-7.default.svc.cluster.local", Assert.Single(target.Destinations).Cluster.Name);
    }

    /// <summary>
    /// N namespaces, each with a Service, a DestinationRule and a Gateway whose AUTO_PASSTHROUGH server admits every
    /// namespace's services (<c>*/*</c>), on one port: the first Gateway claims every name; a later one looks only at the
    /// services its namespace resolves a DestinationRule for otherwise (its own) and those whose names so far came only from
    /// another namespace's view (the first Gateway's own service): about 2 n services, where each Gateway resolving every
    /// service is n × n.
    /// </summary>
    [Fact]
    public void N_namespaces_admitting_every_namespace_resolve_each_service_about_twice()
    {
        const int n = 150;
        var (atN, at2N) = WorkCount.Linear(k => TenantManifests.NamespacePerTenant(k, "*/*"), n, WorkCount.Check, w => w.Services, perTenant: 2);

        Assert.Equal((2 * n, 4 * n), (atN, at2N));
        var listener = Assert.Single(RouteCompiler.Compile(WorkCount.Tenants(k => TenantManifests.NamespacePerTenant(k, "*/*"), n),
            Labels.Of(("istio", "eastwest")), serveMesh: false).Listeners);
        Assert.Equal(3 * n, listener.AutoPassthrough.Count);
        Assert.All(listener.AutoPassthrough.Values, x => Assert.Equal("t-0/eastwest", x.Gateway));
    }

    /// <summary>
    /// A namespace with its own DestinationRule for a service resolves it otherwise: the names of its view come from its
    /// Gateway, and those only the view of a namespace without one shows (the service's own public rule) from the next such
    /// Gateway, though every service it admits was looked at before.
    /// </summary>
    [Fact]
    public void A_later_Gateway_adds_the_names_of_the_public_view_an_earlier_namespace_did_not_have()
    {
        static string Auto(string ns) => Manifests.Gateway("eastwest", ns, """
            selector: {istio: eastwest}
            servers: [{port: {number: 15443, name: tls, protocol: TLS}, tls: {mode: AUTO_PASSTHROUGH}, hosts: ["*/*"]}]
            """);
        var resources = Resources(
            Manifests.Service("svc", AddressBlocks.Of(236).Host(1, 1), port: 9000, ns: "app"),
            Manifests.DestinationRule("svc", "app", "host: svc\nsubsets: [{name: public, labels: {v: p}}]"),
            Manifests.DestinationRule("svc", "a", "host: svc.app.svc.cluster.local\nsubsets: [{name: mine, labels: {v: m}}]"),
            Auto("a"), Auto("b")).ToList();

        var listener = Assert.Single(RouteCompiler.Compile(resources, Labels.Of(("istio", "eastwest")), serveMesh: false).Listeners);

        Assert.Equal(new Dictionary<string, string>
        {
            ["outbound_.9000_._.svc.app.svc.cluster.local"] = "a/eastwest",
            ["outbound_.9000_.mine_.svc.app.svc.cluster.local"] = "a/eastwest",
            ["outbound_.9000_.public_.svc.app.svc.cluster.local"] = "b/eastwest",
        }, listener.AutoPassthrough.ToDictionary(x => x.Key, x => x.Value.Gateway));
    }

    /// <summary>
    /// Which Gateway an SNI goes through and which subsets have one, with servers of several namespaces admitting the same
    /// services: the first server (in listener order) to admit a service claims its names; a later Gateway of another
    /// namespace still adds the names of subsets only a DestinationRule visible from its namespace declares; a host done
    /// already for a Gateway of the same namespace adds nothing.
    /// </summary>
    [Fact]
    public void The_first_server_to_admit_a_service_claims_its_names_and_another_namespace_adds_what_it_alone_sees()
    {
        static string Auto(string name, string ns, string hosts) => Manifests.Gateway(name, ns, $$"""
            selector: {istio: eastwest}
            servers: [{port: {number: 15443, name: tls, protocol: TLS}, tls: {mode: AUTO_PASSTHROUGH}, hosts: {{hosts}}}]
            """);
        var block = AddressBlocks.Of(235);
        var resources = Resources(
            Manifests.Service("svc", block.Host(3, 1), port: 9000, ns: "app"),
            Manifests.Istio("ServiceEntry", "ext", "ext", "hosts: [api.example.com, db.example.com]\nports: [{number: 443, name: tls, protocol: TLS}]\n"
                                                        + $"resolution: STATIC\nendpoints: [{{address: {block.Host(3, 2)}}}]"),
            Manifests.DestinationRule("svc-edge", "edge", "host: svc.app.svc.cluster.local\nexportTo: [.]\nsubsets: [{name: edge-only, labels: {v: e}}]"),
            Auto("g1", "app", "[./*]"),
            Auto("g2", "edge", "['*/*.example.com']"),
            Auto("g3", "edge", "['*/*.example.com', app/*]"),
            Auto("g4", "edge", "[app/*]")).ToList();

        var listener = Assert.Single(RouteCompiler.Compile(resources, Labels.Of(("istio", "eastwest")), serveMesh: false).Listeners);

        Assert.Equal(new Dictionary<string, string>
        {
            ["outbound_.9000_._.svc.app.svc.cluster.local"] = "app/g1",
            ["outbound_.443_._.api.example.com"] = "edge/g2",
            ["outbound_.443_._.db.example.com"] = "edge/g2",
            ["outbound_.9000_.edge-only_.svc.app.svc.cluster.local"] = "edge/g3",
        }, listener.AutoPassthrough.ToDictionary(x => x.Key, x => x.Value.Gateway));
    }
}
