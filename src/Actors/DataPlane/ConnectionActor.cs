using System.Collections.Immutable;
using System.Net;
using Akka.Actor;
using Akka.Event;
using Akka.IO;
using Akka.Streams;
using AkkaL4.Actors.DataPlane.Preamble;
using AkkaL4.Actors.ControlPlane;
using AkkaL4.Actors.DataPlane.Transport;
using AkkaL4.Actors.Routing;
using AkkaL4.Actors.Routing.LoadBalancing;
using AkkaL4.Actors.Upstreams;
using AkkaL4.Actors.Upstreams.Health;

namespace AkkaL4.Actors.DataPlane;

/// <summary>
/// One accepted connection, from decision to the last byte, in three states. <b>Reading</b> (only where
/// needed): the PROXY header a load balancer in front sends, then the TLS ClientHello for its SNI,
/// within preamble-timeout and max-client-hello; what was read is kept and relayed. <b>Dialling</b>:
/// decide from the snapshot taken at accept, pick an endpoint with the cluster's published picker, connect
/// (retrying another endpoint on failure; TLS origination and its handshake count as part of the
/// connect). <b>Relaying</b>: both directions with half-close, idleTimeout and maxConnectionDuration.
/// Then one access-log entry with bytes, duration and flags, and stop.
/// </summary>
public sealed class ConnectionActor : UntypedActor
{
    // Timers on the scheduler, only when a connection has one: IWithTimers gave every connection a TimerScheduler and its
    // dictionary (~220 bytes, held while it is open; bench/README.md). A late timer message is ignored (OnReceive).
    private ICancelable? _durationTimer;

    /// <summary>The node's drain timeout passed: end the connection now, with a FIN each way.</summary>
    public sealed class DrainTimeout
    {
        public static readonly DrainTimeout Instance = new();
        private DrainTimeout() { }
    }

    private enum State { Reading, Dialling, Relaying }

    /// <summary>
    /// What the reading state waits for next. <see cref="EndOfRead"/>: the preamble timed out on a mesh listener, which goes
    /// on without an SNI once the read in flight has ended (a cancelled read can still have taken the client's bytes).
    /// </summary>
    private enum Expect { ProxyHeader, ClientHello, EndOfRead }

    /// <summary>A read of the preamble ended: <paramref name="Count"/> bytes more in the buffer (0: the client closed), or a failure (cancelled too).</summary>
    private sealed record PreambleRead(int Count, Exception? Failure);
    private sealed record PreambleTimedOut;
    /// <summary>
    /// One connect attempt. A failure is told to the actor as the attempt itself (so a stale one is told apart by reference);
    /// a connection starts the relay where it arrived (<see cref="Relay"/>), with no message to the actor: it takes that up
    /// at its next message (<see cref="Relaying"/>). The actor may stop while the attempt is in flight (the client went away,
    /// the listener's node shuts down): a connection that arrives after that is closed, not leaked, and one that arrived
    /// first is the relay's to end. With TLS origination the DestinationRule's files (see <see cref="TlsDial"/>) and the
    /// handshake are part of the attempt.
    /// </summary>
    private sealed class Attempt(ConnectionActor actor, IActorRef owner, UpstreamAssigned assigned, RelayParts parts, byte[]? proxyHeader,
        ConnectFailureLog failures, IScheduler scheduler) : ConnectAttempt
    {
        public readonly long Started = System.Diagnostics.Stopwatch.GetTimestamp();
        // The attempt is a message the actor receives (and holds): locking it would let code outside block the handshake's end.
        private readonly object _gate = new();
        private CancellationTokenSource? _handshake;
        private bool _stopped;
        private volatile bool _relaying;
        private ICancelable? _durationTimer;
        /// <summary>Set by <see cref="TlsDial"/> before it dials.</summary>
        public TlsFiles Files;

        public Exception? Failure { get; private set; }

        public UpstreamAssigned Assigned => assigned;
        /// <summary>The relay's parts, made by the actor before it dialled (its bytes and stop are known before it runs).</summary>
        public RelayParts Parts => parts;

        /// <summary>The relay started (its parts and both connections are its own): written under the gate, last.</summary>
        public bool Relaying => _relaying;

        /// <summary>The connection's max-duration timer, once <see cref="Relaying"/> (null: none).</summary>
        public ICancelable? DurationTimer
        {
            get
            {
                lock (_gate) return _durationTimer;
            }
        }

        protected override void OnConnected(TcpConnection connection)
        {
            var policy = assigned.Cluster.Policy;
            if (policy.Tls is not { } tls)
            {
                Relay(connection);
                return;
            }
            // Rare enough to keep the Task: the handshake, then connected or failed as one attempt.
            var handshake = new CancellationTokenSource();
            lock (_gate)
            {
                if (_stopped) return;
                _handshake = handshake;
            }
            TlsOrigination.WrapAsync(connection, tls, Files, assigned.Cluster.Host, proxyHeader, actor._materializer, policy.ConnectTimeout, Started, handshake.Token)
                .ContinueWith(t =>
                {
                    if (t.IsCompletedSuccessfully)
                    {
                        Relay(t.Result);
                        return;
                    }
                    lock (_gate)
                    {
                        if (_stopped) return;
                        Failure = t.Exception?.InnerException ?? new TaskCanceledException();
                    }
                    owner.Tell(this);
                }, TaskContinuationOptions.ExecuteSynchronously);
        }

        protected override void OnFailed(Exception cause)
        {
            Failure = cause;
            owner.Tell(this);
        }

        /// <summary>
        /// Connected (TLS: and the handshake done): the relay starts here, on the thread the connect completed on. The actor's
        /// message and its turn were one hop more before the relay host's (bench/README.md, session 18). Under the gate, so a
        /// stop of the actor comes either before (the connection is closed) or after (the relay is stopped) the relay starts.
        /// </summary>
        private void Relay(TcpConnection upstream)
        {
            lock (_gate)
            {
                // Stopped or abandoned first: what arrived is closed (the connect's own connection was, by Abandon).
                if (_stopped || !TakenOver())
                {
                    upstream.Close();
                    return;
                }
                try
                {
                    _durationTimer = actor.Connected(assigned, parts, System.Diagnostics.Stopwatch.GetElapsedTime(Started), failures, owner, scheduler);
                }
                catch (Exception e)
                {
                    // Off the actor's thread an exception would end the process: this attempt fails instead (no relay runs).
                    upstream.Close();
                    Failure = e;
                    owner.Tell(this);
                    return;
                }
                // Before the relay runs: its end (a message to the actor) finds it relaying.
                _relaying = true;
            }
            actor.Run(upstream, parts);
        }

        /// <summary>
        /// The actor stops: true when the relay has started (it is the relay's to end); else the connect or the handshake ends,
        /// and what arrives is closed.
        /// </summary>
        public bool Stop()
        {
            Abandon();
            lock (_gate)
            {
                _stopped = true;
                if (_relaying) return true;
            }
            _handshake?.Cancel();
            return false;
        }
    }
    /// <summary>
    /// A TLS-originating attempt's start, on the thread pool: the DestinationRule's files found cached (a stat of each) or
    /// awaited while read (after a rotation; no thread waits, and no longer than the connect timeout), then the dial. Not on
    /// the actor's thread, which serves other connections. An unreadable file fails the attempt with
    /// <see cref="UpstreamTlsConfigurationException"/> before anything is dialled.
    /// </summary>
    private sealed class TlsDial(Attempt attempt, UpstreamTls tls, ILoggingAdapter log, ITcpTransport transport, EndPoint remote, ConnectOptions options)
        : IThreadPoolWorkItem
    {
        public void Execute() => _ = DialAsync();

        private async Task DialAsync()
        {
            try
            {
                attempt.Files = await TlsOrigination.LoadAsync(tls, log, options.ConnectTimeout).ConfigureAwait(false);
                transport.Connect(remote, options, attempt);
            }
            catch (Exception e)
            {
                // On the pool an exception would end the process; here it fails the one attempt.
                attempt.Fail(e);
            }
        }
    }

