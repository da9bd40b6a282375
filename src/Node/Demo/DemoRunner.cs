using System.Net;
using AkkaL4.Actors;
using AkkaL4.Actors.Config;
using AkkaL4.Messages.Model;
using AkkaL4.Node.Echo;
using AkkaL4.Node.Admin;
using AkkaL4.Actors.ControlPlane;
using Akka.Actor;
using AkkaL4.Messages.Commands;
using AkkaL4.Messages.Queries;

namespace AkkaL4.Node.Demo;

/// <summary>
/// Starts the walkthrough's world on loopback — the echo upstreams and two router nodes in one
/// cluster (one per ingress gateway) — then applies each case, runs its client commands for real,
/// and prints command, expected answer and actual answer.
/// </summary>
internal sealed class DemoRunner(IReadOnlyDictionary<string, string> manifests, TextWriter output) : IAsyncDisposable
{
    private readonly List<EchoServer> _upstreams = [];
    private readonly List<RouterNode> _nodes = [];
    private readonly List<AdminServer> _admin = [];

    // The tour's own lines tell the story; the nodes' info logs (access log included) would bury them. The demo command
    // hears SIGTERM and Ctrl+C itself, from before the nodes start (Shutdown.CommandOwnsSignals).
    private const string NodeSettings = "akka.loglevel = ERROR\n" + Cli.Shutdown.CommandOwnsSignals;

    public static IReadOnlyDictionary<string, string> EmbeddedManifests()
    {
        var assembly = typeof(DemoRunner).Assembly;
        return assembly.GetManifestResourceNames().Where(n => n.StartsWith("seed/", StringComparison.Ordinal))
            .ToDictionary(n => n["seed/".Length..], n => new StreamReader(assembly.GetManifestResourceStream(n)!).ReadToEnd());
    }

    public static IReadOnlyDictionary<string, string> ManifestsFrom(string directory) =>
        Directory.EnumerateFiles(directory, "*.yaml").ToDictionary(f => Path.GetFileName(f), File.ReadAllText);

    public async Task StartAsync()
    {
        foreach (var (address, prefix) in Walkthrough.Upstreams)
            _upstreams.Add(new EchoServer(IPEndPoint.Parse(address), prefix));
        output.WriteLine($"upstreams: {string.Join(", ", _upstreams.Select(u => $"{u.Address} answers '{u.Prefix} <line>'"))}");

        // Node 1 serves the mesh and ingressgateway-1; node 2 is a gateway-only node for ingressgateway-2.
        var first = RouterNode.Start(new RouterNodeOptions { Name = "router-1", Labels = Labels.Of(("istio", "ingressgateway-1")), Overrides = NodeSettings });
        _nodes.Add(first);
        _nodes.Add(RouterNode.Start(new RouterNodeOptions
        {
            Name = "router-2", Labels = Labels.Of(("istio", "ingressgateway-2")), ServeMesh = false, Seeds = [first.ClusterAddress], Overrides = NodeSettings,
        }));
        output.WriteLine($"routers: router-1 at {first.ClusterAddress} (mesh + ingressgateway-1), router-2 at {_nodes[1].ClusterAddress} (ingressgateway-2), one cluster");
        foreach (var (node, port) in _nodes.Zip([15000, 15001]))
        {
            try
            {
                _admin.Add(await AdminServer.StartAsync(node, new IPEndPoint(IPAddress.Loopback, port), token: null));
                output.WriteLine($"admin API of {node.Options.Name}: http://127.0.0.1:{port} (akkal4 apply/get/status --server http://127.0.0.1:{port})");
            }
            catch (IOException e)
            {
                output.WriteLine($"admin API of {node.Options.Name} not started: {e.Message}");
            }
        }
    }

