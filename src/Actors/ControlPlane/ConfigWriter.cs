using Akka.Actor;
using Akka.Cluster;
using Akka.DistributedData;
using Akka.Event;
using Akka.Persistence;
using AkkaL4.Actors.Config;
using AkkaL4.Messages.Commands;
using AkkaL4.Messages.Events;
using AkkaL4.Messages.Model;
using AkkaL4.Messages.Queries;

namespace AkkaL4.Actors.ControlPlane;

/// <summary>
/// The cluster singleton every configuration write goes through. For a batch it:
/// <list type="number">
/// <item>checks it against the whole stored configuration (validation, and the nodes' own compiler: only what
///   every node can put in force is taken) and assigns the next revision;</item>
/// <item>journals it (<see cref="BatchCommitted"/>: the revision and the new content of each namespace the batch
///   changed), the write-ahead record that makes the batch all-or-nothing, and tells the client the revision;</item>
/// <item>replicates the whole configuration to a majority of nodes (Akka.DistributedData, the revision as the
///   register's clock), from where every node's <see cref="RouteCache"/> puts it in force;</item>
/// <item>acknowledges the write: journaled and on a majority. Not on a majority within the replication timeout:
///   the answer says the outcome is uncertain (it spreads as nodes become reachable).</item>
/// </list>
/// Meanwhile, and never in the acknowledgement's way, it hands each changed namespace to its sharded
/// <see cref="RouteTable"/> entity, the store the configuration is read from: an outbox of namespaces whose entity has
/// not yet confirmed their revision, sent again until it does (a hung or dead shard host only delays the outbox). Once
/// the outbox is empty it checkpoints: a snapshot of its index (which revision of each namespace the entities hold), and
/// it deletes its journal up to there, so its journal is the write-ahead log of batches the entities have not all
/// confirmed.
/// <para>One batch at a time: later writes wait (stashed) until the batch is answered. Nodes only ever receive whole
/// configurations, so none sees part of a batch. A new writer (hand-over, restart, full-cluster restart) starts
/// from the newest of its journal (checkpoint and later batches), the configuration replicated to a majority and its
/// own node's; it does not start without that majority read (a revision number must never be given twice). It reads
/// the entities only when the journal is the newest and names namespaces only they hold (a full-cluster restart
/// without a newer copy on the node). Before it takes any write it finishes whatever a crashed predecessor journaled:
/// it replicates that revision and sends the entities what they may have missed.</para>
/// </summary>
public sealed class ConfigWriter : ReceivePersistentActor, IWithTimers
{
    public static readonly LWWRegisterKey<string> Key = new("akkal4-config");
    private static readonly TimeSpan ReplicationTimeout = TimeSpan.FromSeconds(3);

    /// <summary>A checkpoint once this many journal events (and the entities have confirmed them) keeps the journal short.</summary>
    internal const int SnapshotEvery = 50;

    /// <summary>How often namespaces the entities have not confirmed are sent again, and their recovery reads asked again.</summary>
    private static readonly TimeSpan Redeliver = TimeSpan.FromSeconds(3);

    /// <summary>A journaled batch on its way to a majority of nodes, and whom to tell when it is there.</summary>
    private sealed record Pending(long Revision, IActorRef ReplyTo, ConfigAccepted Reply);

    private sealed class ReadAgain
    {
        public static readonly ReadAgain Instance = new();
    }

    private sealed class SendAgain
    {
        public static readonly SendAgain Instance = new();
    }

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly IActorRef _replicator = DistributedData.Get(Context.System).Replicator;
    private readonly UniqueAddress _self = Cluster.Get(Context.System).SelfUniqueAddress;
    private readonly Func<ConfigContent?> _localConfig;
    private readonly Func<long, bool>? _crashAfterJournaling;
    private readonly IActorRef _routeTables;
    private ConfigStore _store = new();
    private Pending? _pending;

    /// <summary>The revision each namespace last changed at (what its entity holds once the outbox has it confirmed).</summary>
    private readonly Dictionary<string, long> _index = new(StringComparer.Ordinal);

    /// <summary>Namespaces sent to their entity and not yet confirmed.</summary>
    private readonly Dictionary<string, StoreNamespace> _outbox = new(StringComparer.Ordinal);

