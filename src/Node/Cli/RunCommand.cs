using Akka.Configuration;
using AkkaL4.Actors.DataPlane;
using AkkaL4.Actors.DataPlane.Transport;
using System.CommandLine;
using AkkaL4.Actors;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Akka.Actor;
using AkkaL4.Actors.Config;
using AkkaL4.Actors.ControlPlane;
using AkkaL4.Node.Admin;
using AkkaL4.Messages.Commands;
using AkkaL4.Actors.Routing;

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

    /// <summary>Warns that a secret given as an option is readable by every local user (ps, /proc/PID/cmdline).</summary>
    internal static void WarnVisible(string option, string variable) =>
        Console.Error.WriteLine($"akkal4: warning: {option} on the command line is readable by every user of this host (ps): give it in ${variable} instead");

    /// <summary>Whether a connection string has a password, under any of Npgsql's names for it (Password, Pwd, Psw).</summary>
    private static bool HasPassword(string? connection) =>
        connection is not null && System.Text.RegularExpressions.Regex.IsMatch(connection, @"(^|;)\s*(password|pwd|psw)\s*=", System.Text.RegularExpressions.RegexOptions.IgnoreCase);

    public static Command Create()
    {
        var files = CommonOptions.Files();
        files.Required = false;
        files.Description = $"Manifests ({CommonOptions.Kinds}) to apply at start (through the same write path as `akkal4 apply`). Default: $AKKAL4_FILES (comma-separated), else the last-known-good configuration in --data, if any.";
        files.DefaultValueFactory = _ => EnvList("AKKAL4_FILES");
        var admin = new Option<string>("--admin")
        {
            Description = "Address of the admin HTTP API, IP:PORT (the IP in canonical text: 127.0.0.010 would be 127.0.0.8 and is refused; port 0 = any free port; the node writes the address to DATA/admin.url). Default: $AKKAL4_ADMIN or 127.0.0.1:15000.",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("AKKAL4_ADMIN") ?? "127.0.0.1:15000",
        };
        var adminToken = new Option<string?>("--admin-token")
        {
            Description = $"Bearer token the admin API requires (default: $AKKAL4_ADMIN_TOKEN). Mandatory, and at least {AdminServer.MinimumRemoteToken} characters, when --admin is not a loopback address.",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("AKKAL4_ADMIN_TOKEN"),
        };
        var listen = new Option<string>("--remoting")
        {
            Description = "Address this node's cluster remoting listens on, IP:PORT (the IP in canonical text, as --admin's; port 0 = any free port; default $AKKAL4_REMOTING or 127.0.0.1:0).",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("AKKAL4_REMOTING") ?? "127.0.0.1:0",
        };
        var publicHost = new Option<string?>("--public-host")
        {
            Description = "The host name or IP other nodes reach this one at, when it differs from --remoting's (NAT, containers). Default: $AKKAL4_PUBLIC_HOST.",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("AKKAL4_PUBLIC_HOST"),
        };
        var journalProvider = new Option<string>("--journal-provider")
        {
            Description = "Where the config writer journals: sqlite (DATA/journal.db, one host) or postgres (shared by nodes on several hosts). Default: $AKKAL4_JOURNAL_PROVIDER, else sqlite.",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("AKKAL4_JOURNAL_PROVIDER") ?? "sqlite",
        };
        journalProvider.AcceptOnlyFromAmong("sqlite", "postgres");
        var journalConnection = new Option<string?>("--journal-connection")
        {
            Description = "The PostgreSQL connection string for --journal-provider postgres (default: $AKKAL4_JOURNAL_CONNECTION), e.g. "
                          + "Host=db;Port=5432;Database=akkal4;Username=akkal4;Password=... Checked at start (it parses, a connection opens): a problem "
                          + "is a warning, shown by status and /readyz, not a failed start; but a Host IP that is not plain text (127.0.0.010 is "
                          + "127.0.0.8 to the parser) is refused (exit 2).",
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
            Description = "Cluster address of a node to join (akka.tcp://akkal4@host:port; akka.ssl.tcp://... with --tls-cert), repeatable; default $AKKAL4_SEEDS (comma-separated). None: start a single-member cluster.",
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
        var tlsCert = new Option<string?>("--tls-cert")
        {
            Description = "PKCS#12 file with this node's certificate and key, and the cluster CA's certificate (`akkal4 cert create`): "
                          + "turns on mutual TLS for cluster remoting (addresses become akka.ssl.tcp://); only nodes whose certificate chains to that CA can join. Default: $AKKAL4_TLS_CERT.",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("AKKAL4_TLS_CERT"),
        };
        var tlsPassword = new Option<string?>("--tls-cert-password")
        {
            Description = $"Password of --tls-cert (default: ${CertCommand.PasswordVariable}).",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable(CertCommand.PasswordVariable),
        };
        var insecureRemoting = new Option<bool>("--insecure-remoting")
        {
            Description = "Allow cluster remoting on a non-loopback address without TLS: anyone who reaches the port can join the cluster and rewrite its configuration. Default: $AKKAL4_INSECURE_REMOTING=true.",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("AKKAL4_INSECURE_REMOTING") is "true" or "1",
        };
        var adminCert = new Option<string?>("--admin-cert")
        {
            Description = "PKCS#12 file with a certificate and key: the admin API serves HTTPS with it. Default: $AKKAL4_ADMIN_CERT.",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("AKKAL4_ADMIN_CERT"),
        };
        var adminCertPassword = new Option<string?>("--admin-cert-password")
        {
            Description = "Password of --admin-cert (default: $AKKAL4_ADMIN_CERT_PASSWORD).",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("AKKAL4_ADMIN_CERT_PASSWORD"),
        };
        var accessLog = new Option<string>("--access-log")
        {
            Description = "Where each connection's access-log line goes: stdout, a file (appended to; never through a symbolic link, nor to a file with another name: a hard link), or off. Default: $AKKAL4_ACCESS_LOG, else stdout.",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("AKKAL4_ACCESS_LOG") ?? "stdout",
        };
        var accessLogFormat = new Option<string>("--access-log-format")
        {
            Description = "envoy (Envoy's default access-log line) or json (one object per line). Default: $AKKAL4_ACCESS_LOG_FORMAT, else envoy.",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("AKKAL4_ACCESS_LOG_FORMAT") ?? "envoy",
        };
        accessLogFormat.AcceptOnlyFromAmong("envoy", "json");
        var logLevel = new Option<string?>("--log-level")
        {
            Description = "debug, info, warning, error or off (akka.loglevel). Default: $AKKAL4_LOG_LEVEL, else cluster.hocon's (info).",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("AKKAL4_LOG_LEVEL") is { Length: > 0 } level ? level : null,
        };
        logLevel.AcceptOnlyFromAmong("debug", "info", "warning", "error", "off");
        var logFormat = new Option<string>("--log-format")
        {
            Description = "text (Akka's standard lines) or json (one object per line). Default: $AKKAL4_LOG_FORMAT, else text.",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("AKKAL4_LOG_FORMAT") ?? "text",
        };
        logFormat.AcceptOnlyFromAmong("text", "json");
        var acceptProxyProtocol = new Option<bool>("--accept-proxy-protocol")
        {
            Description = "Gateway listeners expect a PROXY protocol header (v1 or v2) from a load balancer in front, as Istio's gatewayTopology.proxyProtocol does: "
                          + "its source address is the client (for sourceLabels, hashing, the access log); a connection without a valid header is refused (flag DPE). "
                          + "Only --proxy-protocol-trusted-sources may send it: a connection from any other address is refused (DPE). "
                          + "Default: $AKKAL4_ACCEPT_PROXY_PROTOCOL=true, else akkal4.data-plane.accept-proxy-protocol (off).",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("AKKAL4_ACCEPT_PROXY_PROTOCOL") is "true" or "1",
        };
        var proxyTrusted = new Option<string[]>("--proxy-protocol-trusted-sources")
        {
            Description = "The load balancers allowed to send PROXY headers, CIDRs or IPs (comma-separated or repeated; 0.0.0.0/0 trusts every IPv4 client to name any source). "
                          + "Required with --accept-proxy-protocol: nobody is trusted by default. "
                          + $"Default: $AKKAL4_PROXY_PROTOCOL_TRUSTED_SOURCES (comma-separated), else {DataPlaneSettings.TrustedSourcesKey}.",
            DefaultValueFactory = _ => EnvList("AKKAL4_PROXY_PROTOCOL_TRUSTED_SOURCES"),
            Arity = ArgumentArity.ZeroOrMore,
        };
        // Tests only (DayOneOperationsTests): the start holds inside RouterNode.Start, once the cluster side runs, until a stop is asked.
        var holdStart = new Option<bool>("--test-hold-start") { Hidden = true };
        var command = new Command("run", "Run a router node: bind the listeners of the given manifests and route TCP connections by them. Ctrl+C stops it. "
            + $"${DataPlaneSettings.TransportVariable}=sockets|akka-streams picks the transport (default: akkal4.data-plane.transport in cluster.hocon, sockets).")
        {
            files, labels, name, seeds, mesh, config, drainTimeout, admin, adminToken, adminCert, adminCertPassword, data, listen, publicHost,
            tlsCert, tlsPassword, insecureRemoting, journalProvider, journalConnection, acceptProxyProtocol, proxyTrusted, accessLog, accessLogFormat, logLevel, logFormat, holdStart,
        };
        command.SetAction(async (parse, cancel) =>
        {
            // A value given as an option is in the process's command line, which every local user reads (ps, /proc/PID/cmdline).
            foreach (var (option, variable) in new[] { (adminToken, "AKKAL4_ADMIN_TOKEN"), (tlsPassword, CertCommand.PasswordVariable), (adminCertPassword, "AKKAL4_ADMIN_CERT_PASSWORD"), (journalConnection, "AKKAL4_JOURNAL_CONNECTION") })
                if (parse.GetResult(option) is { Implicit: false } given
                    && (option != journalConnection || HasPassword(given.GetValueOrDefault<string?>())))
                    WarnVisible(option.Name, variable);
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
            // Read as written or not at all (sec18): '127.0.0.010' would bind 127.0.0.8. --public-host and --seed: RouterNode.Start.
            foreach (var (option, text) in new[] { (admin.Name, parse.GetValue(admin)!), (listen.Name, parse.GetValue(listen)!) })
                if (AddressText.Refusal(AddressText.HostOf(text), "listen on") is { } misread)
                {
                    Console.Error.WriteLine($"akkal4: {option} {misread}");
                    return ExitCodes.Usage;
                }
            RemotingTls? tls = null;
            if (parse.GetValue(tlsCert) is { Length: > 0 } certPath)
            {
                try { tls = RemotingTls.Load(certPath, parse.GetValue(tlsPassword)); }
                catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
                {
                    Console.Error.WriteLine($"akkal4: --tls-cert {e.Message}");
                    return ExitCodes.Usage;
                }
            }
            else if (!IPAddress.IsLoopback(remoting.Address) && !parse.GetValue(insecureRemoting))
            {
                Console.Error.WriteLine($"akkal4: cluster remoting on {remoting} would be reachable from other hosts without TLS, and anyone reaching it could join the cluster "
                                        + "and rewrite its configuration: give it a certificate (--tls-cert, see `akkal4 cert create`), or --insecure-remoting to run it unprotected");
                return ExitCodes.Usage;
            }
            var scheme = tls is null ? "akka.tcp://" : "akka.ssl.tcp://";
            if ((parse.GetValue(seeds) ?? []).FirstOrDefault(s => !s.StartsWith(scheme, StringComparison.Ordinal)) is { } wrongSeed)
            {
                Console.Error.WriteLine($"akkal4: --seed {wrongSeed}: this node's remoting is {(tls is null ? "plain TCP" : "TLS")}, so its seeds are {scheme}...");
                return ExitCodes.Usage;
            }
            var postgres = parse.GetValue(journalProvider) == "postgres" ? parse.GetValue(journalConnection) : null;
            if (parse.GetValue(journalProvider) == "postgres" && string.IsNullOrEmpty(postgres))
            {
                Console.Error.WriteLine("akkal4: --journal-provider postgres needs --journal-connection (or AKKAL4_JOURNAL_CONNECTION)");
                return ExitCodes.Usage;
            }
            var token = parse.GetValue(adminToken);
            if (AdminServer.TokenRefusal(adminAddress, token) is { } tokenRefusal)
            {
                Console.Error.WriteLine($"akkal4: {tokenRefusal}");
                return ExitCodes.Usage;
            }
            X509Certificate2? adminCertificate = null;
            if (parse.GetValue(adminCert) is { Length: > 0 } adminCertPath)
            {
                try { adminCertificate = X509CertificateLoader.LoadPkcs12FromFile(adminCertPath, parse.GetValue(adminCertPassword)); }
                catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException)
                {
                    Console.Error.WriteLine($"akkal4: --admin-cert {adminCertPath}: not a PKCS#12 file this password opens ({e.Message})");
                    return ExitCodes.Usage;
                }
                if (!adminCertificate.HasPrivateKey)
                {
                    Console.Error.WriteLine($"akkal4: --admin-cert {adminCertPath}: no private key in it");
                    return ExitCodes.Usage;
                }
            }
            else if (!IPAddress.IsLoopback(adminAddress.Address))
                Console.Error.WriteLine($"akkal4: warning: the admin API on {adminAddress} is plain HTTP: its token crosses the network in clear text (--admin-cert serves HTTPS)");
            // The resources only, not the report: it holds every document's syntax tree (to place findings), and this method's
            // locals live as long as the node (bench/README.md, "Memory, session 12").
            var manifests = CheckManifests(parse.GetValue(files));
            if (manifests.Exit is { } refused) return refused;
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
            if (parse.GetValue(acceptProxyProtocol)) layers.Add("akkal4.data-plane.accept-proxy-protocol = on");
            var trusted = (parse.GetValue(proxyTrusted) ?? []).SelectMany(v => v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToList();
            if (trusted.FirstOrDefault(t => !Actors.Routing.IpNet.TryParse(t, out _)) is { } badSource)
            {
                Console.Error.WriteLine($"akkal4: --proxy-protocol-trusted-sources: {Actors.Routing.IpNet.Refusal(badSource)}");
                return ExitCodes.Usage;
            }
            if (trusted.Count > 0) layers.Add($"{DataPlaneSettings.TrustedSourcesKey} = [{string.Join(", ", trusted.Select(t => $"\"{t}\""))}]");
            DataPlaneSettings settings;
            try
            {
                settings = DataPlaneSettings.From(RouterNode.Layered(layers));
            }
            catch (Exception e)
            {
                Console.Error.WriteLine($"akkal4: the settings (--config, ${HoconVariable}, flags) are not valid: {e.Message}");
                return ExitCodes.Usage;
            }
            var transport = settings.Transport;
            if (!TcpTransports.Names.Contains(transport))
            {
                Console.Error.WriteLine($"akkal4 run: unknown transport \"{transport}\" (akkal4.data-plane.transport or ${DataPlaneSettings.TransportVariable}); expected one of: {string.Join(", ", TcpTransports.Names)}");
                return ExitCodes.Usage;
            }

            var format = parse.GetValue(accessLogFormat) == "json" ? AccessLogFormat.Json : AccessLogFormat.Envoy;
            AccessLogOutput? accessLogOutput;
            try
            {
                accessLogOutput = parse.GetValue(accessLog) switch
                {
                    "off" => null,
                    "stdout" or "-" => new AccessLogOutput(Console.Out, format),
                    var path => new AccessLogOutput(new StreamWriter(AccessLogFile.Open(path!)), format),
                };
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
            {
                Console.Error.WriteLine($"akkal4: --access-log {parse.GetValue(accessLog)}: {e.Message}");
                return ExitCodes.Usage;
            }
            // Listened for before anything starts: a SIGTERM during the start (a -f apply waits up to a minute for the writer)
            // must drain and end the node as one after it does. Unheard, Akka's own handler shut the cluster system down, the
            // node rejoined, and the process never ended (session 26); heard by both, Akka's could end the cluster system
            // inside RouterNode.Start (exit 1): the node's systems leave the signals to this command (Shutdown.CommandOwnsSignals).
            var stopAsked = Shutdown.WaitAsync(cancel);
            RouterNode started;
            try
            {
                started = RouterNode.Start(new RouterNodeOptions
                {
                    AccessLog = accessLogOutput,
                    Name = parse.GetValue(name)!,
                    Labels = nodeLabels ?? Messages.Model.Labels.Empty,
                    Seeds = parse.GetValue(seeds) ?? [],
                    ServeMesh = parse.GetValue(mesh),
                    ConfigLayers = layers,
                    DataDirectory = parse.GetValue(data),
                    PostgresJournal = postgres,
                    Tls = tls,
                    InsideStart = parse.GetValue(holdStart) ? () =>
                    {
                        Console.WriteLine("holding the start inside RouterNode.Start until a stop is asked (--test-hold-start)");
                        stopAsked.Wait(TimeSpan.FromSeconds(60));
                    } : null,
                    Overrides = $"{Shutdown.CommandOwnsSignals}\nakka.remote.dot-netty.tcp {{ hostname = \"{remoting.Address}\", port = {remoting.Port}"
                                + (parse.GetValue(publicHost) is { Length: > 0 } host ? $", public-hostname = \"{host}\"" : "") + " }"
                                + (parse.GetValue(logLevel) is { Length: > 0 } level ? $"\nakka.loglevel = {level.ToUpperInvariant()}\nakka.stdout-loglevel = {level.ToUpperInvariant()}" : "")
                                + (parse.GetValue(logFormat) == "json" ? $"\nakka.loggers = [\"{JsonLogger.TypeName}\"]" : ""),
                });
            }
            catch (ConfigurationException e)
            {
                // Any setting refused at start (a descriptor reserve that leaves no room for a connection, or one Akka rejects):
                // a usage error, exit 2, as a bad option is.
                Console.Error.WriteLine($"akkal4: {e.Message}");
                return ExitCodes.Usage;
            }
            await using var node = started;
            // Stopped while starting: no -f apply, no admin API; drained and ended as after the start.
            async Task<int> StoppedWhileStarting()
            {
                Console.WriteLine(Shutdown.StoppedWhileStarting);
                await node.DrainAsync(parse.GetValue(drainTimeout) ?? settings.DrainTimeout);
                return ExitCodes.Ok;
            }
            if (stopAsked.IsCompleted) return await StoppedWhileStarting();
            if (manifests.Resources is not null)
            {
                // The cluster's config writer may still be starting (or being handed over): retry for a while.
                var applying = node.AskWriterAsync(new ApplyConfig(manifests.Resources), TimeSpan.FromSeconds(60),
                    () => Console.WriteLine("waiting for the cluster's config writer..."));
                manifests = default;
                // Stopped while the writer is awaited: whether the write happened is the writer's to know (asking again is safe).
                if (await Task.WhenAny(applying, stopAsked) != applying) return await StoppedWhileStarting();
                var reply = await applying;
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
            await using var adminServer = await AdminServer.StartAsync(node, adminAddress, token, adminCertificate);
            // Where local tools (the container image's health check) find the API when its port was chosen at start.
            if (parse.GetValue(data) is { } dataDirectory)
                PrivateFiles.WriteAllText(Path.Combine(dataDirectory, "admin.url"), $"{adminServer.Url}\n");
            var listeners = await node.WaitForListenersAsync(TimeSpan.FromSeconds(10));
            Console.WriteLine($"node {parse.GetValue(name)} at {node.ClusterAddress}, configuration revision {node.Routes.Current.Revision}, admin API on {adminServer.Url}, listening on:");
            foreach (var l in listeners)
                Console.WriteLine($"  {l.Address}  {(l.Bound ? "bound" : "NOT BOUND: " + (l.Error ?? "binding"))}");
            if (listeners.Count == 0)
                Console.WriteLine($"  nothing yet: no configuration in force serves a listener on this node (akkal4 apply -f FILE --server {adminServer.Url})");
            Console.WriteLine("Ctrl+C stops the node.");
            // What the start used back to the system: the GC heap's garbage and free regions, the C library's freed memory.
            _ = AfterStart.ReleaseAsync(() => node.Connections.Open, () => node.ClusterPeers, cancel);
            await Task.WhenAny(stopAsked, node.LeftCluster);
            await node.DrainAsync(parse.GetValue(drainTimeout) ?? settings.DrainTimeout);
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>The manifests of <c>--file</c>, checked: their resources (none without the option), or the exit code after
    /// the findings are printed.</summary>
    private static (IReadOnlyList<Messages.Model.Resource>? Resources, int? Exit) CheckManifests(string[]? paths)
    {
        if (paths is not { Length: > 0 }) return (null, null);
        if (!CommonOptions.TryReadManifests(paths, out var inputs)) return (null, ExitCodes.Usage);
        var report = ConfigCheck.Check(inputs);
        if (report.Ok) return (report.Resources, null);
        ValidateCommand.Print(report, json: false, Console.Out);
        return (null, ExitCodes.Rejected);
    }

    /// <summary>A comma-separated environment variable as a list (none when unset).</summary>
    private static string[] EnvList(string variable) =>
        Environment.GetEnvironmentVariable(variable)?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) ?? [];
}
