using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using AkkaL4.Messages.Commands;
using AkkaL4.Messages.Model;
using IClusterMessage = AkkaL4.Messages.Protocol.IClusterMessage;
using AkkaL4.Messages.Queries;
using AkkaL4.Messages.Serialization;

namespace AkkaL4.Actors.ControlPlane;

/// <summary>kubectl apply, to a node's <see cref="ConfigClient"/>: create or update each resource by kind/namespace/name, all or nothing.</summary>
public sealed record ApplyConfig(IReadOnlyList<Resource> Resources, bool DryRun = false);

/// <summary>To a node's <see cref="ConfigClient"/>: delete one resource.</summary>
public sealed record DeleteResource(ResourceKey Key);

/// <summary>
/// To a node's <see cref="ConfigClient"/>: delete every one of these resources in one revision, all or nothing (kubectl
/// delete -f). Refused as unavailable, certainly not applied, when the config writer is of a version that deletes one at a time.
/// </summary>
public sealed record DeleteResources(IReadOnlyList<ResourceKey> Keys);

/// <summary>
/// A node's door to the config writer singleton: takes <see cref="ApplyConfig"/> and <see cref="DeleteResource"/>
/// (model records, no deadline), sends them as <see cref="IConfigCommand"/>s through the singleton proxy, again
/// when a small one may have been lost, each copy with a fresh deadline; answers <see cref="ReadConfig"/> with a
/// <see cref="ConfigContent"/> read from the RouteTable entities (<see cref="ConfigReader"/>). Each answer says what is certain: <see cref="ConfigAccepted"/> (journaled and on a
/// majority of nodes), <see cref="ConfigRejected"/>, <see cref="ConfigUnavailable"/> (certainly not applied) or
/// <see cref="ConfigUncertain"/> (no answer in time, or journaled but not confirmed on a majority). A read that
/// gets no answer in time fails with an <see cref="AskTimeoutException"/>, one whose entities are not readable with a
/// <see cref="ConfigNotReadableException"/>.
/// </summary>
public sealed class ConfigClient : ReceiveActor
{
    /// <summary>How long a write may wait to reach the writer (it drops it unread after that, and says so).</summary>
    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long this client waits for an answer: the deadline plus the writer's time for a batch (journal, then
    /// replication to a majority, which gives up after 3 s plus a second per 100 KB of its JSON), so a write the writer took is answered unless the
    /// writer crashed or its node became unreachable meanwhile; that outcome is then uncertain.
    /// </summary>
    public static readonly TimeSpan Timeout = Deadline + TimeSpan.FromSeconds(5);

    /// <summary>A large write takes the writer longer (validate, compile, journal, replicate): this much more per 100 KB of its JSON.</summary>
    private static readonly TimeSpan PerHundredKilobytes = TimeSpan.FromSeconds(1);

    /// <summary>A write this small (bytes of JSON) is sent again while it may have been lost (each copy costs the writer a validation and a compile).</summary>
    private const int ResendBelow = 64 * 1024;

    /// <summary>After the writer journaled a write: this much longer than the replication time it names.</summary>
    private static readonly TimeSpan AfterReplication = TimeSpan.FromSeconds(5);

    /// <summary>
    /// The longest any answer of this client can take (for callers' own asks, which must wait at least this long): a
    /// write of the admin API's 4 MiB reaching the writer, then the writer's longest replication.
    /// </summary>
    public static readonly TimeSpan MaxTimeout = TimeoutFor(4 * 1024 * 1024) + ConfigWriter.MaxReplicationTimeout + AfterReplication + TimeSpan.FromSeconds(5);

    private static readonly TimeSpan ResendAfter = TimeSpan.FromSeconds(2);

    /// <summary>How long a delete of several resources waits for the writer to say whether it takes them in one revision.</summary>
    private static readonly TimeSpan WriterStatusTimeout = TimeSpan.FromSeconds(2);

    /// <summary>The writer's status (null: no answer in time), asked before <see cref="RemoveResources"/> is sent.</summary>
    private sealed record WriterChecked(DeleteResources Delete, WriterStatus? Status);

    private static TimeSpan TimeoutFor(int bytes) => Timeout + PerHundredKilobytes * (bytes / 100_000.0);

