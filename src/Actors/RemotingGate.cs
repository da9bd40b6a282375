using Akka.Actor;
using Akka.Event;
using Akka.Remote.Transport;

namespace AkkaL4.Actors;

/// <summary>
/// Bounds the remoting connections that have not authenticated yet, as sshd's MaxStartups bounds its unauthenticated
/// logins. Akka.Remote keeps an accepted connection that sends nothing until its handshake timeout (15 s) and takes as
/// many as come: an outsider who reaches the remoting port could hold thousands of descriptors of the process with
/// silent connections, and the listeners stop accepting clients when too few are left (descriptor-reserve). A connection
/// counts as pending from its accept until its first frame arrives (with TLS that is after the handshake, in which both
/// sides' certificates were checked; without TLS, after any frame) or it ends. Over <c>max-unauthenticated-per-source</c>
/// pending from one source (an IPv4 address, an IPv6 /64: <see cref="ClientNetwork.Of"/>), the oldest pending connection of
/// that source is closed; over <c>max-unauthenticated</c> in all, the oldest of the source with the most pending. A member
/// authenticates within milliseconds of its connect, and from its own address it has one pending at most: a flood's
/// connections are closed, from many addresses too, before a member's. Outbound connections and authenticated ones pass
/// untouched.
/// </summary>
public sealed class RemotingGateProvider : ITransportAdapterProvider
{
    /// <summary>The adapter's name in <c>akka.remote.adapters</c> and the transport's <c>applied-adapters</c> (cluster.hocon).</summary>
    public const string Name = "akkal4-gate";

    public Transport Create(Transport wrappedTransport, ExtendedActorSystem system)
    {
        var settings = RemotingGateSettings.From(system.Settings.Config);
        var counts = system.Settings.Setup.Get<RemotingGateCounts>();
        return new RemotingGate(wrappedTransport, Logging.GetLogger(system, typeof(RemotingGate)), settings.MaxPerSource, settings.MaxPending, settings.LogInterval,
            counts.HasValue ? counts.Value : null);
    }

    /// <summary>Whether <paramref name="config"/>'s remoting transport applies the gate (an override of applied-adapters may leave it out).</summary>
    public static bool Applied(Akka.Configuration.Config config) =>
        config.GetStringList("akka.remote.dot-netty.tcp.applied-adapters", []).Contains(Name);
}

/// <summary><c>akkal4.remoting</c>'s limits (defaults in cluster.hocon, always the fallback), checked.</summary>
public sealed record RemotingGateSettings(int MaxPerSource, int MaxPending, TimeSpan LogInterval)
{
    public const string PerSourceKey = "akkal4.remoting.max-unauthenticated-per-source";
    public const string InAllKey = "akkal4.remoting.max-unauthenticated";
    public const string LogIntervalKey = "akkal4.remoting.refusal-log-interval";

    /// <exception cref="Akka.Configuration.ConfigurationException">A limit below 1, a per-source limit over the total, an interval not above 0.</exception>
    public static RemotingGateSettings From(Akka.Configuration.Config config)
    {
        var perSource = Read(PerSourceKey, () => config.GetInt(PerSourceKey, 0));
        var inAll = Read(InAllKey, () => config.GetInt(InAllKey, 0));
        var interval = Read(LogIntervalKey, () => config.GetTimeSpan(LogIntervalKey, TimeSpan.Zero));
        // 0 is no limit elsewhere (max-pending-connections), but a gate without one would be no gate: said so, not taken as 1.
        foreach (var (key, value) in new[] { (PerSourceKey, perSource), (InAllKey, inAll) })
            if (value < 1)
                throw new Akka.Configuration.ConfigurationException(
                    $"{key} = {value}: must be at least 1 (a member needs one pending connection per connect; there is no 'no limit')");
        if (perSource > inAll)
            throw new Akka.Configuration.ConfigurationException($"{PerSourceKey} = {perSource}: must not be more than {InAllKey} ({inAll})");
        if (interval <= TimeSpan.Zero)
            throw new Akka.Configuration.ConfigurationException($"{LogIntervalKey} = {interval}: must be longer than 0");
        return new RemotingGateSettings(perSource, inAll, interval);
    }

    /// <summary>A value as HOCON reads it, its key named when it cannot be read (HOCON's own error names none).</summary>
    private static T Read<T>(string key, Func<T> read)
    {
        try
        {
            return read();
        }
        catch (Exception e) when (e is FormatException or OverflowException or Akka.Configuration.ConfigurationException)
        {
            throw new Akka.Configuration.ConfigurationException($"{key}: {e.Message}");
        }
    }
}

