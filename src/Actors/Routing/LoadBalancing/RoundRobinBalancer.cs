namespace AkkaL4.Actors.Routing.LoadBalancing;

/// <summary>
/// ROUND_ROBIN, weighted by WorkloadEntry weight (smooth, so heavier endpoints are spread out). Thread-safe:
/// the rotation for the endpoints as last seen (weight, or 0 when not serving) is an immutable
/// <see cref="WeightedPicker"/> swapped whole when what is serving changes, going on from the old one's position,
/// so each pick is a compare and an atomic increment. A retry never changes the rotation: it takes turns of the same
/// weights from a cursor of its own, passing over endpoints it already tried, so first picks keep their exact shares
/// and the connections an endpoint refuses are spread over the others by weight.
/// </summary>
public sealed class RoundRobinBalancer : ILoadBalancer
{
    private sealed class Rotation
    {
        public readonly int[] Weights;
        public readonly WeightedPicker Picker;
        public readonly bool Any;
        private WeightedPicker? _retries;

        public Rotation(ReadOnlySpan<EndpointState> endpoints, long picks, long retries)
        {
            Weights = new int[endpoints.Length];
            for (var i = 0; i < Weights.Length; i++)
            {
                Weights[i] = endpoints[i].Serving ? endpoints[i].Weight : 0;
                Any |= Weights[i] > 0;
            }
            Picker = new WeightedPicker(Weights, picks);
            if (retries >= 0) _retries = new WeightedPicker(Weights, retries);
        }

        /// <summary>The retries' own turns over the same weights, made at the first retry.</summary>
        public WeightedPicker Retries => LazyInitializer.EnsureInitialized(ref _retries, () => new WeightedPicker(Weights));

        public long RetriesMade => Volatile.Read(ref _retries)?.Picks ?? -1;

        public bool Fits(ReadOnlySpan<EndpointState> endpoints)
        {
            if (Weights.Length != endpoints.Length) return false;
            for (var i = 0; i < Weights.Length; i++)
                if (Weights[i] != (endpoints[i].Serving ? endpoints[i].Weight : 0)) return false;
            return true;
        }
    }

    private Rotation? _rotation;

    public int Pick(ReadOnlySpan<EndpointState> endpoints, uint sourceHash)
    {
        var rotation = Volatile.Read(ref _rotation);
        if (rotation is null || !rotation.Fits(endpoints))
        {
            // Threads that see the same change at once all go on with the one rotation that got in first.
            var fresh = new Rotation(endpoints, rotation?.Picker.Picks ?? -1, rotation?.RetriesMade ?? -1);
            var seen = Interlocked.CompareExchange(ref _rotation, fresh, rotation);
            rotation = ReferenceEquals(seen, rotation) || !seen!.Fits(endpoints) ? fresh : seen;
        }
        if (!rotation.Any) return -1;
        if (!IsRetry(endpoints)) return rotation.Picker.Next();
        // At most one cycle of turns; a cycle too long to keep may end before an untried endpoint's turn.
        var retries = rotation.Retries;
        for (var turns = Math.Min(retries.Period, WeightedPicker.MaxCycle); turns > 0; turns--)
        {
            var next = retries.Next();
            if (!endpoints[next].Tried) return next;
        }
        var untried = LoadBalancers.NthAvailable(endpoints, 0);
        return untried >= 0 ? untried : retries.Next();
    }

    private static bool IsRetry(ReadOnlySpan<EndpointState> endpoints)
    {
        foreach (var e in endpoints) if (e.Tried) return true;
        return false;
    }
}
