using Akka.Configuration;
using AkkaL4.Actors.DataPlane;
using AkkaL4.Actors.DataPlane.Transport;
using System.CommandLine;
using AkkaL4.Actors;
using System.Net;
using Akka.Actor;
using AkkaL4.Actors.Config;
using AkkaL4.Actors.ControlPlane;
using AkkaL4.Node.Admin;

namespace AkkaL4.Node.Cli;

/// <summary><c>akkal4 run</c>: one router node routing by the given manifests.</summary>
internal static class RunCommand
{
    public const string ConfigVariable = "AKKAL4_CONFIG";
    public const string HoconVariable = "AKKAL4_HOCON";

    /// <summary>A duration as HOCON writes it (30s, 500ms, 2m) or as a TimeSpan (00:00:30).</summary>
    private static TimeSpan? Duration(string text, System.CommandLine.Parsing.ArgumentResult result)
    {
        if (TimeSpan.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, out var span) && span >= TimeSpan.Zero) return span;
        try
        {
            return ConfigurationFactory.ParseString($"d = \"{text}\"").GetTimeSpan("d", null);
        }
        catch (Exception)
        {
            result.AddError($"--drain-timeout: '{text}' is not a duration (30s, 500ms, 2m or 00:00:30)");
            return null;
        }
    }

    public static Command Create()
    {
        var files = CommonOptions.Files();
        files.Required = false;
        files.Description = "Manifests to apply at start (through the same write path as `akkal4 apply`). Default: $AKKAL4_FILES (comma-separated), else the last-known-good configuration in --data, if any.";
        files.DefaultValueFactory = _ => EnvList("AKKAL4_FILES");
        var admin = new Option<string>("--admin")
        {
            Description = "Address of the admin HTTP API, IP:PORT (port 0 = any free port; the node writes the address to DATA/admin.url). Default: $AKKAL4_ADMIN or 127.0.0.1:15000.",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("AKKAL4_ADMIN") ?? "127.0.0.1:15000",
        };
        var adminToken = new Option<string?>("--admin-token")
        {
            Description = "Bearer token the admin API requires (default: $AKKAL4_ADMIN_TOKEN). Mandatory when --admin is not a loopback address.",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("AKKAL4_ADMIN_TOKEN"),
        };
        var listen = new Option<string>("--remoting")
        {
            Description = "Address this node's cluster remoting listens on, IP:PORT (port 0 = any free port; default $AKKAL4_REMOTING or 127.0.0.1:0).",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("AKKAL4_REMOTING") ?? "127.0.0.1:0",
        };
        var publicHost = new Option<string?>("--public-host")
        {
            Description = "The host name or IP other nodes reach this one at, when it differs from --remoting's (NAT, containers). Default: $AKKAL4_PUBLIC_HOST.",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("AKKAL4_PUBLIC_HOST"),
        };
        var journalProvider = new Option<string>("--journal-provider")
        {
            Description = "Where the config writer journals: sqlite (DATA/journal.db, one host) or postgres (shared by nodes on several hosts).",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("AKKAL4_JOURNAL_PROVIDER") ?? "sqlite",
        };
        journalProvider.AcceptOnlyFromAmong("sqlite", "postgres");
        var journalConnection = new Option<string?>("--journal-connection")
        {
            Description = "The PostgreSQL connection string for --journal-provider postgres (default: $AKKAL4_JOURNAL_CONNECTION).",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("AKKAL4_JOURNAL_CONNECTION"),
        };
        var data = new Option<string>("--data")
        {
            Description = "Directory for the node's last-known-good configuration and, with --journal-provider sqlite, the config writer's journal. Default: $AKKAL4_DATA or ./data.",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("AKKAL4_DATA") ?? "./data",
        };
        var labels = new Option<string?>("--labels")
        {
            Description = "This node's labels (k=v,k=v); it serves the Gateways whose selector they satisfy. Default: $AKKAL4_LABELS, else none (mesh listeners only).",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("AKKAL4_LABELS"),
        };
        var name = new Option<string>("--name")
        {
            Description = "The node's name in logs and metrics. Default: $AKKAL4_NAME, else the host name.",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("AKKAL4_NAME") ?? Environment.MachineName,
        };
        var seeds = new Option<string[]>("--seed")
        {
            Description = "Cluster address of a node to join (akka.tcp://akkal4@host:port), repeatable; default $AKKAL4_SEEDS (comma-separated). None: start a single-member cluster.",
            DefaultValueFactory = _ => EnvList("AKKAL4_SEEDS"),
            Arity = ArgumentArity.ZeroOrMore,
        };
        var mesh = new Option<bool>("--mesh")
        {
            Description = "Serve mesh listeners (every Service/ServiceEntry address); --mesh false makes a gateway-only node. Default: $AKKAL4_MESH, else true.",
            DefaultValueFactory = result =>
            {
                var value = Environment.GetEnvironmentVariable("AKKAL4_MESH");
                if (value is null) return true;
                if (bool.TryParse(value, out var serve)) return serve;
                result.AddError($"AKKAL4_MESH '{value}' is not true or false");
                return true;
            },
        };
        var config = new Option<string[]>("--config")
        {
            Description = "A HOCON file layered over the built-in cluster.hocon (which stays the fallback), repeatable: later files win. "
                          + $"Default: ${ConfigVariable} (comma-separated). ${HoconVariable} (HOCON text) layers over the files.",
            DefaultValueFactory = _ => EnvList(ConfigVariable),
            Arity = ArgumentArity.ZeroOrMore,
        };
        var drainTimeout = new Option<TimeSpan?>("--drain-timeout")
        {
            Description = "On SIGTERM, how long open connections may go on relaying before they are closed (e.g. 30s, 00:00:30). "
                          + "Default: $AKKAL4_DRAIN_TIMEOUT, else akkal4.data-plane.drain-timeout (30s).",
            DefaultValueFactory = r => Environment.GetEnvironmentVariable("AKKAL4_DRAIN_TIMEOUT") is { Length: > 0 } t ? Duration(t, r) : null,
            CustomParser = r => Duration(r.Tokens.Single().Value, r),
        };
        var command = new Command("run", "Run a router node: bind the listeners of the given manifests and route TCP connections by them. Ctrl+C stops it. "
            + $"${DataPlaneSettings.TransportVariable}=sockets|akka-streams picks the transport (default: akkal4.data-plane.transport in cluster.hocon, sockets).")
        {
            files, labels, name, seeds, mesh, config, drainTimeout, admin, adminToken, data, listen, publicHost, journalProvider, journalConnection,
        };
        command.SetAction(async (parse, cancel) =>
        {
            if (!ExplainCommand.TryLabels(parse.GetValue(labels), out var nodeLabels)) return ExitCodes.Usage;
            if (!IPEndPoint.TryParse(parse.GetValue(admin)!, out var adminAddress))
            {
                Console.Error.WriteLine($"akkal4: --admin '{parse.GetValue(admin)}' is not IP:PORT");
                return ExitCodes.Usage;
            }
            if (!IPEndPoint.TryParse(parse.GetValue(listen)!, out var remoting))
            {
                Console.Error.WriteLine($"akkal4: --remoting '{parse.GetValue(listen)}' is not IP:PORT");
                return ExitCodes.Usage;
            }
            var postgres = parse.GetValue(journalProvider) == "postgres" ? parse.GetValue(journalConnection) : null;
            if (parse.GetValue(journalProvider) == "postgres" && string.IsNullOrEmpty(postgres))
            {
                Console.Error.WriteLine("akkal4: --journal-provider postgres needs --journal-connection (or AKKAL4_JOURNAL_CONNECTION)");
                return ExitCodes.Usage;
            }
            var token = parse.GetValue(adminToken);
            if (!IPAddress.IsLoopback(adminAddress.Address) && string.IsNullOrEmpty(token))
            {
                Console.Error.WriteLine($"akkal4: the admin API on {adminAddress} would be reachable from other hosts: give it a token (--admin-token or AKKAL4_ADMIN_TOKEN)");
                return ExitCodes.Usage;
            }
            ConfigReport? report = null;
            if (parse.GetValue(files) is { Length: > 0 } paths)
            {
                if (!CommonOptions.TryReadManifests(paths, out var inputs)) return ExitCodes.Usage;
                report = ConfigCheck.Check(inputs);
                if (!report.Ok)
                {
                    ValidateCommand.Print(report, json: false, Console.Out);
                    return ExitCodes.Rejected;
                }
            }
            var layers = new List<string>();
            foreach (var path in parse.GetValue(config) ?? [])
            {
                if (!File.Exists(path))
                {
                    Console.Error.WriteLine($"akkal4: --config '{path}': no such file");
                    return ExitCodes.Usage;
                }
                layers.Add(await File.ReadAllTextAsync(path, cancel));
            }
            if (Environment.GetEnvironmentVariable(HoconVariable) is { Length: > 0 } fromEnvironment) layers.Add(fromEnvironment);
            DataPlaneSettings settings;
            try
            {
                settings = DataPlaneSettings.From(RouterNode.Layered(layers));
            }
            catch (Exception e)
            {
                Console.Error.WriteLine($"akkal4: the settings (--config, ${HoconVariable}) do not parse: {e.Message}");
                return ExitCodes.Usage;
            }
            var transport = settings.Transport;
            if (!TcpTransports.Names.Contains(transport))
            {
                Console.Error.WriteLine($"akkal4 run: unknown transport \"{transport}\" (akkal4.data-plane.transport or ${DataPlaneSettings.TransportVariable}); expected one of: {string.Join(", ", TcpTransports.Names)}");
                return ExitCodes.Usage;
            }

            await using var node = RouterNode.Start(new RouterNodeOptions
            {
                Name = parse.GetValue(name)!,
                Labels = nodeLabels ?? Messages.Model.Labels.Empty,
                Seeds = parse.GetValue(seeds) ?? [],
                ServeMesh = parse.GetValue(mesh),
                ConfigLayers = layers,
                DataDirectory = parse.GetValue(data),
                PostgresJournal = postgres,
                Overrides = $"akka.remote.dot-netty.tcp {{ hostname = \"{remoting.Address}\", port = {remoting.Port}"
                            + (parse.GetValue(publicHost) is { Length: > 0 } host ? $", public-hostname = \"{host}\"" : "") + " }",
            });
            if (report is not null)
            {
                // The cluster's config writer may still be starting (or being handed over): retry for a while.
                var reply = await node.AskWriterAsync(new ApplyConfig(report.Resources), TimeSpan.FromSeconds(60),
                    () => Console.WriteLine("waiting for the cluster's config writer..."));
                if (reply is ConfigRejected rejected)
                {
                    foreach (var e in rejected.Errors) Console.WriteLine(e);
                    return ExitCodes.Rejected;
                }
                if (reply is not ConfigAccepted accepted)
                {
                    Console.WriteLine($"the configuration was not acknowledged: {reply}");
                    return ExitCodes.Rejected;
                }
                foreach (var warning in accepted.Warnings) Console.WriteLine(warning);
                await node.WaitForRevisionAsync(accepted.Revision, TimeSpan.FromSeconds(30));
            }
            await using var adminServer = await AdminServer.StartAsync(node, adminAddress, token);
            // Where local tools (the container image's health check) find the API when its port was chosen at start.
            if (parse.GetValue(data) is { } dataDirectory)
                await File.WriteAllTextAsync(Path.Combine(dataDirectory, "admin.url"), $"http://{adminServer.Address}\n", cancel);
            var listeners = await node.WaitForListenersAsync(TimeSpan.FromSeconds(10));
            Console.WriteLine($"node {parse.GetValue(name)} at {node.ClusterAddress}, configuration revision {node.Routes.Current.Revision}, admin API on http://{adminServer.Address}, listening on:");
            foreach (var l in listeners)
                Console.WriteLine($"  {l.Address}  {(l.Bound ? "bound" : "NOT BOUND: " + (l.Error ?? "binding"))}");
            Console.WriteLine("Ctrl+C stops the node.");
            await Task.WhenAny(Shutdown.WaitAsync(cancel), node.LeftCluster);
            await node.DrainAsync(parse.GetValue(drainTimeout) ?? settings.DrainTimeout);
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>A comma-separated environment variable as a list (none when unset).</summary>
    private static string[] EnvList(string variable) =>
        Environment.GetEnvironmentVariable(variable)?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) ?? [];
}
