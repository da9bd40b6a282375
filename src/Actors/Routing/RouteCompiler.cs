using AkkaL4.Messages.Model;

namespace AkkaL4.Actors.Routing;

/// <summary>
/// Compiles a validated resource set, for a node with the given labels, into a <see cref="RouteSnapshot"/>:
/// listeners (mesh: every Service clusterIP / ServiceEntry address × port; gateway: every server of a
/// Gateway whose selector the node's labels satisfy), their rules (mesh: one set for the clients that see only public
/// resources, and one per client namespace that may see others), and clusters.
/// </summary>
public sealed class RouteCompiler
{
    private readonly IReadOnlyCollection<Resource> _resources;
    private readonly Labels _nodeLabels;
    private readonly ServiceCatalog _catalog;
    private readonly DestinationRuleIndex _destinationRules;
    private readonly VirtualServiceIndex _virtualServices;
    private readonly Dictionary<(string Name, string Rules), UpstreamCluster> _clusters = new();
    private readonly Dictionary<string, int> _clusterNameUses = new();
    private readonly List<RouteTarget> _targets = [];
    private readonly List<string> _notes = [];
    private readonly bool _everyGateway;
    // Values the validator let through but the compiler cannot use, once each (a rule may compile for several namespaces).
    private readonly HashSet<Diagnostic> _errors = [];
    // What the listeners looked at: the work a test counts (only Check's caller reads it).
    private readonly WorkCounts _work;
    // The indexes an AUTO_PASSTHROUGH server's hosts are looked up in, made at the first such server.
    private Dictionary<string, HostPatterns<int>>? _servicesByHost;
    private HostPatterns<int>? _allServicesByHost;
    // Per service (its index in the catalog): the client namespaces that may resolve its DestinationRules otherwise.
    private Dictionary<int, HashSet<string>>? _resolvedOtherwise;

    private RouteCompiler(IReadOnlyCollection<Resource> resources, Labels nodeLabels, bool everyGateway = false, WorkCounts? work = null)
    {
        _resources = resources;
        _work = work ?? new WorkCounts();
        _nodeLabels = nodeLabels;
        _everyGateway = everyGateway;
        _catalog = new ServiceCatalog(resources);
        _destinationRules = new DestinationRuleIndex(resources.OfType<DestinationRule>());
        _virtualServices = new VirtualServiceIndex(Precedence.Order(resources.OfType<VirtualService>()).ToList());
    }

    /// <param name="serveMesh">False for a node that serves only gateway listeners (like an Istio ingress gateway).</param>
    /// <exception cref="RouteCompileException">A value the compiler cannot use (see <see cref="Check"/>).</exception>
    public static RouteSnapshot Compile(IReadOnlyCollection<Resource> resources, Labels? nodeLabels = null, long revision = 0, bool serveMesh = true)
    {
        var compiler = new RouteCompiler(resources, nodeLabels ?? Labels.Empty);
        var snapshot = compiler.Build(revision, serveMesh);
        return compiler._errors.Count == 0 ? snapshot : throw new RouteCompileException(compiler._errors.ToList());
    }

    /// <summary>
    /// What the compiler refuses in a validated set, for any node (every Gateway served, mesh on): the config
    /// writer refuses such a write, so that no node is ever sent a configuration it cannot put in force.
    /// </summary>
    public static IReadOnlyList<Diagnostic> Check(IReadOnlyCollection<Resource> resources) => Check(resources, new WorkCounts());

    /// <param name="work">Adds what the listeners looked at (see <see cref="WorkCounts"/>).</param>
    internal static IReadOnlyList<Diagnostic> Check(IReadOnlyCollection<Resource> resources, WorkCounts work)
    {
        var compiler = new RouteCompiler(resources, Labels.Empty, everyGateway: true, work);
        try
        {
            compiler.Build(0, serveMesh: true);
        }
        catch (Exception e) when (e is FormatException or ArgumentException or InvalidOperationException or OverflowException)
        {
            // A refusal without a field path is still a refusal: better a 400 now than every node failing later.
            compiler._errors.Add(Diagnostic.Error("configuration", "", $"the route compiler cannot compile it: {e.Message}"));
        }
        work.MeshHosts += compiler._virtualServices.MeshHostVisits;
        work.DestinationRules += compiler._destinationRules.Visits;
        work.ServiceHosts += compiler._catalog.WildcardVisits;
        return compiler._errors.ToList();
    }

