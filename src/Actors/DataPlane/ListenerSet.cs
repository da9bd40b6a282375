using Akka.Actor;
using Akka.Streams;
using AkkaL4.Actors.ControlPlane;
using AkkaL4.Actors.DataPlane.Transport;
using AkkaL4.Actors.Routing;
using AkkaL4.Actors.Upstreams;

namespace AkkaL4.Actors.DataPlane;

/// <summary>
/// Keeps one <see cref="ListenerActor"/> per listener of the current snapshot: binds new ones, unbinds
/// removed ones (their open connections drain), leaves the rest alone. Answers which are bound.
/// </summary>
public sealed class ListenerSet : ReceiveActor
{
    public sealed record GetListeners;
    public sealed record ListenerStatus(string Address, bool Bound, string? Error);

    private readonly Dictionary<IpPort, (IActorRef Actor, bool Bound, string? Error)> _listeners = new();
    private int _generation;

    public static Props Props(NodeDataPlane dataPlane) => Akka.Actor.Props.Create(() => new ListenerSet(dataPlane));

    public ListenerSet(NodeDataPlane dataPlane)
    {
        Receive<ApplyRoutes>(apply =>
        {
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
        Receive<GetListeners>(_ => Sender.Tell(_listeners
            .OrderBy(l => l.Key.ToString(), StringComparer.Ordinal)
            .Select(l => new ListenerStatus(l.Key.ToString(), l.Value.Bound, l.Value.Error)).ToList()));
    }

    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(_ => Directive.Restart);
}
