using System.Diagnostics;
using System.Numerics;

namespace AkkaL4.LoadGen;

/// <summary>
/// A log-linear histogram of nanoseconds in the manner of HdrHistogram: values below 128 ns are kept
/// exactly, larger ones in 64 sub-buckets per power of two (each bucket at most 1/64 ≈ 1.6 % wide).
/// Recording is one array increment; each worker owns one and they are merged at the end.
/// </summary>
internal sealed class LatencyHistogram
{
    private const int Exact = 128;
    private const int SubBuckets = 64;
    private readonly long[] _counts = new long[Exact + 56 * SubBuckets];

    public long Count { get; private set; }
    public long MaxNanoseconds { get; private set; }

    public static long Nanoseconds(long fromTimestamp, long toTimestamp) =>
        (long)((toTimestamp - fromTimestamp) * (1_000_000_000.0 / Stopwatch.Frequency));

    public void RecordSince(long startTimestamp) => Record(Nanoseconds(startTimestamp, Stopwatch.GetTimestamp()));

    public void Record(long nanoseconds)
    {
        if (nanoseconds < 0) nanoseconds = 0;
        _counts[Index(nanoseconds)]++;
        Count++;
        if (nanoseconds > MaxNanoseconds) MaxNanoseconds = nanoseconds;
    }

    public void Add(LatencyHistogram other)
    {
        for (var i = 0; i < _counts.Length; i++) _counts[i] += other._counts[i];
        Count += other.Count;
        MaxNanoseconds = Math.Max(MaxNanoseconds, other.MaxNanoseconds);
    }

    /// <summary>The value at <paramref name="percentile"/> (0–100], in microseconds (the middle of its bucket); NaN when empty.</summary>
    public double PercentileMicroseconds(double percentile)
    {
        if (Count == 0) return double.NaN;
        var rank = (long)Math.Ceiling(percentile / 100.0 * Count);
        rank = Math.Clamp(rank, 1, Count);
        long seen = 0;
        for (var i = 0; i < _counts.Length; i++)
        {
            seen += _counts[i];
            if (seen >= rank) return Math.Min(Middle(i), MaxNanoseconds) / 1000.0;
        }
        return MaxNanoseconds / 1000.0;
    }

    internal static int Index(long value)
    {
        if (value < Exact) return (int)value;
        var shift = 63 - BitOperations.LeadingZeroCount((ulong)value) - 6; // value >> shift is in [64, 128)
        return Exact + (shift - 1) * SubBuckets + (int)((value >> shift) - SubBuckets);
    }

    internal static long Middle(int index)
    {
        if (index < Exact) return index;
        var k = index - Exact;
        var shift = k / SubBuckets + 1;
        long sub = k % SubBuckets + SubBuckets;
        var lower = sub << shift;
        var upper = ((sub + 1) << shift) - 1;
        return lower + (upper - lower) / 2;
    }
}