    /// <summary>
    /// Puts exactly the world plus one case in force, through the cluster's config writer like any
    /// other write: resources of the previous case are deleted, the new ones applied.
    /// </summary>
    public async Task ApplyAsync(WalkthroughCase c)
    {
        var report = ConfigCheck.Check([(Walkthrough.World, manifests[Walkthrough.World]), (c.File, manifests[c.File])]);
        if (!report.Ok) throw new InvalidOperationException($"{c.File} is invalid: {string.Join("; ", report.Errors)}");
        var wanted = report.Resources.Select(r => r.Key).ToHashSet();
        var stored = await AskWriter<ConfigContent>(new ReadConfig());
        foreach (var stale in stored.Resources.Where(r => !wanted.Contains(r.Key)))
            await AskWriter<ConfigAccepted>(new DeleteResource(stale.Key));
        var revision = (await AskWriter<ConfigAccepted>(new ApplyConfig(report.Resources))).Revision;
        foreach (var node in _nodes)
        {
            if (!await node.WaitForRevisionAsync(revision, TimeSpan.FromSeconds(10)))
                output.WriteLine($"  warning: {node.Options.Name} has not applied revision {revision} yet");
            var listeners = await node.WaitForListenersAsync(TimeSpan.FromSeconds(10));
            foreach (var l in listeners.Where(l => !l.Bound))
                output.WriteLine($"  warning: {node.Options.Name} could not bind {l.Address}: {l.Error}");
        }
    }

    /// <summary>Asks the cluster's config writer, waiting while it starts.</summary>
    private async Task<T> AskWriter<T>(object message)
    {
        var reply = await _nodes[0].AskWriterAsync(message, TimeSpan.FromSeconds(60));
        return reply is T answer ? answer : throw new InvalidOperationException($"the config writer refused the demo's configuration: {reply}");
    }

    /// <summary>Runs every case; true when every answer was one the walkthrough expects, null when <paramref name="stop"/>
    /// completed first (checked before each case).</summary>
    public async Task<bool?> TourAsync(Task stop)
    {
        var allRight = true;
        foreach (var c in Walkthrough.Cases)
        {
            if (stop.IsCompleted) return null;
            await ApplyAsync(c);
            output.WriteLine();
            output.WriteLine($"Case {c.Number}. {c.Title}   (examples/seed/{c.File})");
            foreach (var check in c.Checks)
            {
                var answer = await LineClient.SendAsync(IPAddress.Parse(check.Source), check.DestinationEndPoint, "test", TimeSpan.FromSeconds(10));
                var right = check.Expected.Contains(answer);
                allRight &= right;
                output.WriteLine($"  {check.Client} via {check.Via}");
                output.WriteLine($"    $ {check.Command}");
                output.WriteLine($"    expect: {string.Join(" or ", check.Expected)}   got: {answer}   {(right ? "ok" : "WRONG")}");
            }
        }
        return allRight;
    }

    public void PrintTryIt(WalkthroughCase c)
    {
        output.WriteLine();
        output.WriteLine($"Case {c.Number} is in force now ({c.Title}). Try it yourself:");
        foreach (var check in c.Checks.DistinctBy(x => x.Command))
            output.WriteLine($"  {check.Command}    # {check.Client} via {check.Via}: expect {string.Join(" or ", check.Expected.Distinct())}");
        // A host's VirtualServices concatenate, the oldest first: one applied beside this case's would come after its rules.
        var next = c.Number == 2 ? "03-source-labels.yaml" : "02-port.yaml";
        output.WriteLine($"Change it live: akkal4 delete -f examples/seed/{c.File} && akkal4 apply -f examples/seed/{next} (or any manifest; "
                         + "applied beside this case, its rules for echo-server would come after this case's); akkal4 get VirtualService; akkal4 status.");
        output.WriteLine("Another case: akkal4 demo --case N.  What the original guide got wrong: akkal4 validate -f examples/seed/world.yaml -f examples/seed/original-mistakes.yaml");
        output.WriteLine("Ctrl+C stops the demo.");
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var admin in _admin) await admin.DisposeAsync();
        foreach (var node in Enumerable.Reverse(_nodes)) await node.DisposeAsync();
        foreach (var upstream in _upstreams) await upstream.DisposeAsync();
    }
}
