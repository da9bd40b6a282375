using System.Collections.Concurrent;
using Akka;
using Akka.Event;
using Akka.Streams;
using Akka.Streams.Dsl;
using Akka.Streams.Stage;
using AkkaL4.Actors.DataPlane.Transport;

namespace AkkaL4.Actors.DataPlane;

/// <summary>
/// Joins a client and an upstream connection through a <see cref="RelayStage"/> and runs them: one
/// graph per connection. Connections of the socket transport take the fast way: a graph fused once
/// for all of them, run inside one of a few long-lived host streams, so a connection costs neither a
/// graph to build and fuse nor an actor of its own to run it (measured in bench/README.md).
/// </summary>
public sealed class Relays
{
    /// <summary>Both sockets and the relay, one stage: each connection's own parts are <see cref="Materializing"/>.</summary>
    private static readonly Akka.Streams.Fusing.FusedGraph<ClosedShape, RelayStage.Control> Sockets =
        Akka.Streams.Fusing.Aggressive(SocketRelayStage.Graph);

    /// <summary>
    /// The parts of the relay a host is materialising, on its thread, while it does (stages make their logic
    /// during <c>Materialize</c>). Passing them as an attribute instead cost a copy of the fused graph with
    /// the attribute on, and its lookups, per connection (measured in bench/README.md).
    /// </summary>
    [ThreadStatic] private static RelayParts? _materializing;

    internal static RelayParts? Materializing => _materializing;

    /// <summary>The hosts' dispatcher: a socket completion that wakes a host runs its turn (<see cref="WakeInline"/>).</summary>
    public const string Dispatcher = "akkal4.relay-dispatcher";

    private readonly IMaterializer _materializer;
    private readonly Host[] _hosts;
    private readonly IdleSweep _idle;
    private readonly bool _inlineCompletions;
    private int _next;

    /// <param name="hosts">How many host streams (each one actor, so at most one core) share the socket relays.</param>
    /// <param name="log">Where a relay's failure to expire, in the idle sweep, is reported.</param>
    /// <param name="inlineCompletions">Socket relays read and write on the runtime's event thread (akkal4.data-plane.relay-inline-completions).</param>
    public Relays(IMaterializer materializer, int hosts, ILoggingAdapter log, bool inlineCompletions = true)
    {
        _materializer = materializer;
        _inlineCompletions = inlineCompletions;
        var initial = InitialAttributes(materializer);
        _idle = new IdleSweep((e, failures) => log.Error(e, "idle sweep: a relay failed to expire ({0} so far); the sweep goes on", failures));
        _hosts = Enumerable.Range(0, Math.Max(1, hosts)).Select(_ => Source.FromGraph(new HostStage(initial)).To(Sink.Ignore<NotUsed>()).WithAttributes(ActorAttributes.CreateDispatcher(Dispatcher)).Run(materializer)).ToArray();
    }

    /// <summary>
    /// What the materializer starts every relay's attributes from (its settings' input buffer, dispatcher and supervision),
    /// made once: Akka's <c>Materialize(graph)</c> builds them anew at every call, three attributes and two concatenations,
    /// ~0.4 KB per connection (bench/README.md, "Memory, session 15"). Null for a materializer that is not Akka's own.
    /// </summary>
    private static Attributes? InitialAttributes(IMaterializer materializer) =>
        materializer is ActorMaterializer { Settings: var settings }
            ? Attributes.CreateInputBuffer(settings.InitialInputBufferSize, settings.MaxInputBufferSize)
                .And(ActorAttributes.CreateDispatcher(settings.Dispatcher))
                .And(ActorAttributes.CreateSupervisionStrategy(settings.SupervisionDecider))
            : null;

    /// <summary>How many relays are in the idle sweep (those running with an idle timeout).</summary>
    internal int IdleRelays => _idle.Count;

    /// <summary>Starts the relay; its <see cref="RelayParts.Control"/> is usable at once.</summary>
    internal void Run(TcpConnection client, TcpConnection upstream, RelayParts parts)
    {
        if (client.Socket is { } clientSocket && upstream.Socket is { } upstreamSocket)
        {
            parts.Client = clientSocket;
            parts.Upstream = upstreamSocket;
            parts.Sweep = _idle;
            parts.InlineCompletions = _inlineCompletions;
            _hosts[(uint)Interlocked.Increment(ref _next) % _hosts.Length].Run(parts);
            return;
        }
        client.Flow.JoinMaterialized(BidiFlow.FromGraph(new RelayStage(parts with { Sweep = _idle, Reset = () => { client.Reset(); upstream.Reset(); } }))
            .Join(upstream.Flow), Keep.Right).Run(_materializer);
    }

    /// <summary>A stream that never ends, whose interpreter also runs the relays handed to it.</summary>
    private sealed class Host(Attributes? initial)
    {
        private readonly ConcurrentQueue<RelayParts> _queue = new();
        private volatile Action<NotUsed>? _wake;
        /// <summary>1 while a wake-up is on its way: relays queued meanwhile go with it (one message to the host, not one each).</summary>
        private int _wakePending;

        public void Run(RelayParts parts)
        {
            _queue.Enqueue(parts);
            if (Interlocked.Exchange(ref _wakePending, 1) == 0) _wake?.Invoke(NotUsed.Instance);
        }

        /// <summary>Called on the host's interpreter: materialise what is queued into it.</summary>
        public void Drain(IMaterializer here)
        {
            // Before taking any: a relay queued from now on wakes the host again, or is taken below.
            Volatile.Write(ref _wakePending, 0);
            while (_queue.TryDequeue(out var next))
            {
                try
                {
                    _materializing = next;
                    if (initial is null) here.Materialize(Sockets);
                    else here.Materialize(Sockets, initial);
                }
                catch (Exception e)
                {
                    // Never started: nobody else will close its sockets.
                    next.Client?.Dispose();
                    next.Upstream?.Dispose();
                    next.Ended(new RelayEnded((true, e), (false, e)));
                }
                finally
                {
                    _materializing = null;
                }
            }
        }

        public void Started(Action<NotUsed> wake)
        {
            _wake = wake;
            wake(NotUsed.Instance);
        }
    }

    private sealed class HostStage(Attributes? initial) : GraphStageWithMaterializedValue<SourceShape<NotUsed>, Host>
    {
        private readonly Outlet<NotUsed> _out = new("relay-host.out");

        public override SourceShape<NotUsed> Shape => new(_out);

        protected override Attributes InitialAttributes { get; } = Attributes.CreateName("relay-host");

        public override ILogicAndMaterializedValue<Host> CreateLogicAndMaterializedValue(Attributes inheritedAttributes)
        {
            var host = new Host(initial);
            return new LogicAndMaterializedValue<Host>(new Logic(this, host), host);
        }

        private sealed class Logic : GraphStageLogic
        {
            private readonly Host _host;

            public Logic(HostStage stage, Host host) : base(stage.Shape)
            {
                _host = host;
                // Never emits: it only keeps the interpreter, and the relays in it, alive.
                SetHandler(stage._out, onPull: () => { }, onDownstreamFinish: _ => { });
            }

            public override void PreStart() => _host.Started(GetAsyncCallback<NotUsed>(_ => _host.Drain(SubFusingMaterializer)));
        }
    }
}
