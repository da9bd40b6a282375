using Akka.Actor;
using Akka.Cluster.Sharding;
using Akka.Event;
using Akka.Persistence;
using AkkaL4.Messages.Commands;
using AkkaL4.Messages.Events;
using AkkaL4.Messages.Protocol;
using AkkaL4.Messages.Queries;
using AkkaL4.Messages.Serialization;

namespace AkkaL4.Actors.ControlPlane;

/// <summary>
/// One namespace's stored configuration: a sharded, event-sourced entity (entity id = the namespace) holding the
/// namespace's whole content as of the revision the config writer last changed it at. The entities are the store the
/// cluster reads configuration from: <c>GET /v1/config</c> (at the revisions the writer's index names) and a writer
/// whose journal was checkpointed and which has no newer copy at hand. Only the writer writes them, after it has
/// journaled the batch and without waiting for them; a write at a revision the entity already holds (or has passed)
/// changes nothing and is answered with what the entity holds (revision and hash), so the writer may repeat writes freely
/// and never takes different content under the same revision for its own.
/// </summary>
public sealed class RouteTable : ReceivePersistentActor
{
    /// <summary>The entity type's name in Akka.Cluster.Sharding.</summary>
    public const string TypeName = "route-table";

    /// <summary>Shards the namespaces are spread over (about ten per node of a large cluster).</summary>
    public const int Shards = 32;

    private const int SnapshotEvery = 20;

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly string _namespace;
    private NamespaceWritten _state;

    /// <summary>The answer to reads of <see cref="_state"/>, made (and encoded) once for all of them; null until read.</summary>
    private NamespaceContent? _content;

    public override string PersistenceId => PersistenceIdOf(_namespace);

    public static string PersistenceIdOf(string ns) => "route-table-" + ns;

    public RouteTable(string ns)
    {
        _namespace = ns;
        _state = new NamespaceWritten(0, ns, [], ModelJson.Hash([]));
        Recover<SnapshotOffer>(offer =>
        {
            if (offer.Snapshot is NamespaceWritten state) _state = state;
            else if (offer.Snapshot is ManifestNamespaceWritten old) _state = Upgrade(old);
        });
        Recover<NamespaceWritten>(e => _state = e);
        Recover<ManifestNamespaceWritten>(e => _state = Upgrade(e));
        Recover<RecoveryCompleted>(_ => _log.Info("route table {0}: on this node at revision {1}", _namespace, _state.Revision));
        Command<StoreNamespace>(store =>
        {
            // At its own revision, the writer's content replaces what this entity could not read, or hashed by another version.
            var restamp = store.Revision == _state.Revision && ModelJson.VersionOf(_state.Hash) != ModelJson.HashVersion
                          && ModelJson.VersionOf(store.Hash) == ModelJson.HashVersion;
            if (store.Revision <= _state.Revision && !restamp)
            {
                if (store.Revision == _state.Revision && store.Hash != _state.Hash)
                    _log.Error("route table {0}: holds revision {1} with other content (hash {2}) than the config writer sends (hash {3}); it keeps its own, and nobody reads it as the writer's",
                        _namespace, _state.Revision, _state.Hash, store.Hash);
                Sender.Tell(new NamespaceStored(_namespace, _state.Revision, _state.Hash));
                return;
            }
            // A large one's resources are decoded here, on first read, not in remoting's reader (ProtocolSerializer).
            try
            {
                _ = store.Resources.Count;
            }
            catch (System.Runtime.Serialization.SerializationException e)
            {
                _log.Error("route table {0}: revision {1} from the config writer does not decode ({2}); it keeps revision {3}", _namespace, store.Revision, e.Message, _state.Revision);
                return;
            }
            var namespaceWritten = new NamespaceWritten(store.Revision, _namespace, store.Resources, store.Hash);
            // Encoded here, on the write path's thread, not by the journal plugin on the .NET pool (ProtocolSerializer.EncodedOnce).
            ProtocolSerializer.EncodeNow(Context.System, namespaceWritten);
            Persist(namespaceWritten, written =>
            {
                _state = written;
                _content = null;
                if (LastSequenceNr % SnapshotEvery == 0) SaveSnapshot(written);
                Sender.Tell(new NamespaceStored(_namespace, written.Revision, written.Hash));
            });
        });
        Command<ReadNamespace>(_ =>
        {
            _content ??= new NamespaceContent(_namespace, _state.Revision, _state.Resources, _state.Hash);
            // Here, once, for a reader on another node: not in remoting's writer for each read (a reader asks again until it
            // has every namespace). A reader on this node gets the object itself.
            if (Sender.Path.Address.HasGlobalScope) ProtocolSerializer.EncodeNow(Context.System, _content);
            Sender.Tell(_content);
        });
        Command<SaveSnapshotSuccess>(s => DeleteMessages(s.Metadata.SequenceNr));
        Command<SaveSnapshotFailure>(f => _log.Warning("route table {0}: snapshot not saved ({1}); recovery replays its events", _namespace, f.Cause.Message));
        Command<DeleteMessagesSuccess>(_ => { });
        Command<DeleteMessagesFailure>(f => _log.Warning("route table {0}: events before its snapshot not deleted ({1})", _namespace, f.Cause.Message));
    }

    /// <summary>
    /// An older version's event: its YAML decoded once. Content that does not decode keeps its revision under a hash no
    /// content has, so no reader takes it (each checks the hash against the content) and the writer sends it again.
    /// </summary>
    private NamespaceWritten Upgrade(ManifestNamespaceWritten old)
    {
        if (ManifestEvents.Decode(old.Manifests, $"route table {_namespace}", out var problem) is { } resources)
            return new NamespaceWritten(old.Revision, _namespace, resources, ModelJson.Hash(resources));
        _log.Error("route table {0}: revision {1} in its journal does not read back ({2})", _namespace, old.Revision, problem);
        return new NamespaceWritten(old.Revision, _namespace, [], "unreadable");
    }

    /// <summary>Starts this node's shard region of RouteTable entities (settings: akka.cluster.sharding in cluster.hocon).</summary>
    public static IActorRef StartRegion(ActorSystem system) =>
        ClusterSharding.Get(system).Start(TypeName, ns => Props.Create(() => new RouteTable(ns)).WithDispatcher(ControlPlaneWork.WriterDispatcher), ClusterShardingSettings.Create(system), new Extractor());

    /// <summary>
    /// Routes <see cref="INamespaceMessage"/>s to the namespace's entity; Akka's hash of the entity id is the same in every
    /// process, so every node agrees on where a namespace lives.
    /// </summary>
    private sealed class Extractor() : HashCodeMessageExtractor(Shards)
    {
        public override string EntityId(object message) => (message as INamespaceMessage)?.Namespace!;
    }
}