    private sealed record DurationElapsed;

    /// <summary>
    /// A cluster's picker asked of the router supervisor (<see cref="PickUpstream"/>) and not answered yet; also its timer's
    /// message (a stale one is told apart by reference). The ask can be lost: the supervisor forwards it to the cluster's
    /// router, which a reconfiguration or a newer snapshot's connection may stop before it reads it. Asked again after
    /// <see cref="AskAgainAfter"/>, then after twice as long each time (the supervisor answers a fresh ask), and refused once
    /// the cluster's connect timeout has passed. Backing off bounds what a slow or restarting router costs: every waiting
    /// connection asking every second made N asks a second in the supervisor's mailbox for as long as the router was held
    /// back, each answered; doubling makes about log2(connect timeout) asks per connection (PickBackoffTests).
    /// </summary>
    private sealed class PickAsked(PickUpstream ask)
    {
        public readonly PickUpstream Ask = ask;
        public readonly long Since = System.Diagnostics.Stopwatch.GetTimestamp();
        public ICancelable? Timer;
        public int Times = 1;
    }

    private static readonly TimeSpan AskAgainAfter = TimeSpan.FromSeconds(1);

    /// <summary>The longest wait between asks is <see cref="AskAgainAfter"/> doubled this many times (32 s).</summary>
    private const int MaxDoublings = 5;

    private readonly TcpConnection _accepted;
    /// <summary>
    /// The node's parts, one reference: each copied into a field of its own cost 64 bytes of every connection actor, held
    /// while the connection is open (bench/README.md, session 23). The properties keep the fields' names.
    /// </summary>
    private readonly NodeDataPlane _dataPlane;
    private LiveRoutes _routes => _dataPlane.Routes;
    private IActorRef _routers => _dataPlane.Routers;
    private UpstreamPickers _pickers => _dataPlane.Pickers;
    private ITcpTransport _transport => _dataPlane.Transport;
    private DataPlaneSettings _settings => _dataPlane.Settings;
    private DataPlaneMetrics _metrics => _dataPlane.Metrics;
    private IMaterializer _materializer => _dataPlane.Materializer;
    private Relays _relays => _dataPlane.Relays;
    private AccessLogSink _accessLog => _dataPlane.AccessLog;

    private readonly DateTimeOffset _start = DateTimeOffset.UtcNow;
    private readonly long _started = System.Diagnostics.Stopwatch.GetTimestamp();
    private State _state = State.Dialling;
    private RelayStage.Control? _relay;
    private ImmutableHashSet<string> _tried = ImmutableHashSet<string>.Empty;
    private string _listener = "";
    private RouteSnapshot _snapshot = RouteSnapshot.Empty;
    private CompiledListener? _compiled;
    private Decision _decision;
    private Attempt? _attempt;
    /// <summary>The router supervisor's answer waited for (null on the common path: a published picker, no timer).</summary>
    private PickAsked? _asked;
    private UpstreamAssigned? _upstream;
    private ResponseFlags _flags;
    private string _detail = "";
    private int _attempts;
    private bool _relayEnded;
    private bool _reported;
    private string? _refusedCluster;
    private bool _idleTimedOut;
    /// <summary>The Istio series this connection's bytes count in, from the moment it reached an upstream.</summary>
    private IstioLabels? _istio;

    /// <summary>
    /// The reading state (null on a listener that reads no preamble, most of them): its fields live in an object made only
    /// when needed, not in every connection actor (~70 bytes of each; bench/README.md, session 14).
    /// </summary>
    private ReadState? _read;
    /// <summary>Enough for a PROXY header and most ClientHellos (one with a post-quantum key share is about 1.8 KB) in one read.</summary>
    private const int FirstRead = 2048;

