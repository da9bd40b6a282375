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
/// One batch at a time: later writes wait (stashed) until the batch is answered. Nodes only ever receive whole
/// configurations, so none sees part of a batch. A new writer (hand-over, restart, full-cluster restart) starts
/// from the newest of its journal, the configuration replicated to a majority and its own node's; it does not
/// start without that majority read (a revision number must never be given twice). Before it takes any write it
/// finishes whatever a crashed predecessor journaled: it replicates that revision.
/// <para>Its journal is the one store of the configuration: it is what the writer recovers from, and every read of
/// the stored configuration (<c>GET /v1/config</c>) is answered by the writer from it. Nodes route by the replicated
/// copy, and each keeps its last-known-good on its own disk. (Per-namespace sharded entities that held a second copy
/// are gone: nothing could read them without either lagging the writer or making every acknowledgement wait for the
/// node that hosts them.)</para>
/// </summary>
public sealed class ConfigWriter : ReceivePersistentActor, IWithTimers
{
    public static readonly LWWRegisterKey<string> Key = new("akkal4-config");
    private static readonly TimeSpan ReplicationTimeout = TimeSpan.FromSeconds(3);

    /// <summary>A snapshot of the whole configuration every this many journal events keeps recovery short.</summary>
    internal const int SnapshotEvery = 50;

    /// <summary>A journaled batch on its way to a majority of nodes, and whom to tell when it is there.</summary>
    private sealed record Pending(long Revision, IActorRef ReplyTo, ConfigAccepted Reply);

    private sealed class ReadAgain
    {
        public static readonly ReadAgain Instance = new();
    }

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly IActorRef _replicator = DistributedData.Get(Context.System).Replicator;
    private readonly UniqueAddress _self = Cluster.Get(Context.System).SelfUniqueAddress;
    private readonly Func<ConfigContent?> _localConfig;
    private readonly Func<long, bool>? _crashAfterJournaling;
    private ConfigStore _store = new();
    private Pending? _pending;

    // Recovery: the newest whole configuration in the journal (snapshot or event), then the namespaces
    // that later batches changed (the latest content of each wins).
    private ConfigCommitted? _journalBase;
    private readonly Dictionary<string, string> _journalNamespaces = new(StringComparer.Ordinal);
    private long _journalRevision;

    public override string PersistenceId => "akkal4-config-writer";

    public ITimerScheduler Timers { get; set; } = null!;

    /// <param name="localConfig">This node's configuration in force (a candidate to start from).</param>
    public static Props Props(Func<ConfigContent?> localConfig) => Props(localConfig, null);

    /// <param name="crashAfterJournaling">Tests only: called with each batch's revision right after it is journaled;
    /// true makes the writer stop there, before anything else happens to the batch (a crash mid-batch).</param>
    internal static Props Props(Func<ConfigContent?> localConfig, Func<long, bool>? crashAfterJournaling) =>
        Akka.Actor.Props.Create(() => new ConfigWriter(localConfig, crashAfterJournaling));

    /// <summary>Public for Akka's actor creation; use <see cref="Props(Func{ConfigContent?})"/>.</summary>
    public ConfigWriter(Func<ConfigContent?> localConfig, Func<long, bool>? crashAfterJournaling)
    {
        _localConfig = localConfig;
        _crashAfterJournaling = crashAfterJournaling;
        Recover<SnapshotOffer>(offer =>
        {
            if (offer.Snapshot is ConfigCommitted whole) JournaledWhole(whole);
        });
        Recover<ConfigCommitted>(JournaledWhole);
        Recover<BatchCommitted>(batch =>
        {
            foreach (var ns in batch.Namespaces) _journalNamespaces[ns.Namespace] = ns.Manifests;
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

    private void JournaledWhole(ConfigCommitted whole)
    {
        _journalBase = whole;
        _journalNamespaces.Clear();
        _journalRevision = whole.Revision;
    }

    /// <summary>The configuration the journal holds (null: none, or it does not read back).</summary>
    private ConfigContent? FromJournal()
    {
        if (_journalBase is null && _journalNamespaces.Count == 0) return null;
        var resources = new List<Resource>();
        if (_journalBase is not null)
        {
            var whole = LastKnownGood.Decode(_journalBase.Manifests, "journal", out _, out var problem);
            if (whole is null)
            {
                _log.Error("config writer: journal revision {0} ignored: {1}", _journalBase.Revision, problem);
                return null;
            }
            resources.AddRange(whole.Resources.Where(r => !_journalNamespaces.ContainsKey(r.Metadata.Namespace)));
        }
        foreach (var (ns, manifests) in _journalNamespaces)
        {
            var decoded = ManifestDecoder.Decode(manifests, $"journal (namespace {ns})", LastKnownGood.Stored);
            if (!decoded.Ok)
            {
                _log.Error("config writer: journal revision {0} ignored: {1}", _journalRevision, decoded.Errors[0]);
                return null;
            }
            resources.AddRange(decoded.Resources.Select(d => d.Resource));
        }
        return new ConfigContent(_journalRevision, resources);
    }

    private void Start(string? replicated)
    {
        var journal = FromJournal();
        var replicatedContent = replicated is null ? null : LastKnownGood.Decode(replicated, "replicated configuration", out _, out _);
        var start = new[] { journal, replicatedContent, _localConfig() }.OfType<ConfigContent>().MaxBy(c => c.Revision);
        _journalBase = null;
        _journalNamespaces.Clear();
        _store = new ConfigStore(start?.Revision ?? 0, start?.Resources);
        _log.Info("config writer started at revision {0}", _store.Revision);
        if (start is null)
        {
            Serve();
            return;
        }

        // Before taking writes, finish what a predecessor may have left half done: the nodes (the register keeps
        // the newer of two revisions, so a later batch may overtake this).
        if (start.Revision > (replicatedContent?.Revision ?? 0)) Replicate(request: null);
        if (start.Revision > (journal?.Revision ?? 0))
        {
            // Newer than this journal (another node's, or a journal that was lost): journal it whole, so the
            // batches that follow build on it when this journal is read again.
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
        Command<ReadConfig>(r =>
        {
            var content = _store.Read(r.Kind, r.Namespace);
            Sender.Tell(new ConfigAtRevision(content.Revision, ManifestEncoder.ToYaml(content.Resources)));
        });
        // The start's replication (no client waits on it).
        Command<UpdateSuccess>(_ => { });
        Command<IUpdateFailure>(_ => _log.Warning("config writer: revision {0} not yet on a majority of nodes; it spreads as nodes become reachable", _store.Revision));
        Command<SaveSnapshotSuccess>(_ => { });
        Command<SaveSnapshotFailure>(f => _log.Warning("config writer: snapshot not saved ({0}); recovery replays the journal", f.Cause.Message));
    }

    private void Serve()
    {
        Become(Serving);
        Stash.UnstashAll();
    }

    /// <summary>A namespace's whole content in the store, as manifests (empty when it has no resources left).</summary>
    private string Content(string ns) => ManifestEncoder.ToYaml(_store.Read(null, ns).Resources);

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
                    if (LastSequenceNr % SnapshotEvery == 0) SaveSnapshot(new ConfigCommitted(committed.Revision, LastKnownGood.Format(_store.Read(null, null))));
                    pending.ReplyTo.Tell(new WriteJournaled(committed.Revision));
                    Replicate(pending);
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