    /// <summary>The journal's sequence number at the last checkpoint (or whole-configuration snapshot).</summary>
    private long _checkpointedAt;
    private bool _checkpointing;

    // Recovery: the newest checkpoint or whole configuration in the journal (snapshot or event), then the
    // namespaces that later batches changed (the latest content of each wins).
    private ConfigCommitted? _journalBase;
    private WriterCheckpoint? _journalCheckpoint;
    private readonly Dictionary<string, NamespaceManifests> _journalNamespaces = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _journalNamespaceRevisions = new(StringComparer.Ordinal);
    private long _journalRevision;

    public override string PersistenceId => "akkal4-config-writer";

    public ITimerScheduler Timers { get; set; } = null!;

    /// <param name="localConfig">This node's configuration in force (a candidate to start from).</param>
    /// <param name="routeTables">The shard region of the <see cref="RouteTable"/> entities.</param>
    public static Props Props(Func<ConfigContent?> localConfig, IActorRef routeTables) => Props(localConfig, routeTables, null);

    /// <param name="crashAfterJournaling">Tests only: called with each batch's revision right after it is journaled;
    /// true makes the writer stop there, before anything else happens to the batch (a crash mid-batch).</param>
    internal static Props Props(Func<ConfigContent?> localConfig, IActorRef routeTables, Func<long, bool>? crashAfterJournaling) =>
        Akka.Actor.Props.Create(() => new ConfigWriter(localConfig, routeTables, crashAfterJournaling));

    /// <summary>Public for Akka's actor creation; use <see cref="Props(Func{ConfigContent?}, IActorRef)"/>.</summary>
    public ConfigWriter(Func<ConfigContent?> localConfig, IActorRef routeTables, Func<long, bool>? crashAfterJournaling)
    {
        _localConfig = localConfig;
        _routeTables = routeTables;
        _crashAfterJournaling = crashAfterJournaling;
        Recover<SnapshotOffer>(offer =>
        {
            _checkpointedAt = offer.Metadata.SequenceNr;
            if (offer.Snapshot is ConfigCommitted whole) JournaledWhole(whole);
            else if (offer.Snapshot is WriterCheckpoint checkpoint)
            {
                JournaledWhole(null);
                _journalCheckpoint = checkpoint;
                _journalRevision = checkpoint.Revision;
            }
        });
        Recover<ConfigCommitted>(JournaledWhole);
        Recover<BatchCommitted>(batch =>
        {
            foreach (var ns in batch.Namespaces)
            {
                _journalNamespaces[ns.Namespace] = ns;
                _journalNamespaceRevisions[ns.Namespace] = batch.Revision;
            }
            _journalRevision = batch.Revision;
        });
        Recover<RecoveryCompleted>(_ => _replicator.Tell(Dsl.Get(Key, new ReadMajority(ReplicationTimeout))));
        Command<GetSuccess>(g => Start(g.Get(Key).Value));
        Command<NotFound>(_ => Start(null));
        Command<GetFailure>(_ =>
        {
            // Starting without it could give a revision number a second time (a majority may hold a newer one).
            _log.Warning("config writer: no majority of nodes answered its read; it takes no write until one does");
            Timers.StartSingleTimer(nameof(ReadAgain), ReadAgain.Instance, TimeSpan.FromSeconds(1));
        });
        Command<ReadAgain>(_ => _replicator.Tell(Dsl.Get(Key, new ReadMajority(ReplicationTimeout))));
        CommandAny(_ => Stash.Stash());
    }

    /// <summary>The journal write failed (the writer stops, and its supervisor starts it again from the journal).</summary>
    protected override void OnPersistFailure(Exception cause, object @event, long sequenceNr)
    {
        _pending?.ReplyTo.Tell(new ConfigUncertain(null, $"the journal write failed ({cause.Message}); whether it was stored is not known"));
        _pending = null;
        base.OnPersistFailure(cause, @event, sequenceNr);
    }

    private void JournaledWhole(ConfigCommitted? whole)
    {
        _journalBase = whole;
        _journalCheckpoint = null;
        _journalNamespaces.Clear();
        _journalNamespaceRevisions.Clear();
        _journalRevision = whole?.Revision ?? 0;
    }

