using Akka.Actor;
using Akka.Streams;
using AkkaL4.Actors.ControlPlane;
using AkkaL4.Actors.DataPlane.Transport;
using AkkaL4.Actors.Routing;
using AkkaL4.Actors.Upstreams;

namespace AkkaL4.Actors.DataPlane;

/// <summary>
/// Keeps one <see cref="ListenerActor"/> per listener of the current snapshot: binds new ones, unbinds
/// removed ones (their open connections drain), leaves the rest alone. Answers which are bound. On
/// <see cref="Drain"/> every listener stops accepting, and what is still open when the timeout passes
/// is closed; new snapshots then bind nothing.
/// </summary>
public sealed class ListenerSet : ReceiveActor, IWithTimers
{
    public sealed record GetListeners;
    public sealed record ListenerStatus(string Address, bool Bound, string? Error);
    public sealed record Drain(TimeSpan Timeout);
    /// <summary>Every listener has stopped: <paramref name="Finished"/> connections ended on their own, <paramref name="Closed"/> at the timeout.</summary>
    public sealed record Drained(int Finished, int Closed);

    private sealed record DrainTimedOut;

    private readonly Dictionary<IpPort, (IActorRef Actor, bool Bound, string? Error)> _listeners = new();
    private int _generation;
    private readonly HashSet<IActorRef> _running = [];
    private bool _draining;
    private IActorRef? _drainRequester;
    private int _openAtDrain;
    private int _openAtTimeout;
    private readonly ConnectionBudget _connections;

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(NodeDataPlane dataPlane) => Akka.Actor.Props.Create(() => new ListenerSet(dataPlane));

    public ListenerSet(NodeDataPlane dataPlane)
    {
        _connections = dataPlane.Connections;
        Receive<ApplyRoutes>(apply =>
        {
            dataPlane.Metrics.Retain(apply.Snapshot);
            if (_draining) return;
            var wanted = apply.Snapshot.Listeners.Select(l => l.Address).ToHashSet();
            foreach (var (address, listener) in _listeners.ToList())
            {
                if (wanted.Contains(address)) continue;
                listener.Actor.Tell(new ListenerActor.Unbind());
                _listeners.Remove(address);
            }
            foreach (var address in wanted)
            {
                if (_listeners.ContainsKey(address)) continue;
                var name = $"listener-{address.Address}-{address.Port}-{++_generation}".Replace(':', '_');
                var actor = Context.ActorOf(ListenerActor.Props(address, dataPlane), name);
                Context.Watch(actor);
                _running.Add(actor);
                _listeners[address] = (actor, false, null);
            }
        });
        Receive<ListenerActor.Bound>(b =>
        {
            if (Current(b.Address) is { } l) _listeners[b.Address] = (l.Actor, true, null);
        });
        Receive<ListenerActor.BindFailed>(f =>
        {
            if (Current(f.Address) is { } l) _listeners[f.Address] = (l.Actor, false, f.Reason);
        });
        Receive<Drain>(drain =>
        {
            _draining = true;
            _drainRequester = Sender;
            _openAtDrain = _connections.Open;
            foreach (var listener in Context.GetChildren()) listener.Tell(new ListenerActor.Unbind());
            _listeners.Clear();
            Timers.StartSingleTimer("drain", new DrainTimedOut(), drain.Timeout);
            ReplyWhenDrained();
        });
        Receive<DrainTimedOut>(_ =>
        {
            _openAtTimeout = _connections.Open;
            foreach (var listener in Context.GetChildren()) listener.Tell(new ListenerActor.CloseConnections());
        });
        Receive<Terminated>(t =>
        {
            _running.Remove(t.ActorRef);
            _supervision.Forget(t.ActorRef);
            ReplyWhenDrained();
        });
        Receive<GetListeners>(_ => Sender.Tell(_listeners
            .OrderBy(l => l.Key.ToString(), StringComparer.Ordinal)
            .Select(l => new ListenerStatus(l.Key.ToString(), l.Value.Bound, l.Value.Error)).ToList()));
    }

    /// <summary>
    /// The sender if it is the listener for <paramref name="address"/>; else null, and the sender is told to unbind: a listener
    /// this set no longer lists (its address removed, or draining) must not stay bound, outside the table, for ever.
    /// </summary>
    private (IActorRef Actor, bool Bound, string? Error)? Current(IpPort address)
    {
        if (_listeners.TryGetValue(address, out var l) && l.Actor.Equals(Sender)) return l;
        Sender.Tell(new ListenerActor.Unbind());
        return null;
    }

    private void ReplyWhenDrained()
    {
        if (_drainRequester is null || _running.Count > 0) return;
        Timers.Cancel("drain");
        _drainRequester.Tell(new Drained(_openAtDrain - _openAtTimeout, _openAtTimeout));
        _drainRequester = null;
    }

    private readonly ListenerSupervision _supervision = new();

    protected override SupervisorStrategy SupervisorStrategy() => _supervision;

    /// <summary>
    /// A listener that throws is resumed and told to take up what it was doing (<see cref="ListenerActor.Recover"/>): a restart
    /// would stop its connections (Akka stops a restarting actor's children, or restarts them, and a connection's socket
    /// cannot be taken twice). One that throws again within <see cref="Again"/> is restarted: its state is not to be trusted.
    /// </summary>
    private sealed class ListenerSupervision() : OneForOneStrategy(_ => Directive.Restart)
    {
        private static readonly TimeSpan Again = TimeSpan.FromMinutes(1);
        private readonly Dictionary<IActorRef, long> _lastFailure = new();

        protected override Directive Handle(IActorRef child, Exception exception)
        {
            var now = System.Diagnostics.Stopwatch.GetTimestamp();
            var again = _lastFailure.TryGetValue(child, out var last) && System.Diagnostics.Stopwatch.GetElapsedTime(last, now) < Again;
            _lastFailure[child] = now;
            if (again) return Directive.Restart;
            child.Tell(new ListenerActor.Recover(exception));
            return Directive.Resume;
        }

        public void Forget(IActorRef listener) => _lastFailure.Remove(listener);
    }
}
