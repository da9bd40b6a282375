namespace AkkaL4.Actors.DataPlane;

/// <summary>
/// The idle timeouts of a node's relays, as one periodic sweep instead of a scheduler registration per
/// connection (a stage timer was ~480 bytes held by every idle connection, measured in bench/README.md).
/// A relay registers while it runs and stamps <see cref="IIdle.LastActivity"/> as bytes pass; the sweep
/// reads the stamps and asks each relay that looks idle to <see cref="IIdle.Expire"/>, which checks again on
/// the relay's own thread, so a timeout never fires early. It fires at most one period late (two, for a relay that another's
/// removal moves in the table while a sweep reads it): a quarter of the shortest idle timeout registered, between
/// <see cref="MinPeriod"/> and <see cref="MaxPeriod"/>.
/// </summary>
internal sealed class IdleSweep
{
    public static readonly TimeSpan MinPeriod = TimeSpan.FromMilliseconds(50);
    public static readonly TimeSpan MaxPeriod = TimeSpan.FromSeconds(1);

    /// <summary>A relay with an idle timeout.</summary>
    public interface IIdle
    {
        /// <summary><see cref="Environment.TickCount64"/> when bytes last passed.</summary>
        long LastActivity { get; }
        long IdleTimeoutMs { get; }
        /// <summary>Where it is in the sweep's table (kept by the sweep).</summary>
        int SweepSlot { get; set; }
        /// <summary>Called from the sweep's thread: end the relay if it is still idle.</summary>
        void Expire();
    }

    private readonly object _gate = new();
    private readonly Timer _timer;
    private readonly Action<Exception, long> _expireFailed;
    private long _failures;
    private IIdle?[] _entries = [];
    private int _count;
    /// <summary>The period the timer is armed with; zero while it is not (from when a sweep begins, until it or an Add arms it).</summary>
    private long _armedMs;

    /// <param name="expireFailed">
    /// Told when a relay's <see cref="IIdle.Expire"/> throws, with how many have so far: the 1st and every 100th only.
    /// </param>
    public IdleSweep(Action<Exception, long> expireFailed)
    {
        _expireFailed = expireFailed;
        _timer = new Timer(static s => ((IdleSweep)s!).Sweep(), this, Timeout.Infinite, Timeout.Infinite);
    }

    /// <summary>How many relays are registered.</summary>
    public int Count
    {
        get { lock (_gate) return _count; }
    }

    public void Add(IIdle relay)
    {
        lock (_gate)
        {
            if (_count == _entries.Length) Array.Resize(ref _entries, Math.Max(64, 2 * _count));
            relay.SweepSlot = _count;
            _entries[_count++] = relay;
            var period = PeriodFor(relay.IdleTimeoutMs);
            if (_armedMs == 0 || period < _armedMs) Arm(period);
        }
    }

    public void Remove(IIdle relay)
    {
        lock (_gate)
        {
            var slot = relay.SweepSlot;
            if (slot < 0 || slot >= _count || !ReferenceEquals(_entries[slot], relay)) return;
            var last = _entries[--_count]!;
            _entries[slot] = last;
            last.SweepSlot = slot;
            _entries[_count] = null;
            relay.SweepSlot = -1;
            // Give back the table a burst of connections grew.
            if (_entries.Length > 1024 && _count < _entries.Length / 4) Array.Resize(ref _entries, _entries.Length / 2);
        }
    }

    /// <summary>How many relays a sweep copies out of the table at a time, under the lock (a few KB; never the large-object heap).</summary>
    private const int Batch = 256;

    private void Sweep()
    {
        List<IIdle>? expired = null;
        var batch = new IIdle?[Batch];
        var shortest = long.MaxValue;
        // The timer has fired: a relay added during the sweep arms it for its own period.
        lock (_gate) _armedMs = 0;
        // The stamps are read outside the lock: reading those of tens of thousands of relays takes milliseconds, and relays
        // register and unregister from their hosts' turns, which run on the sockets' event threads. A relay moved by a
        // removal meanwhile may be read twice (Expire checks again on its own thread) or not at all (the next sweep reads it).
        for (var start = 0; ; start += Batch)
        {
            int taken;
            lock (_gate)
            {
                // The table may have shrunk below start meanwhile (removals give back its memory).
                taken = Math.Clamp(_count - start, 0, Batch);
                if (taken > 0) Array.Copy(_entries, start, batch, 0, taken);
            }
            var now = Environment.TickCount64;
            for (var i = 0; i < taken; i++)
            {
                var relay = batch[i]!;
                var idle = relay.IdleTimeoutMs;
                shortest = Math.Min(shortest, idle);
                if (now - relay.LastActivity >= idle) (expired ??= []).Add(relay);
            }
            if (taken < Batch) break;
        }
        lock (_gate)
        {
            // The shorter of the relays read and those added meanwhile (read or not, they armed the timer) stands.
            var period = PeriodFor(shortest);
            if (_count > 0 && (_armedMs == 0 || period < _armedMs)) Arm(period);
        }
        // A relay's Expire posts to its own thread, which may be removing it meanwhile.
        if (expired is not null)
            foreach (var relay in expired)
            {
                // One relay's failure must neither stop the sweep for the others nor, on a timer thread, end the process.
                try
                {
                    relay.Expire();
                }
                catch (Exception e)
                {
                    var failures = Interlocked.Increment(ref _failures);
                    if (failures == 1 || failures % 100 == 0) _expireFailed(e, failures);
                }
            }
    }

    private void Arm(long periodMs)
    {
        _armedMs = periodMs;
        _timer.Change(periodMs, Timeout.Infinite);
    }

    private static long PeriodFor(long idleMs) => Math.Clamp(idleMs / 4, (long)MinPeriod.TotalMilliseconds, (long)MaxPeriod.TotalMilliseconds);
}
