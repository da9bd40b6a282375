using AkkaL4.Actors;
using System.Net;
using Akka.Event;

namespace AkkaL4.Node.Admin;

/// <summary>
/// The admin API's refusals (no or a wrong token, too many failed attempts, a foreign Host header, an oversized login
/// form), logged per client address so that no client drives the log's rate: a client's first refusal is logged at once
/// as "refused METHOD PATH from CLIENT: REASON"; the rest it gets within an <see cref="Interval"/> make one line with
/// counts by reason at the interval's end, and a client refused in every interval (an attack) gets just that one line
/// per interval. At most <see cref="MaxClientLines"/> clients get lines of their own per interval; the others are summed
/// in one line. Never the token, nor what was sent in its place: only which way the request failed.
/// </summary>
/// <remarks>
/// A client is an <see cref="ClientNetwork"/> (an IPv6 /64 is one), and at most <see cref="MaxClients"/> are told apart
/// per interval: refusals from further clients are only counted, so many addresses cost a bounded memory and flush.
/// </remarks>
internal sealed class RefusalLog : IDisposable
{
    public static readonly TimeSpan Interval = TimeSpan.FromMinutes(1);
    public const int MaxClientLines = 20;
    /// <summary>The most clients told apart per interval; the refusals of any more are summed without their clients.</summary>
    public const int MaxClients = 1_000;

    private sealed class Tally
    {
        public readonly SortedDictionary<string, long> Reasons = new(StringComparer.Ordinal);
        public long Count;
    }

    private readonly ILoggingAdapter _log;
    private readonly ITimer _timer;
    private readonly object _lock = new();
    /// <summary>This interval's refusals not yet logged, by client.</summary>
    private Dictionary<IPAddress, Tally> _unlogged = new();
    /// <summary>Clients refused in this interval, and in the one before: the first line of an attack only.</summary>
    private HashSet<IPAddress> _current = new(), _previous = new();
    private int _lines;
    /// <summary>This interval's refusals from clients past <see cref="MaxClients"/>.</summary>
    private long _untold;

    public RefusalLog(ILoggingAdapter log, TimeProvider time)
    {
        _log = log;
        _timer = time.CreateTimer(_ => Flush(), null, Interval, Interval);
    }

    /// <param name="request">"METHOD PATH"</param>
    public void Refused(IPAddress? address, string request, string reason)
    {
        address ??= IPAddress.None;
        var client = ClientNetwork.Of(address);
        lock (_lock)
        {
            if (!_current.Contains(client) && _current.Count >= MaxClients)
            {
                _untold++;
                return;
            }
            var added = _current.Add(client);
            var known = !added || _previous.Contains(client);
            if (!known && _lines < MaxClientLines)
            {
                _lines++;
                _log.Warning("admin API: refused {0} from {1}: {2}", request, address, reason);
                return;
            }
            if (!_unlogged.TryGetValue(client, out var tally)) _unlogged[client] = tally = new Tally();
            tally.Count++;
            tally.Reasons[reason] = tally.Reasons.GetValueOrDefault(reason) + 1;
        }
    }

    /// <summary>Entries held for this interval's clients (tests: it stays bounded).</summary>
    internal int Tracked
    {
        get { lock (_lock) return _current.Count + _unlogged.Count; }
    }

    /// <summary>The interval's end: one line per client with refusals not yet logged (the timer's; tests call it too).</summary>
    public void Flush()
    {
        Dictionary<IPAddress, Tally> unlogged;
        int lines;
        long untold;
        lock (_lock)
        {
            (unlogged, _unlogged) = (_unlogged, new Dictionary<IPAddress, Tally>());
            (_previous, _current) = (_current, new HashSet<IPAddress>());
            (lines, _lines) = (_lines, 0);
            (untold, _untold) = (_untold, 0);
        }
        var seconds = $"{Interval.TotalSeconds:0}s";
        var listed = unlogged.OrderByDescending(c => c.Value.Count).ToList();
        foreach (var (client, tally) in listed.Take(Math.Max(0, MaxClientLines - lines)))
            _log.Warning("admin API: refused {0} request(s) from {1} in the last {2}: {3}", tally.Count, ClientNetwork.Show(client), seconds,
                string.Join(", ", tally.Reasons.Select(r => $"{r.Value} × {r.Key}")));
        var rest = listed.Skip(Math.Max(0, MaxClientLines - lines)).ToList();
        if (rest.Count > 0)
            _log.Warning("admin API: refused {0} request(s) from {1} more client(s) in the last {2} (at most {3} clients are named per interval)",
                rest.Sum(c => c.Value.Count), rest.Count, seconds, MaxClientLines);
        if (untold > 0)
            _log.Warning("admin API: refused {0} more request(s) in the last {1} from clients past the first {2} of the interval (not told apart)",
                untold, seconds, MaxClients);
    }

    public void Dispose()
    {
        _timer.Dispose();
        Flush();
    }
}