    /// <summary>What arrived so far, the part of it that was a PROXY header (not relayed), and what it told.</summary>
    private sealed class ReadState
    {
        public Expect Expect;
        /// <summary>The one buffer reads land in: it starts at <see cref="FirstRead"/> and doubles only when a read filled it.</summary>
        public byte[] Buffer = [];
        public ClientHello.Progress Hello;
        public int Length;
        public int ProxyHeaderLength;
        public CancellationTokenSource? Reading;
        public ICancelable? Timer;
        /// <summary>Why no SNI is known; the connection is refused with this flag when the decision needs one.</summary>
        public (ResponseFlags Flag, string Detail)? NoSni;
    }

    /// <summary>The client: the connection's peer, or the source a PROXY header gave.</summary>
    private IPEndPoint _client;
    /// <summary>Where the client connected to: the listener, or the destination a PROXY header gave.</summary>
    private IPEndPoint _original;
    private string? _sni;
    /// <summary>What the client sent before the relay (after a PROXY header): its upstream's first bytes, at every attempt.</summary>
    private ByteString? _fromClient;

    /// <summary>
    /// A connection's props: one object (<see cref="ConnectionProps"/>) copied from a template that already names the mailbox,
    /// which makes the actor itself, not by reflection. <c>Props.CreateBy(producer).WithMailbox(path)</c> made two props, a
    /// deploy and a producer for every connection (bench/README.md, session 16). <paramref name="pending"/> counts it while it is
    /// pending (<see cref="CountPending"/>).
    /// </summary>
    public static Props Props(TcpConnection accepted, NodeDataPlane dataPlane, PendingConnections pending) => new ConnectionProps(accepted, dataPlane, pending);

    private sealed class ConnectionProps : Props
    {
        // Never produces an actor itself (NewActor does): it gives the copies their type and deploy (the mailbox).
        private static readonly Props Template = Akka.Actor.Props.Create<ConnectionActor>().WithMailbox(ConnectionMailbox.Path);
        private readonly TcpConnection _accepted;
        private readonly NodeDataPlane _dataPlane;
        private readonly PendingConnections _pending;

        public ConnectionProps(TcpConnection accepted, NodeDataPlane dataPlane, PendingConnections pending) : this(Template, accepted, dataPlane, pending) { }

        private ConnectionProps(Props copy, TcpConnection accepted, NodeDataPlane dataPlane, PendingConnections pending) : base(copy) =>
            (_accepted, _dataPlane, _pending) = (accepted, dataPlane, pending);

        // The analyser knows producers (IIndirectActorProducer.Produce), not props that make their actor; this is called by Akka's ActorOf.
#pragma warning disable AK1000
        public override ActorBase NewActor()
        {
            try
            {
                return new ConnectionActor(_accepted, _dataPlane, _pending);
            }
            catch
            {
                // No instance, so no PostStop: the client's socket is closed and the pending count the listener entered it
                // in is left here (the listener counts the end, as Akka tells it).
                _accepted.Close();
                _pending.Leave();
                throw;
            }
        }
#pragma warning restore AK1000

        // Akka copies props to apply a deployment's mailbox or dispatcher: the copy still makes this connection's actor.
        protected override Props Copy() => new ConnectionProps(this, _accepted, _dataPlane, _pending);
    }

    /// <summary>The listener's count of its pending connections, this one among them while <see cref="_counted"/>.</summary>
    private readonly PendingConnections _pending;
    /// <summary>
    /// This connection is among its listener's pending ones: from its start (entered by the listener before the actor was
    /// made) until its first dial starts, it is refused or it ends, and not while it reads what its client sends first
    /// (<see cref="CountPending"/>). Only the actor's thread changes it (the props leave for an actor never made).
    /// </summary>
    private bool _counted = true;

    // Only assigns fields, and must stay so: a constructor that throws leaves no instance whose PostStop would end the
    // connection (the props close its socket and leave the pending count, the listener counts the end as Akka tells it of
    // every child's). Work that can fail belongs in PreStart, which stops the actor on failure so PostStop still runs.
    public ConnectionActor(TcpConnection accepted, NodeDataPlane dataPlane, PendingConnections pending)
    {
        _accepted = accepted;
        _pending = pending;
        _client = accepted.Remote;
        _original = accepted.Local;
        _dataPlane = dataPlane;
    }

    // A switch on the state, not ReceiveActor's Receive<T> and Become: those build handler tables per actor, that
    // is per connection (about 3 KB allocated, most of it held while the connection lives; bench/README.md).
    protected override void OnReceive(object message)
    {
        // The relay started where the connect completed, with no message: taken up at the first one after.
        if (_state == State.Dialling && _attempt is { Relaying: true } relayed) Relaying(relayed);
        switch (_state, message)
        {
            case (State.Reading, PreambleRead read): OnPreambleRead(read); break;
            case (State.Reading, PreambleTimedOut): OnPreambleTimedOut(); break;
            // The router's answer to a PickUpstream: picked (and reserved) here, so a stopped connection reserves nothing.
            case (State.Dialling, ClusterPicker picker) when _asked?.Ask.Cluster.Id == picker.Cluster.Id: Answered(picker); break;
            case (State.Dialling, PickAsked asked) when ReferenceEquals(asked, _asked): AskAgain(asked); break;
            // Only a failure comes as a message.
            case (State.Dialling, Attempt failed) when ReferenceEquals(failed, _attempt): OnConnectFailed(failed.Failure!); break;
            case (State.Relaying, RelayEnded ended): OnRelayEnded(ended); break;
            case (State.Relaying, DurationElapsed):
                _flags |= ResponseFlags.DurationTimeout;
                _metrics.MaxDurationReached.Add(1, DataPlaneMetrics.Listener(_listener));
                _detail = "maxConnectionDuration reached";
                _relay?.Stop(null);
                break;
            case (State.Relaying, DrainTimeout):
                _detail = "closed at the node's drain timeout";
                _relay?.Stop(null);
                break;
            case (_, DrainTimeout): Drained(); break;
            // Also a second answer (asked again, both answered) and a timer cancelled once its message was on its way.
            case (_, PreambleTimedOut or DurationElapsed or ClusterPicker or PickAsked): break;
            default: Unhandled(message); break;
        }
    }

