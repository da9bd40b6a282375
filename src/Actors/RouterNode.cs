using System.Reflection;
using Akka.Actor;
using Akka.Actor.Internal;
using Akka.Actor.Setup;
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
using AkkaL4.Actors.Upstreams.Health;
using AkkaL4.Messages.Model;
using AkkaL4.Messages.Commands;
using AkkaL4.Messages.Queries;
using AkkaL4.Actors.ControlPlane.Journal;

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
    /// <summary>HOCON layered over the built-in cluster.hocon (a <c>--config</c> file, then <c>$AKKAL4_HOCON</c>): later layers win.</summary>
    public IReadOnlyList<string> ConfigLayers { get; init; } = [];
    /// <summary>HOCON placed over all of them, for per-node values (flags) and tests.</summary>
    public string? Overrides { get; init; }
    /// <summary>Where each connection's access-log line goes, and in which format (null: nowhere; <see cref="RouterNode.AccessLog"/>'s observers still see the entries).</summary>
    public AccessLogOutput? AccessLog { get; init; }
    /// <summary>Mutual TLS for cluster remoting (null: plain TCP; only sensible on loopback).</summary>
    public RemotingTls? Tls { get; init; }
    /// <summary>Tests only: the config writer stops right after journaling a batch whose revision this returns true for.</summary>
    internal Func<long, bool>? CrashWriterAfterJournaling { get; init; }
    /// <summary>Tests only: called on the route cache's thread with a replicated revision before it is compiled (a compile that takes long).</summary>
    internal Action<long>? ApplyingReplicated { get; init; }
    /// <summary>Tests only: the data plane's descriptor budget for a reserve (null: this process's limit and descriptors).</summary>
    internal Func<int, DescriptorBudget>? Descriptors { get; init; }
    /// <summary>Tests only: an actor put in front of the router supervisor, made from the supervisor's props (one that loses asks).</summary>
    internal Func<Props, Props>? FrontOfRouters { get; init; }
    /// <summary>
    /// Tests only (public for <c>akkal4 run --test-hold-start</c>): called inside <see cref="RouterNode.Start"/> once the cluster
    /// side's actor system runs, before its actors are made — where a real process holds its start for a SIGTERM to arrive.
    /// </summary>
    public Action? InsideStart { get; init; }
}

/// <summary>
/// One router node. Its data plane (listeners, connection actors, router actors) lives in an actor
/// system of its own that only the node's end stops; its cluster side (membership, config writer,
/// replication) lives in a second one, a <see cref="Membership"/>. When that one is
/// downed or removed, the data plane routes on with the configuration in force and a fresh membership
/// rejoins through the seeds and the members last seen. <see cref="Apply"/> swaps in a new configuration.
/// </summary>
public sealed class RouterNode : IAsyncDisposable
{
    public const string ActorSystemName = "akkal4";

    private readonly RouterNodeOptions _options;
    private readonly IActorRef _routers;
    private readonly IActorRef _listeners;
    private readonly Akka.Configuration.Config _clusterConfig;
    private readonly LastKnownGood? _lastKnownGood;
    private readonly TimeSpan _rejoinAfter;
    private readonly object _gate = new();
    private readonly HashSet<Address> _peers = [];
    private readonly TaskCompletionSource _left = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile Membership _membership = null!;
    private volatile MembershipStatus _status;
    private volatile bool _stopping;

    /// <summary>The data plane's actor system: listeners, connection actors, router actors, the access log.</summary>
    public ActorSystem System { get; }
    public LiveRoutes Routes { get; } = new();
    public DataPlaneMetrics Metrics { get; }
    /// <summary>The node's relays (tests look at their idle sweep).</summary>
    internal Relays Relays { get; }
    /// <summary>The node's connections: the max-connections cap and the descriptors they may hold.</summary>
    public ConnectionBudget Connections { get; }
    /// <summary>Every connection's access-log entry (<see cref="AccessLogSink.Observe"/>), written to <see cref="RouterNodeOptions.AccessLog"/>.</summary>
    public AccessLogSink AccessLog { get; }
    /// <summary>Endpoint health and load of every upstream cluster (read it with <see cref="UpstreamHealth.Snapshot(RouteSnapshot)"/>).</summary>
    public UpstreamHealth Health { get; } = new();
    public RouterNodeOptions Options => _options;
    /// <summary>The PostgreSQL journal as checked at start (null: none configured); see <see cref="JournalCheck"/>.</summary>
    public JournalCheck? Journal { get; }

