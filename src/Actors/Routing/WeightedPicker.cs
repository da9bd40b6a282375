namespace AkkaL4.Actors.Routing;

/// <summary>
/// Smooth weighted round robin (nginx's): every pick adds each weight to its running score, takes
/// the highest score and subtracts the total from it. Over every sum-of-weights picks each entry is
/// chosen exactly its weight times, evenly spread (80/20 ⇒ exactly 1 of every 5 to the 20).
/// Thread-safe without a lock on the usual path: the scores return to zero after every sum-of-weights
/// picks, so the sequence is a fixed cycle, computed once; a pick is one atomic increment into it.
/// Weights whose cycle (their sum over their greatest common divisor) is too long to keep fall back
/// to the running scores under a lock.
/// </summary>
public sealed class WeightedPicker
{
    /// <summary>The longest cycle kept as a table (int indexes: 16 KB).</summary>
    public const int MaxCycle = 4096;

    private readonly int[] _weights;
    private readonly int[]? _cycle;
    private readonly long[] _current;
    private readonly long _total;
    private long _picks = -1;

    /// <param name="picks">Picks already made: a rotation replacing another goes on from its position instead of
    /// restarting the cycle (which would favour the first entries on every change).</param>
    public WeightedPicker(ReadOnlySpan<int> weights, long picks = -1)
    {
        _picks = picks;
        _weights = weights.ToArray();
        _current = new long[weights.Length];
        var gcd = 0L;
        foreach (var w in weights)
        {
            if (w <= 0) continue;
            _total += w;
            gcd = Gcd(gcd, w);
        }
        if (_weights.Length <= 1 || _total == 0 || _total / gcd > MaxCycle) return;
        // Scaling every weight by 1/gcd scales every score alike: the same picks, in a shorter cycle.
        var cycle = new int[_total / gcd];
        for (var i = 0; i < cycle.Length; i++) cycle[i] = Step();
        Array.Clear(_current);
        _cycle = cycle;
    }

    public static WeightedPicker For(RouteTarget target)
    {
        Span<int> weights = stackalloc int[target.Destinations.Length];
        for (var i = 0; i < weights.Length; i++) weights[i] = target.Destinations[i].Weight;
        return new WeightedPicker(weights);
    }

    public int Count => _weights.Length;

    /// <summary>Picks made so far (-1 before the first).</summary>
    public long Picks => Volatile.Read(ref _picks);

    /// <summary>Picks after which every entry has had its turn: the cycle, or the total weight when it is not kept.</summary>
    public long Period => _cycle?.Length ?? _total;

    /// <summary>The index of the next entry; -1 when there are none. A single entry is always chosen.</summary>
    public int Next()
    {
        if (_weights.Length <= 1) return _weights.Length - 1;
        if (_cycle is { } cycle) return cycle[(int)((ulong)Interlocked.Increment(ref _picks) % (ulong)cycle.Length)];
        lock (_current)
        {
            _picks++;
            return Step();
        }
    }

    private int Step()
    {
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

    private static long Gcd(long a, long b)
    {
        while (b != 0) (a, b) = (b, a % b);
        return a;
    }
}