    private void Drained()
    {
        _detail = "closed at the node's drain timeout";
        Context.Stop(Self);
    }

    protected override void PreStart()
    {
        // Akka lets go of an actor whose PreStart threw without its PostStop: the socket would stay open. Stopped instead, as
        // an exception while relaying stops it.
        try
        {
            Start();
        }
        catch (Exception e)
        {
            Context.GetLogger().Error(e, "connection from {0}: {1}; closed", _client, e.Message);
            _detail = $"failed: {e.Message}";
            Context.Stop(Self);
        }
    }

    private void Start()
    {
        // The client is joined to an upstream only once one is connected, so failed attempts never touch it.
        var listenerAddress = ListenerAddress();
        // The whole connection is decided on the snapshot in force when it was accepted.
        _snapshot = _routes.Current;
        var listener = _compiled = _snapshot.FindListener(listenerAddress);
        _listener = listener?.Name ?? listenerAddress.ToString();
        _metrics.Accepted(_listener);
        if (WaitedTooLong()) return;

        var acceptProxy = _settings.AcceptProxyProtocol && listener is { Kind: ListenerKind.Gateway };
        if (acceptProxy && !_settings.TrustsProxyProtocolFrom(_client.Address))
        {
            RefuseUntrustedProxy();
            return;
        }
        if (!acceptProxy && listener is not { RoutesBySni: true })
        {
            Decide();
            return;
        }
        _read = new ReadState { Expect = acceptProxy ? Expect.ProxyHeader : Expect.ClientHello };
        _state = State.Reading;
        CountPending(false);
        _read.Timer = Context.System.Scheduler.ScheduleTellOnceCancelable(_settings.PreambleTimeout, Self, new PreambleTimedOut(), Self);
        ReadMore();
    }

    /// <summary>
    /// The address the client connected to, as the listeners are keyed: worked out when needed (at the start and the decision),
    /// not kept (an <see cref="IpPort"/> field was 48 bytes of every connection actor).
    /// </summary>
    private IpPort ListenerAddress() => new(IpKey.From(_accepted.Local.Address), _accepted.Local.Port);

    /// <summary>
    /// Waited in the node (the stock transport's queue ahead of the listener, the listener's mailbox, a thread for this actor)
    /// past pending-timeout since its accept: closed (OM) without dialling. Its client has waited as long with no answer;
    /// most have given up, and those that close with a FIN (not a reset, <see cref="TcpConnection.PeerReset"/>) look alive.
    /// </summary>
    private bool WaitedTooLong()
    {
        var timeout = _settings.PendingTimeout;
        if (timeout <= TimeSpan.Zero || _accepted.AcceptedAt == 0) return false;
        var waited = System.Diagnostics.Stopwatch.GetElapsedTime(_accepted.AcceptedAt);
        if (waited <= timeout) return false;
        var why = $"waited {waited.TotalSeconds:F1}s in the node before it was taken up, longer than {DataPlaneSettings.PendingTimeoutKey} ({timeout.TotalSeconds:0.###}s): closed without dialling";
        var closed = _metrics.PendingTimedOut(_listener);
        if (closed > 0)
            Context.GetLogger().Warning("listener {0}: a connection {1}; {2} closed so since the last such warning (the node takes more connections than it can serve)",
                _listener, why, closed);
        Refuse(ResponseFlags.Overload, why, null);
        return true;
    }

    /// <summary>
    /// A listener expecting a PROXY header, a peer not trusted to send one: refused before a byte is read. Not served
    /// without the header either: its bytes (a forged header among them) would reach upstreams that may parse one.
    /// </summary>
    private void RefuseUntrustedProxy()
    {
        var peer = _client.Address;
        var refused = _metrics.ProxyProtocolUntrustedPeer(_listener);
        if (refused > 0)
            Context.GetLogger().Warning("listener {0}: refused a connection from {1}: a PROXY header is expected and {1} is not in {2}; {3} refused since the last such warning",
                _listener, peer, DataPlaneSettings.TrustedSourcesKey, refused);
        Refuse(ResponseFlags.ProxyProtocolError, $"PROXY header not accepted from {peer}: not in {DataPlaneSettings.TrustedSourcesKey}", null);
    }

    /// <summary>
    /// Pending is the node's own work on a connection it has accepted: waiting for a thread, deciding, picking. Not reading
    /// what its client sends first (that waits on the client: a slow one would hold the listener's cap), and not dialling
    /// (that waits on the upstream: a black-holed endpoint's connects, 10 s each, would fill the cap and stop the listener
    /// for every upstream behind it). Dials are bounded by the connect timeout, the connection caps and the descriptors.
    /// On the actor's thread, so each entry is left exactly once.
    /// </summary>
    private void CountPending(bool pending)
    {
        if (pending == _counted) return;
        _counted = pending;
        if (pending) _pending.Enter();
        else _pending.Leave();
    }

    // ---------------------------------------------------------------- reading

    private void ReadMore()
    {
        var state = _read!;
        var limit = state.Expect == Expect.ProxyHeader ? ProxyProtocol.MaxV2 : state.ProxyHeaderLength + _settings.MaxClientHello;
        if (state.Length == state.Buffer.Length)
            Array.Resize(ref state.Buffer, Math.Max(state.Length + 1, Math.Min(Math.Max(2 * state.Length, FirstRead), limit)));
        var into = state.Buffer.AsMemory(state.Length, Math.Max(1, Math.Min(limit, state.Buffer.Length) - state.Length));
        state.Reading = new CancellationTokenSource();
        _ = ReceiveAsync(Self, _accepted, into, state.Reading.Token);
    }