    private RouteSnapshot Build(long revision, bool serveMesh)
    {
        var listeners = new Dictionary<IpPort, CompiledListener>();
        foreach (var listener in GatewayListeners()) listeners[listener.Address] = listener;
        foreach (var listener in serveMesh ? MeshListeners() : [])
        {
            if (listeners.TryGetValue(listener.Address, out var existing))
                _notes.Add($"listener {listener.Address}: {listener.Service!.Host} and {existing} claim the same address and port; {existing} keeps it");
            else listeners[listener.Address] = listener;
        }
        var clusters = _clusters.Values.ToList();
        return new RouteSnapshot(revision, listeners.Values.ToList(), clusters, _targets, _catalog, _notes);
    }

    // ---------------------------------------------------------------- mesh

    private IEnumerable<CompiledListener> MeshListeners()
    {
        var namespaces = _catalog.Namespaces.ToHashSet(StringComparer.Ordinal);
        var seen = new HashSet<IpPort>();
        foreach (var service in _catalog.Services)
        {
            // What the host's listeners share, found at its first: the VirtualServices for it, and the client namespaces
            // that need a rule set of their own.
            List<VirtualService>? forHost = null;
            List<string>? differ = null;
            foreach (var address in service.Addresses)
            {
                if (address.Contains('/') || !IpKey.TryParse(address, out var ip)) continue; // a CIDR cannot be bound
                foreach (var port in service.Ports)
                {
                    var at = new IpPort(ip, port.Number);
                    if (!seen.Add(at))
                    {
                        _notes.Add($"listener {at}: also claimed by {service.Host}; the first service keeps it");
                        continue;
                    }
                    // One rule set for every client namespace that sees only the public resources for this host (the same list
                    // a client of no known namespace sees), and one of its own only for a namespace a non-public VirtualService
                    // or a DestinationRule may show something else: one per client namespace was N × N rule sets for N
                    // namespaces with a Service each (RouteCompiler.Check 73 s at 2,000, on the control-plane thread).
                    forHost ??= _virtualServices.BoundToMesh(service.Host);
                    differ ??= MayDiffer(service, forHost, namespaces);
                    var rules = MeshRuleSet(service, port, null, forHost);
                    var vsByNamespace = new Dictionary<string, RuleSet>(StringComparer.Ordinal);
                    foreach (var ns in differ) vsByNamespace[ns] = MeshRuleSet(service, port, ns, forHost);
                    var tls = port.Protocol is "TLS" or "HTTPS";
                    yield return new CompiledListener
                    {
                        Address = at,
                        Kind = ListenerKind.Mesh,
                        Service = service,
                        Tls = tls,
                        RoutesBySni = tls || rules.Tls.Length > 0 || vsByNamespace.Values.Any(r => r.Tls.Length > 0),
                        ByNamespace = vsByNamespace,
                        Rules = rules,
                    };
                }
            }
        }
    }

