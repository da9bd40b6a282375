using System.Collections.Immutable;
using Akka.Actor;
using AkkaL4.Actors.DataPlane;
using AkkaL4.Actors.Routing;
using AkkaL4.Actors.Upstreams;
using AkkaL4.Actors.Upstreams.Health;
using AkkaL4.Messages.Model;

namespace AkkaL4.Tests.Upstreams;

/// <summary>
/// A router actor's outlier sweep and active checks, on a clock and a probe the test controls: endpoints leave
/// and return without any connection picking them. No sockets, no sleeping.
/// </summary>
[Trait("Category", "Unit")]
public sealed class RouterActorHealthTests : IAsyncLifetime
{
    private static readonly DateTime T0 = new(2026, 11, 30, 12, 0, 0, DateTimeKind.Utc);

    private readonly ActorSystem _system = ActorSystem.Create("router-health", "akka.loglevel = ERROR");
    private readonly DataPlaneMetrics _metrics = new($"router-health-{Guid.NewGuid():N}");
    private readonly UpstreamHealth _health = new();
    private DateTime _now = T0;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _system.Terminate();
        _metrics.Dispose();
    }

    private static UpstreamCluster Cluster(UpstreamPolicy policy) => new()
    {
        Id = "outbound|80||web.shop.svc.cluster.local", Name = "outbound|80||web.shop.svc.cluster.local",
        Host = "web.shop.svc.cluster.local", Port = 80, Status = ClusterStatus.Ok, Detail = "",
        Endpoints = [new("10.0.0.1", 80, 1, Labels.Empty, "web-1"), new("10.0.0.2", 80, 1, Labels.Empty, "web-2")],
        Policy = policy,
    };

    /// <summary>A pick as the supervisor forwards it; the router answers for its own cluster.</summary>
    private static readonly PickUpstream Pick = new(Cluster(UpstreamPolicy.Default));

    /// <summary>Picks as a connection does with the router's answer.</summary>
    private static async Task<object> PickWithAsync(IActorRef router) =>
        (await router.Ask<ClusterPicker>(Pick, Patience)).Pick(0, ImmutableHashSet<string>.Empty);

    private async Task<string> PickAsync(IActorRef router)
    {
        var assigned = Assert.IsType<UpstreamAssigned>(await PickWithAsync(router));
        assigned.Load.Closed();
        return assigned.Endpoint.ToString();
    }

    [Fact]
    public async Task A_connection_on_an_older_snapshot_does_not_replace_the_router_of_a_newer_one()
    {
        var supervisor = _system.ActorOf(RouterSupervisor.Props(_metrics, new UpstreamPickers(_health)));
        var newer = Cluster(UpstreamPolicy.Default);
        var older = new UpstreamCluster
        {
            Id = newer.Id, Name = newer.Name, Host = newer.Host, Port = newer.Port, Status = ClusterStatus.Ok, Detail = "",
            Endpoints = [newer.Endpoints[0]], Policy = newer.Policy,
        };
        var started = await supervisor.Ask<ClusterPicker>(new PickUpstream(newer, 2), Patience);
        Assert.NotEqual(ActorRefs.Nobody, started.Router);
        var old = await supervisor.Ask<ClusterPicker>(new PickUpstream(older, 1), Patience);
        Assert.Equal(ActorRefs.Nobody, old.Router);
        Assert.Equal("10.0.0.1:80", Assert.IsType<UpstreamAssigned>(old.Pick(0, ImmutableHashSet<string>.Empty)).Endpoint.ToString());
        // The newer snapshot's router still serves the cluster: two endpoints, not the older one.
        Assert.Equal(2, (await supervisor.Ask<ClusterHealthSnapshot>(new GetClusterHealth(newer.Id), Patience)).Endpoints.Count);
    }

    [Fact]
    public async Task A_pick_whose_answer_dead_letters_holds_no_maxConnections_place()
    {
        // The connection stopped before the router answered (no sender here): nothing may stay counted in, or the
        // cluster's maxConnections place is lost for ever.
        var cluster = Cluster(UpstreamPolicy.Default with { MaxConnections = 1 });
        var router = _system.ActorOf(RouterActor.Props(cluster, _health, _metrics, () => _now));
        router.Tell(Pick, ActorRefs.NoSender);
        await HealthAsync(router); // handled after the pick
        Assert.Equal(0, _health.LoadOf(cluster).Active);
        Assert.IsType<UpstreamAssigned>(await PickWithAsync(router));
        Assert.Equal(1, _health.LoadOf(cluster).Active);
    }

    private static Task<ClusterHealthSnapshot> HealthAsync(IActorRef router) =>
        router.Ask<ClusterHealthSnapshot>(new GetClusterHealth(""), Patience);

    [Fact]
    public async Task An_ejected_endpoint_returns_at_the_sweep_after_its_ejection_time_without_a_connection_picking_it()
    {
        // The interval timer is an hour away: the test sends the sweeps, at clock times it chooses.
        var policy = UpstreamPolicy.Default with
        {
            LoadBalancer = LoadBalancerKind.RoundRobin,
            Outlier = new OutlierPolicy(1, 0, TimeSpan.FromHours(1), TimeSpan.FromSeconds(30), 100, 0),
        };
        var router = _system.ActorOf(RouterActor.Props(Cluster(policy), _health, _metrics, () => _now));

        router.Tell(new ConnectOutcome(1, false, "Connection refused"));
        var ejected = (await HealthAsync(router)).Endpoints[1];
        Assert.Equal("ejected", ejected.Status);
        Assert.Equal(T0.AddSeconds(30), ejected.EjectedUntil);
        Assert.Equal("Connection refused", ejected.LastError);
        for (var i = 0; i < 4; i++) Assert.Equal("10.0.0.1:80", await PickAsync(router));

        _now = T0.AddSeconds(29);
        router.Tell(RouterActor.Sweep.Instance);
        Assert.Equal("ejected", (await HealthAsync(router)).Endpoints[1].Status);

        _now = T0.AddSeconds(30);
        router.Tell(RouterActor.Sweep.Instance);
        var back = (await HealthAsync(router)).Endpoints[1];
        Assert.Equal("healthy", back.Status);
        Assert.Equal(1, back.TimesEjected);
        Assert.Null(back.EjectedUntil);
        Assert.Contains("10.0.0.2:80", new[] { await PickAsync(router), await PickAsync(router) });

        // The health outlives the router: a replacement (a configuration change) still knows the ejection count.
        await router.GracefulStop(Patience);
        var next = _system.ActorOf(RouterActor.Props(Cluster(policy), _health, _metrics, () => _now));
        Assert.Equal(1, (await HealthAsync(next)).Endpoints[1].TimesEjected);
    }

    [Fact]
    public async Task Active_checks_take_a_failing_endpoint_out_and_bring_it_back_without_a_connection()
    {
        var down = false;
        var calls = 0;
        HealthProbe probe = (endpoint, _) =>
        {
            Interlocked.Increment(ref calls);
            return Task.FromResult(down && endpoint.Address == "10.0.0.2" ? "Connection refused" : null);
        };
        var policy = UpstreamPolicy.Default with { HealthCheck = new HealthCheckPolicy(TimeSpan.FromHours(1), TimeSpan.FromSeconds(1), 2, 2) };
        var router = _system.ActorOf(RouterActor.Props(Cluster(policy), _health, _metrics, () => _now, probe));

        async Task<ClusterHealthSnapshot> Round()
        {
            var expected = Volatile.Read(ref calls) + 2;
            router.Tell(RouterActor.RunChecks.Instance);
            await EventuallyAsync(() => Volatile.Read(ref calls) >= expected, "a round of checks");
            return await HealthAsync(router);
        }

        // The first round runs as the router starts.
        await EventuallyAsync(() => Volatile.Read(ref calls) >= 2, "the first round of checks");
        Assert.All((await HealthAsync(router)).Endpoints, e => Assert.Equal("healthy", e.Check));

        down = true;
        Assert.Equal("healthy", (await Round()).Endpoints[1].Status); // one failure of unhealthy=2
        var failed = (await Round()).Endpoints[1];
        Assert.Equal("unhealthy", failed.Status);
        Assert.Equal("health check: Connection refused", failed.LastError);
        for (var i = 0; i < 3; i++) Assert.Equal("10.0.0.1:80", await PickAsync(router));

        down = false;
        Assert.Equal("unhealthy", (await Round()).Endpoints[1].Status); // one pass of healthy=2
        Assert.Equal("healthy", (await Round()).Endpoints[1].Status);
    }

    [Fact]
    public async Task In_panic_every_endpoint_gets_traffic_and_without_panic_none_is_refused_with_UH()
    {
        var outlier = new OutlierPolicy(1, 0, TimeSpan.FromHours(1), TimeSpan.FromSeconds(30), 100, 0);
        var strict = _system.ActorOf(RouterActor.Props(Cluster(UpstreamPolicy.Default with { Outlier = outlier }), _health, _metrics, () => _now));
        strict.Tell(new ConnectOutcome(0, false, "refused"));
        strict.Tell(new ConnectOutcome(1, false, "refused"));
        var refused = Assert.IsType<UpstreamRefused>(await PickWithAsync(strict));
        Assert.Equal(ResponseFlags.NoHealthyUpstream, refused.Flag);
        Assert.Equal("every endpoint is ejected (2)", refused.Detail);
        Assert.False((await HealthAsync(strict)).Panic);
        await strict.GracefulStop(Patience);

        // minHealthPercent 50 with none of two routable: panic, both are picked.
        var panicky = UpstreamPolicy.Default with { LoadBalancer = LoadBalancerKind.RoundRobin, Outlier = outlier with { MinHealthPercent = 50 } };
        var router = _system.ActorOf(RouterActor.Props(Cluster(panicky), _health, _metrics, () => _now));
        Assert.True((await HealthAsync(router)).Panic);
        var picked = new HashSet<string> { await PickAsync(router), await PickAsync(router) };
        Assert.Equal(2, picked.Count);
    }
}