/// <summary>
/// What a node's gates counted, for its <c>/metrics</c>: given to the cluster system in its setup, so that the counts run on
/// across the node's cluster systems (a rejoin makes a new one, and a new gate).
/// </summary>
public sealed class RemotingGateCounts : Akka.Actor.Setup.Setup
{
    private long _closed, _ended, _pending;

    /// <summary>Connections closed here before they authenticated, over a limit.</summary>
    public long Closed => Interlocked.Read(ref _closed);

    /// <summary>Connections that ended before they authenticated (the peer's close, Akka's handshake timeout, a refused certificate).</summary>
    public long Ended => Interlocked.Read(ref _ended);

    /// <summary>Connections accepted and not authenticated yet, in the current gate.</summary>
    public long Pending => Interlocked.Read(ref _pending);

    internal void Count(bool closedHere) => Interlocked.Increment(ref closedHere ? ref _closed : ref _ended);

    internal void SetPending(int pending) => Interlocked.Exchange(ref _pending, pending);
}

/// <summary>The adapter <see cref="RemotingGateProvider"/> makes: the wrapped transport's scheme and addresses, unchanged.</summary>
internal sealed class RemotingGate : AbstractTransportAdapter
{
    private readonly ILoggingAdapter _log;
    private readonly TimeSpan _logInterval;
    private readonly object _lock = new();
    /// <summary>Pending connections, oldest first.</summary>
    private readonly LinkedList<GatedHandle> _pending = new();
    private readonly Dictionary<string, int> _pendingBySource = new();
    private int _closedSinceLog;
    private int _endedSinceLog;
    /// <summary>Connections that ended before authenticating since the last summary, by source (at most <see cref="MaxSourcesCounted"/> sources).</summary>
    private readonly Dictionary<string, int> _sourcesSinceLog = new();
    /// <summary>Sources beyond <see cref="MaxSourcesCounted"/> since the last summary: counted, not named.</summary>
    private bool _moreSources;
    private const int MaxSourcesCounted = 1024;
    /// <summary>When the last summary was written (a <see cref="global::System.Diagnostics.Stopwatch"/> timestamp; 0: never).</summary>
    private long _lastLog;
    /// <summary>The pending summary line's timer, while one is due.</summary>
    private Timer? _flush;
    /// <summary>The transport has shut down: no timer is started again.</summary>
    private bool _shutDown;

    public int MaxPerSource { get; }
    public int MaxPending { get; }

    /// <summary>The node's counts (null: not counted, e.g. a system started without a node's setup).</summary>
    private readonly RemotingGateCounts? _counts;

    internal RemotingGate(Transport wrapped, ILoggingAdapter log, int maxPerSource, int maxPending, TimeSpan logInterval, RemotingGateCounts? counts = null) : base(wrapped)
    {
        _log = log;
        _counts = counts;
        counts?.SetPending(0);
        MaxPerSource = maxPerSource;
        MaxPending = maxPending;
        _logInterval = logInterval;
        System = wrapped.System;
        Config = wrapped.Config;
    }

    /// <summary>Never added to an address: <see cref="SchemeIdentifier"/> and <see cref="Listen"/> give the wrapped transport's.</summary>
    protected override SchemeAugmenter SchemeAugmenter { get; } = new(RemotingGateProvider.Name);

    public override string SchemeIdentifier => WrappedTransport.SchemeIdentifier;

    public override long MaximumPayloadBytes => WrappedTransport.MaximumPayloadBytes;

    public override async Task<(Address, TaskCompletionSource<IAssociationEventListener>)> Listen()
    {
        var (address, underlying) = await WrappedTransport.Listen().ConfigureAwait(false);
        var upstream = new TaskCompletionSource<IAssociationEventListener>();
        underlying.TrySetResult(await InterceptListen(address, upstream.Task).ConfigureAwait(false));
        return (address, upstream);
    }

    protected override Task<IAssociationEventListener> InterceptListen(Address listenAddress, Task<IAssociationEventListener> listenerTask) =>
        Task.FromResult<IAssociationEventListener>(new Inbound(this, listenerTask));

    protected override void InterceptAssociate(Address remoteAddress, TaskCompletionSource<AssociationHandle> statusPromise) =>
        WrappedTransport.Associate(remoteAddress).ContinueWith(t =>
        {
            if (t.IsFaulted) statusPromise.TrySetException(t.Exception!.InnerExceptions);
            else if (t.IsCanceled) statusPromise.TrySetCanceled();
            else statusPromise.TrySetResult(t.Result);
        }, TaskContinuationOptions.ExecuteSynchronously);

