using Akka.Actor;
using Akka.Cluster;
using Akka.DistributedData;
using Akka.Event;
using Akka.Persistence;
using AkkaL4.Actors.Config;
using AkkaL4.Messages.Model;
using AkkaL4.Messages.Protocol;

namespace AkkaL4.Actors.ControlPlane;

/// <summary>
/// The cluster singleton every configuration write goes through. For a batch it:
/// <list type="number">
/// <item>validates it against the whole stored configuration and assigns the next revision;</item>
/// <item>journals it (<see cref="BatchCommitted"/>: the revision and the new content of each namespace the batch
///   changed), the write-ahead record that makes the batch all-or-nothing;</item>
/// <item>writes each changed namespace to its sharded <see cref="RouteTable"/> entity and waits for all of them,
///   sending again to those that have not answered until they do;</item>
/// <item>replicates the whole configuration to a majority of nodes (Akka.DistributedData, the revision as the
///   register's clock), from where every node's <see cref="RouteCache"/> puts it in force;</item>
/// <item>acknowledges the write.</item>
/// </list>
/// One batch at a time: later writes wait (stashed) until the batch is through. Nodes only ever receive whole
/// configurations, so none sees part of a batch. A new writer (hand-over, restart, full-cluster restart) starts
/// from the newest of its journal, the replicated configuration and its own node's, and before it takes any
/// write it finishes whatever a crashed predecessor journaled: it writes every namespace it knows to the
/// RouteTable entities at its revision (which also brings an entity whose shard moved to a host with an older
/// journal up to date) and replicates that revision.
/// </summary>
public sealed class ConfigWriter : ReceivePersistentActor, IWithTimers
{
    public static readonly LWWRegisterKey<string> Key = new("akkal4-config");
    private static readonly TimeSpan ReplicationTimeout = TimeSpan.FromSeconds(3);

    /// <summary>How long the writer waits for RouteTable entities before sending to the silent ones again.</summary>
    internal static readonly TimeSpan RouteTableResend = TimeSpan.FromSeconds(2);

    /// <summary>A snapshot of the whole configuration every this many journal events keeps recovery short.</summary>
    internal const int SnapshotEvery = 50;

    /// <summary>A revision being put in force: journaled; now to its RouteTable entities, then to the nodes.</summary>
    private sealed class Completion(long revision, Dictionary<string, string> namespaces, bool replicate, IActorRef? replyTo, WriteAccepted? reply)
    {
        public long Revision { get; } = revision;
        public Dictionary<string, string> Waiting { get; } = namespaces;
        public bool Replicate { get; } = replicate;
        public IActorRef? ReplyTo { get; } = replyTo;
        public WriteAccepted? Reply { get; } = reply;
    }

    private sealed class Resend
    {
        public static readonly Resend Instance = new();
    }

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly IActorRef _replicator = DistributedData.Get(Context.System).Replicator;
    private readonly UniqueAddress _self = Cluster.Get(Context.System).SelfUniqueAddress;
    private readonly Func<ConfigContent?> _localConfig;
    private readonly IActorRef _routeTables;
    private readonly Func<long, bool>? _crashAfterJournaling;
    private ConfigStore _store = new();
    private Completion? _completion;

