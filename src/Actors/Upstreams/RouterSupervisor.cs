using Akka.Actor;
using Akka.Event;
using AkkaL4.Actors.DataPlane;
using AkkaL4.Actors.Routing;
using AkkaL4.Actors.Upstreams.Health;

namespace AkkaL4.Actors.Upstreams;

/// <summary>
/// Parent of the router actors (one per upstream cluster), started and stopped as configuration changes. A
/// connection picks through <see cref="UpstreamPickers"/> on its own thread; only a cluster whose router has not
/// published its picker yet comes here (<see cref="PickUpstream"/>), and its router is started on demand. A router
/// that fails is restarted from the snapshot and goes on with the endpoint health and load kept in
/// <see cref="UpstreamHealth"/>; its siblings are not touched.
/// </summary>
public sealed class RouterSupervisor : ReceiveActor
{
    private readonly DataPlaneMetrics _metrics;
    private readonly UpstreamPickers _pickers;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Dictionary<string, (UpstreamCluster Cluster, IActorRef Router)> _routers = new();
    private int _generation;
    /// <summary>The newest snapshot revision its routers were started for (-1: none yet).</summary>
    private long _revision = -1;

    public static Props Props(DataPlaneMetrics metrics, UpstreamPickers pickers) => Akka.Actor.Props.Create(() => new RouterSupervisor(metrics, pickers));

    public RouterSupervisor(DataPlaneMetrics metrics, UpstreamPickers pickers)
    {
        _metrics = metrics;
        _pickers = pickers;
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
        _revision = apply.Snapshot.Revision;
        var wanted = apply.Snapshot.Clusters.Where(c => c.Status == ClusterStatus.Ok).ToDictionary(c => c.Id);
        foreach (var (id, (cluster, router)) in _routers.ToList())
        {
            if (wanted.TryGetValue(id, out var next) && ClusterPicker.SameShape(cluster, next)) continue;
            // Connections still open keep reporting to the old router until it stops; it is stopped
            // now because its endpoint set no longer matches configuration (and withdraws its picker). An ask still in its
            // mailbox is lost: the connection asks again (ConnectionActor.PickAsked).
            Context.Stop(router);
            _routers.Remove(id);
        }
        _pickers.Health.Retain(wanted.Values);
        foreach (var cluster in wanted.Values)
            if (!_routers.ContainsKey(cluster.Id)) Start(cluster);
        _pickers.Retain(apply.Snapshot);
    }

    private IActorRef Start(UpstreamCluster cluster)
    {
        // One router per cluster id: one of another shape, started for a connection on another snapshot, is not left running.
        if (_routers.TryGetValue(cluster.Id, out var replaced)) Context.Stop(replaced.Router);
        var name = "router-" + Uri.EscapeDataString(cluster.Id).Replace("%", "_") + "-" + (++_generation);
        var router = Context.ActorOf(RouterActor.Props(cluster, _pickers.Health, _metrics, pickers: _pickers), name);
        _routers[cluster.Id] = (cluster, router);
        return router;
    }

    private void Pick(PickUpstream request)
    {
        var cluster = request.Cluster;
        if (_routers.TryGetValue(cluster.Id, out var known) && ClusterPicker.SameShape(known.Cluster, cluster))
            known.Router.Forward(request);
        else if (request.Revision > _revision)
        {
            // A connection decided on a newer snapshot than this actor has seen yet starts its router on demand.
            _revision = request.Revision;
            Start(cluster).Forward(request);
        }
        // An older snapshot's connection must not stop the current router (its health checks and outcomes):
        // it picks with a picker of its own, whose outcomes go nowhere.
        else Sender.Tell(new ClusterPicker(cluster, _pickers.Health, ActorRefs.Nobody));
    }
}
