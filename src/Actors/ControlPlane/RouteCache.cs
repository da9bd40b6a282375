using Akka.Actor;
using Akka.DistributedData;
using Akka.Event;
using AkkaL4.Messages.Model;

namespace AkkaL4.Actors.ControlPlane;

/// <summary>
/// Every node's subscriber to the replicated configuration (typed resources, as the writer validated and compiled them):
/// when a newer revision arrives it hands it to <c>apply</c> (compile, swap the snapshot, reconcile listeners, keep it as
/// the last-known-good copy). A revision that cannot be put in force goes to <c>failed</c> once, and the node keeps the
/// one it has: no retry (the same content fails the same way); the next revision is tried as it comes.
/// </summary>
public sealed class RouteCache : ReceiveActor
{
    public static Props Props(Func<long> appliedRevision, Action<ConfigContent> apply, Action<long, string> failed) =>
        Akka.Actor.Props.Create(() => new RouteCache(appliedRevision, apply, failed));

    public RouteCache(Func<long> appliedRevision, Action<ConfigContent> apply, Action<long, string> failed)
    {
        var log = Context.GetLogger();
        long lastFailed = 0;
        Receive<Changed>(changed =>
        {
            // Nothing to decode or validate: the writer validated and compiled it, with the compiler used here, before journaling it.
            var content = changed.Get(ConfigWriter.Key).Value;
            var revision = content.Revision;
            if (revision <= appliedRevision() || revision <= lastFailed) return;
            log.Debug("config revision {0}: replicated to this node", revision);
            try
            {
                apply(content);
            }
            // Whatever went wrong, this actor must not restart over it: its restart would read the same revision again, in a loop.
            catch (Exception e)
            {
                lastFailed = revision;
                log.Debug("revision {0} failed: {1}", revision, e);
                failed(revision, e.Message);
            }
        });
    }

    protected override void PreStart() => DistributedData.Get(Context.System).Replicator.Tell(Dsl.Subscribe(ConfigWriter.Key, Self));
}
