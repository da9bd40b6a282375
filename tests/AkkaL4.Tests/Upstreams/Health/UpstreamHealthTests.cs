using AkkaL4.Actors.Routing;
using AkkaL4.Actors.Upstreams.Health;
using AkkaL4.Messages.Model;

namespace AkkaL4.Tests.Upstreams.Health;

/// <summary>The node's health registry: what it keeps across configurations and what it forgets.</summary>
[Trait("Category", "Unit")]
public sealed class UpstreamHealthTests
{
    private static UpstreamCluster Cluster(string id, params string[] addresses) => new()
    {
        Id = id, Name = id, Host = "web.shop.svc.cluster.local", Port = 80, Status = ClusterStatus.Ok, Detail = "",
        Endpoints = addresses.Select(a => new UpstreamEndpoint(a, 80, 1, Labels.Empty, a)).ToList(),
        Policy = UpstreamPolicy.Default,
    };

    private static void Eject(UpstreamHealth registry, UpstreamCluster cluster, string endpoint) =>
        registry.HealthOf(cluster).For(endpoint).Set(EndpointHealthState.Initial with { Ejected = true, TimesEjected = 1 });

    [Fact]
    public void Health_stays_for_endpoints_still_in_force_and_is_forgotten_for_those_removed()
    {
        var registry = new UpstreamHealth();
        var web = Cluster("web", "10.0.0.1", "10.0.0.2");
        var db = Cluster("db", "10.0.1.1");
        Eject(registry, web, "10.0.0.1:80");
        Eject(registry, web, "10.0.0.2:80");
        Eject(registry, db, "10.0.1.1:80");

        // 10.0.0.2 leaves web and db leaves the configuration; 10.0.0.1 stays ejected.
        var next = Cluster("web", "10.0.0.1", "10.0.0.3");
        registry.Retain([next]);
        var snapshot = registry.Snapshot(next);
        Assert.Equal(["ejected", "healthy"], snapshot.Endpoints.Select(e => e.Status));
        Assert.Equal("healthy", registry.Snapshot(web).Endpoints[1].Status);
        Assert.Equal("healthy", registry.Snapshot(db).Endpoints[0].Status);
    }

    [Fact]
    public void Reading_a_snapshot_adds_nothing()
    {
        var registry = new UpstreamHealth();
        var web = Cluster("web", "10.0.0.1");
        Assert.Equal("healthy", registry.Snapshot(web).Endpoints.Single().Status);
        Eject(registry, web, "10.0.0.1:80");
        registry.Retain([]);
        Assert.Equal("healthy", registry.Snapshot(web).Endpoints.Single().Status);
        Assert.Equal(0, registry.Snapshot(web).Endpoints.Single().Active);
    }
}
