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
/// when the peer is, in this node's view, Leaving, Exiting or no longer a member: the cluster's own INFO lines
/// ("Leader is removing confirmed Exiting node", "Member removed") already say it left. A peer still Up, Joining or
/// Down in this node's view lost its connection without leaving: its lines stay, as Akka wrote them.
/// </summary>
internal sealed class OrderlyLeaveLogFilter : LogFilterBase
{
    private const string Endpoints = "/system/endpointManager/";
    private volatile Cluster? _cluster;

    /// <summary>The cluster whose members' statuses decide (set once its actor system is up; nothing is dropped before).</summary>
    public void Watch(Cluster cluster) => _cluster = cluster;

    // The decision needs the event and the membership, not the text. Content, not Source: with only Source filters Akka's
    // standard-out logger prints the bare message (no level, time, source or exception); with a Content one it formats
    // each event once, as it does without filters.
    public override LogFilterType FilterType => LogFilterType.Content;

    public override LogFilterDecision ShouldKeepMessage(LogEvent e, string? expandedMessage = null)
    {
        if (_cluster is not { } cluster || e.LogSource?.Contains(Endpoints, StringComparison.Ordinal) != true) return LogFilterDecision.Keep;
        var peer = e switch
        {
            // EndpointWriter's failure, logged by its parent's supervisor strategy under the writer's path.
            Error { Cause: { } cause } when IsDisassociated(cause) => PeerOf(e.LogSource),
            // The parent (ReliableDeliverySupervisor) gating the address after that failure: Address, gate, reason.
            Warning { Message: LogMessage message } when message.Format.StartsWith("Association with remote system", StringComparison.Ordinal)
                && message.Parameters().ToList() is [Address address, _, Exception reason, ..] && IsDisassociated(reason) => address,
            _ => null,
        };
        return peer is not null && LeftInOrder(cluster, peer) ? LogFilterDecision.Drop : LogFilterDecision.Keep;
    }

    // Akka.Remote's exception type is internal: known by its name.
    private static bool IsDisassociated(Exception e) => e.GetType().Name == "EndpointDisassociatedException";

    private static bool LeftInOrder(Cluster cluster, Address peer)
    {
        var member = cluster.State.Members.FirstOrDefault(m => m.Address.Equals(peer));
        return member is null || member.Status is MemberStatus.Leaving or MemberStatus.Exiting or MemberStatus.Removed;
    }

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
}
