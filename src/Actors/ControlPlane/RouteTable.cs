using System.Globalization;
using System.Text;
using Akka.Actor;
using Akka.Cluster.Sharding;
using Akka.Event;
using Akka.Persistence;
using AkkaL4.Messages.Protocol;

namespace AkkaL4.Actors.ControlPlane;

/// <summary>
/// One namespace's stored configuration: a sharded, event-sourced entity (entity id = the namespace) that
/// holds the namespace's whole content as of the revision the config writer last wrote it at. Only the
/// writer writes it, and only after it has journaled the batch; a write at a revision the entity already
/// holds (or has passed) changes nothing and is acknowledged again, so the writer and its successors may
/// repeat writes freely. Nodes do not route from here: every node gets the whole configuration through
/// replication (see <see cref="ConfigWriter"/>).
/// </summary>
public sealed class RouteTable : ReceivePersistentActor
{
    /// <summary>The entity type's name in Akka.Cluster.Sharding.</summary>
    public const string TypeName = "route-table";

    /// <summary>Shards the namespaces are spread over (about ten per node of a large cluster).</summary>
    public const int Shards = 32;

    private const int SnapshotEvery = 50;

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly string _namespace;
    private NamespaceWritten _state;

    public override string PersistenceId => PersistenceIdOf(_namespace);

    public static string PersistenceIdOf(string ns) => "route-table-" + ns;

    public static Props Props(string ns) => Akka.Actor.Props.Create(() => new RouteTable(ns));

    public RouteTable(string ns)
    {
        _namespace = ns;
        _state = new NamespaceWritten(0, ns, "");
        Recover<SnapshotOffer>(offer =>
        {
            if (offer.Snapshot is NamespaceWritten state) _state = state;
        });
        Recover<NamespaceWritten>(e => _state = e);
        Command<WriteNamespace>(write =>
        {
            if (write.Revision <= _state.Revision)
            {
                Sender.Tell(new NamespaceStored(_namespace, _state.Revision));
                return;
            }
            Persist(new NamespaceWritten(write.Revision, _namespace, write.Manifests), written =>
            {
                _state = written;
                if (LastSequenceNr % SnapshotEvery == 0) SaveSnapshot(written);
                Sender.Tell(new NamespaceStored(_namespace, written.Revision));
            });
        });
        Command<ReadNamespace>(_ => Sender.Tell(new NamespaceContent(_namespace, _state.Revision, _state.Manifests)));
        Command<SaveSnapshotSuccess>(_ => { });
        Command<SaveSnapshotFailure>(f => _log.Warning("route table {0}: snapshot not saved ({1}); recovery replays its events", _namespace, f.Cause.Message));
    }

    /// <summary>Starts this node's shard region of RouteTable entities (settings: akka.cluster.sharding in cluster.hocon).</summary>
    public static IActorRef StartRegion(ActorSystem system) =>
        ClusterSharding.Get(system).Start(TypeName, Props, ClusterShardingSettings.Create(system), new Extractor());

    /// <summary>
    /// Routes <see cref="INamespaceMessage"/>s to the namespace's entity. The shard is a hash of the namespace that
    /// is the same in every process and every version (FNV-1a over its UTF-8 bytes; <c>string.GetHashCode</c> is
    /// randomised per process), so every node agrees on where a namespace lives.
    /// </summary>
    internal sealed class Extractor() : HashCodeMessageExtractor(Shards)
    {
        public override string EntityId(object message) => (message as INamespaceMessage)?.Namespace!;

        public override string ShardId(string entityId, object? messageHint = null) => ShardOf(entityId);

        public static string ShardOf(string ns) => (Fnv1a(ns) % Shards).ToString(CultureInfo.InvariantCulture);

        private static uint Fnv1a(string text)
        {
            var hash = 2166136261u;
            foreach (var b in Encoding.UTF8.GetBytes(text)) hash = (hash ^ b) * 16777619u;
            return hash;
        }
    }
}
