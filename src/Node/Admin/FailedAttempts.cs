using AkkaL4.Actors;
using System.Net;
using System.Net.Sockets;

namespace AkkaL4.Node.Admin;

/// <summary>
/// Failed token attempts (a wrong bearer token, a wrong token in the status page's form), per client: a bucket of
/// attempts that refills one every <see cref="Refill"/>; each time a client empties it the refill period doubles, up to
/// <see cref="MaxRefill"/>, and a client whose bucket is full again is forgotten. While a client's bucket is empty its
/// attempts are answered 429 without being checked: checking them would let the guessing go on at full speed. Other
/// clients are not affected, so the right token keeps working from everywhere else.
/// </summary>
/// <remarks>
/// Counted per host and per network (<see cref="ClientNetwork"/>), as the connection caps are: an IPv4 address has
/// <see cref="Burst"/>; an IPv6 host has <see cref="Burst"/> of its own and its /64 <see cref="NetworkBurst"/> over all
/// its hosts. A cloud subnet is one /64 shared by many hosts, so one host's wrong tokens cannot use up the others'
/// attempts, while the many addresses of one /64 still cannot each guess with an allowance of their own. Loopback
/// (127.0.0.0/8 and ::1) is one network in the same way: any local process can send from millions of 127.x addresses.
/// <para>
/// Neighbours (review2-s9 #5): once a network's share is used up, every host of it waits, also one that never failed,
/// and no rule on addresses alone can spare it. A host seen for the first time cannot be told from the attacker's next
/// fresh address until its token is checked, and checking it is a guess: letting "hosts that have not failed yet" try
/// would give an attacker one guess per address, 2^64 of them on a /64, so the network bound would bound nothing. A
/// higher network share only raises the number of addresses needed to use it up (a /64 has plenty). What does tell the
/// admin apart is having given the right token: a host that did so within <see cref="TrustFor"/> (renewed by each right
/// token) is held by an allowance of its own alone (<see cref="Burst"/>, the same refill), not by its network's share nor
/// by the overflow below. Only the token makes a host trusted, so an attacker gains nothing from it: its guesses from
/// one network stay at most the network's share plus the own allowances of the hosts that gave the right token. A
/// trusted host's wrong tokens still count everywhere as well (a typo spends the network's share like any other). What
/// is left: an admin on a fresh address (a new SLAAC privacy address, a new machine) of a network under attack waits
/// like the attacker; a stable address, another network, the node's loopback API or the status page's cookie still work.
/// </para>
/// At most <see cref="MaxClients"/> networks are remembered. A full table forgets no network that is still waiting
/// (forgetting would give it a fresh allowance): networks not in it share one overflow bucket, so many addresses fail
/// closed for new clients only, while every client already known, and its right token, still work. At most
/// <see cref="MaxClients"/> IPv6 hosts are remembered too; a host that finds that table full is bounded by its /64 alone.
/// At most <see cref="MaxClients"/> trusted hosts are remembered (only the token adds one); past that, a new one is not.
/// Clients full again are swept out at most once per <see cref="SweepInterval"/> while a table is full, not per insert.
/// </remarks>
internal sealed class FailedAttempts(TimeProvider time)
{
    /// <summary>Attempts of one host (an IPv4 address, one IPv6 address).</summary>
    public const int Burst = 10;
    /// <summary>Attempts of one IPv6 /64 over all its hosts: one host alone never empties it (four times a host's, and a host's refill slows first).</summary>
    public const int NetworkBurst = 4 * Burst;
    public static readonly TimeSpan Refill = TimeSpan.FromSeconds(5);
    public static readonly TimeSpan MaxRefill = TimeSpan.FromMinutes(5);
    /// <summary>How long a host that gave the right token is held by its own allowance alone (renewed by each right token).</summary>
    public static readonly TimeSpan TrustFor = TimeSpan.FromDays(7);
    public const int MaxClients = 10_000;
    public static readonly TimeSpan SweepInterval = TimeSpan.FromMinutes(1);

    private sealed class Bucket(int burst)
    {
        public readonly int Burst = burst;
        public double Tokens = burst;
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

        /// <summary><see cref="Catch"/> for a bucket kept when full again (the overflow, a trusted host's own): full again
        /// starts the refill's doublings over, as a forgotten client's fresh bucket would (review2-s10 #1).</summary>
        public void CatchKept(DateTimeOffset now)
        {
            if (Catch(now)) Emptied = 0;
        }

        public TimeSpan? Wait => Tokens >= 1 ? null : (1 - Tokens) * Period;

        public void Use()
        {
            Tokens = Math.Max(0, Tokens - 1);
            if (Tokens < 1) Emptied++;
        }
    }

    /// <summary>Buckets by key, at most <see cref="MaxClients"/>; with an overflow bucket, the keys that found it full share that one.</summary>
    private sealed class Table(Bucket? overflow)
    {
        private readonly Dictionary<IPAddress, Bucket> _buckets = new();
        private DateTimeOffset _nextSweep;

        public int Count => _buckets.Count;

        /// <summary>The key's bucket as of <paramref name="now"/> (null: none, none needed); a bucket full again is forgotten.</summary>
        public Bucket? Find(IPAddress key, DateTimeOffset now)
        {
            if (!_buckets.TryGetValue(key, out var bucket))
            {
                if (overflow is null || !Full(now)) return null;
                overflow.CatchKept(now);
                return overflow;
            }
            if (!bucket.Catch(now)) return bucket;
            _buckets.Remove(key);
            return null;
        }

