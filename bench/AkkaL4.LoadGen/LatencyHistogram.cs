using System.Diagnostics;
using HdrHistogram;

namespace AkkaL4.LoadGen;

/// <summary>
/// Latencies in nanoseconds, kept by HdrHistogram with 3 significant digits (every recorded value within
/// 0.1 %) from 1 ns to 1 minute. Recording does not allocate; each worker owns one and they are merged at the end.
/// </summary>
internal sealed class LatencyHistogram
{
    private static readonly long Highest = TimeSpan.FromMinutes(1).Ticks * 100; // ns
    private readonly LongHistogram _histogram = new(1, Highest, 3);

    public long Count => _histogram.TotalCount;
    public long MaxNanoseconds => Count == 0 ? 0 : _histogram.GetMaxValue();

    public static long Nanoseconds(long fromTimestamp, long toTimestamp) =>
        (long)((toTimestamp - fromTimestamp) * (1_000_000_000.0 / Stopwatch.Frequency));

    /// <summary>
    /// Records the time from <paramref name="startTimestamp"/> until now. In open-loop mode the start is when the
    /// operation was due, not when it could begin, so time spent queued behind a slow relay counts (no coordinated omission).
    /// </summary>
    public void RecordSince(long startTimestamp) => Record(Nanoseconds(startTimestamp, Stopwatch.GetTimestamp()));

    public void Record(long nanoseconds) => _histogram.RecordValue(Math.Clamp(nanoseconds, 1, Highest));

    public void Add(LatencyHistogram other) => _histogram.Add(other._histogram);

    /// <summary>The value at <paramref name="percentile"/> (0–100], in microseconds; NaN when empty.</summary>
    public double PercentileMicroseconds(double percentile) =>
        Count == 0 ? double.NaN : _histogram.GetValueAtPercentile(percentile) / 1000.0;
}
