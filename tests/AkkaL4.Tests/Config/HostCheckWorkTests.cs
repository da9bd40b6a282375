using AkkaL4.Actors.Config.Analysis;
using AkkaL4.Actors.Routing;
using AkkaL4.Tests.Support;
using static AkkaL4.Tests.Routing.RoutingFixtures;

namespace AkkaL4.Tests.Config;

/// <summary>
/// The analyser's host and subset checks (in the config writer on every write): does each DestinationRule host, VirtualService
/// host and route destination mean a known service, which one was meant when not, and does a DestinationRule for the
/// destination's host declare its subset. Counted, not timed: the known hosts and DestinationRules they look at must stay
/// linear in the tenants. They once compared every host with every service and every destination with every
/// DestinationRule: 5,000 Services with a VirtualService and a DestinationRule each cost ~6 × 5,000² comparisons per write.
/// </summary>
[Trait("Category", TestCategories.Unit)]
public sealed class HostCheckWorkTests
{
    [Fact]
    public void Each_host_and_destination_is_looked_up_not_compared_with_every_service_and_DestinationRule()
    {
        const int n = 300;
        var work = WorkCount.Analyze(WorkCount.Tenants(TenantManifests.MeshPerService, n), out var warnings);

        // Per tenant: its DestinationRule's host, its VirtualService's host, two destinations and their DestinationRule, one
        // known host or rule each (6); every fifth also a subset no rule declares and a host no service has (a "did you mean"
        // search of ~10 steps): ~9 n, where comparing with every service and rule is ~6 n² (540,000).
        Assert.InRange(work.Hosts, 6 * n, 10 * n);
        // Still found: the undeclared subset and the unknown host of every fifth tenant, and nothing else about hosts.
        Assert.Equal(n / 5, warnings.Count(w => w.Message.StartsWith("subset 'v3' of 'svc-", StringComparison.Ordinal)));
        Assert.Equal(n / 5, warnings.Count(w => w.Message.StartsWith("destination host 'gone-", StringComparison.Ordinal)));
        Assert.DoesNotContain(warnings, w => w.Message.Contains("did you mean", StringComparison.Ordinal) && !w.Message.Contains("'gone-", StringComparison.Ordinal));
    }

    [Fact]
    public void An_undeclared_subset_names_at_most_three_DestinationRules_that_declare_it_for_other_hosts()
    {
        // 300 tenants declare v1 for their own host; a destination asks for v1 of a host whose rule does not declare it.
        var resources = Resources(TenantManifests.MeshPerService(300), Manifests.Service("plain", AddressBlocks.Of(235).Host(1, 1)),
            Manifests.DestinationRule("plain", "default", "host: plain\nsubsets: [{name: other, labels: {version: v9}}]"),
            Manifests.VirtualService("plain", "default", "hosts: [plain]\ntcp: [{route: [{destination: {host: plain, subset: v1}}]}]")).ToList();

        var warning = Assert.Single(ConfigAnalyzer.Analyze(resources), w => w.Resource == "VirtualService/default/plain");

        Assert.Equal("spec.tcp[0].route[0].destination.subset", warning.Field);
        Assert.Contains("DestinationRule default/svc-0, DestinationRule default/svc-1, DestinationRule default/svc-2 and 297 more declare 'v1' "
                        + "but for host 'svc-0', which is not plain.default.svc.cluster.local", warning.Message);
    }

    /// <summary>
    /// The index answers what <see cref="HostName.Covers"/> answers, for names, wildcards at every depth, <c>*</c>, a name
    /// equal to a pattern, and the odd shapes (a leading dot, a star without a dot, no dot at all, an empty name).
    /// </summary>
    [Fact]
    public void The_host_index_finds_exactly_what_Covers_relates()
    {
        string[] hosts =
        [
            "*", "*.com", "*.example.com", "*.a.example.com", "a.example.com", "b.a.example.com", "example.com", "x", ".example.com",
            "*foo.com", "foo.com", "a.b", "*.b", "svc.default.svc.cluster.local", "*.svc.cluster.local", "*.default.svc.cluster.local",
            "a.example.com",
        ];
        string[] questions = [.. hosts, "c.b.a.example.com", "*.x.a.example.com", "zzz.example.com", "com", "", ".", "*.", "nope.org", "b"];
        var index = new HostPatterns<int>(hosts.Select((h, i) => (h, i)));

        foreach (var q in questions)
        {
            Assert.Equal(Enumerable.Range(0, hosts.Length).Where(i => HostName.Covers(hosts[i], q)), index.Covering(q));
            Assert.Equal(Enumerable.Range(0, hosts.Length).Where(i => HostName.Covers(q, hosts[i])), index.CoveredBy(q));
            Assert.Equal(hosts.Any(h => HostName.Matches(q, h)), index.AnyOverlapping(q));
        }
    }
}
