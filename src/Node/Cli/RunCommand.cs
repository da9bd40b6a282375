using System.CommandLine;
using AkkaL4.Actors;
using AkkaL4.Actors.Config;

namespace AkkaL4.Node.Cli;

/// <summary><c>akkal4 run</c>: one router node routing by the given manifests.</summary>
internal static class RunCommand
{
    public static Command Create()
    {
        var files = CommonOptions.Files();
        var labels = new Option<string?>("--labels")
        {
            Description = "This node's labels (k=v,k=v); it serves the Gateways whose selector they satisfy. Default: none (mesh listeners only).",
        };
        var name = new Option<string>("--name") { Description = "The node's name in logs and metrics.", DefaultValueFactory = _ => Environment.MachineName };
        var seeds = new Option<string[]>("--seed")
        {
            Description = "Cluster address of a node to join (akka.tcp://akkal4@host:port). Default: start a single-member cluster.",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var mesh = new Option<bool>("--mesh")
        {
            Description = "Serve mesh listeners (every Service/ServiceEntry address); --mesh false makes a gateway-only node.",
            DefaultValueFactory = _ => true,
        };
        var config = new Option<string?>("--config") { Description = "A HOCON file to use instead of the built-in cluster.hocon." };
        var command = new Command("run", "Run a router node: bind the listeners of the given manifests and route TCP connections by them. Ctrl+C stops it.")
        {
            files, labels, name, seeds, mesh, config,
        };
        command.SetAction(async (parse, cancel) =>
        {
            if (!ExplainCommand.TryLabels(parse.GetValue(labels), out var nodeLabels)) return ExitCodes.Usage;
            if (!CommonOptions.TryReadManifests(parse.GetValue(files)!, out var inputs)) return ExitCodes.Usage;
            var report = ConfigCheck.Check(inputs);
            if (!report.Ok)
            {
                ValidateCommand.Print(report, json: false, Console.Out);
                return ExitCodes.Rejected;
            }
            foreach (var warning in report.Warnings) Console.WriteLine(warning);
            var hocon = parse.GetValue(config) is { } path ? await File.ReadAllTextAsync(path, cancel) : null;

            await using var node = RouterNode.Start(new RouterNodeOptions
            {
                Name = parse.GetValue(name)!,
                Labels = nodeLabels ?? Messages.Model.Labels.Empty,
                Seeds = parse.GetValue(seeds) ?? [],
                ServeMesh = parse.GetValue(mesh),
                Hocon = hocon,
            });
            node.Apply(report.Resources, revision: 1);
            var listeners = await node.WaitForListenersAsync(TimeSpan.FromSeconds(10));
            Console.WriteLine($"node {parse.GetValue(name)} at {node.ClusterAddress}, {report.Resources.Count} resources, listening on:");
            foreach (var l in listeners)
                Console.WriteLine($"  {l.Address}  {(l.Bound ? "bound" : "NOT BOUND: " + (l.Error ?? "binding"))}");
            Console.WriteLine("Ctrl+C stops the node.");
            await Shutdown.WaitAsync(cancel);
            return ExitCodes.Ok;
        });
        return command;
    }
}
