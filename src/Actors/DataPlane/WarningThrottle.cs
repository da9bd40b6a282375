namespace AkkaL4.Actors.DataPlane;

/// <summary>
/// At most one warning per key (a listener) per <paramref name="interval"/>, however fast the events come: an attacker
/// opening connections must not drive the log rate. Each warning says how many events happened since the previous one.
/// <paramref name="clock"/> (milliseconds) is for tests.
/// </summary>
public sealed class WarningThrottle(TimeSpan interval, Func<long>? clock = null)
{
    private readonly Func<long> _clock = clock ?? (() => Environment.TickCount64);
    private readonly long _intervalMs = (long)interval.TotalMilliseconds;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, Window> _windows = new();

    private sealed class Window
    {
        public long LastWarned = long.MinValue;
        public long Since;
    }

    /// <summary>Counts one event for <paramref name="key"/>; when a warning is due now, how many events it covers (this one included), else 0.</summary>
    public long Count(string key)
    {
        var window = _windows.GetOrAdd(key, _ => new Window());
        lock (window)
        {
            window.Since++;
            var now = _clock();
            if (window.LastWarned != long.MinValue && now - window.LastWarned < _intervalMs) return 0;
            window.LastWarned = now;
            var covered = window.Since;
            window.Since = 0;
            return covered;
        }
    }
}