    /// <summary>One incarnation of the node's cluster side; a downed one is replaced by a fresh one.</summary>
    private sealed record Membership(ActorSystem System, IActorRef Writer, int Incarnation);

    /// <summary>Where the node stands in the cluster (<c>State</c>: joining, up, rejoining, left) and since when; draining or not.</summary>
    public sealed record MembershipStatus(string State, bool InCluster, DateTimeOffset Since, int Incarnation, bool Draining);

    /// <summary>What this node's remoting gates counted, whichever cluster system (incarnation) each belonged to.</summary>
    private readonly RemotingGateCounts _remotingGate = new();

    private RouterNode(RouterNodeOptions options, ActorSystem dataSystem, Akka.Configuration.Config clusterConfig, ITcpTransport? transport, DescriptorBudget descriptors)
    {
        _options = options;
        _clusterConfig = clusterConfig;
        System = dataSystem;
        _status = new MembershipStatus("joining", false, DateTimeOffset.UtcNow, 0, false);
        Metrics = new DataPlaneMetrics(options.Name);
        Metrics.Observe(_remotingGate);
        var settings = DataPlaneSettings.From(dataSystem.Settings.Config);
        TlsFileRoots.InForce(this, settings.TlsRoots);
        if (settings.AcceptProxyProtocol)
            dataSystem.Log.Info("PROXY headers trusted from {0}", string.Join(", ", settings.ProxyProtocolTrustedSources));
        _rejoinAfter = dataSystem.Settings.Config.GetTimeSpan("akkal4.membership.rejoin-after", null);
        var materializer = dataSystem.Materializer();
        Connections = new ConnectionBudget(settings.MaxConnections, descriptors);
        transport ??= TcpTransports.Create(dataSystem, settings.Transport, Connections, settings.RelayInlineCompletions);
        var pickers = new UpstreamPickers(Health);
        if (Connections.Descriptors.FewWarning(settings.MaxConnections) is { } few) dataSystem.Log.Warning(few);
        Metrics.Observe(Connections);
        var routers = RouterSupervisor.Props(Metrics, pickers);
        _routers = dataSystem.ActorOf(options.FrontOfRouters?.Invoke(routers) ?? routers, "routers");
        Relays = new Relays(materializer, Environment.ProcessorCount, dataSystem.Log, settings.RelayInlineCompletions);
        AccessLog = new AccessLogSink(options.AccessLog).Start(dataSystem);
        _listeners = dataSystem.ActorOf(ListenerSet.Props(new NodeDataPlane(Routes, _routers, pickers, transport, settings, Metrics, materializer,
            Relays, Connections) { AccessLog = AccessLog }), "listeners");

        _lastKnownGood = options.DataDirectory is null ? null : new LastKnownGood(options.DataDirectory);
        string? problem = null;
        var saved = _lastKnownGood?.Load(out problem);
        if (problem is not null) dataSystem.Log.Warning("last-known-good ignored: {0}", problem);
        if (saved is not null)
        {
            dataSystem.Log.Info("serving last-known-good configuration revision {0} from {1}", saved.Revision, _lastKnownGood!.Path);
            Apply(saved.Resources, saved.Revision);
        }
        // After the last-known-good copy is served: the check connects in the background (JournalCheck.Start).
        Journal = JournalCheck.Start(options.PostgresJournal, dataSystem.Log, dataSystem.WhenTerminated);
    }

