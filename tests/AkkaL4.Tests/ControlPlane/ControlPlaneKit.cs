using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using AkkaL4.Actors;
using AkkaL4.Actors.Config;
using AkkaL4.Actors.ControlPlane;
using AkkaL4.Messages.Model;
using AkkaL4.Messages.Commands;
using AkkaL4.Messages.Queries;
using AkkaL4.Tests.Support;

namespace AkkaL4.Tests.ControlPlane;

/// <summary>
/// Tests that run <c>akkal4</c> processes (each a .NET start, some a whole node): they run on their own,
/// after the parallel tests, so their bursts of CPU do not upset the data-plane tests' timings (idle
/// timeouts, outlier ejection) on a small machine.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ProcessesCollection
{
    public const string Name = "akkal4 processes (serial)";
}

/// <summary>
/// Shared by the control-plane tests (store, last-known-good, admin API, server CLI): manifests
/// (<see cref="Manifests"/> with this kit's argument order and defaults) on the 127.3.N.x address block
/// (each test class owns its N), decoding, router nodes with a data
/// directory and free admin ports (condition waits: <see cref="Waits"/>).
/// </summary>
internal static class ControlPlaneKit
{
    /// <summary>Quiet nodes: the tests look at state, not at log lines.</summary>
    private const string Quiet = "akka.loglevel = ERROR\nakka.stdout-loglevel = ERROR";

    /// <summary>
    /// For nodes of one cluster in one process (or several on one host): every node binds each Service address of the
    /// configuration, so they share those addresses as compose replicas do. Off (the default since 4cec741) the kernel
    /// refuses whichever node binds second, and a test waiting for that node's listener waits in vain. Tests of the
    /// refusal itself (ReusePortTests, ListenerBindHintTests) leave it off.
    /// </summary>
    public const string SharedAddresses = "akkal4.data-plane.reuse-port = on";

    /// <summary>A Service on <paramref name="ip"/>:<paramref name="port"/> → 9000 selecting <c>app: {app}</c> (the name when not given).</summary>
    public static string Service(string name, string ns, string ip, int port = 19000, string? app = null) =>
        Manifests.Service(name, ip, port, 9000, app, ns);

    public static string Workload(string name, string ns, string ip, string app, string version = "v1") =>
        WorkloadEntry(name, ip, $"{{app: {app}, version: {version}}}", ns);

    /// <summary>A DestinationRule with one subset per name (<c>version: NAME</c>); an invalid name such as <c>V_1</c> makes it invalid.</summary>
    public static string Rule(string name, string ns, string host, params string[] subsets) =>
        DestinationRule(name, ns, $"host: {host}\nsubsets:\n"
            + string.Join("\n", subsets.Select(s => $"- name: {s}\n  labels: {{version: {s.ToLowerInvariant().Replace('_', '-')}}}")));

    public static string Route(string name, string ns, string host, string? subset = null) =>
        VirtualService(name, ns, $"hosts: [{host}]\ntcp:\n- route:\n  - destination: {{host: {host}{(subset is null ? "" : ", subset: " + subset)}}}");

    /// <summary>Decodes manifests into resources whether or not they validate (the store's own validation is under test).</summary>
    public static IReadOnlyList<Resource> Decode(params string[] documents)
    {
        var report = ConfigCheck.Check(Join(documents), "<test>");
        Assert.NotEmpty(report.Resources);
        return report.Resources;
    }

    /// <summary>The keys of the resources in YAML or JSON manifests (what <c>get</c> printed), in order.</summary>
    public static IReadOnlyList<string> Keys(string manifests) =>
        ConfigCheck.Check(manifests, "<output>").Resources.Select(r => r.Key.ToString()).ToList();

    /// <summary>A node whose cluster has elected its config writer (a single-member cluster of its own).</summary>
    /// <param name="silent">No log at all: for nodes a test drives into errors on purpose (a listener that cannot bind).</param>
    public static async Task<RouterNode> StartNodeAsync(string name, string? dataDirectory = null, bool silent = false)
    {
        var node = RouterNode.Start(new RouterNodeOptions
        {
            Name = $"{name}-{Guid.NewGuid():N}",
            DataDirectory = dataDirectory,
            Overrides = silent ? "akka.loglevel = OFF\nakka.stdout-loglevel = OFF" : Quiet,
        });
        await EventuallyAsync(async () =>
        {
            try
            {
                await node.Writer.Ask<ConfigContent>(new ReadConfig("Gateway", "none"), TimeSpan.FromSeconds(2));
                return true;
            }
            // No answer yet, or the writer's "starting without a majority" at once.
            catch (Exception e) when (e is AskTimeoutException or ConfigNotReadableException)
            {
                return false;
            }
        }, "the cluster's config writer answers", TimeSpan.FromSeconds(30));
        return node;
    }