    /// <summary>
    /// One read into the preamble's buffer, told to the actor however it ends, cancelled too: until then it may still take
    /// bytes off the client's socket, so nothing else may read it (<see cref="Expect.EndOfRead"/>).
    /// </summary>
    private static async Task ReceiveAsync(IActorRef self, TcpConnection accepted, Memory<byte> into, CancellationToken cancel)
    {
        try
        {
            self.Tell(new PreambleRead(await accepted.ReceiveAsync(into, cancel).ConfigureAwait(false), null));
        }
        catch (Exception e)
        {
            self.Tell(new PreambleRead(0, e));
        }
    }

    private void OnPreambleRead(PreambleRead read)
    {
        var state = _read!;
        state.Reading = null;
        if (state.Expect == Expect.EndOfRead)
        {
            // Timed out: what the read took still goes upstream first. A client that half-closed having sent nothing goes on as
            // any timed-out one (counted once, as a timeout), its FIN passed on, as Envoy's tcp_proxy does after its listener
            // filters. One that failed, or closed part way through a ClientHello (refused so before the timeout too), is gone:
            // nothing is dialled for it.
            if (read is { Count: 0, Failure: null } && state.Length == state.ProxyHeaderLength)
            {
                PreambleDone();
                return;
            }
            if (read.Failure is not (null or OperationCanceledException) || read is { Count: 0, Failure: null })
            {
                var end = read.Failure is { } failed ? $"the client's connection failed: {failed.Message}" : "the client closed";
                Refuse(ResponseFlags.PreambleTimeout, $"{state.NoSni!.Value.Detail}; then {end}", null);
                return;
            }
            state.Length += read.Count;
            PreambleDone();
            return;
        }
        var what = state.Expect == Expect.ProxyHeader ? "a complete PROXY header" : "a complete ClientHello";
        var flag = state.Expect == Expect.ProxyHeader ? ResponseFlags.ProxyProtocolError : ResponseFlags.MalformedClientHello;
        if (read.Failure is { } failure)
        {
            Refuse(flag, $"the client's connection failed before {what}: {failure.Message}", null);
            return;
        }
        if (read.Count == 0)
        {
            // A client that sends nothing and closes is no TLS client; a mesh listener may still route it by its tcp rules (a
            // choice: Envoy's listener filter closes a connection whose client ends before it has inspected it).
            if (state.Expect == Expect.ClientHello && state.Length == state.ProxyHeaderLength)
                ClientHelloRead(new HelloResult(HelloStatus.NotTls, Problem: "the client closed without sending anything"));
            else Refuse(flag, $"the client closed before {what}", null);
            return;
        }
        state.Length += read.Count;
        Advance();
    }

    /// <summary>Parses what has arrived: the PROXY header first (when expected), then the ClientHello (when the listener routes by SNI).</summary>
    private void Advance()
    {
        var state = _read!;
        if (state.Expect == Expect.ProxyHeader)
        {
            var parsed = ProxyProtocol.Parse(state.Buffer.AsSpan(0, state.Length));
            switch (parsed.Status)
            {
                case ProxyStatus.NeedMore:
                    ReadMore();
                    return;
                case ProxyStatus.Invalid:
                    _metrics.ProxyProtocolError.Add(1, DataPlaneMetrics.Listener(_listener));
                    Refuse(ResponseFlags.ProxyProtocolError, $"PROXY protocol: {parsed.Problem}", null);
                    return;
            }
            if (parsed.Header is { Source: { } source, Destination: { } destination })
                (_client, _original) = (source, destination);
            state.ProxyHeaderLength = parsed.Length;
            if (_compiled is not { RoutesBySni: true })
            {
                PreambleDone();
                return;
            }
            state.Expect = Expect.ClientHello;
            if (state.Length == state.ProxyHeaderLength)
            {
                ReadMore();
                return;
            }
        }
        var helloBytes = state.Length - state.ProxyHeaderLength;
        var hello = ClientHello.Read(state.Buffer.AsSpan(state.ProxyHeaderLength, helloBytes), _settings.MaxClientHello, ref state.Hello);
        if (hello.Status != HelloStatus.NeedMore) ClientHelloRead(hello);
        else if (helloBytes >= _settings.MaxClientHello)
            ClientHelloRead(new HelloResult(HelloStatus.Malformed, Problem: $"no complete ClientHello in its first {_settings.MaxClientHello} bytes"));
        else ReadMore();
    }

    private void ClientHelloRead(HelloResult hello)
    {
        var state = _read!;
        var tags = DataPlaneMetrics.Listener(_listener);
        switch (hello.Status)
        {
            case HelloStatus.Sni:
                _metrics.SniFound.Add(1, tags);
                _sni = hello.ServerName;
                break;
            case HelloStatus.NoSni:
                _metrics.SniNotFound.Add(1, tags);
                state.NoSni = (ResponseFlags.NoSni, $"no SNI: {hello.Problem}");
                break;
            case HelloStatus.NotTls:
                _metrics.TlsNotFound.Add(1, tags);
                state.NoSni = (ResponseFlags.NotTls, $"not TLS: {hello.Problem}");
                break;
            default:
                _metrics.ClientHelloMalformed.Add(1, tags);
                state.NoSni = (ResponseFlags.MalformedClientHello, $"malformed ClientHello: {hello.Problem}");
                break;
        }
        PreambleDone();
    }

    private void OnPreambleTimedOut()
    {
        var state = _read!;
        _metrics.PreambleTimeout.Add(1, DataPlaneMetrics.Listener(_listener));
        state.Reading?.Cancel();
        var waited = $"no {(state.Expect == Expect.ProxyHeader ? "PROXY header" : "ClientHello")} within {_settings.PreambleTimeout}";
        if (state.Expect == Expect.ProxyHeader)
        {
            Refuse(ResponseFlags.PreambleTimeout, waited, null);
            return;
        }
        // As Istio's sidecars continue after their listener filters time out: a mesh listener may route without an SNI,
        // once the read in flight has ended (OnPreambleRead).
        state.NoSni = (ResponseFlags.PreambleTimeout, waited);
        if (state.Reading is null) PreambleDone();
        else state.Expect = Expect.EndOfRead;
    }

