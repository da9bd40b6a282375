using Akka.Actor;
using Akka.DistributedData;
using Akka.Event;

namespace AkkaL4.Actors.ControlPlane;

/// <summary>
/// Every node's subscriber to the replicated configuration: when a newer revision arrives it hands it
/// to <c>apply</c> (compile, swap the snapshot, reconcile listeners, save the last-known-good copy).
/// </summary>
public sealed class RouteCache : ReceiveActor
{
    public static Props Props(Func<long> appliedRevision, Action<ConfigContent> apply) =>
        Akka.Actor.Props.Create(() => new RouteCache(appliedRevision, apply));

    public RouteCache(Func<long> appliedRevision, Action<ConfigContent> apply)
    {
        var log = Context.GetLogger();
        Receive<Changed>(changed =>
        {
            var text = changed.Get(ConfigWriter.Key).Value;
            var content = LastKnownGood.Parse(text, "replicated configuration", out var problem);
            if (content is null)
            {
                log.Error("replicated configuration ignored: {0}", problem);
                return;
            }
            if (content.Revision <= appliedRevision()) return;
            apply(content);
        });
    }

    protected override void PreStart() => DistributedData.Get(Context.System).Replicator.Tell(Dsl.Subscribe(ConfigWriter.Key, Self));
}
