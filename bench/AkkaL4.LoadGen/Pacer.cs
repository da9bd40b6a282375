using System.Diagnostics;

namespace AkkaL4.LoadGen;

/// <summary>
/// The schedule of an open-loop run: operation k is due at start + k / rate, whether or not earlier ones have
/// finished. Latency is measured from when an operation was due, so a relay that stalls is charged for every
/// operation that waited behind the stall (no coordinated omission), unlike a closed loop, which simply sends
/// less while the relay is slow.
/// </summary>
internal sealed class Pacer(double perSecond, long startTimestamp)
{
    private readonly double _ticksPerOperation = Stopwatch.Frequency / perSecond;

    public long DueAt(long k) => startTimestamp + (long)(k * _ticksPerOperation);

    /// <summary>Waits until <paramref name="due"/>: sleeps while it is more than 2 ms away, then yields.</summary>
    public static async ValueTask WaitUntilAsync(long due, CancellationToken cancel)
    {
        while (true)
        {
            var ahead = due - Stopwatch.GetTimestamp();
            if (ahead <= 0) return;
            var ms = ahead * 1000.0 / Stopwatch.Frequency;
            if (ms > 2) await Task.Delay(TimeSpan.FromMilliseconds(ms - 1.5), cancel);
            else await Task.Yield();
        }
    }
}
