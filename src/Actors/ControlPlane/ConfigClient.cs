using Akka.Actor;
using Akka.Cluster;
using AkkaL4.Actors.Config;
using AkkaL4.Messages.Model;
using AkkaL4.Messages.Protocol;
using IClusterMessage = AkkaL4.Messages.Protocol.IClusterMessage;

namespace AkkaL4.Actors.ControlPlane;

/// <summary>
/// A node's door to the config writer singleton: takes <see cref="ApplyConfig"/>, <see cref="DeleteResource"/>
/// and <see cref="GetConfig"/> with model records, sends them as manifests through the singleton proxy, and
/// answers in model records. Each answer says what is certain: <see cref="ConfigAccepted"/> (journaled and on a
/// majority of nodes), <see cref="ConfigRejected"/>, <see cref="ConfigUnavailable"/> (certainly not applied) or
/// <see cref="ConfigUncertain"/> (no answer in time, or journaled but not confirmed on a majority). A read that
/// gets no answer in time fails with an <see cref="AskTimeoutException"/>.
/// </summary>
public sealed class ConfigClient : ReceiveActor
{
    /// <summary>How long a write may wait to reach the writer (it drops it unread after that, and says so).</summary>
    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long this client waits for an answer: the deadline plus the writer's time for a batch (journal, then
    /// replication to a majority, which gives up after 3 s), so a write the writer took is answered unless the
    /// writer crashed or its node became unreachable meanwhile; that outcome is then uncertain.
    /// </summary>
    public static readonly TimeSpan Timeout = Deadline + TimeSpan.FromSeconds(5);

    public static Props Props(IActorRef writer) => Akka.Actor.Props.Create(() => new ConfigClient(writer));

    public ConfigClient(IActorRef writer)
    {
        var cluster = Cluster.Get(Context.System);
        Receive<ApplyConfig>(a => Write(cluster, writer, () => new WriteConfig(ManifestEncoder.ToYaml(a.Resources), DateTimeOffset.UtcNow + Deadline)));
        Receive<DeleteResource>(d => Write(cluster, writer, () => new RemoveResource(d.Key.Kind, d.Key.Namespace, d.Key.Name, DateTimeOffset.UtcNow + Deadline)));
        Receive<GetConfig>(g => Context.ActorOf(Request.Props(writer, new ReadConfig(g.Kind, g.Namespace), Sender)));
    }

    /// <summary>
    /// A write is sent only while this node sees a majority of the cluster reachable: without one no writer can
    /// acknowledge it (replication needs a majority), so the answer comes at once and is certain.
    /// </summary>
    private static void Write(Cluster cluster, IActorRef writer, Func<IClusterMessage> message)
    {
        var state = cluster.State;
        var members = state.Members.Count(m => m.Status is MemberStatus.Up or MemberStatus.Leaving or MemberStatus.Joining or MemberStatus.WeaklyUp);
        var unreachable = state.Unreachable.Count(m => m.Status is not (MemberStatus.Down or MemberStatus.Exiting or MemberStatus.Removed));
        if (members == 0 || (members - unreachable) * 2 <= members)
        {
            Context.Sender.Tell(new ConfigUnavailable($"only {members - unreachable} of {members} cluster members are reachable from this node; a write needs a majority"));
            return;
        }
        Context.ActorOf(Request.Props(writer, message(), Context.Sender));
    }

    /// <summary>One request to the writer: remembers the revision a write was journaled as, until the answer or the timeout.</summary>
    private sealed class Request : ReceiveActor
    {
        public static Props Props(IActorRef writer, IClusterMessage message, IActorRef replyTo) =>
            Akka.Actor.Props.Create(() => new Request(writer, message, replyTo));

        private sealed class Expired
        {
            public static readonly Expired Instance = new();
        }

        public Request(IActorRef writer, IClusterMessage message, IActorRef replyTo)
        {
            long? journaled = null;
            writer.Tell(message);
            var timer = Context.System.Scheduler.ScheduleTellOnceCancelable(Timeout, Self, Expired.Instance, Self);
            Receive<WriteJournaled>(j => journaled = j.Revision);
            Receive<Expired>(_ =>
            {
                replyTo.Tell(message is ReadConfig
                    ? new Status.Failure(new AskTimeoutException($"the config writer did not answer within {Timeout.TotalSeconds:0}s"))
                    : new ConfigUncertain(journaled, journaled is { } revision
                        ? $"journaled as revision {revision}, but the config writer did not confirm it on a majority within {Timeout.TotalSeconds:0}s"
                        : $"the config writer did not answer within {Timeout.TotalSeconds:0}s; the write may still be applied"));
                Context.Stop(Self);
            });
            ReceiveAny(reply =>
            {
                timer.Cancel();
                replyTo.Tell(FromWire(reply));
                Context.Stop(Self);
            });
        }
    }

    private static object FromWire(object reply) => reply switch
    {
        WriteAccepted a => new ConfigAccepted(a.Revision,
            a.Changes.Select(c => new ResourceChange(new ResourceKey(c.Kind, c.Namespace, c.Name), Enum.Parse<ChangeAction>(c.Action, ignoreCase: true))).ToList(),
            a.Warnings.Select(w => Diagnostic.Warning(w.Resource, w.Field, w.Message)).ToList()),
        WriteRejected r => new ConfigRejected(r.Errors.Select(e => Diagnostic.Error(e.Resource, e.Field, e.Message)).ToList(), r.Conflict, r.NotFound),
        WriteUncertain u => new ConfigUncertain(u.Revision, u.Reason),
        WriteDropped d => new ConfigUnavailable(d.Reason),
        ConfigAtRevision c => new ConfigContent(c.Revision, ManifestDecoder.Decode(c.Manifests, "writer").Resources.Select(d => d.Resource).ToList()),
        _ => new Status.Failure(new InvalidOperationException($"unexpected reply {reply.GetType().Name}")),
    };
}