    /// <summary>
    /// Starts a cluster side: the control plane's actors, then joins (<paramref name="rejoin"/>: only through others). Called
    /// under <see cref="_gate"/>; a start that throws leaves its system's termination in <paramref name="failed"/>, for the
    /// caller to wait for once it has let go of the gate (a drain or stop must not wait behind it).
    /// </summary>
    private Membership StartMembership(int incarnation, IReadOnlyList<Address>? rejoin, ref Task? failed)
    {
        // A member that leaves in order must not read as a crash in this node's log (OrderlyLeaveLogFilter).
        var quietLeaves = new OrderlyLeaveLogFilter();
        var config = _options.Tls is null ? _clusterConfig : ConfigurationFactory.ParseString(RemotingTls.Hocon).WithFallback(_clusterConfig);
        // Connections to the remoting port that never authenticate are counted by RemotingGate, not logged one by one (when
        // the gate is applied: without it nothing would count them).
        LogFilterBase[] filters = RemotingGateProvider.Applied(config) ? [quietLeaves, new UnauthenticatedRemotingLogFilter()] : [quietLeaves];
        var setup = BootstrapSetup.Create().WithConfig(config).And(new LogFilterSetup(filters)).And(_remotingGate);
        if (_options.Tls is { } tls) setup = setup.And(tls.Setup());
        var system = CreateSystem(ActorSystemName, setup);
        var previous = _membership;
        try
        {
            quietLeaves.Watch(Cluster.Get(system));
            return StartMembership(system, incarnation, rejoin);
        }
        catch
        {
            // Its remoting port is bound: a failed start must not keep it (nor its actors) behind it, for a retry in this
            // process, or the next process, to bind it. Not the current membership any more, its end starts no rejoin.
            _membership = previous;
            failed = system.Terminate();
            throw;
        }
    }

    /// <summary>
    /// What <c>ActorSystem.Create(name, setup)</c> does, without its <c>ConfigurationFactory.Load()</c>: Akka 1.5.73 evaluates
    /// that fallback even when the setup carries the configuration, which builds .NET's app.config system (System.Configuration,
    /// the XML stack; bench/README.md, session 17) to read an <c>akka</c> section nobody writes.
    /// </summary>
    internal static ActorSystem CreateSystem(string name, ActorSystemSetup setup)
    {
        var config = setup.Get<BootstrapSetup>().FlatSelect(b => b.Config);
        if (!config.HasValue) throw new ArgumentException("the setup must carry the configuration", nameof(setup));
        var system = new ActorSystemImpl(name, config.Value, setup);
        system.Start();
        return system;
    }