    /// <summary>
    /// The configuration the journal holds, <paramref name="beneath"/> (the content of the namespaces no later batch
    /// changed) with the later batches on top (null: a batch does not read back).
    /// </summary>
    private ConfigContent? FromJournal(IEnumerable<Resource> beneath)
    {
        var resources = beneath.Where(r => !_journalNamespaces.ContainsKey(r.Metadata.Namespace)).ToList();
        foreach (var (ns, manifests) in _journalNamespaces)
        {
            var decoded = ManifestDecoder.Decode(manifests.Manifests, $"journal (namespace {ns})", LastKnownGood.Stored);
            if (!decoded.Ok)
            {
                _log.Error("config writer: journal revision {0} ignored: {1}", _journalRevision, decoded.Errors[0]);
                return null;
            }
            resources.AddRange(decoded.Resources.Select(d => d.Resource));
        }
        return new ConfigContent(_journalRevision, resources);
    }

    /// <summary>
    /// Starts from the newest of the journal, the replicated copy and this node's. The journal's content is only put
    /// together when it is the newest; the namespaces its checkpoint names and no later batch changed then come from a
    /// copy at least as new as the checkpoint, or else from their <see cref="RouteTable"/> entities.
    /// </summary>
    private void Start(string? replicated)
    {
        var replicatedContent = replicated is null ? null : LastKnownGood.Decode(replicated, "replicated configuration", out _, out _);
        var other = new[] { replicatedContent, _localConfig() }.OfType<ConfigContent>().MaxBy(c => c.Revision);
        if (_journalRevision <= (other?.Revision ?? 0))
        {
            Begin(other, replicatedContent);
            return;
        }
        if (_journalBase is { } whole)
        {
            var decoded = LastKnownGood.Decode(whole.Manifests, "journal", out _, out var problem);
            if (decoded is null) _log.Error("config writer: journal revision {0} ignored: {1}", whole.Revision, problem);
            Begin(decoded is null ? other : FromJournal(decoded.Resources) ?? other, replicatedContent);
            return;
        }
        var unchanged = (_journalCheckpoint?.Namespaces ?? []).Where(n => !_journalNamespaces.ContainsKey(n.Namespace)).ToList();
        if (unchanged.Count == 0 || other is not null && other.Revision >= _journalCheckpoint!.Revision)
        {
            var wanted = unchanged.Select(n => n.Namespace).ToHashSet(StringComparer.Ordinal);
            Begin(FromJournal(other?.Resources.Where(r => wanted.Contains(r.Metadata.Namespace)) ?? []) ?? other, replicatedContent);
            return;
        }
        _log.Info("config writer: revision {0} is newer in its journal than in any copy at hand; reading {1} namespaces from their route tables",
            _journalRevision, unchanged.Count);
        Become(() => ReadingRouteTables(unchanged, replicatedContent));
    }

    /// <summary>The checkpoint's namespaces from their entities, each at the revision the checkpoint names. Everything else waits.</summary>
    private void ReadingRouteTables(List<NamespaceRevision> unchanged, ConfigContent? replicatedContent)
    {
        var missing = unchanged.ToDictionary(n => n.Namespace, n => n.Revision, StringComparer.Ordinal);
        var resources = new List<Resource>();
        void Ask()
        {
            foreach (var ns in missing.Keys) _routeTables.Tell(new ReadNamespace(ns));
        }
        Command<NamespaceContent>(c =>
        {
            if (!missing.TryGetValue(c.Namespace, out var wanted)) return;
            if (c.Revision != wanted)
            {
                _log.Warning("config writer: route table {0} holds revision {1}, its checkpoint names {2}; asking again", c.Namespace, c.Revision, wanted);
                return;
            }
            var decoded = ManifestDecoder.Decode(c.Manifests, $"route table {c.Namespace}", LastKnownGood.Stored);
            if (!decoded.Ok)
            {
                _log.Error("config writer: route table {0} does not read back: {1}", c.Namespace, decoded.Errors[0]);
                return;
            }
            resources.AddRange(decoded.Resources.Select(d => d.Resource));
            missing.Remove(c.Namespace);
            if (missing.Count > 0) return;
            Timers.Cancel(nameof(SendAgain));
            Begin(FromJournal(resources), replicatedContent);
        });
        Command<SendAgain>(_ =>
        {
            _log.Warning("config writer: waiting for the route tables of {0}", string.Join(", ", missing.Keys.Take(5)) + (missing.Count > 5 ? ", ..." : ""));
            Ask();
        });
        CommandAny(_ => Stash.Stash());
        Ask();
        Timers.StartPeriodicTimer(nameof(SendAgain), SendAgain.Instance, Redeliver);
    }

