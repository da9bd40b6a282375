using System.Runtime.InteropServices;

namespace AkkaL4.Actors.DataPlane;

/// <summary>
/// How many connections the process's descriptors leave room for while <see cref="Reserve"/> of them stay free for
/// everything else. On .NET/Linux a process at its RLIMIT_NOFILE cannot start a thread (the runtime needs descriptors to
/// do it: OutOfMemoryException), grow its thread pool or load an assembly, and soon dies of it; so the data plane never
/// takes the last ones, as HAProxy derives maxconn from <c>ulimit -n</c>. A connection counts
/// <see cref="PerConnection"/> (its own and its upstream's) from the place its listener takes before accepting it
/// (<see cref="ConnectionBudget.TryReserve"/>) to its end, so an admitted connection can always dial; and a listener's
/// accept stream takes a place of its own before it binds, through the same compare-and-swap, so listeners started on a
/// full node cannot take the reserve. A stream's place is a connection's two descriptors: its listening socket, and on the
/// stock transport the one connection its stream accepts ahead of admission (the default socket transport's accept pump
/// accepts only once the listener holds the next connection's place, so there the second is one spare per listener: an
/// over-count of one descriptor per listener, kept as the safe side). The stock transport accepts on without asking, and
/// queues what its listener has not asked for yet: each queued connection takes a place while it waits
/// (<see cref="ConnectionBudget.TryReserveAhead"/>), or is closed, so a node at its room does not hold them out of the reserve.
/// The limit (the soft RLIMIT_NOFILE, which <c>prlimit</c> may change on a running node) is read again at
/// most once a second; the rest of the process's descriptors are counted in /proc/self/fd at start, when the limit
/// changes and before each admission within half a reserve of the room (spaced by 50 times a count's duration, so at
/// most 2% of a core however many are open): what is open less the connections' two each, the most found in the last 10 s (a connection that has
/// not dialled yet holds one of its two: a count then finds the rest of the process one short).
/// </summary>
public sealed class DescriptorBudget
{
    public const int PerConnection = 2;
    /// <summary>
    /// What of a listener's stream place is surely open, and so taken out of a count of the rest of the process as the
    /// connections' are: its listening socket. The connection the stock transport's stream accepts ahead may not be there
    /// (the socket transport's never is); left counted, it costs a descriptor of room per listener at most, where taking it
    /// out would eat the reserve by one per idle listener.
    /// </summary>
    public const int PerStream = 1;
    /// <summary>Places a listener needs to serve one connection: its accept stream's and the connection's.</summary>
    public const int LeastPlaces = 2;
    /// <summary>Below this the runtime's own needs (two descriptors to start a thread, more to load an assembly) are not covered.</summary>
    public const int MinReserve = 16;
    /// <summary>A limit that leaves room for fewer connections than this is warned about at start.</summary>
    public const int FewConnections = 1024;
    private const long LookEveryMs = 1000;
    /// <summary>Counting is spaced by this many times its own duration (at most 2% of a core, however many are open).</summary>
    private const long CountSpacing = 50;
    /// <summary>How long the most the rest of the process was found to hold stands against counts that find less.</summary>
    private const long PeakMs = 10_000;

    private readonly Func<long> _readLimit;
    private readonly Func<int> _countOpen;
    private readonly Func<long> _clockMs;
    private readonly object _gate = new();
    private long _nextLook;
    private long _nextCount;
    private long _limit;
    private int _others;
    private long _othersAt;
    /// <summary>The descriptors the connections may hold: the limit less the reserve and the rest of the process.</summary>
    private long _share;
    /// <summary>Reported short of room (<see cref="NoRoom"/>): it stands until the room is clearly back, so readiness does not flap.</summary>
    private volatile bool _short;

    /// <param name="reserve">Descriptors the connections leave free.</param>
    /// <param name="readLimit">The soft descriptor limit (<see cref="long.MaxValue"/>: none, or unknown).</param>
    /// <param name="countOpen">How many descriptors the process has open (negative: unknown).</param>
    /// <param name="clockMs">A monotonic clock in milliseconds.</param>
    /// <param name="open">The connections open now.</param>
    public DescriptorBudget(int reserve, Func<long> readLimit, Func<int> countOpen, Func<long> clockMs, int open = 0)
    {
        Reserve = reserve;
        _readLimit = readLimit;
        _countOpen = countOpen;
        _clockMs = clockMs;
        lock (_gate)
        {
            _limit = readLimit();
            Count(clockMs(), open, 0);
            _nextLook = clockMs() + LookEveryMs;
        }
    }

