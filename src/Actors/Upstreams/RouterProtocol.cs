using Akka.Actor;
using AkkaL4.Actors.DataPlane;
using AkkaL4.Actors.Routing;

namespace AkkaL4.Actors.Upstreams;

/// <summary>Connection → router supervisor: choose a destination of this route target, then an endpoint of its cluster.</summary>
public sealed record PickUpstream(RouteTarget Target, uint SourceHash, IReadOnlySet<string> Tried);

/// <summary>
/// Router → connection: connect here, report the outcome to <see cref="Router"/>, and call
/// <see cref="EndpointLoad.Closed"/> on <see cref="Load"/> once when the attempt fails or the connection ends.
/// </summary>
public sealed record UpstreamAssigned(UpstreamCluster Cluster, UpstreamEndpoint Endpoint, int Index, IActorRef Router, EndpointLoad Load);

/// <summary>Router → connection: no endpoint can be had.</summary>
public sealed record UpstreamRefused(ResponseFlags Flag, string? Cluster, string Detail)
{
    /// <summary>UH from a cluster's side (no endpoint, or none routable): counted here, once, for routers and their supervisor alike.</summary>
    public static UpstreamRefused NoHealthyUpstream(DataPlaneMetrics metrics, string cluster, string detail)
    {
        metrics.UpstreamNoneHealthy.Add(1, DataPlaneMetrics.Cluster(cluster));
        return new UpstreamRefused(ResponseFlags.NoHealthyUpstream, cluster, detail);
    }
}

/// <summary>Connection → router: the connect attempt to endpoint <see cref="Index"/> succeeded or failed (and why).</summary>
public sealed record ConnectOutcome(int Index, bool Connected, string? Error = null);

/// <summary>Node → router supervisor: a new snapshot is in force.</summary>
public sealed record ApplyRoutes(RouteSnapshot Snapshot);

/// <summary>Fault injection: makes a router actor throw, so supervision can be seen and tested.</summary>
public sealed record FailRouter(string ClusterId);

/// <summary>Query: one cluster's endpoint health, answered by its router with a <see cref="Health.ClusterHealthSnapshot"/>.</summary>
public sealed record GetClusterHealth(string ClusterId);
