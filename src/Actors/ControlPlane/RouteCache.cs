using Akka.Actor;
using Akka.DistributedData;
using Akka.Event;

namespace AkkaL4.Actors.ControlPlane;

/// <summary>
/// Every node's subscriber to the replicated configuration: when a newer revision arrives it hands it, decoded and
/// as the text it came in, to <c>apply</c> (compile, swap the snapshot, reconcile listeners, keep the text as the
/// last-known-good copy). A
/// revision that cannot be put in force goes to <c>failed</c> once, and the node keeps the one it has:
/// no retry (the same text fails the same way); the next revision is tried as it comes.
/// </summary>
public sealed class RouteCache : ReceiveActor
{
    public static Props Props(Func<long> appliedRevision, Action<ConfigContent, string> apply, Action<long, string> failed) =>
        Akka.Actor.Props.Create(() => new RouteCache(appliedRevision, apply, failed));

    public RouteCache(Func<long> appliedRevision, Action<ConfigContent, string> apply, Action<long, string> failed)
    {
        var log = Context.GetLogger();
        long lastFailed = 0;
        Receive<Changed>(changed =>
        {
            // Decoded only: the writer validated and compiled it, with the compiler used here, before journaling it.
            var text = changed.Get(ConfigWriter.Key).Value;
            var content = LastKnownGood.Decode(text, "replicated configuration", out var revision, out var problem);
            if (revision <= appliedRevision() || revision <= lastFailed) return;
            try
            {
                if (content is null) throw new FormatException(problem);
                apply(content, text);
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