    /// <summary>This process's limit and descriptors (on Linux; elsewhere no limit is known and nothing is held back).</summary>
    public static DescriptorBudget ForThisProcess(int reserve) => new(reserve, ProcessDescriptors.Limit, ProcessDescriptors.Open, () => Environment.TickCount64);

    public int Reserve { get; }
    /// <summary>The soft descriptor limit last read (<see cref="long.MaxValue"/>: none known).</summary>
    public long Limit => Volatile.Read(ref _limit);
    /// <summary>Descriptors the rest of the process held when last counted.</summary>
    public int Others => Volatile.Read(ref _others);
    /// <summary>The most connections the descriptors leave room for, as last worked out.</summary>
    public int MaxConnections
    {
        get
        {
            var share = Volatile.Read(ref _share);
            return share == long.MaxValue ? int.MaxValue : (int)Math.Clamp(share / PerConnection, 0, int.MaxValue);
        }
    }

    /// <summary>
    /// Places the room must be back to after a shortage before <see cref="NoRoom"/> clears: an eighth of the reserve more
    /// than <see cref="LeastPlaces"/>. The rest of the process moves by single descriptors (each admin request, each
    /// connection closing), which alone would flip readiness to and fro at the edge.
    /// </summary>
    public int ReadyAgain => LeastPlaces + Math.Max(1, Reserve / 8 / PerConnection);

    /// <summary>Is there room for one connection more than <paramref name="open"/> (taken and holding their descriptors)?</summary>
    public bool Room(int open) => Room(open, open, 0);

    /// <summary>
    /// Is there room for one connection more than the <paramref name="taken"/> places, of which <paramref name="holding"/>
    /// are connections holding their descriptors and <paramref name="streams"/> listeners' accept streams (the rest are
    /// listeners' places for connections not yet accepted)? On the normal path a clock read and a comparison: the limit is
    /// read and descriptors are counted only when due.
    /// </summary>
    public bool Room(int taken, int holding, int streams)
    {
        var now = _clockMs();
        if (now >= Volatile.Read(ref _nextLook) || (Near(taken) && now >= Volatile.Read(ref _nextCount))) Look(now, taken, holding, streams);
        return taken < MaxConnections;
    }

    /// <summary>Reads the limit again if it is due (as <see cref="Room(int, int, int)"/> does), for readiness when nothing is admitted.</summary>
    public void Refresh(int taken, int open, int streams)
    {
        var now = _clockMs();
        if (now >= Volatile.Read(ref _nextLook)) Look(now, taken, open, streams);
    }

    /// <summary>
    /// Why no connection at all fits, or null: the reserve and the rest of the process leave fewer places under the limit
    /// than the listeners' accept streams (<paramref name="streams"/>, each holding one) and one connection need (at least
    /// <see cref="LeastPlaces"/>), so listeners would wait for ever. A node refuses to start so, and is not ready while a
    /// lowered limit or its listeners say so. Once short, it stays so until the room is <see cref="ReadyAgain"/> minus
    /// <see cref="LeastPlaces"/> places above that. (A mutating read: both callers, /readyz and /v1/status, see one room.)
    /// </summary>
    public string? NoRoom(int streams = 0)
    {
        var room = MaxConnections;
        var least = Math.Max(LeastPlaces, streams + 1);
        var again = least + ReadyAgain - LeastPlaces;
        var wasShort = _short;
        _short = room < (wasShort ? again : least);
        if (!_short) return null;
        var listeners = streams > 0 ? $", {streams} listener(s) need {streams} for their accept streams" : "";
        var advice = "; lower the reserve or raise the limit (systemd LimitNOFILE=, docker --ulimit nofile=, ulimit -n)";
        // Within the band a connection fits again: said so, not "no room", while the node waits for more before it is ready.
        if (room >= least)
            return $"{DataPlaneSettings.DescriptorReserveKey} = {Reserve} leaves room for {room} place(s) under the descriptor limit ({Limit}, ulimit -n){listeners}: "
                   + $"a connection fits again, but after a shortage the node is ready only from {again} ({Others} descriptors are open already, "
                   + $"each connection holds {PerConnection} and each listener {PerConnection}){advice}";
        return $"{DataPlaneSettings.DescriptorReserveKey} = {Reserve} leaves no room for a connection under the descriptor limit ({Limit}, ulimit -n): "
               + $"{Others} descriptors are open already, each connection holds {PerConnection} and each listener {PerConnection} (its socket and, "
               + $"on the akka-streams transport, a connection accepted ahead); room for {room} such place(s){listeners}, at least {least} needed{advice}";
    }