    /// <summary>
    /// A node that never gets a config writer: it waits to join a cluster through a seed nobody runs (port 1,
    /// which no node takes), so its writes and reads go unanswered. With <paramref name="seedPort"/> given,
    /// starting a node on that port later forms the cluster and brings the writer.
    /// </summary>
    public static RouterNode StartWriterlessNode(string name, int seedPort = 1) => RouterNode.Start(new RouterNodeOptions
    {
        Name = $"{name}-{Guid.NewGuid():N}",
        Seeds = [$"akka.tcp://{RouterNode.ActorSystemName}@127.0.0.1:{seedPort}"],
        // The node that later comes up on the seed port serves the same addresses.
        Overrides = $"akka.loglevel = OFF\nakka.stdout-loglevel = OFF\n{SharedAddresses}",
    });

    /// <summary>The dispatcher the actor at <paramref name="path"/> (one of <paramref name="system"/>'s, running) runs on.</summary>
    public static async Task<Akka.Dispatch.MessageDispatcher> DispatcherOfAsync(ActorSystem system, string path)
    {
        var actor = await system.ActorSelection(path).ResolveOne(TimeSpan.FromSeconds(10));
        return Assert.IsAssignableFrom<ActorCell>(Assert.IsAssignableFrom<ActorRefWithCell>(actor).Underlying).Dispatcher;
    }

    /// <summary>Applies through the node's writer and waits until the node has put the accepted revision in force.</summary>
    public static async Task<ConfigAccepted> ApplyAsync(RouterNode node, params string[] documents)
    {
        var reply = await node.Writer.Ask<object>(new ApplyConfig(Decode(documents)), Patience);
        var accepted = Assert.IsType<ConfigAccepted>(reply);
        await InForceAsync(node, accepted.Revision);
        return accepted;
    }

    /// <summary>
    /// Writes valid manifests through the cluster's writer, wherever it runs, and returns its acceptance; waits for the
    /// answer only, not for the revision to be in force anywhere.
    /// </summary>
    public static async Task<ConfigAccepted> WriteConfigAsync(RouterNode node, string yaml, TimeSpan timeout)
    {
        var report = ConfigCheck.Check(yaml);
        Assert.True(report.Ok, string.Join("; ", report.Errors));
        return Assert.IsType<ConfigAccepted>(await node.AskWriterAsync(new ApplyConfig(report.Resources), timeout));
    }

    /// <summary>Waits until the node has put <paramref name="revision"/> (or a newer one) in force.</summary>
    public static async Task InForceAsync(RouterNode node, long revision) =>
        Assert.True(await node.WaitForRevisionAsync(revision, Patience),
            $"revision {revision} not in force on the node within {Patience} (it is at {node.Applied?.Revision ?? 0})");

    /// <summary>Waits until the last-known-good copy in <paramref name="directory"/> is at <paramref name="revision"/>.</summary>
    public static Task SavedAsync(string directory, long revision)
    {
        var lkg = new LastKnownGood(directory);
        return EventuallyAsync(() => Task.FromResult(lkg.Load(out _)?.Revision == revision),
            () => $"{lkg.Path} is at revision {revision} (it is at {lkg.Load(out var problem)?.Revision.ToString() ?? problem ?? "nothing"})");
    }

    public static Task<ConfigContent> ReadAsync(RouterNode node, string? kind = null, string? ns = null) =>
        node.Writer.Ask<ConfigContent>(new ReadConfig(kind, ns), Patience);

    /// <summary>Waits until every listener of the node's current configuration is bound; fails otherwise.</summary>
    public static async Task<IReadOnlyList<Actors.DataPlane.ListenerSet.ListenerStatus>> BoundAsync(RouterNode node)
    {
        var listeners = await node.WaitForListenersAsync(Patience);
        Assert.Equal(node.Routes.Current.Listeners.Count, listeners.Count);
        Assert.All(listeners, l => Assert.True(l.Bound, $"listener {l.Address} not bound: {l.Error}"));
        return listeners;
    }

    /// <summary>A loopback port nobody listens on right now (the admin API takes a concrete port).</summary>
    public static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    public static string TempDirectory()
    {
        var path = Path.Combine(Path.GetTempPath(), $"akkal4-cp-{Guid.NewGuid():N}");
        Directory.CreateDirectory(path);
        return path;
    }

    public static void DeleteDirectory(string path)
    {
        try { Directory.Delete(path, recursive: true); }
        catch (IOException) { }
    }
}