    private void Begin(ConfigContent? start, ConfigContent? replicatedContent)
    {
        var journalRevision = _journalRevision;
        // A whole configuration journaled (an older writer's, or one this writer started from): its entities may lack any of it.
        var wholeRevision = _journalBase?.Revision;
        var journalIndex = (_journalCheckpoint?.Namespaces ?? []).ToDictionary(n => n.Namespace, n => n.Revision, StringComparer.Ordinal);
        foreach (var (ns, revision) in _journalNamespaceRevisions) journalIndex[ns] = revision;
        // What the entities may not have: the batches after the checkpoint (or everything, without one).
        var unconfirmed = _journalNamespaceRevisions.Keys.ToHashSet(StringComparer.Ordinal);
        JournaledWhole(null);
        _store = new ConfigStore(start?.Revision ?? 0, start?.Resources);
        var contents = Contents();
        _index.Clear();
        _outbox.Clear();
        if (start is not null && start.Revision > journalRevision)
        {
            // Newer than the journal (another host's, or a journal that was lost): every namespace at this revision.
            foreach (var ns in contents.Keys.Concat(journalIndex.Keys)) _index[ns] = start.Revision;
            unconfirmed.UnionWith(_index.Keys);
        }
        else
        {
            foreach (var (ns, revision) in journalIndex) _index[ns] = revision;
            foreach (var ns in contents.Keys.Where(ns => wholeRevision is not null || !_index.ContainsKey(ns)))
            {
                _index.TryAdd(ns, wholeRevision ?? journalRevision);
                unconfirmed.Add(ns);
            }
        }
        foreach (var ns in unconfirmed)
            _outbox[ns] = new StoreNamespace(ns, _index[ns], ManifestEncoder.ToYaml(contents.GetValueOrDefault(ns) ?? []));
        _log.Info("config writer started at revision {0}", _store.Revision);
        if (start is null)
        {
            Serve();
            return;
        }

        // Before taking writes, finish what a predecessor may have left half done: the nodes (the register keeps
        // the newer of two revisions, so a later batch may overtake this) and the route tables.
        if (start.Revision > (replicatedContent?.Revision ?? 0)) Replicate(request: null);
        if (start.Revision > journalRevision)
        {
            // Journaled whole, so the batches that follow build on it when this journal is read again.
            Become(Completing);
            Persist(new ConfigCommitted(start.Revision, LastKnownGood.Format(_store.Read(null, null))), _ => Serve());
        }
        else Serve();
    }

    private void Serving()
    {
        Common();
        Command<WriteConfig>(w =>
        {
            if (TooLate(w.Deadline)) return;
            // The sender's node held the user's text to the admin API's limits; this is that node's encoding of it, which
            // can be a little longer (4,188,565 bytes sent came as 4,197,885), so those limits are not applied again.
            var decoded = ManifestDecoder.Decode(w.Manifests, "request", LastKnownGood.Stored);
            var result = decoded.Ok ? _store.Apply(decoded.Resources.Select(d => d.Resource).ToList(), DateTimeOffset.UtcNow, w.DryRun) : new ConfigRejected(decoded.Errors);
            // A dry run's acceptance names the revision in force, which it leaves as it is: nothing to journal.
            if (w.DryRun && result is ConfigAccepted dry) Sender.Tell(dry with { Warnings = Unplaced(dry.Warnings) });
            else Answer(result);
        });
        Command<RemoveResource>(r =>
        {
            if (TooLate(r.Deadline)) return;
            var kind = ResourceKinds.Types.Keys.FirstOrDefault(k => string.Equals(k, r.Kind, StringComparison.OrdinalIgnoreCase)) ?? r.Kind;
            Answer(_store.Delete(new ResourceKey(kind, r.Namespace, r.Name)));
        });
    }

