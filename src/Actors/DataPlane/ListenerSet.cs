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
            if (_listeners.TryGetValue(b.Address, out var l) && l.Actor.Equals(Sender)) _listeners[b.Address] = (l.Actor, true, null);
        });
        Receive<ListenerActor.BindFailed>(f =>
        {
            if (_listeners.TryGetValue(f.Address, out var l) && l.Actor.Equals(Sender)) _listeners[f.Address] = (l.Actor, false, f.Reason);
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
            ReplyWhenDrained();
        });
        Receive<GetListeners>(_ => Sender.Tell(_listeners
            .OrderBy(l => l.Key.ToString(), StringComparer.Ordinal)
            .Select(l => new ListenerStatus(l.Key.ToString(), l.Value.Bound, l.Value.Error)).ToList()));
    }

    private void ReplyWhenDrained()
    {
        if (_drainRequester is null || _running.Count > 0) return;
        Timers.Cancel("drain");
        _drainRequester.Tell(new Drained(_openAtDrain - _openAtTimeout, _openAtTimeout));
        _drainRequester = null;
    }

    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(_ => Directive.Restart);
}
