namespace AkkaL4.Actors.Routing.LoadBalancing;

/// <summary>ROUND_ROBIN, weighted by WorkloadEntry weight (smooth, so heavier endpoints are spread out).</summary>
public sealed class RoundRobinBalancer : ILoadBalancer
{
    private long[] _current = [];

    public int Pick(ReadOnlySpan<EndpointState> endpoints, uint sourceHash)
    {
        if (_current.Length != endpoints.Length) _current = new long[endpoints.Length];
        long total = 0;
        var best = -1;
        for (var i = 0; i < endpoints.Length; i++)
        {
            if (!endpoints[i].Available) continue;
            total += endpoints[i].Weight;
            _current[i] += endpoints[i].Weight;
            if (best < 0 || _current[i] > _current[best]) best = i;
        }
        if (best >= 0) _current[best] -= total;
        return best;
    }
}
