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
using AkkaL4.Messages.Serialization;

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
/// not yet confirmed their revision, sent again with backoff until it does (a hung or dead shard host only delays the
/// outbox; one that stays silent is reported in the log and the writer's status, and sent rarely). Every <see cref="SnapshotEvery"/> batches it checkpoints (see <see cref="Checkpoint"/>: the index alone, or the
/// whole configuration with a per-host journal or entities that stay behind) and deletes its journal up to there.
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
    /// <summary>The replicated configuration (typed; "akkal4-config" held YAML text in earlier versions).</summary>
    public static readonly LWWRegisterKey<ConfigContent> Key = new("akkal4-configuration");
    private static readonly TimeSpan ReplicationTimeout = TimeSpan.FromSeconds(3);

    /// <summary>The longest the writer waits for a majority to confirm a batch (past it the answer is "uncertain", and the batch spreads anyway).</summary>
    public static readonly TimeSpan MaxReplicationTimeout = TimeSpan.FromSeconds(60);

    /// <summary>
    /// A checkpoint once this many journal events keeps the journal short: the index alone when the entities have confirmed
    /// everything and the journal is shared, else with the whole configuration.
    /// </summary>
    internal const int SnapshotEvery = 50;

    /// <summary>How the outbox paces a namespace's sends to its entity, and after how many it says the entity does not confirm.</summary>
    /// <param name="Redeliver">How soon a namespace its entity has not confirmed is sent again (or a recovery read asked again), doubling each time up to <paramref name="AtMost"/>.</param>
    /// <param name="ReportAfter">Sends its entity left unconfirmed before the writer reports the namespace (log, status) and
    /// sends it only every <paramref name="ReportedEvery"/>: an entity that cannot read it (another version, content its host
    /// cannot decode or journal) would otherwise get the whole namespace every <paramref name="AtMost"/> for ever.</param>
    public sealed record OutboxPacing(TimeSpan Redeliver, TimeSpan AtMost, int ReportAfter, TimeSpan ReportedEvery)
    {
        /// <summary>3 s doubling to 30 s; reported after 8 sends (about 3 minutes), then sent every 10 minutes.</summary>
        public static readonly OutboxPacing Default = new(TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(30), 8, TimeSpan.FromMinutes(10));

        /// <summary>
        /// How soon a namespace of <paramref name="bytes"/> (its JSON) is first sent again: a large one takes its entity longer to
        /// journal (a second more per 100 KB, as replication), and each copy is the whole namespace on the connection its host's
        /// heartbeats share (a 4 MiB namespace every 3 s while a loaded entity journaled it). Remoting loses a message only
        /// with its connection, so a copy again is for that, not for a slow entity.
        /// </summary>
        public TimeSpan First(int bytes) => Min(Redeliver + TimeSpan.FromSeconds(bytes / 100_000.0), AtMost);
    }

    /// <inheritdoc cref="OutboxPacing.First"/>
    internal static TimeSpan FirstRedelivery(int bytes) => OutboxPacing.Default.First(bytes);

    /// <summary>A journaled batch on its way to a majority of nodes, and whom to tell when it is there.</summary>
    /// <param name="Before">The store before this write: put back if the journal refuses the batch.</param>
    private sealed record Pending(long Revision, IActorRef ReplyTo, ConfigAccepted Reply, ConfigStore Before);

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
    private readonly bool _perHostJournal;
    private readonly OutboxPacing _pacing;
    private readonly IActorRef _routeTables;
    private ConfigStore _store = new();
    private Pending? _pending;

    /// <summary>The revision each namespace last changed at and its content's hash (what its entity holds once the outbox has it confirmed).</summary>
    private readonly Dictionary<string, NamespaceRevision> _index = new(StringComparer.Ordinal);

    /// <summary>The size of each namespace's content as the cluster's JSON (what replication takes longer for).</summary>
    private readonly Dictionary<string, int> _sizes = new(StringComparer.Ordinal);

    /// <summary>The sum of <see cref="_sizes"/>, kept as they change (read for every write's timeout and send to every node).</summary>
    private long _bytes;

    /// <summary>The last revision went as one list (<c>cc</c>) for nodes of an older version; said at Info when it changes.</summary>
    private bool _oneList;

    /// <summary>Why the last revision was not sent to every node (null: it was); said at Info when it changes.</summary>
    private string? _spreadSkipped;

    /// <summary>Namespaces sent to their entity and not yet confirmed.</summary>
    private readonly Dictionary<string, Outgoing> _outbox = new(StringComparer.Ordinal);

    /// <summary>A namespace on its way to its entity: sent again when <see cref="Due"/>, each time after twice as long (up to <see cref="OutboxPacing.AtMost"/>).</summary>
    private sealed class Outgoing(StoreNamespace store, TimeSpan delay)
    {
        public StoreNamespace Store { get; } = store;
        public DateTime Due { get; set; }
        public TimeSpan Delay { get; set; } = delay;
        public int Sends { get; set; }
        public DateTime FirstSent { get; set; }

        /// <summary>Its entity left <see cref="OutboxPacing.ReportAfter"/> sends unconfirmed: said once, in the status, sent rarely.</summary>
        public bool Reported { get; set; }
    }

    /// <summary>Why the writer takes no write (its journal does not read back); null while it is not refusing.</summary>
    private string? _journalProblem;

    /// <summary>Why a starting writer takes nothing yet (no majority answered its read); null until a read fails.</summary>
    private string? _startProblem;

    /// <summary>The journal's sequence number at the last checkpoint (or whole-configuration snapshot).</summary>
    private long _checkpointedAt;
    private bool _checkpointing;

    // Recovery: the newest checkpoint or whole configuration in the journal (snapshot or event), then the
    // namespaces that later batches changed (the latest content of each wins).
    private JournaledContent? _journalBase;
    private WriterCheckpoint? _journalCheckpoint;
    private readonly Dictionary<string, JournaledContent> _journalNamespaces = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _journalNamespaceRevisions = new(StringComparer.Ordinal);
    private long _journalRevision;

    /// <summary>What this writer takes beyond every version's commands (<see cref="WriterStatus.Protocol"/>): 1, <see cref="RemoveResources"/>.</summary>
    internal const int Protocol = 1;

    public override string PersistenceId => "akkal4-config-writer";

    public ITimerScheduler Timers { get; set; } = null!;

    /// <param name="localConfig">This node's configuration in force (a candidate to start from).</param>
    /// <param name="routeTables">The shard region of the <see cref="RouteTable"/> entities.</param>
    /// <param name="perHostJournal">The journal is this host's own (SQLite): an entity's confirmation lives in its shard
    /// host's journal and is lost when the shard moves, so every checkpoint carries the whole configuration.</param>
    public static Props Props(Func<ConfigContent?> localConfig, IActorRef routeTables, bool perHostJournal) => Props(localConfig, routeTables, perHostJournal, null);

    /// <param name="crashAfterJournaling">Tests only: called with each batch's revision right after it is journaled;
    /// true makes the writer stop there, before anything else happens to the batch (a crash mid-batch).</param>
    /// <param name="pacing">Tests only: the outbox's pacing (<see cref="OutboxPacing.Default"/> otherwise).</param>
    internal static Props Props(Func<ConfigContent?> localConfig, IActorRef routeTables, bool perHostJournal, Func<long, bool>? crashAfterJournaling,
        OutboxPacing? pacing = null) =>
        Akka.Actor.Props.Create(() => new ConfigWriter(localConfig, routeTables, perHostJournal, crashAfterJournaling, pacing));

    /// <summary>Public for Akka's actor creation; use <see cref="Props(Func{ConfigContent?}, IActorRef, bool)"/>.</summary>
    public ConfigWriter(Func<ConfigContent?> localConfig, IActorRef routeTables, bool perHostJournal, Func<long, bool>? crashAfterJournaling, OutboxPacing? pacing)
    {
        _localConfig = localConfig;
        _routeTables = routeTables;
        _perHostJournal = perHostJournal;
        _crashAfterJournaling = crashAfterJournaling;
        _pacing = pacing ?? OutboxPacing.Default;
        Recover<SnapshotOffer>(offer =>
        {
            _checkpointedAt = offer.Metadata.SequenceNr;
            switch (offer.Snapshot)
            {
                case WriterCheckpoint checkpoint:
                    JournaledCheckpoint(checkpoint, checkpoint.Resources is { } resources ? JournaledContent.Typed(checkpoint.Revision, resources) : null);
                    break;
                case ManifestWriterCheckpoint old:
                    JournaledCheckpoint(new WriterCheckpoint(old.Revision, old.Namespaces, null, old.Unconfirmed),
                        old.Manifests is { } text ? JournaledContent.WholeYaml(old.Revision, text) : null);
                    break;
                case ManifestConfigCommitted old:
                    JournaledWhole(JournaledContent.WholeYaml(old.Revision, old.Manifests));
                    break;
            }
        });
        Recover<ConfigCommitted>(whole => JournaledWhole(JournaledContent.Typed(whole.Revision, whole.Resources)));
        Recover<ManifestConfigCommitted>(old => JournaledWhole(JournaledContent.WholeYaml(old.Revision, old.Manifests)));
        Recover<BatchCommitted>(batch => JournaledBatch(batch.Revision, batch.Namespaces.Select(n => (n.Namespace, JournaledContent.Typed(batch.Revision, n.Resources)))));
        Recover<ManifestBatchCommitted>(old => JournaledBatch(old.Revision, old.Namespaces.Select(n => (n.Namespace, JournaledContent.Yaml(old.Revision, n.Manifests)))));
        Recover<RecoveryCompleted>(_ => _replicator.Tell(Dsl.Get(Key, new ReadMajority(ReplicationTimeout))));
        Command<GetSuccess>(g => Start(g.Get(Key).Value));
        Command<NotFound>(_ => Start(null));
        Command<GetFailure>(_ =>
        {
            // Starting without it could give a revision number a second time (a majority may hold a newer one).
            _log.Warning("config writer: no majority of nodes answered its read; it takes no write until one does");
            _startProblem = $"config writer starting at revision {_journalRevision}: no majority of nodes answered its read of the replicated configuration; it takes nothing until one does";
            // Queries stashed before this now get the reason at once (writes are stashed again, to wait for the writer).
            Stash.UnstashAll();
            Timers.StartSingleTimer(nameof(ReadAgain), ReadAgain.Instance, TimeSpan.FromSeconds(1));
        });
        Command<ReadAgain>(_ => _replicator.Tell(Dsl.Get(Key, new ReadMajority(ReplicationTimeout))));
        // Moments at a normal start (wait for it); once the majority read has failed, queries are answered at once.
        Command<ReadIndex>(_ => _startProblem is null, _ => Stash.Stash());
        Command<ReadIndex>(_ => Sender.Tell(new ConfigUnavailable(_startProblem!)));
        Command<ReadWriterStatus>(_ => Sender.Tell(new WriterStatus("starting", _journalRevision,
            _startProblem ?? "reading the replicated configuration from a majority of nodes", Protocol)));
        CommandAny(_ => Stash.Stash());
    }

    /// <summary>The journal write failed (the writer stops, and its supervisor starts it again from the journal).</summary>
    protected override void OnPersistFailure(Exception cause, object @event, long sequenceNr)
    {
        _pending?.ReplyTo.Tell(new ConfigUncertain(null, $"the journal write failed ({cause.Message}); whether it was stored is not known"));
        _pending = null;
        base.OnPersistFailure(cause, @event, sequenceNr);
    }

    /// <summary>
    /// The journal refused the batch (it could not be serialised, for one): nothing was stored, so the store goes back to
    /// what it was, the write is refused with the reason, and the writer takes the next write.
    /// </summary>
    protected override void OnPersistRejected(Exception cause, object @event, long sequenceNr)
    {
        _log.Error(cause, "config writer: the journal refused revision {0}; it is not applied", _pending?.Revision);
        if (_pending is { } pending)
        {
            _store = pending.Before;
            pending.ReplyTo.Tell(new ConfigRejected([Diagnostic.Error("request", "", $"the configuration could not be journaled, nothing was applied: {cause.Message}")]));
            _pending = null;
            Serve();
        }
        else base.OnPersistRejected(cause, @event, sequenceNr);
    }

    /// <summary>
    /// Content the journal holds: typed, or the YAML of an earlier version's event (<see cref="ManifestEvents"/>), decoded
    /// only if recovery needs it (an old journal holds a whole configuration per revision, and only the newest counts).
    /// </summary>
    private sealed class JournaledContent(long revision, IReadOnlyList<Resource>? resources, string? yaml, bool whole)
    {
        public static JournaledContent Typed(long revision, IReadOnlyList<Resource> resources) => new(revision, resources, null, false);
        public static JournaledContent Yaml(long revision, string manifests) => new(revision, null, manifests, false);
        public static JournaledContent WholeYaml(long revision, string text) => new(revision, null, text, true);

        public long Revision => revision;

        public IReadOnlyList<Resource>? Read(string source, out string? problem)
        {
            problem = null;
            return resources ?? (whole ? ManifestEvents.DecodeWhole(yaml!, source, out problem) : ManifestEvents.Decode(yaml!, source, out problem));
        }
    }

    private void JournaledWhole(JournaledContent? whole)
    {
        _journalBase = whole;
        _journalCheckpoint = null;
        _journalNamespaces.Clear();
        _journalNamespaceRevisions.Clear();
        _journalRevision = whole?.Revision ?? 0;
    }

    private void JournaledCheckpoint(WriterCheckpoint checkpoint, JournaledContent? whole)
    {
        JournaledWhole(whole);
        _journalCheckpoint = checkpoint;
        _journalRevision = checkpoint.Revision;
    }

    private void JournaledBatch(long revision, IEnumerable<(string Namespace, JournaledContent Content)> namespaces)
    {
        foreach (var (ns, content) in namespaces)
        {
            _journalNamespaces[ns] = content;
            _journalNamespaceRevisions[ns] = revision;
        }
        _journalRevision = revision;
    }

    /// <summary>
    /// The configuration the journal holds, <paramref name="beneath"/> (the content of the namespaces no later batch
    /// changed) with the later batches on top (null: a batch does not read back).
    /// </summary>
    private ConfigContent? FromJournal(IEnumerable<Resource> beneath)
    {
        var resources = beneath.Where(r => !_journalNamespaces.ContainsKey(r.Metadata.Namespace)).ToList();
        foreach (var (ns, content) in _journalNamespaces)
        {
            if (content.Read($"journal (namespace {ns})", out var problem) is not { } read)
            {
                _journalProblem = $"namespace {ns}: {problem}";
                return null;
            }
            resources.AddRange(read);
        }
        return new ConfigContent(_journalRevision, resources);
    }

    /// <summary>
    /// Starts from the newest of the journal, the replicated copy and this node's. The journal's content is only put
    /// together when it is the newest; the namespaces its checkpoint names and no later batch changed then come from a
    /// copy at least as new as the checkpoint, or else from their <see cref="RouteTable"/> entities.
    /// </summary>
    private void Start(ConfigContent? replicatedContent)
    {
        var other = new[] { replicatedContent, _localConfig() }.OfType<ConfigContent>().MaxBy(c => c.Revision);
        if (_journalRevision <= (other?.Revision ?? 0))
        {
            Begin(other, replicatedContent);
            return;
        }
        if (_journalBase is { } whole)
        {
            var decoded = whole.Read("journal", out var problem);
            if (decoded is null) _journalProblem = $"its whole configuration at revision {whole.Revision}: {problem}";
            Begin(decoded is null ? null : FromJournal(decoded), replicatedContent);
            return;
        }
        var unchanged = (_journalCheckpoint?.Namespaces ?? []).Where(n => !_journalNamespaces.ContainsKey(n.Namespace)).ToList();
        if (unchanged.Count == 0 || other is not null && other.Revision >= _journalCheckpoint!.Revision)
        {
            var wanted = unchanged.Select(n => n.Namespace).ToHashSet(StringComparer.Ordinal);
            Begin(FromJournal(other?.Resources.Where(r => wanted.Contains(r.Metadata.Namespace)) ?? []), replicatedContent);
            return;
        }
        _log.Info("config writer: revision {0} is newer in its journal than in any copy at hand; reading {1} namespaces from their route tables",
            _journalRevision, unchanged.Count);
        Become(() => ReadingRouteTables(unchanged, replicatedContent));
    }

    /// <summary>
    /// The checkpoint's namespaces from their entities, each at the revision (and hash) the checkpoint names: a
    /// <see cref="RouteTableRead"/>, as <c>GET /v1/config</c> reads, asked again with backoff for as long as one is missing
    /// (behind, on a hung host, other content, or not reading back). Writes and reads meanwhile are answered unavailable at
    /// once, naming the namespaces waited for.
    /// </summary>
    private void ReadingRouteTables(List<NamespaceRevision> unchanged, ConfigContent? replicatedContent)
    {
        var read = new RouteTableRead(unchanged, "the checkpoint names");
        var delay = _pacing.Redeliver;
        void Ask()
        {
            read.Ask(_routeTables, Self);
            Timers.StartSingleTimer(nameof(SendAgain), SendAgain.Instance, delay);
            delay = Min(delay * 2, _pacing.AtMost);
        }
        Command<NamespaceContent>(c =>
        {
            if (read.Take(c) != RouteTableRead.Outcome.Taken || !read.Done) return;
            Timers.Cancel(nameof(SendAgain));
            Begin(FromJournal(read.Resources), replicatedContent);
        });
        Command<SendAgain>(_ =>
        {
            _log.Warning("config writer: recovering revision {0}, still waiting for the route tables of {1}", _journalRevision, read.Waiting());
            Ask();
        });
        string Recovering() => $"config writer recovering revision {_journalRevision}: waiting for {read.Waiting()}";
        Command<WriteConfig>(_ => Sender.Tell(new ConfigUnavailable(Recovering() + "; nothing was applied")));
        Command<RemoveResource>(_ => Sender.Tell(new ConfigUnavailable(Recovering() + "; nothing was applied")));
        Command<RemoveResources>(_ => Sender.Tell(new ConfigUnavailable(Recovering() + "; nothing was applied")));
        Command<ReadIndex>(_ => Sender.Tell(new ConfigUnavailable(Recovering())));
        Command<ReadWriterStatus>(_ => Sender.Tell(new WriterStatus("recovering", _journalRevision, Recovering(), Protocol)));
        Ask();
        // Writes that came while it started are answered now, not when recovery ends.
        Stash.UnstashAll();
    }

    /// <summary>
    /// The journal holds a revision whose content does not read back: starting from anything older would give its revision
    /// numbers a second time, so the writer takes no write and says why.
    /// </summary>
    private void Refusing()
    {
        var reason = $"config writer refuses writes: its journal holds revision {_journalRevision}, which does not read back ({_journalProblem}); "
                     + "starting from an older revision would give revision numbers a second time";
        _log.Error(reason);
        Command<WriteConfig>(_ => Sender.Tell(new ConfigUnavailable(reason + ". Nothing was applied")));
        Command<RemoveResource>(_ => Sender.Tell(new ConfigUnavailable(reason + ". Nothing was applied")));
        Command<RemoveResources>(_ => Sender.Tell(new ConfigUnavailable(reason + ". Nothing was applied")));
        Command<ReadIndex>(_ => Sender.Tell(new ConfigUnavailable(reason)));
        Command<ReadWriterStatus>(_ => Sender.Tell(new WriterStatus("refusing", _journalRevision, reason, Protocol)));
        Stash.UnstashAll();
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    /// <param name="start">The configuration to start from; null: none (an empty journal and no copy), or the journal's does not read back.</param>
    private void Begin(ConfigContent? start, ConfigContent? replicatedContent)
    {
        var journalRevision = _journalRevision;
        if ((start?.Revision ?? 0) < journalRevision)
        {
            _journalProblem ??= "no copy as new as it was found";
            Become(Refusing);
            return;
        }
        // A whole configuration journaled without an index (an older writer's, or one this writer started from): its
        // entities may lack any of it. A checkpoint's whole configuration comes with its index.
        var wholeRevision = _journalCheckpoint is null ? _journalBase?.Revision : null;
        var journalIndex = (_journalCheckpoint?.Namespaces ?? []).ToDictionary(n => n.Namespace, n => n.Revision, StringComparer.Ordinal);
        foreach (var (ns, revision) in _journalNamespaceRevisions) journalIndex[ns] = revision;
        // A namespace emptied before the checkpoint whose entity had not confirmed it: the entity still needs its emptiness.
        foreach (var ns in _journalCheckpoint?.Unconfirmed ?? []) journalIndex.TryAdd(ns, _journalCheckpoint!.Revision);
        // What the entities may not have: the batches after the checkpoint, and what the checkpoint names unconfirmed (or everything, without one).
        var unconfirmed = _journalNamespaceRevisions.Keys.Concat(_journalCheckpoint?.Unconfirmed ?? []).ToHashSet(StringComparer.Ordinal);
        JournaledWhole(null);
        _store = new ConfigStore(start?.Revision ?? 0, start?.Resources);
        var contents = Contents();
        var revisions = new Dictionary<string, long>(StringComparer.Ordinal);
        _outbox.Clear();
        if (start is not null && start.Revision > journalRevision)
        {
            // Newer than the journal (another host's, or a journal that was lost): every namespace at this revision.
            foreach (var ns in contents.Keys.Concat(journalIndex.Keys)) revisions[ns] = start.Revision;
            unconfirmed.UnionWith(revisions.Keys);
        }
        else
        {
            foreach (var (ns, revision) in journalIndex) revisions[ns] = revision;
            foreach (var ns in contents.Keys.Where(ns => wholeRevision is not null || !revisions.ContainsKey(ns)))
            {
                revisions.TryAdd(ns, wholeRevision ?? journalRevision);
                unconfirmed.Add(ns);
            }
        }
        _index.Clear();
        _sizes.Clear();
        _bytes = 0;
        foreach (var (ns, revision) in revisions) Indexed(ns, revision, contents.GetValueOrDefault(ns) ?? []);
        foreach (var ns in unconfirmed.Where(_index.ContainsKey)) _outbox[ns] = Outgo(ns, contents.GetValueOrDefault(ns) ?? []);
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
            Persist(new ConfigCommitted(start.Revision, _store.Read(null, null).Resources), _ => Serve());
        }
        else Serve();
    }

    private void Serving()
    {
        Common();
        Command<WriteConfig>(w =>
        {
            if (TooLate(w.Deadline)) return;
            // A large write's resources are decoded here, where they are first read, not in remoting's reader (ProtocolSerializer).
            int count;
            try
            {
                count = w.Resources.Count;
            }
            catch (System.Runtime.Serialization.SerializationException e)
            {
                Sender.Tell(new ConfigRejected([Diagnostic.Error("request", "", $"the write did not decode at the config writer, nothing was applied: {e.Message}")]));
                return;
            }
            _log.Debug("config writer: a write of {0} resource(s) received", count);
            // TLS files outside the roots, misread addresses: refused for what this write brings only, so a revision stored before still loads.
            if (Config.Validation.RefusedInWrites.InWrite(w.Resources, DataPlane.TlsFileRoots.Current) is { Count: > 0 } refused)
            {
                Sender.Tell(new ConfigRejected(refused));
                return;
            }
            // Typed resources the sender's node decoded and checked; validated and compiled again here, the authority.
            var before = Before();
            var result = _store.Apply(w.Resources, DateTimeOffset.UtcNow, w.DryRun);
            // A dry run's acceptance names the revision in force, which it leaves as it is: nothing to journal.
            if (w.DryRun && result is ConfigAccepted dry) Sender.Tell(dry);
            else Answer(result, before);
        });
        Command<RemoveResource>(r => Remove([new ResourceKey(r.Kind, r.Namespace, r.Name)], r.Deadline));
        Command<RemoveResources>(r => Remove(r.Keys, r.Deadline));
    }

    /// <summary>One delete of one resource or several: one revision, all or nothing (<see cref="ConfigStore.Delete(IReadOnlyList{ResourceKey})"/>).</summary>
    private void Remove(IReadOnlyList<ResourceKey> keys, DateTimeOffset deadline)
    {
        if (TooLate(deadline)) return;
        static string Kind(string kind) => ResourceKinds.Types.Keys.FirstOrDefault(k => string.Equals(k, kind, StringComparison.OrdinalIgnoreCase)) ?? kind;
        var before = Before();
        Answer(_store.Delete(keys.Select(k => k with { Kind = Kind(k.Kind) }).ToList()), before);
    }

    /// <summary>A batch is journaled and on its way to a majority of nodes. Writes wait.</summary>
    private void Completing()
    {
        // Before Common's handlers, which take the answers nobody waits for.
        Command<UpdateSuccess>(s => s.Request is Pending, s =>
        {
            var pending = (Pending)s.Request;
            _log.Debug("config revision {0}: on a majority of nodes", pending.Revision);
            // Encoded here, not in remoting's writer (a change list as long as the write: 760 KB for 10,000 Services); not at
            // all for a client on this node, which gets the object itself.
            if (pending.ReplyTo.Path.Address.HasGlobalScope) ProtocolSerializer.EncodeNow(Context.System, pending.Reply);
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
        Command<ReadIndex>(_ => Sender.Tell(new ConfigIndex(_store.Revision, Index())));
        Command<ReadWriterStatus>(_ => Sender.Tell(new WriterStatus("serving", _store.Revision, Unconfirmed(), Protocol)));
        Command<NamespaceStored>(stored =>
        {
            if (!_outbox.TryGetValue(stored.Namespace, out var sent)) return;
            if (sent.Store.Revision < stored.Revision || sent.Store.Revision == stored.Revision && sent.Store.Hash == stored.Hash)
            {
                _outbox.Remove(stored.Namespace);
                if (sent.Reported) _log.Info("config writer: the route table of namespace {0} confirmed revision {1} after all", stored.Namespace, stored.Revision);
                Checkpoint();
            }
            else if (sent.Store.Revision == stored.Revision)
                _log.Error("config writer: the route table of {0} holds revision {1} with other content (hash {2}, the journal's is {3}); not taken as stored",
                    stored.Namespace, stored.Revision, stored.Hash, sent.Store.Hash);
        });
        Command<RedeliverNamespace>(r =>
        {
            if (!_index.TryGetValue(r.Namespace, out var indexed) || indexed.Revision <= r.Held) return;
            if (!_outbox.TryGetValue(r.Namespace, out var outgoing))
                _outbox[r.Namespace] = outgoing = Outgo(r.Namespace, _store.Read(null, r.Namespace).Resources);
            // A reported entry is sent on its own pacing (every ReportedEvery), not once more per read.
            else if (outgoing.Reported) return;
            Send(outgoing);
        });
        // A reader whose entity stays behind (ConfigReader): the namespace as that entity would give it at the index's
        // revision (the content sent to it while it is in the outbox), which the reader checks against its index as any answer.
        Command<ReadNamespace>(r =>
        {
            if (!_index.TryGetValue(r.Namespace, out var indexed)) return;
            var content = _outbox.TryGetValue(r.Namespace, out var outgoing)
                ? new NamespaceContent(r.Namespace, outgoing.Store.Revision, outgoing.Store.Resources, outgoing.Store.Hash)
                : new NamespaceContent(r.Namespace, indexed.Revision, _store.Read(null, r.Namespace).Resources, indexed.Hash!);
            if (Sender.Path.Address.HasGlobalScope) ProtocolSerializer.EncodeNow(Context.System, content);
            Sender.Tell(content);
        });
        Command<SendAgain>(_ =>
        {
            var now = DateTime.UtcNow;
            foreach (var outgoing in _outbox.Values.Where(o => o.Due <= now)) Send(outgoing);
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
        // Not every node confirmed in time (one is down, unreachable or slow): the majority write decides, gossip does the rest.
        Command<IUpdateFailure>(f => f.Request is Spread, f => _log.Debug("config revision {0}: not confirmed by every node in time", ((Spread)f.Request).Revision));
        Command<UpdateSuccess>(s => s.Request is Spread, s => _log.Debug("config revision {0}: on every node", ((Spread)s.Request).Revision));
        // The start's replication (no client waits on it).
        Command<UpdateSuccess>(_ => { });
        Command<IUpdateFailure>(_ => _log.Warning("config writer: revision {0} not yet on a majority of nodes; it spreads as nodes become reachable", _store.Revision));
    }

    private void Serve()
    {
        if (_servingSince == DateTimeOffset.MaxValue) _servingSince = DateTimeOffset.UtcNow;
        Become(Serving);
        if (!Timers.IsTimerActive(nameof(SendAgain)))
        {
            foreach (var outgoing in _outbox.Values) Send(outgoing);
            Timers.StartPeriodicTimer(nameof(SendAgain), SendAgain.Instance, _pacing.Redeliver);
        }
        Stash.UnstashAll();
    }

    /// <summary>
    /// To its entity; the next time only after twice as long, so an entity that stays silent costs little; after
    /// <see cref="OutboxPacing.ReportAfter"/> sends without a confirmation, reported once and sent only every
    /// <see cref="OutboxPacing.ReportedEvery"/> (in case what kept it from confirming is mended: a host upgraded, a shard moved).
    /// </summary>
    private void Send(Outgoing outgoing)
    {
        var now = DateTime.UtcNow;
        if (outgoing.Sends == 0) outgoing.FirstSent = now;
        if (outgoing.Sends >= _pacing.ReportAfter && !outgoing.Reported)
        {
            outgoing.Reported = true;
            _log.Warning("config writer: the route table of namespace {0} has not confirmed revision {1} in {2} sends since {3:u}; it is sent again every {4}. "
                         + "Until it confirms, the writer's checkpoints carry the whole configuration (nothing of it is lost) and reads of the namespace are answered from the writer after its route table's patience ({5})",
                outgoing.Store.Namespace, outgoing.Store.Revision, outgoing.Sends, outgoing.FirstSent, _pacing.ReportedEvery, ConfigReader.EntityPatience);
        }
        _routeTables.Tell(outgoing.Store);
        outgoing.Sends++;
        outgoing.Due = now + (outgoing.Reported ? _pacing.ReportedEvery : outgoing.Delay);
        outgoing.Delay = Min(outgoing.Delay * 2, _pacing.AtMost);
    }

    /// <summary>The namespaces <see cref="Send"/> reported, for the writer's status (null: none).</summary>
    private string? Unconfirmed()
    {
        var reported = _outbox.Values.Where(o => o.Reported).OrderBy(o => o.Store.Namespace, StringComparer.Ordinal).ToList();
        if (reported.Count == 0) return null;
        const int named = 10;
        var list = string.Join(", ", reported.Take(named).Select(o => $"{o.Store.Namespace} (revision {o.Store.Revision}, {o.Sends} sends since {o.FirstSent:u})"))
                   + (reported.Count > named ? $" and {reported.Count - named} more" : "");
        return $"the route tables of {reported.Count} namespace(s) do not confirm what the writer sends them: {list}; "
               + $"it sends them again every {_pacing.ReportedEvery}, and keeps their content in its journal until they do (reads of them are answered from the writer)";
    }

    /// <summary>Which revision each namespace with resources last changed at, with its hash, in namespace order.</summary>
    private List<NamespaceRevision> Index()
    {
        var held = _store.Resources.Select(r => r.Metadata.Namespace).ToHashSet(StringComparer.Ordinal);
        return _index.Where(i => held.Contains(i.Key)).OrderBy(i => i.Key, StringComparer.Ordinal).Select(i => i.Value).ToList();
    }

    /// <summary>Records that <paramref name="ns"/> holds <paramref name="resources"/> as of <paramref name="revision"/>.</summary>
    private void Indexed(string ns, long revision, IReadOnlyList<Resource> resources)
    {
        // The namespace's JSON, made here once for its hash, its journaling, its entity and every replication of it.
        var chunk = ResourceChunks.Of(resources);
        _index[ns] = new NamespaceRevision(ns, revision, chunk.Hash);
        _bytes += chunk.Bytes - _sizes.GetValueOrDefault(ns);
        _sizes[ns] = chunk.Bytes;
    }

    /// <summary>
    /// The message that stores a namespace's content in its entity at the revision and hash the index names, encoded here
    /// once for all its copies (not in remoting's writer, where heartbeats to its host would wait behind it).
    /// </summary>
    private Outgoing Outgo(string ns, IReadOnlyList<Resource> resources)
    {
        var store = new StoreNamespace(ns, _index[ns].Revision, resources, _index[ns].Hash!);
        ProtocolSerializer.EncodeNow(Context.System, store);
        return new Outgoing(store, _pacing.First(_sizes.GetValueOrDefault(ns)));
    }

    /// <summary>
    /// Once enough batches have come since the last one: a checkpoint, after which the journal before it is deleted. The
    /// index alone when the journal is shared and every entity has confirmed what it was sent; else (a per-host journal,
    /// or entities still behind after twice as many batches, or at once when only reported ones are: <see cref="Send"/>) the whole
    /// configuration too, so the journal never grows without bound and recovery needs no entity.
    /// </summary>
    private void Checkpoint()
    {
        var since = LastSequenceNr - _checkpointedAt;
        if (_checkpointing || since < SnapshotEvery) return;
        // Confirmations usually follow a batch within moments: on a shared journal, wait for them a while (an index is small),
        // not for those already reported (an entity that has not confirmed for minutes is not about to).
        if (_outbox.Values.Any(o => !o.Reported) && !_perHostJournal && since < 2 * SnapshotEvery) return;
        var whole = _perHostJournal || _outbox.Count > 0;
        _checkpointing = true;
        var checkpoint = new WriterCheckpoint(_store.Revision, Index(), whole ? _store.Read(null, null).Resources : null,
            _outbox.Count > 0 ? _outbox.Keys.Order(StringComparer.Ordinal).ToList() : null);
        // Encoded here, not by the snapshot store on the pool (the whole configuration, when it holds it).
        ProtocolSerializer.EncodeNow(Context.System, checkpoint);
        SaveSnapshot(checkpoint);
    }

    /// <summary>The store's resources by namespace, each in the order <see cref="ConfigStore.Read"/> gives (the store's own lists).</summary>
    private Dictionary<string, IReadOnlyList<Resource>> Contents() => ((NamespacedResources)_store.ReadByNamespace().Resources).Namespaces
        .ToDictionary(n => n.Namespace, n => n.Resources, StringComparer.Ordinal);

    /// <summary>The whole configuration to every node, confirmed by a majority (the answer comes with <paramref name="request"/>).</summary>
    private void Replicate(Pending? request)
    {
        var content = _store.ReadByNamespace();
        var state = Cluster.Get(Context.System).State;
        // While a node of a version before the by-namespace form is Up, the form it reads (and every node relays as it came).
        var older = Release.ReadingOneList(state);
        if (older.Count > 0) ProtocolSerializer.AsOneList(content);
        if (older.Count > 0 != _oneList)
        {
            if (older.Count > 0)
                _log.Info("config revision {0}: replicated as one list (cc), as nodes before {1} read it, while {2} are Up", _store.Revision, Release.ByNamespace,
                    string.Join(", ", older.Select(m => $"{m.Address} ({m.AppVersion})")));
            else _log.Info("config revision {0}: replicated by namespace (cg) again: no node before {1} is Up", _store.Revision, Release.ByNamespace);
            _oneList = older.Count > 0;
        }
        // Encoded here, once (not in distributed data's digest or remoting's writer, where heartbeats would wait behind it),
        // of which only the namespaces that changed since the last revision are encoded anew (by namespace).
        ProtocolSerializer.EncodeNow(Context.System, content);
        var register = new LWWRegister<ConfigContent>(_self, content, _store.Revision);
        var timeout = ReplicationTimeoutNow();
        _replicator.Tell(Dsl.Update(Key, register, new WriteMajority(timeout), request, r => r.Merge(register)));
        // A majority write sends the revision to just enough nodes for a majority and stops once they confirm it: the
        // others got it only from distributed-data gossip (one random peer per gossip-interval), 0.3-1.5 s later for one
        // Service. This second update changes nothing here and sends the revision to every node at once. Nobody waits for
        // its answer: an acknowledgement waits on no particular node, and a node it misses still gets it from gossip.
        var skipped = SpreadSkipped(state);
        if (skipped is null)
            _replicator.Tell(Dsl.Update(Key, register, new WriteAll(SpreadTimeout), new Spread(_store.Revision), r => r.Merge(register)));
        else _log.Debug("config revision {0}: not sent to every node ({1})", _store.Revision, skipped);
        // Once per change of reason at Info (a controller's writes during a partition would otherwise log one each).
        if (KindOf(skipped) != KindOf(_spreadSkipped))
        {
            if (skipped is null) _log.Info("config revision {0}: sent to every node again", _store.Revision);
            else _log.Info("config revision {0}: not sent to every node ({1}); until that changes, the nodes a majority write does not reach get revisions by gossip",
                _store.Revision, skipped);
        }
        _spreadSkipped = skipped;
    }

    /// <summary>
    /// Why <see cref="Replicate"/> does not send a revision to every node, or null. Not for a large configuration: the
    /// node that confirmed the majority write gets it twice, on the connection its heartbeats share (with it, a run of the
    /// chaos test's 4 MiB stage ended with two nodes downed); the burst is the size times the other nodes. Not while a node
    /// is unreachable either: a WriteAll then lives its whole timeout, each holding its own copy of the configuration, one
    /// per write.
    /// </summary>
    private string? SpreadSkipped(ClusterEvent.CurrentClusterState state)
    {
        if (state.Unreachable.Count > 0) return $"{string.Join(", ", state.Unreachable.Select(m => m.Address))} unreachable";
        var burst = _bytes * Math.Max(1, state.Members.Count - 1);
        return burst < SpreadBelow ? null : $"{burst} bytes to the other nodes, over {SpreadBelow}";
    }

    /// <summary>What a reason of <see cref="SpreadSkipped"/> is about: which nodes are unreachable, or the size (a size that grows is no change).</summary>
    private static string? KindOf(string? skipped) => skipped is null ? null : skipped.Contains(" unreachable", StringComparison.Ordinal) ? skipped : "size";

    /// <summary>
    /// Bytes <see cref="Replicate"/>'s send to every node may add up to (the configuration as the cluster's JSON times the
    /// other nodes); above it the nodes a majority write did not reach get the revision by gossip.
    /// </summary>
    internal const long SpreadBelow = 1_000_000;

    /// <summary>How long the send to every node is followed: nobody waits for it, and gossip covers a node it misses.</summary>
    private static readonly TimeSpan SpreadTimeout = TimeSpan.FromSeconds(2);

    /// <summary>The request of <see cref="Replicate"/>'s update to every node, whose answer nobody waits for.</summary>
    private sealed record Spread(long Revision);

    /// <summary>
    /// How long a replication of the configuration as it is may take: a large one takes the nodes longer to receive and
    /// store, a second more per 100 KB of the cluster's JSON, up to <see cref="MaxReplicationTimeout"/> (clients wait that long at most).
    /// </summary>
    private TimeSpan ReplicationTimeoutNow() => Min(ReplicationTimeout + TimeSpan.FromSeconds(_bytes / 100_000.0), MaxReplicationTimeout);

    /// <summary>When this writer began to take writes (its first <see cref="Serve"/>); never, until then.</summary>
    private DateTimeOffset _servingSince = DateTimeOffset.MaxValue;

    /// <summary>A write that waited past its deadline (no writer reachable meanwhile) was already answered "not applied".</summary>
    private bool TooLate(DateTimeOffset deadline)
    {
        var now = DateTimeOffset.UtcNow;
        if (now <= deadline) return false;
        var late = now - deadline;
        // Past its deadline before this writer took any write: it waited for the writer to start (a new cluster's first
        // writes, a hand-over). Its client knows (ConfigClient sends a small write again with a fresh deadline every 2 s
        // meanwhile, so a fresh `run -f` dropped two or three stale copies of the write it then applied): not a warning.
        // One that waited behind this writer's own work, or long in remoting, is.
        if (deadline < _servingSince)
            _log.Debug("config writer: dropped a write that waited {0} past its deadline for the writer to start", late);
        else
            _log.Warning("config writer: dropped a write that arrived {0} after its deadline", late);
        Sender.Tell(new ConfigUnavailable($"the write reached the config writer {late.TotalSeconds:0.0}s after its deadline (the writer was starting, moving or busy) and was not applied"));
        return true;
    }

    /// <summary>Changes named one by one in the log up to this many; beyond, counted (a 10,000-Service write was one 300 KB line).</summary>
    internal const int ChangesNamed = 20;

    /// <summary>What a revision changed, for a person reading the log: each change, or counts by action and kind and the first few.</summary>
    internal static string ChangeSummary(IReadOnlyList<ResourceChange> changed)
    {
        static string Named(IEnumerable<ResourceChange> changes) => string.Join(", ", changes.Select(c => $"{c.Key} {c.Action.ToString().ToLowerInvariant()}"));
        if (changed.Count <= ChangesNamed) return Named(changed);
        var counts = changed.GroupBy(c => c.Action).OrderBy(g => g.Key).Select(byAction =>
            $"{byAction.Count()} {byAction.Key.ToString().ToLowerInvariant()} ("
            + string.Join(", ", byAction.GroupBy(c => c.Key.Kind).OrderBy(g => g.Key, StringComparer.Ordinal).Select(k => $"{k.Key} {k.Count()}")) + ")");
        var namespaces = changed.Select(c => c.Key.Namespace).Distinct().Count();
        return $"{changed.Count} changes in {namespaces} namespace(s): {string.Join(", ", counts)}; the first {ChangesNamed}: {Named(changed.Take(ChangesNamed))}, …";
    }

    /// <summary>The store as it is, to put back if the batch a write makes of it cannot be journaled.</summary>
    private ConfigStore Before() => _store.Copy();

    private void Answer(object result, ConfigStore before)
    {
        switch (result)
        {
            case ConfigAccepted accepted when accepted.Changes.Any(c => c.Action != ChangeAction.Unchanged):
                var changed = accepted.Changes.Where(c => c.Action != ChangeAction.Unchanged).ToList();
                var batch = new BatchCommitted(accepted.Revision, changed.Select(c => c.Key.Namespace).Distinct().Order(StringComparer.Ordinal)
                    .Select(ns => new NamespaceResources(ns, _store.Read(null, ns).Resources)).ToList());
                var pending = new Pending(accepted.Revision, Sender, accepted, before);
                _pending = pending;
                _log.Debug("config revision {0}: checked, journaling", accepted.Revision);
                Become(Completing);
                // Encoded here, on the writer's thread: the journal plugin then copies the bytes, not encodes them on the pool.
                ProtocolSerializer.EncodeNow(Context.System, batch);
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
                    _log.Info("config revision {0}: {1}", committed.Revision, ChangeSummary(changed));
                    // Indexed first: the replication's timeout (and whether it goes to every node) is by the new sizes.
                    foreach (var ns in committed.Namespaces) Indexed(ns.Namespace, committed.Revision, ns.Resources);
                    pending.ReplyTo.Tell(new WriteJournaled(committed.Revision, ReplicationTimeoutNow()));
                    Replicate(pending);
                    // To the route tables, without waiting for them: their confirmations clear the outbox.
                    foreach (var ns in committed.Namespaces) Send(_outbox[ns.Namespace] = Outgo(ns.Namespace, ns.Resources));
                    Checkpoint();
                });
                break;
            default:
                Sender.Tell(result);
                break;
        }
    }
}
