namespace AkkaL4.Actors.Routing.LoadBalancing;

/// <summary>
/// consistentHash.useSourceIp: the same client IP reaches the same endpoint. Weighted rendezvous
/// (highest-random-weight) hashing: each endpoint scores <c>-weight / ln(h)</c> for a hash <c>h</c>
/// of (client, endpoint), the highest score wins. Adding or removing an endpoint moves only the
/// clients that endpoint gains or loses; an ejected endpoint's clients spread over the others.
/// </summary>
public sealed class SourceIpHashBalancer : ILoadBalancer
{
    private readonly uint[] _endpointHashes;

    /// <param name="endpointKeys">A stable identity per endpoint (its address:port), in the cluster's order.</param>
    public SourceIpHashBalancer(IReadOnlyList<string> endpointKeys)
    {
        _endpointHashes = new uint[endpointKeys.Count];
        for (var i = 0; i < endpointKeys.Count; i++)
        {
            var h = 2166136261u;
            foreach (var c in endpointKeys[i]) h = (h ^ c) * 16777619u;
            _endpointHashes[i] = h;
        }
    }

    public int Pick(ReadOnlySpan<EndpointState> endpoints, uint sourceHash)
    {
        var best = -1;
        var bestScore = double.NegativeInfinity;
        for (var i = 0; i < endpoints.Length && i < _endpointHashes.Length; i++)
        {
            if (!endpoints[i].Available) continue;
            var mixed = Mix(((ulong)sourceHash << 32) | _endpointHashes[i]);
            // A uniform value in (0, 1): 53 random bits, never 0.
            var unit = ((mixed >> 11) + 0.5) / (1UL << 53);
            var score = -endpoints[i].Weight / Math.Log(unit);
            if (score > bestScore) { bestScore = score; best = i; }
        }
        return best;
    }

    /// <summary>SplitMix64's finaliser: a well-spread 64-bit hash of a 64-bit value.</summary>
    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