    /// <summary>
    /// The client namespaces (of the catalog) whose rules for <paramref name="service"/> may differ from those of a client
    /// that sees only public resources (<see cref="MeshRuleSet"/> for no namespace): the namespaces a non-public
    /// VirtualService for the host belongs to or is exported to, and those <see cref="DestinationRuleIndex.MayResolveOtherwise"/>
    /// names for the host or any destination of those VirtualServices. Any other namespace sees the public VirtualServices
    /// only, in the same order, and the same DestinationRules.
    /// </summary>
    private List<string> MayDiffer(ServiceDef service, List<VirtualService> forHost, HashSet<string> namespaces)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        var hosts = new HashSet<string>(StringComparer.Ordinal) { service.Host };
        foreach (var vs in forHost)
        {
            if (!Precedence.Public(vs.Spec.ExportTo))
            {
                names.Add(vs.Metadata.Namespace);
                names.UnionWith(vs.Spec.ExportTo);
            }
            foreach (var route in vs.Spec.Tcp.Select(r => r.Route).Concat(vs.Spec.Tls.Select(r => r.Route)))
            foreach (var d in route)
                if (d.Destination?.Host is { } host) hosts.Add(HostName.Expand(host, vs.Metadata.Namespace));
        }
        foreach (var host in hosts) _destinationRules.MayResolveOtherwise(host, names);
        names.IntersectWith(namespaces);
        return names.Order(StringComparer.Ordinal).ToList();
    }

    private RuleSet MeshRuleSet(ServiceDef service, ServicePortDef port, string? clientNamespace, List<VirtualService> forHost)
    {
        // VirtualServices for this host bound to mesh and visible to the client: private ones first,
        // then those exported to its namespace by name, then public ones; each group by creation time, name, namespace.
        _work.VirtualServices += forHost.Count;
        _work.MeshRuleSets++;
        var applicable = forHost
            .Select(vs => (vs, group: Precedence.Group(vs.Metadata.Namespace, vs.Spec.ExportTo, clientNamespace)))
            .Where(x => x.group >= 0)
            .OrderBy(x => x.group)
            .Select(x => x.vs)
            .ToList();

        var tcp = new List<CompiledRule>();
        var tls = new List<CompiledRule>();
        foreach (var vs in applicable)
        {
            for (var r = 0; r < vs.Spec.Tcp.Count; r++)
            {
                var rule = vs.Spec.Tcp[r];
                if (rule.Route.IsEmpty) continue;
                var blocks = rule.Match.OfType<L4MatchAttributes>()
                    .Select((m, i) => MeshBlock(m.Port, m.SourceLabels, m.SourceNamespace, Subnets(vs, $"spec.tcp[{r}].match[{i}]", m.DestinationSubnets), m.Gateways, [])).ToArray();
                tcp.Add(new CompiledRule { Blocks = blocks, Target = Target(vs, "tcp", r, rule.Route, service, port.Number, clientNamespace) });
            }
            for (var r = 0; r < vs.Spec.Tls.Count; r++)
            {
                var rule = vs.Spec.Tls[r];
                if (rule.Route.IsEmpty) continue;
                var blocks = rule.Match.OfType<TlsMatchAttributes>()
                    .Select((m, i) => MeshBlock(m.Port, m.SourceLabels, m.SourceNamespace, Subnets(vs, $"spec.tls[{r}].match[{i}]", m.DestinationSubnets), m.Gateways, SniHosts(m, vs))).ToArray();
                tls.Add(new CompiledRule { Blocks = blocks, Target = Target(vs, "tls", r, rule.Route, service, port.Number, clientNamespace) });
            }
        }

        var self = Destination(service.Host, null, port.Number, 100, service.Namespace, clientNamespace);
        var fallback = NewTarget(null, null, null, [self],
            $"no rule matched: to the dialled service itself ({self.Cluster.Name})");
        return new RuleSet { Tcp = tcp.ToArray(), Tls = tls.ToArray(), Default = fallback };
    }

    private static CompiledBlock MeshBlock(int? port, Labels sourceLabels, string? sourceNamespace, IpNet[] subnets, Seq<string> gateways, string[] sni) => new()
    {
        Port = port ?? 0,
        SourceLabels = sourceLabels.ToArray(),
        SourceNamespace = sourceNamespace,
        Subnets = subnets,
        SniHosts = sni,
        // A block's own gateways replace the VirtualService's; for mesh traffic they must include mesh.
        GatewayMatches = gateways.IsEmpty || gateways.Contains("mesh"),
    };

    /// <summary>A match's destinationSubnets; one that does not parse is an error at <paramref name="match"/>.destinationSubnets[i].</summary>
    private IpNet[] Subnets(VirtualService vs, string match, Seq<string> subnets)
    {
        var parsed = new IpNet[subnets.Count];
        for (var i = 0; i < subnets.Count; i++)
        {
            if (IpNet.TryParse(subnets[i], out parsed[i])) continue;
            _errors.Add(Diagnostic.Error(vs.Key.ToString(), $"{match}.destinationSubnets[{i}]", IpNet.Refusal(subnets[i])));
        }
        return parsed;
    }

    /// <summary>SNI names as written and expanded in the VirtualService's namespace.</summary>
    private static string[] SniHosts(TlsMatchAttributes m, VirtualService vs) =>
        m.SniHosts.Select(h => HostName.Expand(h, vs.Metadata.Namespace)).Concat(m.SniHosts).Distinct().ToArray();

    // ---------------------------------------------------------------- gateways

    private IEnumerable<CompiledListener> GatewayListeners()
    {
        var servers = new Dictionary<IpPort, List<(Gateway Gateway, Server Server)>>();
        foreach (var gw in _resources.OfType<Gateway>().Where(g => _everyGateway || g.Spec.Selector.IsSubsetOf(_nodeLabels)))
        foreach (var server in gw.Spec.Servers)
        {
            if (ListenerOf(gw, server, out var unserved) is not { } at)
            {
                if (unserved is not null) _notes.Add(unserved);
                continue;
            }
            if (!servers.TryGetValue(at, out var list)) servers[at] = list = [];
            list.Add((gw, server));
        }

        foreach (var (at, list) in servers)
        {
            var gateways = list.Select(x => $"{x.Gateway.Metadata.Namespace}/{x.Gateway.Metadata.Name}").Distinct().ToList();
            var tls = list.Any(x => x.Server.Port!.Protocol!.Equals("TLS", StringComparison.OrdinalIgnoreCase));
            if (tls && list.Any(x => !x.Server.Port!.Protocol!.Equals("TLS", StringComparison.OrdinalIgnoreCase)))
                _notes.Add($"listener {at}: TCP and TLS servers share the port; it is served as TLS (routed by SNI)");
            var gatewayNamespace = list[0].Gateway.Metadata.Namespace;
            var byGateway = new Dictionary<string, List<(int Index, Gateway Gw, Server Server)>>(StringComparer.Ordinal);
            for (var i = 0; i < list.Count; i++)
            {
                _work.Servers++;
                var key = Key(list[i].Gateway);
                if (!byGateway.TryGetValue(key, out var own)) byGateway[key] = own = [];
                own.Add((i, list[i].Gateway, list[i].Server));
            }
            var rules = new List<CompiledRule>();
            // Only the VirtualServices bound to one of this listener's gateways: a scan of all of them per listener (and, for
            // mesh listeners, of every VirtualService with a wildcard host, gateway-only ones included) made a configuration of
            // 2,000 Gateways take 15 s to check on every write, and every node as long to compile.
            foreach (var vs in _virtualServices.BoundTo(gateways))
            {
                _work.VirtualServices++;
                // Like Istio, a gateway sees only the VirtualServices exported to its namespace.
                if (!Precedence.VisibleTo(vs.Metadata.Namespace, vs.Spec.ExportTo, gatewayNamespace)) continue;
                var bound = vs.Spec.Gateways.Select(g => ResolveGateway(g, vs.Metadata.Namespace)).ToList();
                // The gateways of this listener that bind this VS and whose servers admit one of its hosts, in the order of
                // their first such server. Looked up by name: a scan of the listener's servers per VirtualService was N × N
                // for N tenant Gateways on one port (11 s per write at 10,000).
                var admitting = new List<(int First, string Gateway)>();
                foreach (var g in bound.Distinct())
                {
                    if (!byGateway.TryGetValue(g, out var own)) continue;
                    foreach (var (index, gw, server) in own)
                    {
                        _work.Servers++;
                        if (AdmitsHost(gw, server, vs)) { admitting.Add((index, g)); break; }
                    }
                }
                if (admitting.Count == 0) continue;
                admitting.Sort();
                var through = admitting.Select(x => x.Gateway).ToList();

                if (tls)
                {
                    for (var r = 0; r < vs.Spec.Tls.Count; r++)
                    {
                        var rule = vs.Spec.Tls[r];
                        var blocks = rule.Match.OfType<TlsMatchAttributes>()
                            .Select(m => Block(m.Port, m.Gateways, bound, through, vs.Metadata.Namespace, SniHosts(m, vs))).ToArray();
                        rules.Add(new CompiledRule { Blocks = blocks, Gateway = through[0], Target = Target(vs, "tls", r, rule.Route, null, at.Port, gatewayNamespace) });
                    }
                }
                else
                {
                    for (var r = 0; r < vs.Spec.Tcp.Count; r++)
                    {
                        var rule = vs.Spec.Tcp[r];
                        var blocks = rule.Match.OfType<L4MatchAttributes>().Select(m => Block(m.Port, m.Gateways, bound, through, vs.Metadata.Namespace, [])).ToArray();
                        var gatewayOfRule = blocks.Length == 0 ? through[0]
                            : through.FirstOrDefault(g => rule.Match.OfType<L4MatchAttributes>().Any(m => (m.Gateways.IsEmpty ? bound : m.Gateways.Select(x => ResolveGateway(x, vs.Metadata.Namespace))).Contains(g))) ?? through[0];
                        rules.Add(new CompiledRule { Blocks = blocks, Gateway = gatewayOfRule, Target = Target(vs, "tcp", r, rule.Route, null, at.Port, gatewayNamespace) });
                    }
                }
            }
            var ruleSet = new RuleSet { Tcp = tls ? [] : rules.ToArray(), Tls = tls ? rules.ToArray() : [] };
            yield return new CompiledListener
            {
                Address = at, Kind = ListenerKind.Gateway, Gateways = gateways, Tls = tls, RoutesBySni = tls, Rules = ruleSet,
                AutoPassthrough = AutoPassthrough(list),
            };
        }
    }

    /// <summary>
    /// The address a Gateway server listens at on a node serving its Gateway (servers at one address and port make one
    /// listener), or null and why not (a note; null for a server without a port): a router serves TCP and passthrough TLS
    /// servers, on their bind address or, without one, every interface.
    /// </summary>
    internal static IpPort? ListenerOf(Gateway gw, Server server, out string? unserved)
    {
        unserved = null;
        var protocol = server.Port?.Protocol?.ToUpperInvariant();
        if (server.Port?.Number is not { } number) return null;
        if (protocol is not ("TCP" or "TLS") || (protocol == "TLS" && server.Tls?.Mode is not (null or "PASSTHROUGH" or "AUTO_PASSTHROUGH")))
        {
            unserved = $"Gateway {gw.Metadata.Namespace}/{gw.Metadata.Name} server {server.Port.Name}: protocol {server.Port.Protocol}"
                       + (protocol == "TLS" ? $" with TLS mode {server.Tls?.Mode}" : "") + " is not served by an L4 router (TCP and TLS passthrough only)";
            return null;
        }
        // Only a server without bind listens on every interface. A bind that is not an IP (a unix
        // domain socket, meant to stay local) is never widened to 0.0.0.0: the server is not served.
        IpKey bind;
        if (string.IsNullOrEmpty(server.Bind)) bind = new IpKey(0, false);
        else if (!IpKey.TryParse(server.Bind, out bind))
        {
            unserved = $"Gateway {gw.Metadata.Namespace}/{gw.Metadata.Name} server {server.Port.Name}: bind {server.Bind} is not an IP address "
                       + "(a unix domain socket is not served by an L4 TCP router); the server gets no listener";
            return null;
        }
        return new IpPort(bind, number);
    }

    /// <summary>
    /// Istio's AUTO_PASSTHROUGH without Kubernetes: every service a server admits, on each of its ports
    /// and subsets, is reachable by the SNI <c>outbound_.PORT_.SUBSET_.HOST</c> (<c>_</c> for no subset),
    /// with no VirtualService involved.
    /// </summary>
    /// <remarks>
    /// A server's services are looked up by its hosts (<see cref="ServicesByHost"/>), not found by asking every service: N
    /// tenant Gateways on one port, each admitting its own namespace's services (<c>./*</c>), cost N × N per write and per
    /// node compile. A server host already done at this listener for a Gateway of the same namespace adds no SNI (the first
    /// claim on a name wins, and the same namespace resolves the same DestinationRules), so it is not done again; nor is one
    /// done for a Gateway of another namespace, but for the services that namespace may resolve a DestinationRule for
    /// otherwise (<see cref="DestinationRuleIndex.MayResolveOtherwise"/>), and those whose names were added only as another
    /// namespace resolves them: every other service's names are there already, claimed by the earlier Gateway. N Gateways
    /// admitting <c>*/*</c>, one in each of N namespaces, were N × N services resolved (cfg18).
    /// </remarks>
    private Dictionary<string, (RouteTarget Target, string Gateway)> AutoPassthrough(List<(Gateway Gateway, Server Server)> servers)
    {
        var routes = new Dictionary<string, (RouteTarget, string)>(StringComparer.Ordinal);
        var done = new HashSet<(string GatewayNamespace, string ServiceNamespace, string Host)>();
        // Server hosts whose services were all done here, for some Gateway's namespace.
        var admittedBefore = new HashSet<(string ServiceNamespace, string Host)>();
        // The views each service's names were added in: a namespace's own (its DestinationRules resolve otherwise), or null
        // for every namespace that resolves it as no client namespace does; and those done in a namespace's own view only.
        var views = new HashSet<(int Service, string? View)>();
        var publicPending = new HashSet<int>();
        foreach (var (gw, server) in servers.Where(x => x.Server.Tls?.Mode == "AUTO_PASSTHROUGH"))
        {
            var gatewayNamespace = gw.Metadata.Namespace;
            var admitted = new List<int>();
            List<int>? otherwise = null;
            foreach (var serverHost in server.Hosts)
            {
                var (ns, host) = AdmittedBy(gw, serverHost);
                if (!done.Add((gatewayNamespace, ns, host))) continue;
                if (ServicesByHost(ns) is not { } index) continue;
                if (admittedBefore.Add((ns, host)))
                {
                    foreach (var e in index.CoveredBy(host)) admitted.Add(index[e].Value);
                    continue;
                }
                otherwise ??= ResolvedOtherwiseBy(gatewayNamespace);
                foreach (var i in otherwise.Concat(publicPending))
                {
                    var service = _catalog.Services[i];
                    if ((ns == "*" || service.Namespace == ns) && HostName.Covers(host, service.Host)) admitted.Add(i);
                }
            }
            // In the catalog's order, each once, as when every service was asked: the first claim on an SNI keeps it.
            admitted.Sort();
            for (var k = 0; k < admitted.Count; k++)
            {
                var i = admitted[k];
                if (k > 0 && i == admitted[k - 1]) continue;
                var service = _catalog.Services[i];
                var view = ResolvesOtherwise(i, gatewayNamespace) ? gatewayNamespace : null;
                if (!views.Add((i, view))) continue; // its names in this view are all there already
                if (view is null) publicPending.Remove(i);
                else if (!views.Contains((i, null))) publicPending.Add(i);
                _work.Services++;
                var rule = _destinationRules.Resolve(service.Host, service.Namespace, gatewayNamespace);
                foreach (var port in service.Ports)
                foreach (var subset in new string?[] { null }.Concat(rule?.Subsets.Select(x => x.Name) ?? []))
                {
                    var sni = $"outbound_.{port.Number}_.{subset}_.{service.Host}";
                    if (routes.ContainsKey(sni)) continue;
                    var destination = Destination(service.Host, subset, port.Number, 100, service.Namespace, gatewayNamespace, service);
                    routes[sni] = (NewTarget(null, "auto-passthrough", null, [destination],
                        $"AUTO_PASSTHROUGH at {Key(gw)}: the SNI names {destination.Cluster.Name}"), Key(gw));
                }
            }
        }
        return routes;
    }

    /// <summary>Whether a client of <paramref name="ns"/> may resolve service <paramref name="service"/>'s DestinationRules
    /// otherwise than one of no namespace (<see cref="DestinationRuleIndex.MayResolveOtherwise"/>, once per service).</summary>
    private bool ResolvesOtherwise(int service, string ns)
    {
        _resolvedOtherwise ??= new Dictionary<int, HashSet<string>>();
        if (!_resolvedOtherwise.TryGetValue(service, out var namespaces))
        {
            _resolvedOtherwise[service] = namespaces = new HashSet<string>(StringComparer.Ordinal);
            _destinationRules.MayResolveOtherwise(_catalog.Services[service].Host, namespaces);
        }
        return namespaces.Contains(ns);
    }

    /// <summary>The services (their index in the catalog) whose DestinationRules a client of <paramref name="ns"/> may resolve
    /// otherwise: those the hosts of its own rules and of those exported to it by name cover.</summary>
    private List<int> ResolvedOtherwiseBy(string ns)
    {
        var all = ServicesByHost("*")!;
        var found = new List<int>();
        foreach (var host in _destinationRules.HostsResolvedOtherwiseBy(ns))
            foreach (var e in all.CoveredBy(host)) found.Add(all[e].Value);
        return found;
    }

    /// <summary>A server host <c>ns/host</c>: the namespace whose services it admits (<c>.</c> = the gateway's, <c>*</c> = any) and the host pattern.</summary>
    private static (string Namespace, string Host) AdmittedBy(Gateway gw, string serverHost)
    {
        var slash = serverHost.IndexOf('/');
        var ns = slash < 0 ? "*" : serverHost[..slash];
        return (ns == "." ? gw.Metadata.Namespace : ns, slash < 0 ? serverHost : serverHost[(slash + 1)..]);
    }

    /// <summary>The catalog's services by host (values: their index in the catalog), of one namespace or (<c>*</c>) all; null: none there.</summary>
    private HostPatterns<int>? ServicesByHost(string ns)
    {
        _servicesByHost ??= _catalog.Services.Select((s, i) => (s, i)).GroupBy(x => x.s.Namespace)
            .ToDictionary(g => g.Key, g => new HostPatterns<int>(g.Select(x => (x.s.Host, x.i))), StringComparer.Ordinal);
        if (ns != "*") return _servicesByHost.GetValueOrDefault(ns);
        return _allServicesByHost ??= new HostPatterns<int>(_catalog.Services.Select((s, i) => (s.Host, i)));
    }

    private static CompiledBlock Block(int? port, Seq<string> blockGateways, List<string> vsGateways, List<string> through, string vsNamespace, string[] sni)
    {
        var gateways = blockGateways.IsEmpty ? vsGateways : blockGateways.Select(g => ResolveGateway(g, vsNamespace)).ToList();
        return new CompiledBlock { Port = port ?? 0, GatewayMatches = gateways.Any(through.Contains), SniHosts = sni };
    }

    internal static string Key(Gateway gw) => $"{gw.Metadata.Namespace}/{gw.Metadata.Name}";

    /// <summary><c>name</c> and <c>./name</c> mean the VS's namespace; legacy <c>name.ns[.svc...]</c> means <c>ns/name</c>.</summary>
    internal static string ResolveGateway(string reference, string vsNamespace)
    {
        if (reference == "mesh") return reference;
        var slash = reference.IndexOf('/');
        if (slash >= 0) return reference[..slash] == "." ? $"{vsNamespace}/{reference[(slash + 1)..]}" : reference;
        var parts = reference.Split('.');
        return parts.Length >= 2 ? $"{parts[1]}/{parts[0]}" : $"{vsNamespace}/{reference}";
    }

    /// <summary>A server host <c>ns/host</c> admits only VSs of <c>ns</c> (<c>.</c> = the gateway's, <c>*</c> = any).</summary>
    internal static bool AdmitsHost(Gateway gw, Server server, VirtualService vs)
    {
        foreach (var serverHost in server.Hosts)
        {
            var slash = serverHost.IndexOf('/');
            var ns = slash < 0 ? "*" : serverHost[..slash];
            var host = slash < 0 ? serverHost : serverHost[(slash + 1)..];
            if (ns == ".") ns = gw.Metadata.Namespace;
            if (ns != "*" && ns != vs.Metadata.Namespace) continue;
            if (vs.Spec.Hosts.Any(h => HostName.Matches(host, HostName.Expand(h, vs.Metadata.Namespace)))) return true;
        }
        return false;
    }

    // ---------------------------------------------------------------- destinations and clusters

    private RouteTarget Target(VirtualService vs, string section, int index, Seq<RouteDestination> route, ServiceDef? dialled, int listenerPort, string? clientNamespace)
    {
        var given = route.Where(d => d.Destination?.Host is not null).ToList();
        var kept = given.Count == 1 ? given : given.Where(d => (d.Weight ?? 0) > 0).ToList();
        var destinations = kept.Select(d =>
        {
            var host = HostName.Expand(d.Destination!.Host!, vs.Metadata.Namespace);
            var service = _catalog.Find(host);
            var port = d.Destination.Port?.Number
                       ?? (service?.Ports.Count == 1 ? service.Ports[0].Number : listenerPort);
            return Destination(host, d.Destination.Subset, port, kept.Count == 1 ? 100 : d.Weight!.Value, service?.Namespace, clientNamespace, service);
        }).ToArray();
        var name = $"{vs.Metadata.Namespace}/{vs.Metadata.Name}";
        return NewTarget(name, section, index, destinations, $"matched {name} {section}[{index}]");
    }

    private RouteTarget NewTarget(string? vs, string? section, int? rule, WeightedDestination[] destinations, string reason)
    {
        var target = new RouteTarget
        {
            Id = _targets.Count, VirtualService = vs, Section = section, Rule = rule, Destinations = destinations,
            Reason = reason, Outcome = RouteTarget.OutcomeOf(destinations),
        };
        _targets.Add(target);
        return target;
    }

    private WeightedDestination Destination(string host, string? subset, int port, int weight, string? serviceNamespace, string? clientNamespace, ServiceDef? service = null)
    {
        service ??= _catalog.Find(host);
        var rule = service is null ? null : _destinationRules.Resolve(host, service.Namespace, clientNamespace);
        return new WeightedDestination(host, subset, port, weight, Cluster(host, subset, port, service, rule));
    }

    private UpstreamCluster Cluster(string host, string? subset, int port, ServiceDef? service, MergedDestinationRule? rule)
    {
        var name = UpstreamCluster.NameOf(port, subset, host);
        var rules = rule is null ? "" : string.Join(",", rule.Sources);
        if (_clusters.TryGetValue((name, rules), out var known)) return known;

        ClusterStatus status;
        string detail;
        IReadOnlyList<UpstreamEndpoint> endpoints = [];
        var portDef = service?.Port(port);
        var subsetDef = subset is null ? null : rule?.Subset(subset);
        if (service is null) (status, detail) = (ClusterStatus.UnknownHost, $"no service has host {host}");
        else if (portDef is null && !service.Passthrough)
            (status, detail) = (ClusterStatus.UnknownPort, $"service {host} has no port {port} (ports: {string.Join(", ", service.Ports.Select(p => p.Number))})");
        else if (subset is not null && subsetDef is null)
            (status, detail) = (ClusterStatus.UnknownSubset, rule is null
                ? $"subset {subset} of {host}: no DestinationRule applies to {host}"
                : $"subset {subset} of {host} is not declared by {string.Join(", ", rule.Sources)}");
        else if (service.Passthrough)
            (status, detail) = (ClusterStatus.Passthrough,
                $"{host} has resolution NONE and no endpoints: that means the original destination, which a router without transparent interception cannot reach");
        else
        {
            endpoints = service.EndpointsFor(portDef!)
                .Where(e => subsetDef is null || subsetDef.Labels.IsSubsetOf(e.Labels))
                // Endpoints reached only through a network gateway (no address) or over a unix socket
                // cannot be dialled over TCP; validation warns about them.
                .Where(e => e.Address.Length > 0 && !e.Address.StartsWith("unix://", StringComparison.Ordinal))
                .Select(e => new UpstreamEndpoint(e.Address, e.Port, e.Weight, e.Labels, e.Workload)).ToList();
            (status, detail) = endpoints.Count == 0
                ? (ClusterStatus.NoEndpoints, subsetDef is null
                    ? $"service {host} has no endpoints"
                    : $"no endpoint of {host} carries the labels of subset {subset} ({subsetDef.Labels})")
                : (ClusterStatus.Ok, $"{endpoints.Count} endpoint(s)");
        }

        var uses = _clusterNameUses.GetValueOrDefault(name);
        _clusterNameUses[name] = uses + 1;
        var cluster = new UpstreamCluster
        {
            Id = uses == 0 ? name : $"{name}#{uses + 1}",
            Name = name, Host = host, Port = port, Subset = subset, Status = status, Detail = detail, Endpoints = endpoints,
            Policy = rule?.PolicyFor(subset, port) ?? UpstreamPolicy.Default,
            DestinationRules = rule?.Sources ?? [],
        };
        _clusters[(name, rules)] = cluster;
        return cluster;
    }
}

/// <summary>The configuration holds values the compiler cannot use; nothing of it was put in force.</summary>
public sealed class RouteCompileException(IReadOnlyList<Diagnostic> errors)
    : Exception(string.Join("; ", errors.Select(e => e.ToString())))
{
    public IReadOnlyList<Diagnostic> Errors { get; } = errors;
}