    /// <summary>A batch is journaled and on its way to a majority of nodes. Writes wait.</summary>
    private void Completing()
    {
        // Before Common's handlers, which take the answers nobody waits for.
        Command<UpdateSuccess>(s => s.Request is Pending, s =>
        {
            var pending = (Pending)s.Request;
            pending.ReplyTo.Tell(pending.Reply);
            Serve();
        });
        Command<IUpdateFailure>(f => f.Request is Pending, f =>
        {
            var pending = (Pending)f.Request;
            _log.Warning("config revision {0}: not replicated to a majority in time; it spreads as nodes become reachable", pending.Revision);
            pending.ReplyTo.Tell(new ConfigUncertain(pending.Revision,
                $"journaled as revision {pending.Revision}, but not confirmed on a majority of nodes in time; it spreads as nodes become reachable"));
            Serve();
        });
        Common();
        CommandAny(_ => Stash.Stash());
    }

    /// <summary>Handled whatever the writer is doing.</summary>
    private void Common()
    {
        Command<ReadIndex>(_ =>
        {
            var held = _store.Resources.Select(r => r.Metadata.Namespace).ToHashSet(StringComparer.Ordinal);
            Sender.Tell(new ConfigIndex(_store.Revision, _index.Where(i => held.Contains(i.Key)).OrderBy(i => i.Key, StringComparer.Ordinal)
                .Select(i => new NamespaceRevision(i.Key, i.Value)).ToList()));
        });
        Command<NamespaceStored>(stored =>
        {
            if (_outbox.TryGetValue(stored.Namespace, out var sent) && sent.Revision <= stored.Revision) _outbox.Remove(stored.Namespace);
            Checkpoint();
        });
        Command<RedeliverNamespace>(r =>
        {
            if (!_index.TryGetValue(r.Namespace, out var revision) || revision <= r.Held) return;
            if (!_outbox.TryGetValue(r.Namespace, out var store))
                _outbox[r.Namespace] = store = new StoreNamespace(r.Namespace, revision, Content(r.Namespace));
            _routeTables.Tell(store);
        });
        Command<SendAgain>(_ =>
        {
            foreach (var store in _outbox.Values) _routeTables.Tell(store);
        });
        Command<SaveSnapshotSuccess>(s =>
        {
            _checkpointing = false;
            _checkpointedAt = s.Metadata.SequenceNr;
            // The entities hold everything up to here: the journal keeps only what follows.
            DeleteMessages(s.Metadata.SequenceNr);
            DeleteSnapshots(new SnapshotSelectionCriteria(s.Metadata.SequenceNr - 1));
        });
        Command<SaveSnapshotFailure>(f =>
        {
            _checkpointing = false;
            _log.Warning("config writer: checkpoint not saved ({0}); the journal keeps its batches", f.Cause.Message);
        });
        Command<DeleteMessagesSuccess>(_ => { });
        Command<DeleteMessagesFailure>(f => _log.Warning("config writer: batches before the checkpoint not deleted ({0})", f.Cause.Message));
        Command<DeleteSnapshotsSuccess>(_ => { });
        Command<DeleteSnapshotsFailure>(f => _log.Warning("config writer: older snapshots not deleted ({0})", f.Cause.Message));
        // The start's replication (no client waits on it).
        Command<UpdateSuccess>(_ => { });
        Command<IUpdateFailure>(_ => _log.Warning("config writer: revision {0} not yet on a majority of nodes; it spreads as nodes become reachable", _store.Revision));
    }

    private void Serve()
    {
        Become(Serving);
        if (!Timers.IsTimerActive(nameof(SendAgain)))
        {
            foreach (var store in _outbox.Values) _routeTables.Tell(store);
            Timers.StartPeriodicTimer(nameof(SendAgain), SendAgain.Instance, Redeliver);
        }
        Stash.UnstashAll();
    }

    /// <summary>
    /// Once every entity has confirmed what it was sent and enough batches have come since the last one: a checkpoint (the
    /// index), after which the journal before it is deleted.
    /// </summary>
    private void Checkpoint()
    {
        if (_outbox.Count > 0 || _checkpointing || LastSequenceNr - _checkpointedAt < SnapshotEvery) return;
        var held = _store.Resources.Select(r => r.Metadata.Namespace).ToHashSet(StringComparer.Ordinal);
        _checkpointing = true;
        SaveSnapshot(new WriterCheckpoint(_store.Revision, _index.Where(i => held.Contains(i.Key)).OrderBy(i => i.Key, StringComparer.Ordinal)
            .Select(i => new NamespaceRevision(i.Key, i.Value)).ToList()));
    }