    private Membership StartMembership(ActorSystem system, int incarnation, IReadOnlyList<Address>? rejoin)
    {
        if (incarnation == 0) _options.InsideStart?.Invoke();
        // No journal is started here: the journal (the light plugin with SQLite or Npgsql; before it Akka.Persistence.Sql, linq2db,
        // LanguageExt: ~30 MB of a node's RSS) loads when the first persistent actor on this node starts — the config writer, or a RouteTable
        // entity — so a node that hosts neither never maps it (bench/README.md, "Memory, session 10").
        // The stored configuration, one sharded, event-sourced entity per namespace: the writer writes it, reads come from it.
        var routeTables = RouteTable.StartRegion(system);
        // Writes: this node's client → the singleton proxy → the one ConfigWriter of the cluster.
        // A writer that stops (a journal write failed, say) comes back, with backoff, from its journal,
        // and finishes the batch it had journaled before it takes another.
        var writerProps = BackoffSupervisor.Props(Backoff.OnStop(
            ConfigWriter.Props(() => Volatile.Read(ref _applied), routeTables, perHostJournal: _options.PostgresJournal is null, _options.CrashWriterAfterJournaling)
                .WithDispatcher(ControlPlaneWork.WriterDispatcher), "writer",
            TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(10), 0.2, -1));
        system.ActorOf(ClusterSingletonManager.Props(writerProps, PoisonPill.Instance, ClusterSingletonManagerSettings.Create(system)), "config-writer");
        var writer = system.ActorOf(ClusterSingletonProxy.Props("/user/config-writer", ClusterSingletonProxySettings.Create(system)), "config-writer-proxy");
        var client = system.ActorOf(ConfigClient.Props(writer, routeTables).WithDispatcher(ControlPlaneWork.ClientDispatcher), "config-client");
        // Reads: every node applies each newer replicated revision and keeps it as its last-known-good.
        system.ActorOf(RouteCache.Props(() => Volatile.Read(ref _applied)?.Revision ?? 0, content =>
        {
            _options.ApplyingReplicated?.Invoke(content.Revision);
            Apply(content.Resources, content.Revision);
            // After the swap: the copy on disk is YAML (see LastKnownGood), encoded while the node already routes by it.
            _lastKnownGood?.SaveLater(content, System.Log);
        }, ApplyFailed).WithDispatcher(ControlPlaneWork.Dispatcher), "route-cache");
        var membership = new Membership(system, client, incarnation);

        var cluster = Cluster.Get(system);
        system.ActorOf(Props.Create(() => new PeerWatch(Remember)), "peer-watch");
        cluster.RegisterOnMemberUp(() =>
        {
            if (!ReferenceEquals(_membership, membership)) return;
            _status = _status with { State = "up", InCluster = true, Since = DateTimeOffset.UtcNow };
            System.Log.Info("cluster: {0} is Up (membership {1}), routing on revision {2}", cluster.SelfAddress, incarnation, Routes.Current.Revision);
            PublishApplied();
        });
        _ = system.WhenTerminated.ContinueWith(_ => OnMembershipEnded(membership), TaskScheduler.Default);
        // Set before joining: the Up callback and Apply look at it.
        _membership = membership;
        if (rejoin is not null)
        {
            // Only through others, never alone: a node downed in a partition must not found a second cluster with a
            // second writer. (A node that never had a seed or a peer was a cluster of its own, and founds it again.)
            if (rejoin.Count > 0) cluster.JoinSeedNodes(rejoin);
            else cluster.Join(cluster.SelfAddress);
        }
        else if (_options.Seeds.Count == 0) cluster.Join(cluster.SelfAddress);
        // Akka's seed process: a node first in its own seed list joins any other seed that answers, and
        // founds the cluster only when none does; any other node waits for one of them.
        else cluster.JoinSeedNodes(_options.Seeds.Select(Address.Parse));
        return membership;
    }

    private void Remember(Address address)
    {
        lock (_gate) _peers.Add(address);
    }

    /// <summary>The cluster side ended: downed, removed, or left. Unless the node is stopping, a fresh one rejoins.</summary>
    private void OnMembershipEnded(Membership ended)
    {
        if (_stopping || !ReferenceEquals(_membership, ended)) return;
        var self = Cluster.Get(ended.System).SelfAddress;
        var reason = CoordinatedShutdown.Get(ended.System).ShutdownReason;
        _status = _status with { State = "rejoining", InCluster = false, Since = DateTimeOffset.UtcNow };
        if (reason is CoordinatedShutdown.ClusterLeavingReason)
        {
            // Asked to leave from outside (not by this node's own drain): the node ends, as on SIGTERM.
            System.Log.Warning("cluster: {0} left the cluster; the node stops", self);
            _left.TrySetResult();
            return;
        }
        List<Address> peers;
        lock (_gate)
        {
            peers = _options.Seeds.Select(Address.Parse).Concat(_peers).Where(a => !a.Equals(self)).Distinct().ToList();
        }
        System.Log.Warning("cluster: {0} is out of the cluster ({1}); routing on with revision {2}; rejoining through {3} in {4}",
            self, reason?.GetType().Name ?? "terminated", Routes.Current.Revision, peers.Count == 0 ? "itself" : string.Join(", ", peers), _rejoinAfter);
        _ = RejoinAsync(ended.Incarnation + 1, peers);
    }

