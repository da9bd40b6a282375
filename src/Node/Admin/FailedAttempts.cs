using System.Net;

namespace AkkaL4.Node.Admin;

/// <summary>
/// Failed token attempts (a wrong bearer token, a wrong token in the status page's form), per client: a bucket of
/// <see cref="Burst"/> attempts that refills one every <see cref="Refill"/>; each time a client empties it the refill
/// period doubles, up to <see cref="MaxRefill"/>, and a client whose bucket is full again is forgotten. While a
/// client's bucket is empty its attempts are answered 429 without being checked: checking them would let the guessing
/// go on at full speed. Other clients are not affected, so the right token keeps working from everywhere else.
/// </summary>
/// <remarks>
/// A client is an <see cref="AdminClient"/>: an IPv4 address, or an IPv6 /64. At most <see cref="MaxClients"/> are
/// remembered. A full table forgets no client that is still waiting (forgetting would give it a fresh allowance):
/// clients not in it share one overflow bucket, so many addresses fail closed for new clients only, while every client
/// already known, and its right token, still work.
/// Clients full again are swept out at most once per <see cref="SweepInterval"/> while the table is full, not per insert.
/// </remarks>
internal sealed class FailedAttempts(TimeProvider time)
{
    public const int Burst = 10;
    public static readonly TimeSpan Refill = TimeSpan.FromSeconds(5);
    public static readonly TimeSpan MaxRefill = TimeSpan.FromMinutes(5);
    public const int MaxClients = 10_000;
    public static readonly TimeSpan SweepInterval = TimeSpan.FromMinutes(1);

    private sealed class Bucket
    {
        public double Tokens = Burst;
        public DateTimeOffset Updated;
        /// <summary>How often the bucket ran empty since it was last full: the refill period's doublings.</summary>
        public int Emptied;

        public TimeSpan Period => Emptied >= 16 ? MaxRefill : TimeSpan.FromTicks(Math.Min(MaxRefill.Ticks, Refill.Ticks << Emptied));

        /// <summary>Tokens earned since the last update; true when full again (the client can be forgotten).</summary>
        public bool Catch(DateTimeOffset now)
        {
            Tokens = Math.Min(Burst, Tokens + (now - Updated) / Period);
            Updated = now;
            return Tokens >= Burst;
        }
    }

    private readonly Dictionary<IPAddress, Bucket> _clients = new();
    /// <summary>Shared by every client that found the table full.</summary>
    private readonly Bucket _overflow = new();
    private DateTimeOffset _nextSweep;

    /// <summary>Null when the client may try a token now; else how long until it may.</summary>
    public TimeSpan? Wait(IPAddress address)
    {
        var now = time.GetUtcNow();
        lock (_clients)
        {
            var client = AdminClient.Of(address);
            if (!_clients.TryGetValue(client, out var bucket))
                return Full(now) ? WaitOf(_overflow, now) : null;
            if (bucket.Catch(now))
            {
                _clients.Remove(client);
                return null;
            }
            return bucket.Tokens >= 1 ? null : (1 - bucket.Tokens) * bucket.Period;
        }
    }

    private static TimeSpan? WaitOf(Bucket bucket, DateTimeOffset now)
    {
        if (bucket.Catch(now)) bucket.Emptied = 0;
        return bucket.Tokens >= 1 ? null : (1 - bucket.Tokens) * bucket.Period;
    }

    /// <summary>A wrong token from the client: one attempt used.</summary>
    public void Failed(IPAddress address)
    {
        var now = time.GetUtcNow();
        lock (_clients)
        {
            var client = AdminClient.Of(address);
            if (!_clients.TryGetValue(client, out var bucket))
            {
                if (Full(now))
                {
                    if (_overflow.Catch(now)) _overflow.Emptied = 0;
                    bucket = _overflow;
                }
                else _clients[client] = bucket = new Bucket { Updated = now };
            }
            bucket.Catch(now);
            bucket.Tokens = Math.Max(0, bucket.Tokens - 1);
            if (bucket.Tokens < 1) bucket.Emptied++;
        }
    }

    /// <summary>Clients remembered now (full buckets are dropped as they are met).</summary>
    public int Count
    {
        get { lock (_clients) return _clients.Count; }
    }

    /// <summary>Whether the table is full, after sweeping out the clients full again (at most once per <see cref="SweepInterval"/>).</summary>
    private bool Full(DateTimeOffset now)
    {
        if (_clients.Count < MaxClients) return false;
        if (now >= _nextSweep)
        {
            _nextSweep = now + SweepInterval;
            foreach (var (client, bucket) in _clients)
                if (bucket.Tokens + (now - bucket.Updated) / bucket.Period >= Burst) _clients.Remove(client);
        }
        return _clients.Count >= MaxClients;
    }
}
