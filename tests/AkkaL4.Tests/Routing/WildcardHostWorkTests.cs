using AkkaL4.Actors.Routing;
using AkkaL4.Tests.Support;

namespace AkkaL4.Tests.Routing;

/// <summary>
/// Wildcard hosts on both sides, per tenant (<see cref="TenantManifests.WildcardPerTenant"/>): a VirtualService for
/// <c>*.tI.example.com</c> and a ServiceEntry for a name under it, a ServiceEntry and a DestinationRule for
/// <c>*.tI.internal</c> and a VirtualService for a name under that. What the compiler and the analyser look at to relate
/// them must stay linear in the tenants. Each once scanned every wildcard on the other side per question: the mesh
/// VirtualServices with a wildcard host per service (the compiler and the shadowed-rule walk), every Service per
/// VirtualService with a wildcard host (the unmatchable-block check), every wildcard ServiceEntry per destination and every
/// wildcard DestinationRule per host resolved (the compiler). Counted, not timed.
/// </summary>
[Trait("Category", TestCategories.Unit)]
public sealed class WildcardHostWorkTests
{
    private const int N = 150;

    [Fact]
    public void Each_service_finds_the_VirtualServices_of_its_host_by_lookup()
    {
        // Per tenant two services, each named by one VirtualService host: api.tI.example.com by *.tI.example.com, and
        // *.tI.internal (a wildcard asked for) covering db.tI.internal. A scan is n per service and 2 n per wildcard one.
        var compiler = WorkCount.Linear(TenantManifests.WildcardPerTenant, N, WorkCount.Check, w => w.MeshHosts, perTenant: 2);
        var walks = WorkCount.Linear(TenantManifests.WildcardPerTenant, N, r => WorkCount.Shadowed(r, out _), w => w.MeshHosts, perTenant: 2);

        Assert.Equal((2 * N, 4 * N), compiler);
        Assert.Equal((2 * N, 4 * N), walks);
        var snapshot = RouteCompiler.Compile(WorkCount.Tenants(TenantManifests.WildcardPerTenant, N));
        Assert.Equal("api.t7.example.com", Only(snapshot, "10.60.0.7", 443).Host);
        // Resolution NONE: the original destination, which the router refuses (NR), through the tenant's VirtualService.
        Assert.Equal("db.t7.internal", Only(snapshot, "10.62.0.7", 5432).Host);
    }

    [Fact]
    public void Each_VirtualService_finds_the_services_that_evaluate_it_by_lookup()
    {
        // Per tenant two VirtualServices, each evaluated on one service's listener: *.tI.example.com on api.tI.example.com's
        // (a wildcard asked for: every service was scanned), db.tI.internal on *.tI.internal's (every wildcard one was).
        var (atN, _) = WorkCount.Linear(TenantManifests.WildcardPerTenant, N, r => WorkCount.Analyze(r, out _), w => w.Services, perTenant: 2);

        Assert.Equal(2 * N, atN);
        WorkCount.Analyze(WorkCount.Tenants(TenantManifests.WildcardPerTenant, N), out var warnings);
        Assert.DoesNotContain(warnings, w => w.Message.Contains("can never match", StringComparison.Ordinal) || w.Message.Contains("matches no", StringComparison.Ordinal));
    }

    [Fact]
    public void Each_destination_finds_its_wildcard_ServiceEntry_and_DestinationRule_by_lookup()
    {
        var hosts = WorkCount.Linear(TenantManifests.WildcardPerTenant, N, WorkCount.Check, w => w.ServiceHosts, perTenant: 4);
        var rules = WorkCount.Linear(TenantManifests.WildcardPerTenant, N, WorkCount.Check, w => w.DestinationRules, perTenant: 6);

        // The *.tI.internal listener's two rule sets (for every namespace, and for default, which has a rule for it) each
        // find the ServiceEntry of its destination and its own (the fall-back), one wildcard each; and resolve both hosts,
        // one wildcard rule each, beside the two hosts asked which namespaces may resolve otherwise.
        Assert.Equal((4 * N, 8 * N), hosts);
        Assert.Equal((6 * N, 12 * N), rules);
        // The tenant's own DestinationRule applies to its internal host, through the wildcard ServiceEntry.
        var cluster = Only(RouteCompiler.Compile(WorkCount.Tenants(TenantManifests.WildcardPerTenant, N)), "10.62.0.7", 5432).Cluster;
        Assert.Equal(["DestinationRule/default/internal-7"], cluster.DestinationRules.Select(r => r.ToString()));
    }

    private static WeightedDestination Only(RouteSnapshot snapshot, string ip, int port)
    {
        var decision = snapshot.Decide(RoutingFixtures.At(ip, port), RoutingFixtures.Ip("10.250.0.1"), RoutingFixtures.Ip(ip));
        Assert.NotNull(decision.Target!.VirtualService);
        return Assert.Single(decision.Target.Destinations);
    }
}