    /// <param name="routeTables">This node's shard region of <see cref="RouteTable"/> entities, which reads come from.</param>
    public static Props Props(IActorRef writer, IActorRef routeTables) => Akka.Actor.Props.Create(() => new ConfigClient(writer, routeTables));

    public ConfigClient(IActorRef writer, IActorRef routeTables)
    {
        var cluster = Cluster.Get(Context.System);
        // Measured as the JSON it travels as: 10,000 small Services and one 4 MiB certificate differ in count, not in size.
        Receive<ApplyConfig>(a =>
        {
            int bytes;
            try { bytes = ModelJson.Size(a.Resources); }
            catch (Exception e) when (e is System.Text.Json.JsonException or NotSupportedException)
            {
                // What cannot be written as the cluster's JSON cannot reach the writer: refused now, never a silent drop.
                Sender.Tell(new ConfigRejected([Diagnostic.Error("request", "", $"the configuration cannot be sent to the config writer: {e.Message}")]));
                return;
            }
            Write(cluster, writer, () => new WriteConfig(a.Resources, DateTimeOffset.UtcNow + Deadline, a.DryRun), bytes);
        });
        Receive<DeleteResource>(d => Write(cluster, writer, () => new RemoveResource(d.Key.Kind, d.Key.Namespace, d.Key.Name, DateTimeOffset.UtcNow + Deadline), 0));
        Receive<DeleteResources>(d => d.Keys.Count == 1, d => Self.Forward(new DeleteResource(d.Keys[0])));
        Receive<DeleteResources>(d =>
        {
            // A writer of a version before RemoveResources would drop it unread (an unknown manifest) and leave the client
            // uncertain for seconds: its protocol is asked first, and a writer that does not take it is said at once.
            var replyTo = Sender;
            writer.Ask<WriterStatus>(ReadWriterStatus.Instance, WriterStatusTimeout).PipeTo(Self, replyTo,
                status => new WriterChecked(d, status), _ => new WriterChecked(d, null));
        });
        Receive<WriterChecked>(c =>
        {
            if (c.Status is not { Protocol: >= 1 })
                Sender.Tell(new ConfigUnavailable(c.Status is null
                    ? $"the config writer did not say within {WriterStatusTimeout.TotalSeconds:0}s whether it deletes several resources in one revision; nothing was deleted"
                    : "the config writer runs a version that deletes one resource at a time; nothing was deleted (delete them after the upgrade, or one by one)"));
            else Write(cluster, writer, () => new RemoveResources(c.Delete.Keys, DateTimeOffset.UtcNow + Deadline), 0);
        });
        var silent = new SilentEntities(SilentEntities.Remember);
        Receive<ReadConfig>(r => Context.ActorOf(ConfigReader.Props(writer, routeTables, r, Sender, silent).WithDispatcher(Context.Props.Dispatcher)));
        Receive<ReadWriterStatus>(r => writer.Forward(r));
    }

    /// <summary>
    /// A write is sent only while this node sees a majority of the cluster reachable: without one no writer can
    /// acknowledge it (replication needs a majority), so the answer comes at once and is certain.
    /// </summary>
    private static void Write(Cluster cluster, IActorRef writer, Func<IClusterMessage> message, int bytes)
    {
        var state = cluster.State;
        var members = state.Members.Count(m => m.Status is MemberStatus.Up or MemberStatus.Leaving or MemberStatus.Joining or MemberStatus.WeaklyUp);
        var unreachable = state.Unreachable.Count(m => m.Status is not (MemberStatus.Down or MemberStatus.Exiting or MemberStatus.Removed));
        if (members == 0 || (members - unreachable) * 2 <= members)
        {
            Context.Sender.Tell(new ConfigUnavailable(members == 0
                ? "this node is not in a cluster yet (still joining through its seeds): try again once `akkal4 status` says it is up"
                : $"only {members - unreachable} of {members} cluster members are reachable from this node; a write needs a majority"));
            return;
        }
        // On the client's own thread (ControlPlaneWork.ClientDispatcher): a request encodes the write, up to 4 MiB.
        Context.ActorOf(Request.Props(writer, message(), Context.Sender, message, bytes).WithDispatcher(Context.Props.Dispatcher));
    }

