namespace AkkaL4.Actors.Routing.LoadBalancing;

/// <summary>
/// LEAST_REQUEST (Istio's default; LEAST_CONN is its old name): for TCP, fewest active connections.
/// Envoy's power of two choices: sample two available endpoints, take the one with fewer active
/// connections per unit of weight.
/// </summary>
public sealed class LeastRequestBalancer(Random random) : ILoadBalancer
{
    public int Pick(ReadOnlySpan<EndpointState> endpoints, uint sourceHash)
    {
        var available = LoadBalancers.CountAvailable(endpoints);
        if (available == 0) return -1;
        if (available == 1) return LoadBalancers.NthAvailable(endpoints, 0);
        var first = random.Next(available);
        var second = random.Next(available - 1);
        if (second >= first) second++;
        var a = LoadBalancers.NthAvailable(endpoints, first);
        var b = LoadBalancers.NthAvailable(endpoints, second);
        // Compare active/weight without division: a.active * b.weight vs b.active * a.weight.
        var left = (long)endpoints[a].Active * endpoints[b].Weight;
        var right = (long)endpoints[b].Active * endpoints[a].Weight;
        return left <= right ? a : b;
    }
}
