using Akka.Actor;
using Akka.Cluster;
using Akka.DistributedData;
using Akka.Event;
using AkkaL4.Actors.Config;
using AkkaL4.Messages.Model;
using AkkaL4.Messages.Protocol;

namespace AkkaL4.Actors.ControlPlane;

/// <summary>
/// The cluster singleton every configuration write goes through. It validates a batch against the
/// whole stored configuration, assigns the next revision, and replicates the result to a majority of
/// nodes (Akka.DistributedData, the revision as the register's clock) before it acknowledges; every
/// node's <see cref="RouteCache"/> then puts it in force. A new writer (hand-over, restart) starts from
/// the newest of the replicated configuration and its own node's.
/// </summary>
public sealed class ConfigWriter : ReceiveActor, IWithUnboundedStash
{
    public static readonly LWWRegisterKey<string> Key = new("akkal4-config");
    private static readonly TimeSpan ReplicationTimeout = TimeSpan.FromSeconds(3);

    private sealed record Pending(IActorRef ReplyTo, WriteAccepted Reply);

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly IActorRef _replicator = DistributedData.Get(Context.System).Replicator;
    private readonly UniqueAddress _self = Cluster.Get(Context.System).SelfUniqueAddress;
    private readonly Func<ConfigContent?> _localConfig;
    private ConfigStore _store = new();

    public IStash Stash { get; set; } = null!;

    public static Props Props(Func<ConfigContent?> localConfig) => Akka.Actor.Props.Create(() => new ConfigWriter(localConfig));

    public ConfigWriter(Func<ConfigContent?> localConfig)
    {
        _localConfig = localConfig;
        Receive<GetSuccess>(g => Start(g.Get(Key).Value));
        Receive<NotFound>(_ => Start(null));
        Receive<GetFailure>(_ =>
        {
            _log.Warning("config writer: no majority answered; starting from this node's configuration");
            Start(null);
        });
        ReceiveAny(_ => Stash.Stash());
    }

    protected override void PreStart() => _replicator.Tell(Dsl.Get(Key, new ReadMajority(ReplicationTimeout)));

    private void Start(string? replicated)
    {
        var fromCluster = replicated is null ? null : LastKnownGood.Parse(replicated, "replicated configuration", out _);
        var local = _localConfig();
        var start = (fromCluster?.Revision ?? 0) >= (local?.Revision ?? 0) ? fromCluster : local;
        _store = new ConfigStore(start?.Revision ?? 0, start?.Resources);
        _log.Info("config writer started at revision {0}", _store.Revision);
        Become(Serving);
        Stash.UnstashAll();
    }

    private void Serving()
    {
        Receive<WriteConfig>(w =>
        {
            var report = ConfigCheck.Check(w.Manifests, "request");
            Answer(report.Ok ? _store.Apply(report.Resources, DateTimeOffset.UtcNow) : new ConfigRejected(report.Errors));
        });
        Receive<RemoveResource>(r =>
        {
            var kind = ResourceKinds.Types.Keys.FirstOrDefault(k => string.Equals(k, r.Kind, StringComparison.OrdinalIgnoreCase)) ?? r.Kind;
            Answer(_store.Delete(new ResourceKey(kind, r.Namespace, r.Name)));
        });
        Receive<ReadConfig>(r =>
        {
            var content = _store.Read(r.Kind, r.Namespace);
            Sender.Tell(new ConfigAtRevision(content.Revision, ManifestEncoder.ToYaml(content.Resources)));
        });
        Receive<UpdateSuccess>(s => { if (s.Request is Pending p) p.ReplyTo.Tell(p.Reply); });
        Receive<IUpdateFailure>(f =>
        {
            if (f.Request is not Pending p) return;
            _log.Warning("config revision {0}: not replicated to a majority within {1}; it spreads as nodes become reachable", p.Reply.Revision, ReplicationTimeout);
            p.ReplyTo.Tell(p.Reply with
            {
                Warnings = [.. p.Reply.Warnings, new WireFinding("cluster", "", $"revision {p.Reply.Revision} is stored, but not yet on a majority of nodes")],
            });
        });
    }

    private void Answer(object result)
    {
        switch (result)
        {
            case ConfigAccepted accepted when accepted.Changes.Any(c => c.Action != ChangeAction.Unchanged):
                var content = _store.Read(null, null);
                _log.Info("config revision {0}: {1}", accepted.Revision,
                    string.Join(", ", accepted.Changes.Where(c => c.Action != ChangeAction.Unchanged).Select(c => $"{c.Key} {c.Action.ToString().ToLowerInvariant()}")));
                var register = new LWWRegister<string>(_self, LastKnownGood.Format(content), content.Revision);
                _replicator.Tell(Dsl.Update(Key, register, new WriteMajority(ReplicationTimeout), new Pending(Sender, Wire(accepted)), r => r.Merge(register)));
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
