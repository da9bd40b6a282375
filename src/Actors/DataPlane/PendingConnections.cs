using Akka.Actor;

namespace AkkaL4.Actors.DataPlane;

/// <summary>
/// One listener instance's connections that are pending: accepted and not yet dialling nor reading what their client sends
/// first (the node's own work: waiting for a thread, deciding, picking). At <c>akkal4.data-plane.max-pending-connections</c>
/// the listener stops asking for connections, so the rest wait in the kernel's queue (HAProxy's maxconn and backlog) rather
/// than in the node, past their clients' patience; the first one to leave tells the listener (this object is the message),
/// so the common path costs two atomic operations and no message. A dial is not pending: it waits on its upstream, and a
/// black-holed one would hold the cap for every upstream behind the listener. One object per listener instance, so a
/// restarted listener tells its predecessor's message from its own. Each entry is left once: as the connection starts its
/// first dial or reads its client's first bytes, as it stops (refused too), or (its actor's constructor threw) as Akka
/// failed to make it (ConnectionActor's props).
/// </summary>
public sealed class PendingConnections(int max, IActorRef listener)
{
    private int _count;
    /// <summary>1 while the listener waits for a connection to leave (it has stopped asking).</summary>
    private int _waiting;

    public int Count => Volatile.Read(ref _count);

    /// <summary>A connection becomes pending (started by the listener, or done reading what its client sent first).</summary>
    public void Enter() => Interlocked.Increment(ref _count);

    /// <summary>A pending connection dials, reads its client's first bytes, or stops: the listener is told if it waits for this.</summary>
    public void Leave()
    {
        if (Interlocked.Decrement(ref _count) < max && Volatile.Read(ref _waiting) == 1 && Interlocked.Exchange(ref _waiting, 0) == 1)
            listener.Tell(this);
    }

    /// <summary>
    /// The listener's question before it asks for the next connection: true when <c>max</c> are pending (0: no limit); it is
    /// then told (this object) once one leaves, and must not ask until then.
    /// </summary>
    public bool Full()
    {
        if (max <= 0 || Volatile.Read(ref _count) < max) return false;
        Interlocked.Exchange(ref _waiting, 1);
        // One may have left between the look and the flag, seeing nobody waiting: look again. Taking the flag back means no
        // message comes; finding it taken means one does (a leaver took it), and the listener waits for that.
        if (Volatile.Read(ref _count) >= max) return true;
        return Interlocked.Exchange(ref _waiting, 0) == 0;
    }
}