    /// <summary>Reading is over, and no read is in flight: the socket is the relay's alone from here.</summary>
    private void PreambleDone()
    {
        _read!.Timer?.Cancel();
        _state = State.Dialling;
        CountPending(true);
        Decide();
    }

    // ---------------------------------------------------------------- dialling

    private void Decide()
    {
        var source = IpKey.From(_client.Address);
        var listenerAddress = ListenerAddress();
        _decision = _compiled is null
            ? _snapshot.Decide(listenerAddress, source, listenerAddress.Address, _sni)
            : _snapshot.Decide(_compiled, source, listenerAddress.Address, _sni);
        switch (_decision.Result)
        {
            case DecisionResult.Route:
                Pick(source);
                break;
            case DecisionResult.NoHealthyUpstream:
                Refuse(ResponseFlags.NoHealthyUpstream, Explanation.Of(_decision).Reason, _decision.Target?.Destinations.FirstOrDefault()?.Cluster.Name);
                break;
            case var _ when _read?.NoSni is { } why:
                // The listener routes only by SNI and none is known: refused for the reason it is not.
                Refuse(why.Flag, NoSniDetail(why.Flag, why.Detail, Explanation.Of(_decision).Reason), null);
                break;
            default:
                // No rule matched (NR), or a rule named a cluster that does not exist (NC), as Envoy tells them apart.
                Refuse(_decision.Target is null ? ResponseFlags.NoRoute : ResponseFlags.NoClusterFound, Explanation.Of(_decision).Reason, null);
                break;
        }
    }

    /// <summary>
    /// The detail of a connection refused for want of an SNI: why there is none, then why no rule matched, whose "(NR)"
    /// names the flag of a no-route; the connection's own flag is named instead (DPE), or none (a preamble timeout has none).
    /// </summary>
    internal static string NoSniDetail(ResponseFlags flag, string why, string reason)
    {
        if (reason.EndsWith(Explanation.NoRouteFlag, StringComparison.Ordinal))
            reason = reason[..^Explanation.NoRouteFlag.Length] + (ResponseFlagNames.Format(flag) is var name and not "-" ? $" ({name})" : "");
        return $"{why}; {reason}";
    }

    /// <summary>
    /// The destination and endpoint, picked on this actor's thread; only a cluster whose router has not published its
    /// picker yet is asked through the router supervisor, whose answer comes as a message.
    /// </summary>
    private void Pick(IpKey source)
    {
        // Before each dial: a client that gave up (reset) while this connection waited for the node gets nothing more
        // dialled for it (bench/README.md, "Overload (over18, session 18)").
        if (_accepted.PeerReset())
        {
            Refuse(ResponseFlags.DownstreamConnectionTermination, "the client reset the connection before an upstream was connected", _decision.Target?.Destinations.FirstOrDefault()?.Cluster.Name);
            return;
        }
        Picked(_pickers.Pick(_decision.Target!, LoadBalancers.HashOf(source), _tried));
    }

    private void Picked(object answer)
    {
        switch (answer)
        {
            case UpstreamAssigned assigned: Connect(assigned); break;
            case UpstreamRefused r: Refuse(r.Flag, r.Detail, r.Cluster); break;
            case PickUpstream ask: Ask(ask with { Revision = _snapshot.Revision }); break;
        }
    }

    private void Ask(PickUpstream ask)
    {
        var asked = _asked = new PickAsked(ask);
        _routers.Tell(ask);
        AwaitAnswer(asked);
    }

    private void AwaitAnswer(PickAsked asked)
    {
        var left = asked.Ask.Cluster.Policy.ConnectTimeout - System.Diagnostics.Stopwatch.GetElapsedTime(asked.Since);
        var after = TimeSpan.FromTicks(Math.Clamp(left.Ticks, 0, AskAgainAfter.Ticks << Math.Min(asked.Times - 1, MaxDoublings)));
        asked.Timer = Context.System.Scheduler.ScheduleTellOnceCancelable(after, Self, asked, Self);
    }

    private void Answered(ClusterPicker picker)
    {
        _asked!.Timer?.Cancel();
        _asked = null;
        Picked(picker.Pick(LoadBalancers.HashOf(IpKey.From(_client.Address)), _tried));
    }

    /// <summary>No answer yet: asked again, or refused (UH, as no endpoint could be picked) once the connect timeout has passed.</summary>
    private void AskAgain(PickAsked asked)
    {
        var cluster = asked.Ask.Cluster;
        if (System.Diagnostics.Stopwatch.GetElapsedTime(asked.Since) >= cluster.Policy.ConnectTimeout)
        {
            _asked = null;
            Refuse(ResponseFlags.NoHealthyUpstream,
                $"the router of cluster {cluster.Name} did not answer within its connect timeout {cluster.Policy.ConnectTimeout} (asked {asked.Times} times)", cluster.Name);
            return;
        }
        asked.Times++;
        _routers.Tell(asked.Ask);
        AwaitAnswer(asked);
    }

    private void Connect(UpstreamAssigned assigned)
    {
        var policy = assigned.Cluster.Policy;
        _upstream = assigned;
        _attempts++;
        // The node's work for it is done: no longer pending from its first dial (CountPending).
        CountPending(false);
        // The relay's parts before the dial: the connect's completion starts the relay itself (Attempt.Relay). The actor
        // reference's Tell itself, not a closure over it (one object less per connection).
        var parts = new RelayParts(policy.IdleTimeout, Self.Tell, UpstreamPreamble: UpstreamPreamble(policy, out var fromClient), PreambleFromClient: fromClient);
        // With DestinationRule tls SIMPLE or MUTUAL a failed handshake is a failed connect. A PROXY header for a TLS
        // upstream goes in the clear before the ClientHello, as the spec says.
        var attempt = _attempt = new Attempt(this, Self, assigned, parts, policy.Tls is null ? null : ProxyHeader(policy), ConnectFailureLog.Of(Context.System),
            Context.System.Scheduler);
        if (policy.Tls is { } tls) ThreadPool.UnsafeQueueUserWorkItem(new TlsDial(attempt, tls, Context.System.Log, _transport, assigned.Remote, assigned.Options), preferLocal: false);
        else _transport.Connect(assigned.Remote, assigned.Options, attempt);
    }