    private async Task RejoinAsync(int incarnation, IReadOnlyList<Address> peers)
    {
        for (var delay = _rejoinAfter; !_stopping; delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(30).Ticks)))
        {
            await Task.Delay(delay);
            if (_stopping) return;
            Task? failed = null;
            try
            {
                lock (_gate)
                {
                    if (_stopping) return;
                    _status = _status with { Incarnation = incarnation };
                    StartMembership(incarnation, peers, ref failed);
                }
                return;
            }
            catch (Exception e)
            {
                // The remoting port may still be held by the ending system: try again, once the failed one has let go of it.
                System.Log.Warning("cluster: could not start membership {0} ({1}); trying again", incarnation, e.Message);
                if (failed is not null) await Task.WhenAny(failed, Task.Delay(TimeSpan.FromSeconds(10)));
            }
        }
    }

    /// <summary>Completes when the node's cluster side was asked to leave from outside: the node should drain and stop.</summary>
    public Task LeftCluster => _left.Task;

    /// <summary>Where this node stands in the cluster now.</summary>
    public MembershipStatus Status => _status;

    /// <summary>The actor system of the current cluster side (replaced when the node rejoins).</summary>
    public ActorSystem ClusterSystem => _membership.System;

    /// <summary>The other members this node's cluster side knows of (0 while it is alone, joining, or rejoining).</summary>
    public int ClusterPeers
    {
        get
        {
            var membership = _membership;
            if (membership is null || membership.System.WhenTerminated.IsCompleted) return 0;
            var cluster = Cluster.Get(membership.System);
            return cluster.State.Members.Count(m => !m.UniqueAddress.Equals(cluster.SelfUniqueAddress));
        }
    }

    private ConfigContent? _applied;

    private MemberRevision _revisions = new(0, 0, null);

    /// <summary>Replicated: each node's address → the revision it routes by, and the newest one it could not apply.</summary>
    public static readonly LWWDictionaryKey<string, MemberRevision> AppliedRevisionsKey = new("akkal4-member-revisions");

    /// <summary>This node's revisions: in force, and the newest it could not apply (0: none since) with why.</summary>
    public MemberRevision Revisions => Volatile.Read(ref _revisions);
    /// <summary>What this node's last-known-good copy on disk holds (null without a data directory).</summary>
    public LastKnownGood.CopyState? LastKnownGoodCopy => _lastKnownGood?.State;

    /// <summary>The revisions of each node of the cluster (see <see cref="Revisions"/>), as last replicated to this node.</summary>
    public async Task<IReadOnlyDictionary<string, MemberRevision>> MemberRevisionsAsync()
    {
        var reply = await DistributedData.Get(ClusterSystem).Replicator.Ask<IGetResponse>(Dsl.Get(AppliedRevisionsKey, ReadLocal.Instance), TimeSpan.FromSeconds(5));
        return reply is GetSuccess success
            ? success.Get(AppliedRevisionsKey).Entries.ToDictionary(e => e.Key, e => e.Value)
            : new Dictionary<string, MemberRevision>();
    }

    /// <summary>The revision each node of the cluster routes by, as last replicated to this node.</summary>
    public async Task<IReadOnlyDictionary<string, long>> AppliedRevisionsAsync() =>
        (await MemberRevisionsAsync()).ToDictionary(e => e.Key, e => e.Value.InForce);

    /// <summary>A revision this node could not put in force: it keeps the one it has, and tells the cluster.</summary>
    private void ApplyFailed(long revision, string error)
    {
        System.Log.Error("config revision {0} not applied, revision {1} stays in force: {2}", revision, Applied?.Revision ?? 0, error);
        Volatile.Write(ref _revisions, new MemberRevision(Applied?.Revision ?? 0, revision, error));
        PublishApplied();
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
            var state = Cluster.Get(ClusterSystem).State;
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
    /// <see cref="ReadConfig"/>): they reach the cluster's one config writer, wherever it runs.
    /// </summary>
    public IActorRef Writer => _membership.Writer;

    public static string BuiltInHocon()
    {
        using var stream = typeof(RouterNode).Assembly.GetManifestResourceStream("cluster.hocon")
                           ?? throw new InvalidOperationException("cluster.hocon is not embedded in " + typeof(RouterNode).Assembly.GetName().Name);
        // This build's version for the cluster (the config writer chooses the replicated form by the members' versions).
        return new StreamReader(stream).ReadToEnd() + "\n" + ControlPlane.Release.AppVersionHocon + "\n";
    }

    /// <summary>The layers of HOCON (later ones win) over the built-in cluster.hocon, which is always the fallback.</summary>
    public static Akka.Configuration.Config Layered(IEnumerable<string> layers) =>
        layers.Aggregate(ConfigurationFactory.ParseString(BuiltInHocon()), (below, layer) => ConfigurationFactory.ParseString(layer).WithFallback(below));

    /// <summary>
    /// Why remoting's addresses or the seeds name an IP a person reads as another (sec18: '127.0.0.010' binds and dials
    /// 127.0.0.8, a member's address then not the one written anywhere), or null. Host names are left to the resolver.
    /// </summary>
    private static string? MisreadRemoting(Akka.Configuration.Config settings, IReadOnlyList<string> seeds)
    {
        foreach (var (key, use) in new[] { ("akka.remote.dot-netty.tcp.hostname", "listen on"), ("akka.remote.dot-netty.tcp.public-hostname", "tell other nodes to dial") })
            if (Routing.AddressText.Refusal(settings.GetString(key, null), use) is { } misread) return $"{key} (--remoting, --public-host): {misread}";
        foreach (var seed in seeds.Concat(settings.GetStringList("akka.cluster.seed-nodes", [])))
        {
            // akka.tcp://system@HOST:PORT, the host as written (Akka's Address keeps the text; the resolver reads it).
            var at = seed.IndexOf('@');
            var hostPort = at < 0 ? "" : seed[(at + 1)..].Split('/')[0];
            if (Routing.AddressText.Refusal(Routing.AddressText.HostOf(hostPort), "dial") is { } misread)
                return $"seed {seed} (--seed, AKKAL4_SEEDS, akka.cluster.seed-nodes): {misread}";
        }
        return null;
    }

    public static RouterNode Start(RouterNodeOptions options, ITcpTransport? transport = null)
    {
        var settings = ConfigurationFactory.ParseString(options.Overrides ?? "").WithFallback(Layered(options.ConfigLayers));
        // A reserve that leaves no room for a connection would leave every listener waiting for ever: refused before anything
        // is written or started (the one check; `run` turns it into its exit code 2). The same budget then counts the node's
        // connections (a test's injected one too).
        var descriptors = (options.Descriptors ?? DescriptorBudget.ForThisProcess)(DataPlaneSettings.From(settings).DescriptorReserve);
        if (descriptors.NoRoom() is { } none) throw new ConfigurationException(none);
        if (MisreadRemoting(settings, options.Seeds) is { } misread) throw new ConfigurationException(misread);
        // Checked here too, not only as the remoting transport is made: a bad limit must stop the start, not one cluster system.
        if (RemotingGateProvider.Applied(settings)) RemotingGateSettings.From(settings);
        if (options.PostgresJournal is { } journalText && JournalCheck.MisreadHost(journalText) is { } misreadJournal)
            throw new ConfigurationException(misreadJournal);
        // The config writer's journal lives in the data directory, or in memory for a node
        // without one; PostgreSQL when the nodes of several hosts share one.
        var journal = options.PostgresJournal is { } pg
            ? JournalSettings("PostgreSQL.15", pg)
            : options.DataDirectory is { } dir
            ? JournalSettings("SQLite.MS", $"Data Source={Path.GetFullPath(Path.Combine(dir, "journal.db"))}")
            : "akka.persistence.journal.plugin = \"akka.persistence.journal.inmem\"\nakka.persistence.snapshot-store.plugin = \"akka.persistence.snapshot-store.inmem\"";
        var clusterConfig = ConfigurationFactory.ParseString(journal).WithFallback(settings);
        if (JournalPlugins.Refusal(clusterConfig) is { } noJournal) throw new ConfigurationException(noJournal);
        if (options.DataDirectory is { } data && PrivateFiles.CreateDataDirectory(data) is { } tightened) Console.Error.WriteLine($"akkal4: {tightened}");
        // SQLite would create its journal with the umask (0644): the whole configuration, readable by every local user.
        if (options is { PostgresJournal: null, DataDirectory: { } journalDir }) PrivateFiles.CreateEmptyFile(Path.Combine(journalDir, "journal.db"));
        // The data plane needs no cluster, remoting or journal: nothing there can down it.
        var dataSystem = ActorSystem.Create(ActorSystemName + "-data", ConfigurationFactory.ParseString("akka.actor.provider = local").WithFallback(settings));
        Task? failed = null;
        try
        {
            var node = new RouterNode(options, dataSystem, clusterConfig, transport, descriptors);
            lock (node._gate) node.StartMembership(0, rejoin: null, ref failed);
            return node;
        }
        catch
        {
            // A later step refused (a setting Akka rejects, an address taken): neither system is left running behind it.
            failed?.Wait(TimeSpan.FromSeconds(10));
            dataSystem.Terminate().Wait(TimeSpan.FromSeconds(10));
            throw;
        }
    }

    private static string JournalSettings(string provider, string connection)
    {
        var quoted = "\"" + connection.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";
        return $"akka.persistence.journal.light {{ provider-name = \"{provider}\", connection-string = {quoted} }}\n"
               + $"akka.persistence.snapshot-store.light {{ provider-name = \"{provider}\", connection-string = {quoted} }}";
    }

    /// <summary>The node's cluster address, for other nodes to join.</summary>
    public string ClusterAddress => Cluster.Get(ClusterSystem).SelfAddress.ToString();

    /// <summary>
    /// Compiles a whole configuration for this node's labels and puts it in force, replacing the
    /// previous one. Writes go through <see cref="Writer"/>, which calls this; the demo and tests call
    /// it directly to switch between complete configurations.
    /// </summary>
    public RouteSnapshot Apply(IReadOnlyCollection<Resource> resources, long revision = 0)
    {
        var compiled = RouteCompiler.Compile(resources, _options.Labels, revision, _options.ServeMesh);
        var snapshot = compiled.WithNotes(Config.Validation.RefusedInWrites.Notes(resources, TlsFileRoots.Of(this)));
        Volatile.Write(ref _applied, new ConfigContent(revision, resources.ToList()));
        Routes.Swap(snapshot);
        TlsOrigination.InForce(this, snapshot.Clusters.Select(c => c.Policy.Tls).OfType<UpstreamTls>());
        Volatile.Write(ref _revisions, new MemberRevision(revision, 0, null));
        PublishApplied();
        _routers.Tell(new ApplyRoutes(snapshot));
        _listeners.Tell(new ApplyRoutes(snapshot));
        var log = System.Log;
        foreach (var note in snapshot.Notes) log.Warning("config: {0}", note);
        log.Info("config revision {0} in force: {1} listener(s), {2} cluster(s)", revision, snapshot.Listeners.Count, snapshot.Clusters.Count);
        return snapshot;
    }

    /// <summary>Tells the cluster this node's <see cref="Revisions"/> (for status and apply --wait); nothing while out of a cluster.</summary>
    private void PublishApplied()
    {
        var membership = _membership;
        var revisions = Revisions;
        if (membership is null || membership.System.WhenTerminated.IsCompleted || (Applied is null && revisions.Failed == 0)) return;
        var self = Cluster.Get(membership.System).SelfUniqueAddress;
        var address = self.Address.ToString();
        DistributedData.Get(membership.System).Replicator.Tell(Dsl.Update(AppliedRevisionsKey, LWWDictionary<string, MemberRevision>.Empty, WriteLocal.Instance,
            map => map.SetItem(self, address, revisions)));
    }

    public Task<IReadOnlyList<ListenerSet.ListenerStatus>> ListenersAsync() =>
        _listeners.Ask<IReadOnlyList<ListenerSet.ListenerStatus>>(new ListenerSet.GetListeners(), TimeSpan.FromSeconds(5));

    /// <summary>
    /// Asks the cluster's config writer through <see cref="Writer"/>, asking again while it is still
    /// starting or moving to another node, for up to <paramref name="patience"/>.
    /// </summary>
    public async Task<object> AskWriterAsync(object message, TimeSpan patience, Action? onWaiting = null)
    {
        // Asking again is safe for an uncertain write too: the same content is then acknowledged, or reported unchanged.
        for (var deadline = DateTime.UtcNow + patience; ; )
        {
            try
            {
                var reply = await Writer.Ask<object>(message, ConfigClient.MaxTimeout);
                if (reply is not (ConfigUnavailable or ConfigUncertain) || DateTime.UtcNow >= deadline) return reply;
            }
            catch (Exception e) when (e is AskTimeoutException or ConfigNotReadableException && DateTime.UtcNow < deadline)
            {
            }
            onWaiting?.Invoke();
            await Task.Delay(TimeSpan.FromMilliseconds(200));
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

    /// <summary>
    /// Graceful end: readiness turns false, the cluster side leaves (the writer hands over), listeners stop
    /// accepting (taking what the kernel already queued), open connections relay until they end or
    /// <paramref name="timeout"/> passes, then close with a FIN.
    /// </summary>
    public async Task DrainAsync(TimeSpan timeout)
    {
        _status = _status with { Draining = true };
        System.Log.Info("draining: listeners stop accepting; open connections have {0} to finish", timeout);
        var leaving = LeaveAsync();
        var drained = await _listeners.Ask<ListenerSet.Drained>(new ListenerSet.Drain(timeout), timeout + TimeSpan.FromSeconds(30));
        System.Log.Info("drained: {0} connection(s) finished, {1} closed at the drain timeout", drained.Finished, drained.Closed);
        await leaving;
    }

    /// <summary>Leaves the cluster (once): the cluster side ends for good.</summary>
    private async Task LeaveAsync()
    {
        Membership membership;
        lock (_gate)
        {
            _stopping = true;
            membership = _membership;
        }
        _status = _status with { InCluster = false, State = "left", Since = DateTimeOffset.UtcNow };
        await CoordinatedShutdown.Get(membership.System).Run(CoordinatedShutdown.ClusterLeavingReason.Instance);
    }

    public async ValueTask DisposeAsync()
    {
        await LeaveAsync();
        await CoordinatedShutdown.Get(System).Run(CoordinatedShutdown.ClrExitReason.Instance);
        // The copy of the last revision applied is on disk before the node is gone (LastKnownGood.SaveLater's thread).
        // A retry still pending (the last write failed) is dropped: nothing writes there once the node is gone.
        if (_lastKnownGood is { } lastKnownGood)
        {
            await Task.WhenAny(lastKnownGood.Idle, Task.Delay(TimeSpan.FromSeconds(30)));
            lastKnownGood.Stop();
        }
        TlsOrigination.InForce(this, null);
        TlsFileRoots.InForce(this, null);
        Metrics.Dispose();
    }
}

/// <summary>
/// Keeps the node's list of the other members it saw, for a fresh membership to rejoin through. A removed
/// member is kept: it may come back at the same address.
/// </summary>
internal sealed class PeerWatch : ReceiveActor
{
    public PeerWatch(Action<Address> remember)
    {
        var self = Cluster.Get(Context.System).SelfAddress;
        Receive<ClusterEvent.MemberUp>(up => { if (!up.Member.Address.Equals(self)) remember(up.Member.Address); });
        Receive<ClusterEvent.IMemberEvent>(_ => { });
    }

    protected override void PreStart() => Cluster.Get(Context.System).Subscribe(Self, ClusterEvent.InitialStateAsEvents, typeof(ClusterEvent.IMemberEvent));
}