        /// <summary>The key's bucket, made when there is room (else the overflow, or null without one).</summary>
        public Bucket? Take(IPAddress key, int burst, DateTimeOffset now)
        {
            if (Find(key, now) is { } found) return found;
            if (Full(now)) return overflow;
            return _buckets[key] = new Bucket(burst) { Updated = now };
        }

        /// <summary>Whether the table is full, after sweeping out the buckets full again (at most once per <see cref="SweepInterval"/>).</summary>
        private bool Full(DateTimeOffset now)
        {
            if (_buckets.Count < MaxClients) return false;
            if (now >= _nextSweep)
            {
                _nextSweep = now + SweepInterval;
                foreach (var (key, bucket) in _buckets)
                    if (bucket.Tokens + (now - bucket.Updated) / bucket.Period >= bucket.Burst) _buckets.Remove(key);
            }
            return _buckets.Count >= MaxClients;
        }
    }

    /// <summary>IPv4 addresses, IPv6 /64s (<see cref="ClientNetwork.Of"/>) and loopback as one.</summary>
    private readonly Table _networks = new(new Bucket(Burst));
    /// <summary>Hosts of the networks that have several (IPv6, loopback); any other IPv4 address is its own network.</summary>
    private readonly Table _hosts = new(null);
    /// <summary>Hosts that gave the right token, with their own allowance (see the remarks).</summary>
    private readonly Dictionary<IPAddress, Trusted> _trusted = new();
    private DateTimeOffset _nextTrustSweep;

    private sealed class Trusted(DateTimeOffset now)
    {
        public DateTimeOffset Until = now + TrustFor;
        public readonly Bucket Own = new(Burst) { Updated = now };
    }

    /// <summary>Null when the client may try a token now; else how long until it may.</summary>
    public TimeSpan? Wait(IPAddress address)
    {
        var now = time.GetUtcNow();
        lock (_networks)
        {
            var host = ClientNetwork.Host(address);
            if (TrustedAt(host, now) is { } trusted)
            {
                trusted.Own.CatchKept(now);
                return trusted.Own.Wait;
            }
            var network = _networks.Find(ClientNetwork.Network(host), now)?.Wait;
            var own = Shared(host) ? _hosts.Find(host, now)?.Wait : null;
            return network > own || own is null ? network : own;
        }
    }

    /// <summary>A token checked from the client, as one step: null when it may try now (a wrong token is counted at
    /// once, <see cref="Failed"/>; a right one trusts the host, <see cref="TrustFor"/>), else how long until it may
    /// (nothing counted). One lock for both, so concurrent requests cannot all pass the check before the first of their
    /// failures is counted.</summary>
    public TimeSpan? Attempt(IPAddress address, bool right)
    {
        lock (_networks)
        {
            if (Wait(address) is { } wait) return wait;
            if (right) Trust(ClientNetwork.Host(address));
            else Failed(address);
            return null;
        }
    }

    /// <summary>A wrong token from the client: one attempt used, of its host's and of its network's (and of its own, when trusted).</summary>
    public void Failed(IPAddress address)
    {
        var now = time.GetUtcNow();
        lock (_networks)
        {
            var host = ClientNetwork.Host(address);
            var shared = Shared(host);
            _networks.Take(ClientNetwork.Network(host), shared ? NetworkBurst : Burst, now)?.Use();
            if (shared) _hosts.Take(host, Burst, now)?.Use();
            if (TrustedAt(host, now) is { } trusted)
            {
                trusted.Own.CatchKept(now);
                trusted.Own.Use();
            }
        }
    }

    private Trusted? TrustedAt(IPAddress host, DateTimeOffset now)
    {
        if (!_trusted.TryGetValue(host, out var trusted)) return null;
        if (trusted.Until > now) return trusted;
        _trusted.Remove(host);
        return null;
    }

    private void Trust(IPAddress host)
    {
        var now = time.GetUtcNow();
        if (TrustedAt(host, now) is { } known)
        {
            known.Until = now + TrustFor;
            return;
        }
        if (_trusted.Count >= MaxClients && now >= _nextTrustSweep)
        {
            _nextTrustSweep = now + SweepInterval;
            foreach (var (key, trusted) in _trusted)
                if (trusted.Until <= now) _trusted.Remove(key);
        }
        if (_trusted.Count < MaxClients) _trusted[host] = new Trusted(now);
    }

    /// <summary>Whether the host's network holds many hosts, each with an allowance of its own inside the network's.</summary>
    private static bool Shared(IPAddress host) => host.AddressFamily == AddressFamily.InterNetworkV6 || IPAddress.IsLoopback(host);

    /// <summary>Networks remembered now (full buckets are dropped as they are met).</summary>
    public int Count
    {
        get { lock (_networks) return _networks.Count; }
    }

    /// <summary>Hosts of shared networks (IPv6, loopback) remembered now.</summary>
    public int HostCount
    {
        get { lock (_networks) return _hosts.Count; }
    }

    /// <summary>Trusted hosts remembered now.</summary>
    public int TrustedCount
    {
        get { lock (_networks) return _trusted.Count; }
    }
}