    /// <summary>
    /// The upstream is connected: counted so, and the max-duration timer started (returned, if the policy has one). Called by
    /// <see cref="Attempt.Relay"/> on the thread the connect completed on, not this actor's, under the attempt's gate: it reads
    /// only what was set before the attempt began (<see cref="_listener"/>, <see cref="_decision"/>) and the node's thread-safe
    /// parts (metrics, the scheduler).
    /// </summary>
    private ICancelable? Connected(UpstreamAssigned assigned, RelayParts parts, TimeSpan connectTime, ConnectFailureLog failures, IActorRef self, IScheduler scheduler)
    {
        var policy = assigned.Cluster.Policy;
        // First, as it throws once the node's scheduler has stopped: then nothing else has happened (the attempt fails).
        var timer = policy.MaxConnectionDuration is { } max ? scheduler.ScheduleTellOnceCancelable(max, self, new DurationElapsed(), self) : null;
        // Only the router writes health; most connects change nothing there, so it is told only when one would.
        if (OutlierDetector.ConnectChanges(assigned.Health.State)) assigned.Router.Tell(new ConnectOutcome(assigned.Index, true));
        _metrics.UpstreamConnected(_listener, assigned.Cluster.Name, assigned.EndpointName, parts.Control, connectTime, Istio(assigned));
        failures.Connected(assigned.Cluster.Name);
        return timer;
    }

    /// <summary>
    /// Starts the relay of the client and <paramref name="upstream"/> (on the connect's thread, as <see cref="Connected"/>).
    /// Should it not start, both are closed and its end told at once, as the relay host tells one it could not materialise.
    /// </summary>
    private void Run(TcpConnection upstream, RelayParts parts)
    {
        try
        {
            _relays.Run(_accepted, upstream, parts);
        }
        catch (Exception e)
        {
            _accepted.Close();
            upstream.Close();
            parts.Ended(new RelayEnded((true, e), (false, e)));
        }
    }

    /// <summary>The Istio series a connection to <paramref name="assigned"/> counts its bytes in (split once per host and workload, then memoised).</summary>
    private IstioLabels Istio(UpstreamAssigned assigned) =>
        IstioLabels.Of(_decision.Client ?? ClientIdentity.Unknown, assigned.Cluster.Host, assigned.Endpoint, ResponseFlags.None);

    /// <summary>The relay runs (<see cref="Attempt.Relay"/>): its parts are this connection's now.</summary>
    private void Relaying(Attempt relayed)
    {
        _state = State.Relaying;
        _relay = relayed.Parts.Control;
        _istio = Istio(relayed.Assigned);
        _durationTimer = relayed.DurationTimer;
        _attempt = null; // only a stop while dialling needs it; kept, it held ~0.45 KB of every idle connection (mem10)
    }

    private byte[]? ProxyHeader(UpstreamPolicy policy) => policy.ProxyProtocolVersion switch
    {
        "V1" => ProxyProtocol.V1(_client, _original),
        "V2" => ProxyProtocol.V2(_client, _original),
        _ => null,
    };

    /// <summary>
    /// What the upstream gets before the client's next bytes: a PROXY header if the policy says so (unless it went
    /// before the TLS handshake, see <see cref="Dial"/>), then what was read to route.
    /// </summary>
    private ByteString? UpstreamPreamble(UpstreamPolicy policy, out int fromClient)
    {
        var header = policy.Tls is null ? ProxyHeader(policy) : null;
        if (_read is { } preamble)
        {
            // Copied out once, at the first attempt: its buffer (2 KB or more) is not held for the connection's life.
            var count = preamble.Length - preamble.ProxyHeaderLength;
            _fromClient = count > 0 ? ByteString.FromBytes(preamble.Buffer, preamble.ProxyHeaderLength, count) : null;
            _read = null;
        }
        var read = _fromClient;
        fromClient = read?.Count ?? 0;
        return header is null ? read : read is null ? ByteString.FromBytes(header) : ByteString.FromBytes(header).Concat(read);
    }

    private void OnConnectFailed(Exception cause)
    {
        var assigned = _upstream!;
        if (cause is UpstreamTlsConfigurationException unusable)
        {
            // This node cannot use the rule: refused, nothing was dialled, and no endpoint is blamed (Envoy rejects such a
            // cluster: NC).
            assigned.Load.Closed();
            _upstream = null;
            _attempt = null;
            Refuse(ResponseFlags.NoClusterFound, unusable.Message, assigned.Cluster.Name);
            return;
        }
        // Out of descriptors, or an unreadable client certificate, is this node's failure, not the endpoint's.
        if (!LocalFailure.Is(cause)) assigned.Router.Tell(new ConnectOutcome(assigned.Index, false, cause is TimeoutException ? "connect timed out" : cause.GetBaseException().Message));
        assigned.Load.Closed();
        _tried = _tried.Add(assigned.EndpointName);
        _upstream = null;
        _attempt = null;
        // Both transports fail a connect that timed out with a TimeoutException (ITcpTransport's contract).
        var timedOut = cause is TimeoutException;
        _flags |= ResponseFlags.UpstreamConnectFailure;
        var why = $"connect to {assigned.Endpoint} failed: {(timedOut ? "timed out after " + assigned.Cluster.Policy.ConnectTimeout : cause.Message)}";
        _metrics.UpstreamConnectFailed(assigned.Cluster.Name, assigned.EndpointName, timedOut, why);
        ConnectFailureLog.Of(Context.System).Failed(assigned.Cluster.Name, why);
        _detail = AttemptDetail.Add(_detail, why);
        if (_attempts < _settings.MaxConnectAttempts)
        {
            Pick(IpKey.From(_client.Address));
            return;
        }
        Refuse(ResponseFlags.UpstreamRetryLimitExceeded, $"{_detail}; {_attempts} attempt(s), giving up", assigned.Cluster.Name);
    }

