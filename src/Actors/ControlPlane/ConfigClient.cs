using Akka.Actor;
using AkkaL4.Actors.Config;
using AkkaL4.Messages.Model;
using AkkaL4.Messages.Protocol;

namespace AkkaL4.Actors.ControlPlane;

/// <summary>
/// A node's door to the config writer singleton: takes <see cref="ApplyConfig"/>, <see cref="DeleteResource"/>
/// and <see cref="GetConfig"/> with model records, sends them as manifests through the singleton proxy, and
/// answers in model records. No answer in time: <see cref="Status.Failure"/> with an <see cref="AskTimeoutException"/>.
/// </summary>
public sealed class ConfigClient : ReceiveActor
{
    /// <summary>How long a write may wait to reach the writer (it is dropped after that).</summary>
    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long this client waits for an answer: the deadline plus the writer's time for a batch (RouteTable
    /// entities answer in milliseconds, replication to a majority takes 3 s at most), so a write the writer took
    /// is answered unless its RouteTable entities cannot be reached meanwhile (the writer then keeps sending to
    /// them and answers nobody falsely) or it crashed (its successor completes the batch; a retry finds it unchanged).
    /// </summary>
    public static readonly TimeSpan Timeout = Deadline + TimeSpan.FromSeconds(5);

    public static Props Props(IActorRef writer) => Akka.Actor.Props.Create(() => new ConfigClient(writer));

    public ConfigClient(IActorRef writer)
    {
        Receive<ApplyConfig>(a => Forward(writer, new WriteConfig(ManifestEncoder.ToYaml(a.Resources), DateTimeOffset.UtcNow + Deadline)));
        Receive<DeleteResource>(d => Forward(writer, new RemoveResource(d.Key.Kind, d.Key.Namespace, d.Key.Name, DateTimeOffset.UtcNow + Deadline)));
        Receive<GetConfig>(g => Forward(writer, new ReadConfig(g.Kind, g.Namespace)));
    }

    private static void Forward(IActorRef writer, IClusterMessage message)
    {
        var replyTo = Context.Sender;
        writer.Ask<object>(message, Timeout).ContinueWith(t => t.IsCompletedSuccessfully
            ? FromWire(t.Result)
            : new Status.Failure(new AskTimeoutException($"the config writer did not answer within {Timeout.TotalSeconds:0}s")),
            TaskContinuationOptions.ExecuteSynchronously).PipeTo(replyTo);
    }

    private static object FromWire(object reply) => reply switch
    {
        WriteAccepted a => new ConfigAccepted(a.Revision,
            a.Changes.Select(c => new ResourceChange(new ResourceKey(c.Kind, c.Namespace, c.Name), Enum.Parse<ChangeAction>(c.Action, ignoreCase: true))).ToList(),
            a.Warnings.Select(w => Diagnostic.Warning(w.Resource, w.Field, w.Message)).ToList()),
        WriteRejected r => new ConfigRejected(r.Errors.Select(e => Diagnostic.Error(e.Resource, e.Field, e.Message)).ToList(), r.Conflict, r.NotFound),
        ConfigAtRevision c => new ConfigContent(c.Revision, ConfigCheck.Check(c.Manifests, "writer").Resources),
        _ => new Status.Failure(new InvalidOperationException($"unexpected reply {reply.GetType().Name}")),
    };
}