    /// <summary>A namespace's whole content in the store, as manifests (empty when it has no resources left).</summary>
    private string Content(string ns) => ManifestEncoder.ToYaml(_store.Read(null, ns).Resources);

    /// <summary>The store's resources by namespace, each in the order <see cref="ConfigStore.Read"/> gives.</summary>
    private Dictionary<string, List<Resource>> Contents()
    {
        var contents = new Dictionary<string, List<Resource>>(StringComparer.Ordinal);
        foreach (var r in _store.Read(null, null).Resources)
        {
            if (!contents.TryGetValue(r.Metadata.Namespace, out var list)) contents[r.Metadata.Namespace] = list = [];
            list.Add(r);
        }
        return contents;
    }

    /// <summary>The whole configuration to every node, confirmed by a majority (the answer comes with <paramref name="request"/>).</summary>
    private void Replicate(Pending? request)
    {
        var text = LastKnownGood.Format(_store.Read(null, null));
        var register = new LWWRegister<string>(_self, text, _store.Revision);
        // A large configuration takes the nodes longer to receive and store: a second more per 250 KB.
        var timeout = ReplicationTimeout + TimeSpan.FromSeconds(text.Length / 250_000.0);
        _replicator.Tell(Dsl.Update(Key, register, new WriteMajority(timeout), request, r => r.Merge(register)));
    }

    /// <summary>A write that waited past its deadline (no writer reachable meanwhile) was already answered "not applied".</summary>
    private bool TooLate(DateTimeOffset deadline)
    {
        if (DateTimeOffset.UtcNow <= deadline) return false;
        var late = DateTimeOffset.UtcNow - deadline;
        _log.Warning("config writer: dropped a write that arrived {0} after its deadline", late);
        Sender.Tell(new ConfigUnavailable($"the write reached the config writer {late.TotalSeconds:0.0}s after its deadline (the writer was starting, moving or busy) and was not applied"));
        return true;
    }

    private void Answer(object result)
    {
        switch (result)
        {
            case ConfigAccepted accepted when accepted.Changes.Any(c => c.Action != ChangeAction.Unchanged):
                var changed = accepted.Changes.Where(c => c.Action != ChangeAction.Unchanged).ToList();
                var batch = new BatchCommitted(accepted.Revision, changed.Select(c => c.Key.Namespace).Distinct().Order(StringComparer.Ordinal)
                    .Select(ns => new NamespaceManifests(ns, Content(ns))).ToList());
                var pending = new Pending(accepted.Revision, Sender, accepted with { Warnings = Unplaced(accepted.Warnings) });
                _pending = pending;
                Become(Completing);
                // Journaled first: from here on the batch happens whole, by this writer or, if it crashes, by the next.
                Persist(batch, committed =>
                {
                    if (_crashAfterJournaling?.Invoke(committed.Revision) == true)
                    {
                        _log.Warning("config writer: stopping right after journaling revision {0} (test fault)", committed.Revision);
                        Context.Stop(Self);
                        return;
                    }
                    _pending = null;
                    _log.Info("config revision {0}: {1}", committed.Revision,
                        string.Join(", ", changed.Select(c => $"{c.Key} {c.Action.ToString().ToLowerInvariant()}")));
                    pending.ReplyTo.Tell(new WriteJournaled(committed.Revision));
                    Replicate(pending);
                    // To the route tables, without waiting for them: their confirmations clear the outbox.
                    foreach (var ns in committed.Namespaces)
                    {
                        _index[ns.Namespace] = committed.Revision;
                        _routeTables.Tell(_outbox[ns.Namespace] = new StoreNamespace(ns.Namespace, committed.Revision, ns.Manifests));
                    }
                });
                break;
            case ConfigAccepted accepted:
                Sender.Tell(accepted with { Warnings = Unplaced(accepted.Warnings) });
                break;
            case ConfigRejected rejected:
                Sender.Tell(rejected with { Errors = Unplaced(rejected.Errors) });
                break;
        }
    }

    /// <summary>Findings without their file:line:col: those are positions in the text this node's client encoded, not in the user's.</summary>
    private static List<Diagnostic> Unplaced(IEnumerable<Diagnostic> findings) => findings.Select(d => d with { Location = null }).ToList();
}
