namespace AkkaL4.Actors.Routing.LoadBalancing;

/// <summary>
/// ROUND_ROBIN, weighted by WorkloadEntry weight (smooth, so heavier endpoints are spread out). Thread-safe:
/// the rotation for the endpoints as last seen (weight, or 0 when not available) is an immutable
/// <see cref="WeightedPicker"/> swapped whole when what is available changes, so each pick is a compare and an
/// atomic increment.
/// </summary>
public sealed class RoundRobinBalancer : ILoadBalancer
{
    private sealed class Rotation
    {
        public readonly int[] Weights;
        public readonly WeightedPicker Picker;
        public readonly bool Any;

        public Rotation(ReadOnlySpan<EndpointState> endpoints)
        {
            Weights = new int[endpoints.Length];
            for (var i = 0; i < Weights.Length; i++)
            {
                Weights[i] = endpoints[i].Available ? endpoints[i].Weight : 0;
                Any |= Weights[i] > 0;
            }
            Picker = new WeightedPicker(Weights);
        }

        public bool Fits(ReadOnlySpan<EndpointState> endpoints)
        {
            if (Weights.Length != endpoints.Length) return false;
            for (var i = 0; i < Weights.Length; i++)
                if (Weights[i] != (endpoints[i].Available ? endpoints[i].Weight : 0)) return false;
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
            var fresh = new Rotation(endpoints);
            var seen = Interlocked.CompareExchange(ref _rotation, fresh, rotation);
            rotation = ReferenceEquals(seen, rotation) || !seen!.Fits(endpoints) ? fresh : seen;
        }
        return rotation.Any ? rotation.Picker.Next() : -1;
    }
}
