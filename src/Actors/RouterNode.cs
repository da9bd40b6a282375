using System.Reflection;
using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Tools.Singleton;
using Akka.Pattern;
using Akka.DistributedData;
using Akka.Configuration;
using Akka.Event;
using Akka.Streams;
using AkkaL4.Actors.ControlPlane;
using AkkaL4.Actors.DataPlane;
using AkkaL4.Actors.DataPlane.Transport;
using AkkaL4.Actors.Routing;
using AkkaL4.Actors.Upstreams;
using AkkaL4.Messages.Model;

namespace AkkaL4.Actors;

public sealed record RouterNodeOptions
{
    /// <summary>The node's name (its actor system's name in logs and metrics).</summary>
    public string Name { get; init; } = "akkal4";
    /// <summary>Gateways whose selector these labels satisfy are served by this node.</summary>
    public Labels Labels { get; init; } = Labels.Empty;
    /// <summary>Cluster addresses to join (<c>akka.tcp://akkal4@host:port</c>); empty = start a cluster of its own.</summary>
    public IReadOnlyList<string> Seeds { get; init; } = [];
    /// <summary>False: serve only the listeners of this node's Gateways, no mesh (service address) listeners.</summary>
    public bool ServeMesh { get; init; } = true;
    /// <summary>Where the node keeps its last-known-good configuration (and, by default, the writer's SQLite journal); null = nowhere.</summary>
    public string? DataDirectory { get; init; }
    /// <summary>A PostgreSQL connection string for the config writer's journal, shared by all nodes; null = SQLite in <see cref="DataDirectory"/>.</summary>
    public string? PostgresJournal { get; init; }
    /// <summary>HOCON that replaces the built-in cluster.hocon (null = the built-in one).</summary>
    public string? Hocon { get; init; }
    /// <summary>HOCON placed over it, for per-node values and tests.</summary>
    public string? Overrides { get; init; }
    /// <summary>Mutual TLS for cluster remoting (null: plain TCP; only sensible on loopback).</summary>
    public RemotingTls? Tls { get; init; }
    /// <summary>Tests only: the config writer stops right after journaling a batch whose revision this returns true for.</summary>
    internal Func<long, bool>? CrashWriterAfterJournaling { get; init; }
}

/// <summary>
/// One router node: an actor system in an Akka cluster with the data plane (listeners, connection
/// actors, router actors). <see cref="Apply"/> swaps in a new configuration.
/// </summary>
public sealed class RouterNode : IAsyncDisposable
{
    public const string ActorSystemName = "akkal4";

    private readonly RouterNodeOptions _options;
    private readonly IActorRef _routers;
    private readonly IActorRef _listeners;

    public ActorSystem System { get; }
    public LiveRoutes Routes { get; } = new();
    public DataPlaneMetrics Metrics { get; }
    public RouterNodeOptions Options => _options;

    private RouterNode(RouterNodeOptions options, ActorSystem system, ITcpTransport? transport)
    {
        _options = options;
        System = system;
        Metrics = new DataPlaneMetrics(options.Name);
        var settings = DataPlaneSettings.From(system.Settings.Config);
        var materializer = system.Materializer();
        transport ??= TcpTransports.Create(system, settings.Transport);
        _routers = system.ActorOf(RouterSupervisor.Props(Metrics), "routers");
        _listeners = system.ActorOf(ListenerSet.Props(new NodeDataPlane(Routes, _routers, transport, settings, Metrics, materializer, new Relays(materializer, Environment.ProcessorCount))), "listeners");
        system.ActorOf(AccessLogWriter.Props(Console.Out), "access-log");

        var lastKnownGood = options.DataDirectory is null ? null : new LastKnownGood(options.DataDirectory);
        string? problem = null;
        var saved = lastKnownGood?.Load(out problem);
        if (problem is not null) system.Log.Warning("last-known-good ignored: {0}", problem);
        if (saved is not null)
        {
            system.Log.Info("serving last-known-good configuration revision {0} from {1}", saved.Revision, lastKnownGood!.Path);
            Apply(saved.Resources, saved.Revision);
        }
        // The stored configuration, one sharded, event-sourced entity per namespace; only the writer writes it.
        RouteTables = RouteTable.StartRegion(system);
        // Writes: this node's client → the singleton proxy → the one ConfigWriter of the cluster.
        // A writer that stops (a journal write failed, say) comes back, with backoff, from its journal,
        // and finishes the batch it had journaled before it takes another.
        var writerProps = BackoffSupervisor.Props(Backoff.OnStop(
            ConfigWriter.Props(() => Volatile.Read(ref _applied), RouteTables, options.CrashWriterAfterJournaling), "writer",
            TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(10), 0.2, -1));
        system.ActorOf(ClusterSingletonManager.Props(writerProps, PoisonPill.Instance, ClusterSingletonManagerSettings.Create(system)), "config-writer");
        var writer = system.ActorOf(ClusterSingletonProxy.Props("/user/config-writer", ClusterSingletonProxySettings.Create(system)), "config-writer-proxy");
        Writer = system.ActorOf(ConfigClient.Props(writer), "config-client");
        // Reads: every node applies each newer replicated revision and keeps it as its last-known-good.
        system.ActorOf(RouteCache.Props(() => Volatile.Read(ref _applied)?.Revision ?? 0, content =>
        {
            Apply(content.Resources, content.Revision);
            lastKnownGood?.Save(content);
        }), "route-cache");
    }

