using AkkaL4.Actors.Routing;
using AkkaL4.Messages.Model;
using AkkaL4.Tests.Support;
using static AkkaL4.Tests.Routing.RoutingFixtures;
using static AkkaL4.Tests.Support.Manifests;

namespace AkkaL4.Tests.Routing;

/// <summary>
/// The rule sets a mesh listener costs the route compiler (the writer's Check on every write, every node's compile, both on
/// the control-plane thread): one for the clients that see only public resources for its host, and one more only per client
/// namespace a non-public VirtualService or a DestinationRule may show something else. One per client namespace was N × N
/// for N namespaces with a Service each (review1-s17 R4: Check 73 s at 2,000 namespaces). Counted, not timed.
/// </summary>
[Trait("Category", TestCategories.Unit)]
public class MeshRuleSetWorkTests
{
    [Fact]
    public void N_namespaces_with_a_service_each_compile_rule_sets_linear_in_N()
    {
        const int n = 200;
        // Per namespace a Service, a DestinationRule and a Gateway (TenantManifests.NamespacePerTenant), plus a public
        // VirtualService for the Service, so that the VirtualServices each rule set looks at are counted too.
        var vs = Enumerable.Range(0, n).Select(i => VirtualService($"svc-{i}", $"t-{i}", $"""
            hosts: [svc-{i}]
            tcp: [{"{"}route: [{"{"}destination: {"{"}host: svc-{i}, subset: v1{"}"}{"}"}]{"}"}]
            """));
        var resources = Resources([TenantManifests.NamespacePerTenant(n), .. vs]).ToList();

        var work = WorkCount.Check(resources);

        // A listener per namespace: its own rule set and one for its namespace, whose DestinationRule only it resolves
        // first. One per client namespace was n × (n + 1) (40,200 rule sets and as many visits).
        Assert.Equal(2 * n, work.MeshRuleSets);
        Assert.Equal(2 * n, work.VirtualServices);
        var snapshot = RouteCompiler.Compile(resources);
        var mesh = snapshot.Listeners.Where(l => l.Kind == ListenerKind.Mesh).ToList();
        Assert.Equal(n, mesh.Count);
        Assert.All(mesh, l => Assert.Equal([l.Service!.Namespace], l.ByNamespace.Keys));
    }

    /// <summary>
    /// N namespaces, each with a client and its own DestinationRule for a wildcard covering one shared host: the shared
    /// host's listener has a rule set per namespace (each resolves its own rule), every other listener one. Which namespaces
    /// may resolve a host otherwise, and which rule a namespace resolves, are looked up: a scan of every wildcard rule per
    /// listener was n × n. (With host <c>*</c> every namespace's rule covers every service, and every listener does need a
    /// rule set per namespace: n × n by what the configuration says, not by how it is read.)
    /// </summary>
    [Fact]
    public void N_namespaces_with_a_wildcard_rule_for_a_shared_host_look_up_linear_rules()
    {
        const int n = 150;
        string Shape(int k) => TenantManifests.SharedHostRulePerNamespace(k, "*.shared.example.com");

        var rules = WorkCount.Linear(Shape, n, WorkCount.Check, w => w.DestinationRules, perTenant: 3);
        var ruleSets = WorkCount.Linear(Shape, n, WorkCount.Check, w => w.MeshRuleSets, perTenant: 3);

        // The shared host's rule in each namespace: found once for which namespaces may resolve it otherwise, once resolved
        // for that namespace's rule set.
        Assert.Equal((2 * n, 4 * n), rules);
        Assert.Equal((2 * n + 1, 4 * n + 1), ruleSets);
        var snapshot = RouteCompiler.Compile(WorkCount.Tenants(Shape, n));
        var shared = snapshot.FindListener(At("10.63.0.1", 5432))!;
        Assert.Equal(n, shared.ByNamespace.Count);
        var cluster = Only(snapshot.Decide(At("10.63.0.1", 5432), Ip("10.201.0.7"), Ip("10.63.0.1"))).Cluster;
        Assert.Equal(107, cluster.Policy.MaxConnections);
    }

    [Fact]
    public void A_namespace_private_VirtualService_changes_only_its_own_namespace_while_the_others_share_one_rule_set()
    {
        var snapshot = Compile(VisibilityWorld.With(
            VirtualService("public", "default", """
                hosts: [svc]
                tcp: [{route: [{destination: {host: b}}]}]
                """, "2020-01-01T00:00:00Z"),
            VirtualService("private", "team", """
                hosts: [svc.default.svc.cluster.local]
                exportTo: [.]
                tcp: [{route: [{destination: {host: a.default.svc.cluster.local}}]}]
                """, "2024-01-01T00:00:00Z")));

        var listener = snapshot.FindListener(At(VisibilityWorld.Svc, 9000))!;
        Assert.Equal(["team"], listener.ByNamespace.Keys);
        Assert.Equal("a", VisibilityWorld.HostFor(snapshot, VisibilityWorld.ClientTeam));
        Assert.Equal("team/private", VisibilityWorld.Decide(snapshot, VisibilityWorld.ClientTeam).Target!.VirtualService);
        // Every other namespace, and a client of no namespace, decide by the one shared rule set: the public VirtualService.
        foreach (var client in new[] { VisibilityWorld.ClientDefault, VisibilityWorld.ClientOther, VisibilityWorld.ClientThird, "10.0.0.1" })
        {
            Assert.Equal("b", VisibilityWorld.HostFor(snapshot, client));
            Assert.Same(listener.Rules.Tcp[0].Target, VisibilityWorld.Decide(snapshot, client).Target);
        }
    }

    [Fact]
    public void A_DestinationRule_exported_to_one_namespace_gives_that_namespace_its_own_rule_set()
    {
        var snapshot = Compile(VisibilityWorld.With(
            VirtualService("to-v1", "default", """
                hosts: [svc]
                tcp: [{route: [{destination: {host: a, subset: v1}}]}]
                """),
            DestinationRule("a-for-other", "default", """
                host: a
                exportTo: [other]
                subsets: [{name: v1, labels: {app: a}}]
                """)));

        var listener = snapshot.FindListener(At(VisibilityWorld.Svc, 9000))!;
        Assert.Contains("other", listener.ByNamespace.Keys);
        Assert.DoesNotContain("team", listener.ByNamespace.Keys);
        Assert.Equal(ClusterStatus.Ok, Only(VisibilityWorld.Decide(snapshot, VisibilityWorld.ClientOther)).Cluster.Status);
        Assert.Equal(ClusterStatus.UnknownSubset, Only(VisibilityWorld.Decide(snapshot, VisibilityWorld.ClientTeam)).Cluster.Status);
        Assert.Equal(ClusterStatus.UnknownSubset, Only(VisibilityWorld.Decide(snapshot, VisibilityWorld.ClientDefault)).Cluster.Status);
    }
}
