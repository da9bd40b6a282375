namespace AkkaL4.Actors.Routing;

/// <summary>
/// Smooth weighted round robin (nginx's): every pick adds each weight to its running score, takes
/// the highest score and subtracts the total from it. Over every sum-of-weights picks each entry is
/// chosen exactly its weight times, evenly spread (80/20 ⇒ exactly 1 of every 5 to the 20).
/// Not thread-safe: one owner (an actor) per instance.
/// </summary>
public sealed class WeightedPicker
{
    private readonly int[] _weights;
    private readonly long[] _current;
    private readonly long _total;

    public WeightedPicker(ReadOnlySpan<int> weights)
    {
        _weights = weights.ToArray();
        _current = new long[weights.Length];
        foreach (var w in weights) _total += Math.Max(0, w);
    }

    public static WeightedPicker For(RouteTarget target)
    {
        Span<int> weights = stackalloc int[target.Destinations.Length];
        for (var i = 0; i < weights.Length; i++) weights[i] = target.Destinations[i].Weight;
        return new WeightedPicker(weights);
    }

    public int Count => _weights.Length;

    /// <summary>The index of the next entry; -1 when there are none. A single entry is always chosen.</summary>
    public int Next()
    {
        if (_weights.Length <= 1) return _weights.Length - 1;
        var best = -1;
        for (var i = 0; i < _weights.Length; i++)
        {
            if (_weights[i] <= 0) continue;
            _current[i] += _weights[i];
            if (best < 0 || _current[i] > _current[best]) best = i;
        }
        if (best >= 0) _current[best] -= _total;
        return best;
    }
}
