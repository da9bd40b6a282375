using Akka.Actor;
using Akka.Cluster;
using Akka.Event;

namespace AkkaL4.Actors;

/// <summary>
/// Keeps an orderly leave out of the log as a failure. When a member leaves, its process may end before Akka.Remote's
/// goodbye (the Shutdown disassociation) reaches this node: the connection just closes, and classic remoting reports it
/// as if the peer had crashed, an <c>[ERROR] ... endpointWriter Disassociated</c> with a stack trace and an "Association
/// ... has failed; address is now gated" warning. This filter (one per cluster-side actor system, given to it as a
/// <see cref="LogFilterSetup"/>, so every logger that honours Akka's log filters leaves them out) drops those two lines
/// when the peer is, in this node's view, Leaving or Exiting, or is no longer a member and this node saw it Leaving or
/// Exiting (the last <see cref="Remembered"/> such addresses): the cluster's own INFO lines ("Leader is removing confirmed
/// Exiting node", "Member removed") already say it left. A peer still Up, Joining or Down, and a peer this node never saw
/// leave (one still joining, one of another cluster pointed at this seed), lost its connection without leaving: its lines
/// stay, as Akka wrote them.
/// </summary>
internal sealed class OrderlyLeaveLogFilter : LogFilterBase
{
    /// <summary>How many addresses seen leaving are remembered (the oldest forgotten first).</summary>
    internal const int Remembered = 64;

    private const string Endpoints = "/system/endpointManager/";
    private volatile Cluster? _cluster;
    private readonly object _gate = new();
    private readonly LinkedList<Address> _left = new();

    /// <summary>
    /// The cluster whose members' statuses decide (set once its actor system is up; nothing is dropped before). Subscribes
    /// to its member events to remember the addresses seen leaving.
    /// </summary>
    public void Watch(Cluster cluster)
    {
        cluster.System.ActorOf(Props.Create(() => new Leaves(cluster, this)), "orderly-leave-log-filter");
        _cluster = cluster;
    }

    // The decision needs the event and the membership, not the text. Content, not Source: with only Source filters Akka's
    // standard-out logger prints the bare message (no level, time, source or exception); with a Content one it formats
    // each event once, as it does without filters.
    public override LogFilterType FilterType => LogFilterType.Content;

    public override LogFilterDecision ShouldKeepMessage(LogEvent e, string? expandedMessage = null) =>
        _cluster is not { } cluster
            ? LogFilterDecision.Keep
            : Decide(e, peer => cluster.State.Members.FirstOrDefault(m => m.Address.Equals(peer))?.Status);

    /// <summary>The decision, given a peer's status in this node's view (null: not a member).</summary>
    internal LogFilterDecision Decide(LogEvent e, Func<Address, MemberStatus?> statusOf)
    {
        if (e.LogSource?.Contains(Endpoints, StringComparison.Ordinal) != true) return LogFilterDecision.Keep;
        var peer = e switch
        {
            // EndpointWriter's failure, logged by its parent's supervisor strategy under the writer's path.
            Error { Cause: { } cause } when IsDisassociated(cause) => PeerOf(e.LogSource),
            // The parent (ReliableDeliverySupervisor) gating the address after that failure: Address, gate, reason.
            Warning { Message: LogMessage message } when message.Format.StartsWith("Association with remote system", StringComparison.Ordinal)
                && message.Parameters().ToList() is [Address address, _, Exception reason, ..] && IsDisassociated(reason) => address,
            _ => null,
        };
        if (peer is null) return LogFilterDecision.Keep;
        var left = statusOf(peer) switch
        {
            MemberStatus.Leaving or MemberStatus.Exiting => true,
            null or MemberStatus.Removed => SawLeave(peer),
            _ => false,
        };
        return left ? LogFilterDecision.Drop : LogFilterDecision.Keep;
    }

    /// <summary>This node saw <paramref name="peer"/> Leaving or Exiting: remembered (the oldest of more than <see cref="Remembered"/> forgotten).</summary>
    internal void Left(Address peer)
    {
        lock (_gate)
        {
            _left.Remove(peer);
            _left.AddLast(peer);
            if (_left.Count > Remembered) _left.RemoveFirst();
        }
    }

    /// <summary><paramref name="peer"/> joins again: its lines are a member's once more, and forgotten as one that left.</summary>
    internal void Joined(Address peer)
    {
        lock (_gate) _left.Remove(peer);
    }

    private bool SawLeave(Address peer)
    {
        lock (_gate) return _left.Contains(peer);
    }

    // Akka.Remote's exception type is internal: known by its name.
    private static bool IsDisassociated(Exception e) => e.GetType().Name == "EndpointDisassociatedException";

    /// <summary>
    /// The peer in an endpoint's path: <c>…/system/endpointManager/reliableEndpointWriter-akka.tcp%3A%2F%2Fsys%40host%3Aport-1/endpointWriter</c>
    /// (or <c>endpointWriter-…</c> for an inbound one); null when the path is not one.
    /// </summary>
    internal static Address? PeerOf(string source)
    {
        var start = source.IndexOf(Endpoints, StringComparison.Ordinal) + Endpoints.Length;
        var end = source.IndexOf('/', start);
        var name = end < 0 ? source[start..] : source[start..end];
        var dash = name.IndexOf('-');
        var last = name.LastIndexOf('-');
        if (dash < 0 || last <= dash) return null;
        try
        {
            return Address.Parse(Uri.UnescapeDataString(name[(dash + 1)..last]));
        }
        catch (Exception e) when (e is UriFormatException or ArgumentException)
        {
            return null;
        }
    }

    /// <summary>Tells the filter which members this node sees leave (and join again).</summary>
    private sealed class Leaves : ReceiveActor
    {
        private readonly Cluster _cluster;

        public Leaves(Cluster cluster, OrderlyLeaveLogFilter filter)
        {
            _cluster = cluster;
            Receive<ClusterEvent.MemberLeft>(e => filter.Left(e.Member.Address));
            Receive<ClusterEvent.MemberExited>(e => filter.Left(e.Member.Address));
            Receive<ClusterEvent.MemberRemoved>(e =>
            {
                if (e.PreviousStatus is MemberStatus.Leaving or MemberStatus.Exiting) filter.Left(e.Member.Address);
            });
            Receive<ClusterEvent.MemberJoined>(e => filter.Joined(e.Member.Address));
            Receive<ClusterEvent.MemberWeaklyUp>(e => filter.Joined(e.Member.Address));
            Receive<ClusterEvent.IMemberEvent>(_ => { });
        }

        protected override void PreStart() =>
            _cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents, typeof(ClusterEvent.IMemberEvent));

        protected override void PostStop() => _cluster.Unsubscribe(Self);
    }
}