    /// <summary>Both directions have ended (told once by the relay): the detail from the first failure, in the order they ended.</summary>
    private void OnRelayEnded(RelayEnded ended)
    {
        _relayEnded = true;
        DirectionEnded(ended.First.ClientSide, ended.First.Failure);
        DirectionEnded(ended.Second.ClientSide, ended.Second.Failure);
        if (_detail.Length == 0) _detail = "closed";
        Context.Stop(Self);
    }

    private void DirectionEnded(bool clientSide, Exception? failure)
    {
        if (failure is null) return;
        if (failure is TimeoutException && !_flags.HasFlag(ResponseFlags.DurationTimeout))
        {
            if (!_idleTimedOut) _metrics.IdleTimeout.Add(1, DataPlaneMetrics.Listener(_listener));
            _idleTimedOut = true;
            _detail = $"idle for {_upstream!.Cluster.Policy.IdleTimeout}";
        }
        else if (_detail.Length == 0) _detail = SideDetail(clientSide, failure);
    }

    /// <summary>A socket failure shared by every connection (<see cref="SocketErrors"/>) reads the same each time: its detail is built once per side.</summary>
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<(bool ClientSide, SocketErrors.Shared Failure), string> SharedDetails = new();

    private static string SideDetail(bool clientSide, Exception failure) => failure is SocketErrors.Shared shared
        ? SharedDetails.GetOrAdd((clientSide, shared), static key => Side(key.ClientSide, key.Failure))
        : Side(clientSide, failure);

    private static string Side(bool clientSide, Exception failure) => $"{(clientSide ? "client side" : "upstream side")}: {failure.Message}";

    /// <summary>Ends a connection that got no upstream: the client sees the connection close.</summary>
    private void Refuse(ResponseFlags flag, string detail, string? cluster)
    {
        _flags |= flag;
        _detail = _detail.Length == 0 || flag == ResponseFlags.UpstreamRetryLimitExceeded ? detail : $"{_detail}; {detail}";
        // Each refusal's counter is bumped here and only here, whoever found the reason (the decision, a picker, a router).
        switch (flag)
        {
            case ResponseFlags.NoRoute or ResponseFlags.NoClusterFound or ResponseFlags.NoSni or ResponseFlags.NotTls: _metrics.DownstreamNoRoute.Add(1, DataPlaneMetrics.Listener(_listener)); break;
            // Per-cluster counters only with a cluster: a series named "" is pruned at every scrape and its count drops.
            case ResponseFlags.NoHealthyUpstream when cluster is not null: _metrics.UpstreamNoneHealthy.Add(1, DataPlaneMetrics.Cluster(cluster)); break;
            case ResponseFlags.UpstreamOverflow when cluster is not null: _metrics.UpstreamOverflow.Add(1, DataPlaneMetrics.Cluster(cluster)); break;
        }
        _refusedCluster = cluster;
        Context.Stop(Self);
    }

    // Nothing is told to the listener: it counts the end as Akka tells a parent of a child's (ListenerActor.ConnectionEnded).
    protected override void PostStop() => Stopped();

    private void Stopped()
    {
        // First, so nothing below can keep it pending: refused (NR, NC, UH, UO, OM, DC ...) or stopped before its first dial.
        CountPending(false);
        _read?.Timer?.Cancel();
        _read?.Reading?.Cancel();
        _asked?.Timer?.Cancel();
        // Stopped while an attempt was in flight: abandoned (that says nothing about the endpoint), unless its relay started
        // first: then the connection is relaying, and the relay's to end.
        if (_state != State.Relaying && _attempt is { } attempt && attempt.Stop()) Relaying(attempt);
        _durationTimer?.Cancel();
        if (_state != State.Relaying)
        {
            _accepted.Close();
            _upstream?.Load.Closed();
        }
        else
        {
            // Stopped from outside while bytes still flow: end the relay. (Aborting an ended one would
            // leave a faulted task behind for the finalizer, once per connection.)
            if (!_relayEnded) _relay?.Stop(new OperationCanceledException("connection actor stopped"));
            _upstream?.Load.Closed();
        }
        Report();
    }

    private void Report()
    {
        if (_reported) return;
        _reported = true;
        var rx = _relay?.BytesFromClient ?? 0;
        var tx = _relay?.BytesToClient ?? 0;
        _metrics.Closed(_listener, _upstream?.Cluster.Name, _upstream?.EndpointName, _relay,
            _flags == ResponseFlags.None ? null : $"{ResponseFlagNames.Format(_flags)}: {_detail}", System.Diagnostics.Stopwatch.GetElapsedTime(_started),
            _istio, _flags == ResponseFlags.None && _istio is { } opened ? opened
                : IstioLabels.Of(_decision.Client ?? ClientIdentity.Unknown, _upstream?.Cluster.Host ?? _decision.Target?.Destinations.FirstOrDefault()?.Host, _upstream?.Endpoint, _flags));
        var target = _decision.Target;
        // Into the access log's buffer on this thread: no message per connection (bench/README.md, session 10).
        _accessLog.Add(new AccessLogEntry(_start, System.Diagnostics.Stopwatch.GetElapsedTime(_started), _client, _accepted.Local, _listener, _decision.Gateway,
            target?.VirtualService, target?.Rule, _upstream?.Cluster.Name ?? _refusedCluster, _upstream?.EndpointName,
            rx, tx, _flags, _detail, _sni));
    }
}
