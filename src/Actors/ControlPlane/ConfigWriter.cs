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
/// The cluster singleton every configuration write goes through. It validates a batch against the
/// whole stored configuration, assigns the next revision, journals it (Akka.Persistence), and
/// replicates it to a majority of nodes (Akka.DistributedData, the revision as the register's clock)
/// before it acknowledges; every node's <see cref="RouteCache"/> then puts it in force. A new writer
/// (hand-over, restart) starts from the newest of its journal, the replicated configuration and its
/// own node's.
/// </summary>
public sealed class ConfigWriter : ReceivePersistentActor
{
    public static readonly LWWRegisterKey<string> Key = new("akkal4-config");
    private static readonly TimeSpan ReplicationTimeout = TimeSpan.FromSeconds(3);

    private sealed record Pending(IActorRef ReplyTo, WriteAccepted Reply);

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly IActorRef _replicator = DistributedData.Get(Context.System).Replicator;
    private readonly UniqueAddress _self = Cluster.Get(Context.System).SelfUniqueAddress;
    private readonly Func<ConfigContent?> _localConfig;
    private ConfigStore _store = new();
    private ConfigCommitted? _journaled;

    public override string PersistenceId => "akkal4-config-writer";

    public static Props Props(Func<ConfigContent?> localConfig) => Akka.Actor.Props.Create(() => new ConfigWriter(localConfig));

    public ConfigWriter(Func<ConfigContent?> localConfig)
    {
        _localConfig = localConfig;
        Recover<ConfigCommitted>(e => _journaled = e);
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

    private void Start(string? replicated)
    {
        var candidates = new[]
        {
            _journaled is null ? null : LastKnownGood.Parse(_journaled.Manifests, "journal", out _),
            replicated is null ? null : LastKnownGood.Parse(replicated, "replicated configuration", out _),
            _localConfig(),
        };
        var start = candidates.OfType<ConfigContent>().MaxBy(c => c.Revision);
        _store = new ConfigStore(start?.Revision ?? 0, start?.Resources);
        _log.Info("config writer started at revision {0}", _store.Revision);
        // After a full-cluster restart the journal may hold a newer revision than any node: hand it out again.
        if (start is not null && start.Revision > (candidates[1]?.Revision ?? 0))
        {
            var register = new LWWRegister<string>(_self, LastKnownGood.Format(start), start.Revision);
            _replicator.Tell(Dsl.Update(Key, register, WriteLocal.Instance, r => r.Merge(register)));
        }
        Become(Serving);
        Stash.UnstashAll();
    }

    private void Serving()
    {
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
        Command<ReadConfig>(r =>
        {
            var content = _store.Read(r.Kind, r.Namespace);
            Sender.Tell(new ConfigAtRevision(content.Revision, ManifestEncoder.ToYaml(content.Resources)));
        });
        Command<UpdateSuccess>(s => { if (s.Request is Pending p) p.ReplyTo.Tell(p.Reply); });
        Command<IUpdateFailure>(f =>
        {
            if (f.Request is not Pending p) return;
            _log.Warning("config revision {0}: not replicated to a majority within {1}; it spreads as nodes become reachable", p.Reply.Revision, ReplicationTimeout);
            p.ReplyTo.Tell(p.Reply with
            {
                Warnings = [.. p.Reply.Warnings, new WireFinding("cluster", "", $"revision {p.Reply.Revision} is journaled, but not yet on a majority of nodes")],
            });
        });
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
                var text = LastKnownGood.Format(_store.Read(null, null));
                var replyTo = Sender;
                // Journaled first: a write is acknowledged only once it is on disk and on a majority of nodes.
                Persist(new ConfigCommitted(accepted.Revision, text), committed =>
                {
                    _log.Info("config revision {0}: {1}", accepted.Revision,
                        string.Join(", ", accepted.Changes.Where(c => c.Action != ChangeAction.Unchanged).Select(c => $"{c.Key} {c.Action.ToString().ToLowerInvariant()}")));
                    var register = new LWWRegister<string>(_self, committed.Manifests, committed.Revision);
                    _replicator.Tell(Dsl.Update(Key, register, new WriteMajority(ReplicationTimeout), new Pending(replyTo, Wire(accepted)), r => r.Merge(register)));
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