    /// <summary>Counts <paramref name="handle"/> as pending; closes the oldest pending connection when that goes over a limit.</summary>
    internal void Admit(GatedHandle handle)
    {
        GatedHandle? victim;
        lock (_lock)
        {
            handle.Node = _pending.AddLast(handle);
            var fromSource = _pendingBySource[handle.Source] = _pendingBySource.GetValueOrDefault(handle.Source) + 1;
            victim = fromSource > MaxPerSource ? Oldest(handle.Source) : _pending.Count > MaxPending ? OldestOfBusiestSource() : null;
            if (victim is not null) Remove(victim);
            _counts?.SetPending(_pending.Count);
        }
        if (victim is null) return;
        victim.Inner.Disassociate("over the limit of unauthenticated remoting connections", _log);
        Ended(victim.Source, closedHere: true);
    }

    /// <summary><paramref name="handle"/> authenticated or ended: no longer pending. An end before authenticating is counted.</summary>
    internal void Leave(GatedHandle handle, bool authenticated)
    {
        if (handle.Node is null) return;
        bool was;
        lock (_lock) was = Remove(handle);
        if (was && !authenticated) Ended(handle.Source, closedHere: false);
    }

    private GatedHandle Oldest(string source)
    {
        for (var node = _pending.First; node is not null; node = node.Next)
            if (node.Value.Source == source) return node.Value;
        throw new InvalidOperationException("no pending connection from " + source);
    }

    /// <summary>
    /// The oldest pending connection of the source with the most pending (the oldest such source's, when several have as
    /// many): an outsider spread over many addresses loses its own connections before a member, which has one pending.
    /// </summary>
    private GatedHandle OldestOfBusiestSource()
    {
        var most = _pendingBySource.Values.Max();
        for (var node = _pending.First; node is not null; node = node.Next)
            if (_pendingBySource[node.Value.Source] == most) return node.Value;
        throw new InvalidOperationException("no pending connection");
    }

    /// <summary>Whether <paramref name="handle"/> was pending (and is not any more).</summary>
    private bool Remove(GatedHandle handle)
    {
        if (handle.Node?.List is null) return false;
        _pending.Remove(handle.Node);
        handle.Node = null;
        if (--_pendingBySource[handle.Source] == 0) _pendingBySource.Remove(handle.Source);
        _counts?.SetPending(_pending.Count);
        return true;
    }

    /// <summary>
    /// Counts a pending connection that ended (<paramref name="closedHere"/>: closed over a limit); one line per
    /// <see cref="_logInterval"/> at most says how many, however many there were: a flood must not become one of the log.
    /// </summary>
    private void Ended(string source, bool closedHere)
    {
        _counts?.Count(closedHere);
        lock (_lock)
        {
            if (closedHere) _closedSinceLog++;
            else _endedSinceLog++;
            if (_sourcesSinceLog.Count < MaxSourcesCounted || _sourcesSinceLog.ContainsKey(source))
                _sourcesSinceLog[source] = _sourcesSinceLog.GetValueOrDefault(source) + 1;
            else _moreSources = true;
            if (_flush is not null || _shutDown) return;
            var wait = _lastLog == 0 ? TimeSpan.Zero : _logInterval - global::System.Diagnostics.Stopwatch.GetElapsedTime(_lastLog);
            // Always through the timer, so two threads cannot both find none due and both write a line.
            _flush = new Timer(_ => Flush(), null, wait > TimeSpan.Zero ? wait : TimeSpan.Zero, Timeout.InfiniteTimeSpan);
        }
    }

    private void Flush()
    {
        int closed, ended;
        string sources;
        lock (_lock)
        {
            _flush?.Dispose();
            _flush = null;
            if (_shutDown) return;
            (closed, ended) = (_closedSinceLog, _endedSinceLog);
            var top = _sourcesSinceLog.OrderByDescending(s => s.Value).Take(3).Select(s => $"{s.Key} ({s.Value})");
            sources = $"{_sourcesSinceLog.Count}{(_moreSources ? "+" : "")} source(s), the most from {string.Join(", ", top)}";
            _closedSinceLog = _endedSinceLog = 0;
            _sourcesSinceLog.Clear();
            _moreSources = false;
            _lastLog = global::System.Diagnostics.Stopwatch.GetTimestamp();
        }
        if (closed + ended == 0) return;
        _log.Warning("remoting: {0} inbound connection(s) ended before authenticating, {1} of them closed here over the limit of {2} pending "
                     + "per source and {3} in all (akkal4.remoting); {4}. A member authenticates within milliseconds; these did not: "
                     + "no certificate of this cluster (see any refusal above), a failed TLS handshake, plain remoting to a TLS node, "
                     + "or not Akka at all (Akka's own lines for each are left out of the log)",
            closed + ended, closed, MaxPerSource, MaxPending, sources);
    }

    public override Task<bool> Shutdown()
    {
        lock (_lock)
        {
            _shutDown = true;
            _flush?.Dispose();
            _flush = null;
        }
        return base.Shutdown();
    }