    private ConfigContent? _applied;

    /// <summary>Replicated: each node's address → the revision it routes by.</summary>
    public static readonly LWWDictionaryKey<string, long> AppliedRevisionsKey = new("akkal4-applied");

    /// <summary>The revision each node of the cluster routes by, as last replicated to this node.</summary>
    public async Task<IReadOnlyDictionary<string, long>> AppliedRevisionsAsync()
    {
        var reply = await DistributedData.Get(System).Replicator.Ask<IGetResponse>(Dsl.Get(AppliedRevisionsKey, ReadLocal.Instance), TimeSpan.FromSeconds(5));
        return reply is GetSuccess success
            ? success.Get(AppliedRevisionsKey).Entries.ToDictionary(e => e.Key, e => e.Value)
            : new Dictionary<string, long>();
    }

    /// <summary>
    /// Waits until every reachable member routes by <paramref name="revision"/> or newer; returns the
    /// members that still lag when <paramref name="timeout"/> passes (empty: all caught up).
    /// </summary>
    public async Task<IReadOnlyList<string>> WaitForClusterRevisionAsync(long revision, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var state = Cluster.Get(System).State;
            var reachable = state.Members.Where(m => m.Status == MemberStatus.Up && !state.Unreachable.Contains(m)).Select(m => m.Address.ToString());
            var applied = await AppliedRevisionsAsync();
            var lagging = reachable.Where(a => applied.GetValueOrDefault(a) < revision).ToList();
            if (lagging.Count == 0 || DateTime.UtcNow > deadline) return lagging;
            await Task.Delay(50);
        }
    }

    /// <summary>The configuration in force on this node (null before the first).</summary>
    public ConfigContent? Applied => Volatile.Read(ref _applied);

    /// <summary>
    /// Where this node sends configuration writes and reads (<see cref="ApplyConfig"/>, <see cref="DeleteResource"/>,
    /// <see cref="GetConfig"/>): they reach the cluster's one config writer, wherever it runs.
    /// </summary>
    public IActorRef Writer { get; }

    /// <summary>
    /// This node's shard region of <see cref="RouteTable"/> entities: <see cref="Messages.Protocol.ReadNamespace"/>
    /// reaches the namespace's entity wherever it runs.
    /// </summary>
    public IActorRef RouteTables { get; }

    public static string BuiltInHocon()
    {
        using var stream = typeof(RouterNode).Assembly.GetManifestResourceStream("cluster.hocon")
                           ?? throw new InvalidOperationException("cluster.hocon is not embedded in " + typeof(RouterNode).Assembly.GetName().Name);
        return new StreamReader(stream).ReadToEnd();
    }

    public static RouterNode Start(RouterNodeOptions options, ITcpTransport? transport = null)
    {
        // The journal (config writer and RouteTable entities) lives in the data directory, or in memory for a node
        // without one; PostgreSQL when the nodes of several hosts share one.
        var journal = options.PostgresJournal is { } pg
            ? JournalSettings("PostgreSQL.15", pg)
            : options.DataDirectory is { } dir
            ? JournalSettings("SQLite.MS", $"Data Source={Path.GetFullPath(Path.Combine(dir, "journal.db"))}")
            : "akka.persistence.journal.plugin = \"akka.persistence.journal.inmem\"\nakka.persistence.snapshot-store.plugin = \"akka.persistence.snapshot-store.inmem\"";
        if (options.DataDirectory is { } data) Directory.CreateDirectory(data);
        var config = ConfigurationFactory.ParseString(options.Overrides ?? "")
            .WithFallback(ConfigurationFactory.ParseString(journal))
            .WithFallback(ConfigurationFactory.ParseString(options.Hocon ?? BuiltInHocon()))
            // The SQL plugin's own reference settings (class names, table layout).
            .WithFallback(Akka.Persistence.Sql.SqlPersistence.DefaultConfiguration);
        var system = options.Tls is { } tls
            ? ActorSystem.Create(ActorSystemName, BootstrapSetup.Create().WithConfig(ConfigurationFactory.ParseString(RemotingTls.Hocon).WithFallback(config)).And(tls.Setup()))
            : ActorSystem.Create(ActorSystemName, config);
        var node = new RouterNode(options, system, transport);
        var cluster = Cluster.Get(system);
        if (options.Seeds.Count == 0) cluster.Join(cluster.SelfAddress);
        else cluster.JoinSeedNodes(options.Seeds.Select(Address.Parse));
        return node;
    }

    private static string JournalSettings(string provider, string connection)
    {
        var quoted = "\"" + connection.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";
        return $"akka.persistence.journal.sql {{ provider-name = \"{provider}\", connection-string = {quoted} }}\n"
               + $"akka.persistence.snapshot-store.sql {{ provider-name = \"{provider}\", connection-string = {quoted} }}";
    }

    /// <summary>The node's cluster address, for other nodes to join.</summary>
    public string ClusterAddress => Cluster.Get(System).SelfAddress.ToString();

    /// <summary>
    /// Compiles a whole configuration for this node's labels and puts it in force, replacing the
    /// previous one. Writes go through <see cref="Writer"/>, which calls this; the demo and tests call
    /// it directly to switch between complete configurations.
    /// </summary>
    public RouteSnapshot Apply(IReadOnlyCollection<Resource> resources, long revision = 0)
    {
        var snapshot = RouteCompiler.Compile(resources, _options.Labels, revision, _options.ServeMesh);
        Volatile.Write(ref _applied, new ConfigContent(revision, resources.ToList()));
        Routes.Swap(snapshot);
        // Tell the cluster which revision this node routes by (for status and apply --wait).
        var self = Cluster.Get(System).SelfUniqueAddress;
        var address = self.Address.ToString();
        DistributedData.Get(System).Replicator.Tell(Dsl.Update(AppliedRevisionsKey, LWWDictionary<string, long>.Empty, WriteLocal.Instance,
            map => map.SetItem(self, address, revision)));
        _routers.Tell(new ApplyRoutes(snapshot));
        _listeners.Tell(new ApplyRoutes(snapshot));
        var log = System.Log;
        foreach (var note in snapshot.Notes) log.Warning("config: {0}", note);
        log.Info("config revision {0} in force: {1} listener(s), {2} cluster(s)", revision, snapshot.Listeners.Count, snapshot.Clusters.Count);
        return snapshot;
    }

    public Task<IReadOnlyList<ListenerSet.ListenerStatus>> ListenersAsync() =>
        _listeners.Ask<IReadOnlyList<ListenerSet.ListenerStatus>>(new ListenerSet.GetListeners(), TimeSpan.FromSeconds(5));

    /// <summary>
    /// Asks the cluster's config writer through <see cref="Writer"/>, asking again while it is still
    /// starting or moving to another node, for up to <paramref name="patience"/>.
    /// </summary>
    public async Task<object> AskWriterAsync(object message, TimeSpan patience, Action? onWaiting = null)
    {
        for (var deadline = DateTime.UtcNow + patience; ; )
        {
            try
            {
                return await Writer.Ask<object>(message, ConfigClient.Timeout);
            }
            catch (AskTimeoutException) when (DateTime.UtcNow < deadline)
            {
                onWaiting?.Invoke();
            }
        }
    }

    /// <summary>Waits until this node has put revision <paramref name="revision"/> (or a newer one) in force.</summary>
    public async Task<bool> WaitForRevisionAsync(long revision, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while ((Applied?.Revision ?? 0) < revision)
        {
            if (DateTime.UtcNow > deadline) return false;
            await Task.Delay(20);
        }
        return true;
    }

    /// <summary>Waits until every listener of the current snapshot is bound (or the timeout passes).</summary>
    public async Task<IReadOnlyList<ListenerSet.ListenerStatus>> WaitForListenersAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var listeners = await ListenersAsync();
            var expected = Routes.Current.Listeners.Count;
            if ((listeners.Count == expected && listeners.All(l => l.Bound)) || DateTime.UtcNow > deadline) return listeners;
            await Task.Delay(20);
        }
    }

    public IActorRef Routers => _routers;

    public async ValueTask DisposeAsync()
    {
        await CoordinatedShutdown.Get(System).Run(CoordinatedShutdown.ClrExitReason.Instance);
        Metrics.Dispose();
    }
}