    /// <summary>
    /// The answer with its change lists read (they are decoded when first read): one that does not decode here (a writer
    /// of another version) is an applied write this node cannot describe, so uncertain, not an error where the client
    /// reads it (the admin API's response, <c>run --config</c>'s start).
    /// </summary>
    internal static IClusterMessage Decoded(ConfigAccepted accepted)
    {
        try
        {
            _ = accepted.Changes.Count;
            _ = accepted.Warnings.Count;
            _ = accepted.New?.Count;
            return accepted;
        }
        catch (System.Runtime.Serialization.SerializationException e)
        {
            return new ConfigUncertain(accepted.Revision,
                $"accepted as revision {accepted.Revision}; its change list did not decode on this node ({e.Message})");
        }
    }

    /// <summary>One request to the writer: remembers the revision a write was journaled as, until the answer or the timeout.</summary>
    private sealed class Request : ReceiveActor
    {
        /// <param name="again">A fresh copy of a write that may be sent again (a kubectl-style apply: a second copy of a
        /// write already applied is reported unchanged), or null.</param>
        public static Props Props(IActorRef writer, IClusterMessage message, IActorRef replyTo, Func<IClusterMessage>? again, int bytes) =>
            Akka.Actor.Props.Create(() => new Request(writer, message, replyTo, again, bytes));

        private sealed class Expired
        {
            public static readonly Expired Instance = new();
        }

        private sealed class SendAgain
        {
            public static readonly SendAgain Instance = new();
        }

        public Request(IActorRef writer, IClusterMessage message, IActorRef replyTo, Func<IClusterMessage>? again, int bytes)
        {
            long? journaled = null;
            // Encoded here, not in remoting's writer, where this node's heartbeats to the writer's would wait behind a large one.
            ProtocolSerializer.EncodeNow(Context.System, message);
            writer.Tell(message);
            // A write sent to a writer whose node just died is lost until the proxy finds the next one: an apply is sent
            // again until it is journaled, so it goes through within moments of the new writer, not after the timeout.
            // Only small ones: each copy costs the writer a validation and a compile, cheap for them, seconds for 10,000 Services.
            var resend = again is null || message is not WriteConfig || bytes >= ResendBelow ? null
                : Context.System.Scheduler.ScheduleTellRepeatedlyCancelable(ResendAfter, ResendAfter, Self, SendAgain.Instance, Self);
            Receive<SendAgain>(_ => writer.Tell(again!()));
            // With copies in flight, one dropped copy says nothing about the others.
            Receive<ConfigUnavailable>(_ => resend is not null, _ => { });
            var timeout = TimeoutFor(bytes);
            var timer = Context.System.Scheduler.ScheduleTellOnceCancelable(timeout, Self, Expired.Instance, Self);
            Receive<WriteJournaled>(j =>
            {
                // Journaled: only the replication to a majority is left, which the writer gives up on well within this.
                journaled = j.Revision;
                resend?.Cancel();
                timer.Cancel();
                // As long as the writer says its replication may take (an older writer does not say: the same again).
                timeout = j.Replicating is { } replicating ? replicating + AfterReplication : timeout;
                timer = Context.System.Scheduler.ScheduleTellOnceCancelable(timeout, Self, Expired.Instance, Self);
            });
            Receive<Expired>(_ =>
            {
                resend?.Cancel();
                replyTo.Tell(new ConfigUncertain(journaled, journaled is { } revision
                    ? $"journaled as revision {revision}, but the config writer did not confirm it on a majority within {timeout.TotalSeconds:0}s"
                    : $"the config writer did not answer within {timeout.TotalSeconds:0}s; the write may still be applied"));
                Context.Stop(Self);
            });
            ReceiveAny(reply =>
            {
                if (reply is ConfigAccepted accepted)
                {
                    Context.GetLogger().Debug("config revision {0}: acknowledged to the client", accepted.Revision);
                    reply = Decoded(accepted);
                }
                resend?.Cancel();
                timer.Cancel();
                replyTo.Tell(reply);
                Context.Stop(Self);
            });
        }
    }
}