    /// <summary>Within half a reserve of the room: the rest of the process is counted again (when due) before admitting.</summary>
    private bool Near(int open) => (long)(open + 1) * PerConnection + Reserve > (long)MaxConnections * PerConnection;

    /// <summary>A warning for the log when the limit leaves room for few connections (fewer than <paramref name="wanted"/> too), else null.</summary>
    public string? FewWarning(int wanted)
    {
        var room = MaxConnections;
        if (room >= FewConnections || (wanted > 0 && room >= wanted)) return null;
        return $"the descriptor limit ({Limit}, ulimit -n) leaves room for {room} connections only: each holds {PerConnection}, "
               + $"{Others} are open already and akkal4.data-plane.descriptor-reserve keeps {Reserve} free; beyond that listeners stop "
               + "accepting until a connection ends. Raise the limit (systemd LimitNOFILE=, docker --ulimit nofile=, ulimit -n)";
    }

    /// <summary>
    /// Reads the limit if due, and counts the rest of the process if the limit changed or if due near the room by the places
    /// <paramref name="taken"/> (streams' and listeners' too, not only connections': a room filled by listeners would
    /// otherwise never be counted again, and a count that found more than is open now would keep them waiting for ever).
    /// </summary>
    private void Look(long now, int taken, int open, int streams)
    {
        // Another listener is looking: go by what it last found.
        if (!Monitor.TryEnter(_gate)) return;
        try
        {
            var changed = false;
            if (now >= _nextLook)
            {
                Volatile.Write(ref _nextLook, now + LookEveryMs);
                var limit = _readLimit();
                changed = limit != _limit;
                Volatile.Write(ref _limit, limit);
                Publish();
            }
            if (changed || (Near(taken) && now >= _nextCount)) Count(now, open, streams);
        }
        finally
        {
            Monitor.Exit(_gate);
        }
    }

    /// <summary>Counts what the rest of the process holds: what is open less the connections' and the listeners' sockets.</summary>
    private void Count(long now, int open, int streams)
    {
        var total = _countOpen();
        if (total >= 0)
        {
            var others = Math.Max(0, total - open * PerConnection - streams * PerStream);
            if (others >= _others || now - _othersAt >= PeakMs)
            {
                Volatile.Write(ref _others, others);
                _othersAt = now;
            }
        }
        Volatile.Write(ref _nextCount, now + (_clockMs() - now) * CountSpacing);
        Publish();
    }

    /// <summary>The descriptors the connections may hold.</summary>
    private long Share() => _limit == long.MaxValue ? long.MaxValue : _limit - Reserve - _others;

    private void Publish() => Volatile.Write(ref _share, Share());
}

/// <summary>The process's descriptor limit and how many it has open, from libc and /proc (Linux).</summary>
internal static class ProcessDescriptors
{
    private const int RlimitNofile = 7;

    private struct RLimit
    {
        public ulong Current;
        public ulong Maximum;
    }

    [DllImport("libc", EntryPoint = "getrlimit", SetLastError = true)]
    private static extern int GetRLimit(int resource, out RLimit limit);

    [DllImport("libc", EntryPoint = "opendir", SetLastError = true)]
    private static extern IntPtr OpenDir([MarshalAs(UnmanagedType.LPUTF8Str)] string name);

    [DllImport("libc", EntryPoint = "readdir")]
    private static extern IntPtr ReadDir(IntPtr directory);

    [DllImport("libc", EntryPoint = "closedir")]
    private static extern int CloseDir(IntPtr directory);

    /// <summary>The soft RLIMIT_NOFILE; <see cref="long.MaxValue"/> when unlimited or not known.</summary>
    public static long Limit()
    {
        if (!OperatingSystem.IsLinux()) return long.MaxValue;
        try
        {
            return GetRLimit(RlimitNofile, out var limit) == 0 && limit.Current < long.MaxValue ? (long)limit.Current : long.MaxValue;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return long.MaxValue;
        }
    }

    /// <summary>
    /// The descriptors open, from /proc/self/fd (-1 when it cannot be read). Read with readdir rather than .NET's
    /// enumeration, which looks up every entry's target (ten times slower with thousands open).
    /// </summary>
    public static int Open()
    {
        if (!OperatingSystem.IsLinux()) return -1;
        try
        {
            var directory = OpenDir("/proc/self/fd");
            if (directory == IntPtr.Zero) return -1;
            var entries = 0;
            while (ReadDir(directory) != IntPtr.Zero) entries++;
            CloseDir(directory);
            // Less ".", ".." and the directory's own descriptor.
            return Math.Max(0, entries - 3);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return -1;
        }
    }
}
