using Akka.Actor;
using Akka.Event;
using AkkaL4.Actors.DataPlane;
using AkkaL4.Actors.Routing;
using AkkaL4.Actors.Upstreams.Health;

namespace AkkaL4.Actors.Upstreams;

/// <summary>
/// Parent of the router actors (one per upstream cluster). Does the weighted choice among a rule's
/// destinations (smooth weighted round robin, state per rule), then hands the request to the chosen
/// cluster's router, which answers the connection directly. A router that fails is restarted from the
/// snapshot and goes on with the endpoint health and load kept in <see cref="UpstreamHealth"/>; its siblings
/// are not touched.
/// </summary>
public sealed class RouterSupervisor : ReceiveActor
{
    private readonly DataPlaneMetrics _metrics;
    private readonly UpstreamHealth _health;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Dictionary<string, (UpstreamCluster Cluster, IActorRef Router)> _routers = new();
    private readonly Dictionary<string, WeightedPicker> _pickers = new(StringComparer.Ordinal);
    private int _generation;

    public static Props Props(DataPlaneMetrics metrics, UpstreamHealth health) => Akka.Actor.Props.Create(() => new RouterSupervisor(metrics, health));

    public RouterSupervisor(DataPlaneMetrics metrics, UpstreamHealth health)
    {
        _metrics = metrics;
        _health = health;
        Receive<ApplyRoutes>(Apply);
        Receive<PickUpstream>(Pick);
        Receive<FailRouter>(f => { if (_routers.TryGetValue(f.ClusterId, out var r)) r.Router.Forward(f); });
        Receive<GetClusterHealth>(q =>
        {
            if (_routers.TryGetValue(q.ClusterId, out var r)) r.Router.Forward(q);
            else Sender.Tell(new Status.Failure(new KeyNotFoundException(q.ClusterId)));
        });
    }

    protected override SupervisorStrategy SupervisorStrategy() =>
        new OneForOneStrategy(-1, TimeSpan.FromMinutes(1), ex =>
        {
            _log.Error(ex, "router failed and is restarted from configuration: {0}", ex.Message);
            return Directive.Restart;
        });

    private void Apply(ApplyRoutes apply)
    {
        var wanted = apply.Snapshot.Clusters.Where(c => c.Status == ClusterStatus.Ok).ToDictionary(c => c.Id);
        foreach (var (id, (cluster, router)) in _routers.ToList())
        {
            if (wanted.TryGetValue(id, out var next) && SameShape(cluster, next)) continue;
            // Connections still open keep reporting to the old router until it stops; it is stopped
            // now because its endpoint set no longer matches configuration.
            Context.Stop(router);
            _routers.Remove(id);
        }
        _health.Retain(wanted.Values);
        foreach (var cluster in wanted.Values)
            if (!_routers.ContainsKey(cluster.Id)) Start(cluster);
        // Rotations of rules that are still there go on where they were.
        var keys = apply.Snapshot.Targets.Select(t => t.RotationKey).ToHashSet();
        foreach (var key in _pickers.Keys.Where(k => !keys.Contains(k)).ToList()) _pickers.Remove(key);
    }

    private static bool SameShape(UpstreamCluster a, UpstreamCluster b) =>
        a.Policy == b.Policy && a.Endpoints.SequenceEqual(b.Endpoints);

    private IActorRef Start(UpstreamCluster cluster)
    {
        var name = "router-" + Uri.EscapeDataString(cluster.Id).Replace("%", "_") + "-" + (++_generation);
        var router = Context.ActorOf(RouterActor.Props(cluster, _health, _metrics), name);
        _routers[cluster.Id] = (cluster, router);
        return router;
    }

    private void Pick(PickUpstream request)
    {
        var target = request.Target;
        if (!_pickers.TryGetValue(target.RotationKey, out var picker)) _pickers[target.RotationKey] = picker = WeightedPicker.For(target);
        var index = picker.Next();
        if (index < 0)
        {
            Sender.Tell(new UpstreamRefused(ResponseFlags.NoRoute, null, "the rule has no destination"));
            return;
        }
        var destination = target.Destinations[index];
        var cluster = destination.Cluster;
        switch (cluster.Status)
        {
            case ClusterStatus.Ok:
                break;
            case ClusterStatus.NoEndpoints:
                Sender.Tell(UpstreamRefused.NoHealthyUpstream(_metrics, cluster.Name, cluster.Detail));
                return;
            case ClusterStatus.Passthrough:
                Sender.Tell(new UpstreamRefused(ResponseFlags.NoRoute, cluster.Name,
                    "resolution NONE without endpoints means the original destination, which a router without transparent interception cannot reach"));
                return;
            default:
                Sender.Tell(new UpstreamRefused(ResponseFlags.NoRoute, cluster.Name, cluster.Detail));
                return;
        }
        // A connection decided on a newer snapshot than this actor has seen yet starts its router on demand.
        var router = _routers.TryGetValue(cluster.Id, out var known) && SameShape(known.Cluster, cluster) ? known.Router : Start(cluster);
        router.Forward(request);
    }
}
