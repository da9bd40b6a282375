using System.Collections.Concurrent;
using AkkaL4.Actors.DataPlane;
using AkkaL4.Actors.Routing;
using AkkaL4.Actors.Upstreams.Health;

namespace AkkaL4.Actors.Upstreams;

/// <summary>
/// A node's picks, callable from any connection's thread: the weighted choice among a rule's destinations
/// (smooth weighted round robin, one rotation per rule, kept across snapshots by its rotation key) and each
/// cluster's endpoint pick, published by its <see cref="RouterActor"/> while it runs. A cluster whose router
/// has not published yet (started on demand, restarting) is asked for through the <see cref="RouterSupervisor"/>.
/// </summary>
public sealed class UpstreamPickers(UpstreamHealth health)
{
    private readonly ConcurrentDictionary<string, WeightedPicker> _rotations = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ClusterPicker> _clusters = new(StringComparer.Ordinal);

    public UpstreamHealth Health { get; } = health;

    /// <summary>
    /// One of: <see cref="UpstreamAssigned"/>, <see cref="UpstreamRefused"/>, or <see cref="PickUpstream"/> for a cluster
    /// without a published picker, which the caller sends to the router supervisor (its answer is the router's <see cref="ClusterPicker"/>).
    /// </summary>
    public object Pick(RouteTarget target, uint sourceHash, IReadOnlySet<string> tried)
    {
        var destinations = target.Destinations;
        // One destination (most rules) has no rotation to keep.
        var index = destinations.Length == 1 ? 0 : RotationOf(target).Next();
        if (index < 0) return new UpstreamRefused(ResponseFlags.NoRoute, null, "the rule has no destination");
        var cluster = destinations[index].Cluster;
        switch (cluster.Status)
        {
            case ClusterStatus.Ok:
                break;
            case ClusterStatus.NoEndpoints:
                return new UpstreamRefused(ResponseFlags.NoHealthyUpstream, cluster.Name, cluster.Detail);
            case ClusterStatus.Passthrough:
                return new UpstreamRefused(ResponseFlags.NoClusterFound, cluster.Name,
                    "resolution NONE without endpoints means the original destination, which a router without transparent interception cannot reach");
            default:
                return new UpstreamRefused(ResponseFlags.NoClusterFound, cluster.Name, cluster.Detail);
        }
        return _clusters.TryGetValue(cluster.Id, out var picker) && picker.Serves(cluster)
            ? picker.Pick(sourceHash, tried)
            : new PickUpstream(cluster);
    }

    private WeightedPicker RotationOf(RouteTarget target) =>
        _rotations.TryGetValue(target.RotationKey, out var rotation) ? rotation : _rotations.GetOrAdd(target.RotationKey, _ => WeightedPicker.For(target));

    /// <summary>Rotations of rules that are still there go on where they were; the others are forgotten.</summary>
    internal void Retain(RouteSnapshot snapshot)
    {
        var keys = snapshot.Targets.Select(t => t.RotationKey).ToHashSet(StringComparer.Ordinal);
        foreach (var key in _rotations.Keys)
            if (!keys.Contains(key)) _rotations.TryRemove(key, out _);
    }

    internal void Publish(ClusterPicker picker) => _clusters[picker.Cluster.Id] = picker;

    /// <summary>Withdraws <paramref name="picker"/> if it is still the one published for its cluster.</summary>
    internal void Withdraw(ClusterPicker picker) => _clusters.TryRemove(KeyValuePair.Create(picker.Cluster.Id, picker));
}