    /// <summary>The wrapped transport's listener: every inbound connection is admitted, then handed on.</summary>
    private sealed class Inbound(RemotingGate gate, Task<IAssociationEventListener> upstream) : IAssociationEventListener
    {
        public void Notify(IAssociationEvent ev)
        {
            if (ev is InboundAssociation { Association: var inner })
            {
                var handle = new GatedHandle(inner, gate);
                gate.Admit(handle);
                ev = new InboundAssociation(handle);
            }
            if (upstream.IsCompletedSuccessfully) upstream.Result.Notify(ev);
            else upstream.ContinueWith(t => t.Result.Notify(ev), TaskContinuationOptions.OnlyOnRanToCompletion | TaskContinuationOptions.ExecuteSynchronously);
        }
    }

    /// <summary>An inbound connection: pending until its first frame arrives or it ends.</summary>
    internal sealed class GatedHandle : AssociationHandle
    {
        private readonly RemotingGate _gate;

        public AssociationHandle Inner { get; }
        public string Source { get; }
        /// <summary>Its place among the pending (under the gate's lock); null once it is not pending.</summary>
        public LinkedListNode<GatedHandle>? Node { get; set; }

        public GatedHandle(AssociationHandle inner, RemotingGate gate) : base(inner.LocalAddress, inner.RemoteAddress)
        {
            Inner = inner;
            _gate = gate;
            Source = SourceOf(inner.RemoteAddress.Host);
            ReadHandlerSource.Task.ContinueWith(t => inner.ReadHandlerSource.TrySetResult(new Reads(this, t.Result)),
                TaskContinuationOptions.OnlyOnRanToCompletion | TaskContinuationOptions.ExecuteSynchronously);
        }

        /// <summary>What the limits count a peer by: its IPv4 address, its IPv6 /64 (<see cref="ClientNetwork.Of"/>), else the host as given.</summary>
        internal static string SourceOf(string? host) =>
            global::System.Net.IPAddress.TryParse(host, out var address) ? ClientNetwork.Show(ClientNetwork.Of(address)) : host ?? "";

        public override bool Write(Google.Protobuf.ByteString payload) => Inner.Write(payload);

        [Obsolete("Akka's own: callers use Disassociate(reason, log), which calls this")]
        public override void Disassociate()
        {
            _gate.Leave(this, authenticated: false);
            Inner.Disassociate("closed by the protocol layer", _gate._log);
        }

        private sealed class Reads(GatedHandle handle, IHandleEventListener upstream) : IHandleEventListener
        {
            public void Notify(IHandleEvent ev)
            {
                if (ev is InboundPayload or Disassociated) handle._gate.Leave(handle, authenticated: ev is InboundPayload);
                upstream.Notify(ev);
            }
        }
    }
}

/// <summary>
/// Leaves out of the log what Akka.Remote writes for each inbound connection that never authenticates (from DotNetty's
/// server handler, a ten-line "TLS handshake failed" error and a "Rejected incoming connection" warning; from the
/// protocol layer, a "No response from remote for inbound association" error after 15 s; for bytes that are not TLS, an
/// "Error caught channel" error with DotNetty's NotSslRecordException): an outsider's flood of
/// connections made 11 lines each, 33,000 for 3,000 connections. <see cref="RemotingGate"/> counts those connections
/// and writes one line per interval instead. What says why a peer was refused stays: <see cref="RemotingTls"/>'s
/// refusals (no certificate, another CA's, not a member's), and everything about outbound connections and members.
/// </summary>
internal sealed class UnauthenticatedRemotingLogFilter : LogFilterBase
{
    public override LogFilterType FilterType => LogFilterType.Content;

    public override LogFilterDecision ShouldKeepMessage(LogEvent e, string? expandedMessage = null)
    {
        if (e is not (Error or Warning) || e.LogSource is not { } source) return LogFilterDecision.Keep;
        var server = source.StartsWith("TcpServerHandler", StringComparison.Ordinal);
        if (!server && !source.Contains("/system/transports/akkaprotocolmanager", StringComparison.Ordinal)) return LogFilterDecision.Keep;
        // The message itself: the expanded one is the whole line, level, time, thread and source before it.
        var text = e.Message?.ToString() ?? "";
        var noise = server
            ? text.StartsWith("TLS handshake failed", StringComparison.Ordinal) || text.StartsWith("Rejected incoming connection", StringComparison.Ordinal)
              // Bytes that are no TLS at all (a plain-remoting peer's, a scanner's) before any handshake.
              || (text.StartsWith("Error caught channel", StringComparison.Ordinal) && e is Error { Cause: DotNetty.Handlers.Tls.NotSslRecordException })
            : text.StartsWith("No response from remote for inbound association", StringComparison.Ordinal);
        return noise ? LogFilterDecision.Drop : LogFilterDecision.Keep;
    }
}