    // Recovery: the newest whole configuration in the journal (snapshot or event), then the namespaces
    // that later batches changed (the latest content of each wins).
    private ConfigCommitted? _journalBase;
    private readonly Dictionary<string, string> _journalNamespaces = new(StringComparer.Ordinal);
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
            _log.Warning("config writer: no majority answered; starting from its journal and this node's configuration");
            Start(null);
        });
        CommandAny(_ => Stash.Stash());
    }

    private void JournaledWhole(ConfigCommitted whole)
    {
        _journalBase = whole;
        _journalNamespaces.Clear();
        _journalRevision = whole.Revision;
    }

    /// <summary>The configuration the journal holds (null: none, or it does not read back), and every namespace it names.</summary>
    private ConfigContent? FromJournal(out HashSet<string> namespaces)
    {
        namespaces = new HashSet<string>(_journalNamespaces.Keys, StringComparer.Ordinal);
        if (_journalBase is null && _journalNamespaces.Count == 0) return null;
        var resources = new List<Resource>();
        if (_journalBase is not null)
        {
            var whole = LastKnownGood.Parse(_journalBase.Manifests, "journal", out var problem);
            if (whole is null)
            {
                _log.Error("config writer: journal revision {0} ignored: {1}", _journalBase.Revision, problem);
                return null;
            }
            namespaces.UnionWith(whole.Resources.Select(r => r.Metadata.Namespace));
            resources.AddRange(whole.Resources.Where(r => !_journalNamespaces.ContainsKey(r.Metadata.Namespace)));
        }
        foreach (var (ns, manifests) in _journalNamespaces)
        {
            var decoded = ManifestDecoder.Decode(manifests, $"journal (namespace {ns})");
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
        var journal = FromJournal(out var namespaces);
        var replicatedContent = replicated is null ? null : LastKnownGood.Parse(replicated, "replicated configuration", out _);
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

        // Before taking writes, finish what a predecessor may have left half done: every namespace to its
        // RouteTable entity at this revision (entities at it already just answer), then the nodes.
        namespaces.UnionWith(start.Resources.Select(r => r.Metadata.Namespace));
        var completion = new Completion(start.Revision, namespaces.ToDictionary(ns => ns, Content, StringComparer.Ordinal),
            replicate: start.Revision > (replicatedContent?.Revision ?? 0), replyTo: null, reply: null);
        Become(Completing);
        if (start.Revision > (journal?.Revision ?? 0))
        {
            // Newer than this journal (another node's, or a journal that was lost): journal it whole, so the
            // batches that follow build on it when this journal is read again.
            Persist(new ConfigCommitted(start.Revision, LastKnownGood.Format(_store.Read(null, null))), _ => Complete(completion));
        }
        else Complete(completion);
    }

    private void Serving()
    {
        Common();
        Command<WriteConfig>(w =>
        {
            if (TooLate(w.Deadline)) return;
            var report = ConfigCheck.Check(w.Manifests, "request");
            Answer(report.Ok ? _store.Apply(report.Resources, DateTimeOffset.UtcNow) : new ConfigRejected(report.Errors));
        });
        Command<RemoveResource>(r =>
        {
            if (TooLate(r.Deadline)) return;
            var kind = ResourceKinds.Types.Keys.FirstOrDefault(k => string.Equals(k, r.Kind, StringComparison.OrdinalIgnoreCase)) ?? r.Kind;
            Answer(_store.Delete(new ResourceKey(kind, r.Namespace, r.Name)));
        });
        // Late or repeated answers of RouteTable entities to a batch that is through.
        Command<NamespaceStored>(_ => { });
    }

    /// <summary>A revision is journaled; the entities and then the nodes are getting it. Writes wait.</summary>
    private void Completing()
    {
        Common();
        Command<NamespaceStored>(stored =>
        {
            var completion = _completion;
            if (completion is null || stored.Revision < completion.Revision || !completion.Waiting.Remove(stored.Namespace)) return;
            if (completion.Waiting.Count == 0) Replicate(completion);
        });
        Command<Resend>(_ =>
        {
            if (_completion is not { Waiting.Count: > 0 } completion) return;
            _log.Warning("config revision {0}: no answer yet from the route table of {1}; sending again", completion.Revision, string.Join(", ", completion.Waiting.Keys));
            SendToRouteTables(completion);
        });
        Command<UpdateSuccess>(s =>
        {
            if (s.Request is Completion completion) Finish(completion, null);
        });
        Command<IUpdateFailure>(f =>
        {
            if (f.Request is not Completion completion) return;
            _log.Warning("config revision {0}: not replicated to a majority within {1}; it spreads as nodes become reachable", completion.Revision, ReplicationTimeout);
            Finish(completion, new WireFinding("cluster", "", $"revision {completion.Revision} is journaled, but not yet on a majority of nodes"));
        });
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

    private void Complete(Completion completion)
    {
        _completion = completion;
        if (completion.Waiting.Count == 0)
        {
            Replicate(completion);
            return;
        }
        SendToRouteTables(completion);
        Timers.StartPeriodicTimer(nameof(Resend), Resend.Instance, RouteTableResend);
    }

    private void SendToRouteTables(Completion completion)
    {
        foreach (var (ns, manifests) in completion.Waiting) _routeTables.Tell(new WriteNamespace(completion.Revision, ns, manifests));
    }

    /// <summary>Every RouteTable entity holds the revision: now to the nodes (a majority before the acknowledgement).</summary>
    private void Replicate(Completion completion)
    {
        Timers.Cancel(nameof(Resend));
        if (!completion.Replicate)
        {
            Finish(completion, null);
            return;
        }
        var register = new LWWRegister<string>(_self, LastKnownGood.Format(_store.Read(null, null)), completion.Revision);
        _replicator.Tell(Dsl.Update(Key, register, new WriteMajority(ReplicationTimeout), completion, r => r.Merge(register)));
    }

    private void Finish(Completion completion, WireFinding? warning)
    {
        if (completion.ReplyTo is not null && completion.Reply is not null)
            completion.ReplyTo.Tell(warning is null ? completion.Reply : completion.Reply with { Warnings = [.. completion.Reply.Warnings, warning] });
        else _log.Info("config writer: revision {0} is on every route table{1}", completion.Revision, warning is null ? " and replicated" : "");
        _completion = null;
        Serve();
    }

    /// <summary>A write that waited past its deadline (no writer reachable meanwhile) was already answered "not applied".</summary>
    private bool TooLate(DateTimeOffset deadline)
    {
        if (DateTimeOffset.UtcNow <= deadline) return false;
        _log.Warning("config writer: dropped a write that arrived {0} after its deadline; its sender was told it was not applied", DateTimeOffset.UtcNow - deadline);
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
                var completion = new Completion(accepted.Revision, batch.Namespaces.ToDictionary(n => n.Namespace, n => n.Manifests, StringComparer.Ordinal),
                    replicate: true, replyTo: Sender, reply: Wire(accepted));
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
                    _log.Info("config revision {0}: {1}", committed.Revision,
                        string.Join(", ", changed.Select(c => $"{c.Key} {c.Action.ToString().ToLowerInvariant()}")));
                    if (LastSequenceNr % SnapshotEvery == 0) SaveSnapshot(new ConfigCommitted(committed.Revision, LastKnownGood.Format(_store.Read(null, null))));
                    Complete(completion);
                });
                break;
            case ConfigAccepted accepted:
                Sender.Tell(Wire(accepted));
                break;
            case ConfigRejected rejected:
                Sender.Tell(new WriteRejected(rejected.Errors.Select(Wire).ToList(), rejected.Conflict, rejected.NotFound));
                break;
        }
    }

    private static WriteAccepted Wire(ConfigAccepted a) => new(a.Revision,
        a.Changes.Select(c => new WireChange(c.Key.Kind, c.Key.Namespace, c.Key.Name, c.Action.ToString().ToLowerInvariant())).ToList(),
        a.Warnings.Select(Wire).ToList());

    private static WireFinding Wire(Diagnostic d) => new(d.Resource, d.Field, d.Message);
}
