namespace AkkaL4.Actors.Routing.LoadBalancing;

/// <summary>RANDOM, weighted by WorkloadEntry weight.</summary>
public sealed class RandomBalancer(Random random) : ILoadBalancer
{
    public int Pick(ReadOnlySpan<EndpointState> endpoints, uint sourceHash)
    {
        long total = 0;
        foreach (var e in endpoints) if (e.Available) total += e.Weight;
        if (total == 0) return -1;
        var r = random.NextInt64(total);
        for (var i = 0; i < endpoints.Length; i++)
        {
            if (!endpoints[i].Available) continue;
            r -= endpoints[i].Weight;
            if (r < 0) return i;
        }
        return -1;
    }
}
