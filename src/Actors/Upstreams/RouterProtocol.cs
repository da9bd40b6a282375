using System.Net;
using Akka.Actor;
using AkkaL4.Actors.DataPlane;
using AkkaL4.Actors.DataPlane.Transport;
using AkkaL4.Actors.Routing;
using AkkaL4.Actors.Upstreams.Health;

namespace AkkaL4.Actors.Upstreams;

/// <summary>
/// Connection → router supervisor → router: pick an endpoint of this cluster, whose router has not published its
/// <see cref="ClusterPicker"/> yet (see <see cref="UpstreamPickers.Pick"/>). The router answers with its picker and the
/// connection picks with it on its own thread: a reservation made for a connection that stopped meanwhile (its answer
/// dead-lettered) would hold a maxConnections place for ever.
/// </summary>
/// <see cref="Revision"/> is the connection's snapshot's: only a newer one than the supervisor's starts a router.
public sealed record PickUpstream(UpstreamCluster Cluster, long Revision = 0);

/// <summary>
/// Router → connection: connect here, report the outcome to <see cref="Router"/>, and call
/// <see cref="EndpointLoad.Closed"/> on <see cref="Load"/> once when the attempt fails or the connection ends.
/// <see cref="Health"/> is read (never written) to skip telling the router of a connect that changes nothing.
/// </summary>
/// <param name="EndpointName">The endpoint as text (address:port), made once per picker: a connection logs and counts by it.</param>
/// <remarks>
/// Made once per endpoint by its <see cref="ClusterPicker"/> and handed to every connection it picks for, with the address to
/// dial and the connect options: parsing the address and making these per connection cost ~170 bytes each (bench/README.md,
/// session 14). Everything in it is the same for every connection to the endpoint; nothing in it is written.
/// </remarks>
public sealed record UpstreamAssigned(UpstreamCluster Cluster, UpstreamEndpoint Endpoint, int Index, IActorRef Router, EndpointLoad Load, EndpointHealth Health, string EndpointName)
{
    /// <summary>Where to connect: the endpoint's address parsed once, or a name resolved at each connect.</summary>
    public EndPoint Remote { get; } = IPAddress.TryParse(Endpoint.Address, out var ip) ? new IPEndPoint(ip, Endpoint.Port) : new DnsEndPoint(Endpoint.Address, Endpoint.Port);

    /// <summary>The cluster's connect options: a plain upstream's connect completes inline (what follows it is the relay's start).</summary>
    public ConnectOptions Options { get; } = new(Cluster.Policy.ConnectTimeout, Cluster.Policy.Keepalive, InlineCompletion: Cluster.Policy.Tls is null);
}

/// <summary>Picker → connection: no endpoint can be had (the connection counts it, with its other failures).</summary>
public sealed record UpstreamRefused(ResponseFlags Flag, string? Cluster, string Detail);

/// <summary>Connection → router: the connect attempt to endpoint <see cref="Index"/> succeeded or failed (and why).</summary>
public sealed record ConnectOutcome(int Index, bool Connected, string? Error = null);

/// <summary>Node → router supervisor: a new snapshot is in force.</summary>
public sealed record ApplyRoutes(RouteSnapshot Snapshot);

/// <summary>Fault injection: makes a router actor throw, so supervision can be seen and tested.</summary>
public sealed record FailRouter(string ClusterId);

/// <summary>Query: one cluster's endpoint health, answered by its router with a <see cref="Health.ClusterHealthSnapshot"/>.</summary>
public sealed record GetClusterHealth(string ClusterId);
