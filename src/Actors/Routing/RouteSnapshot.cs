using AkkaL4.Messages.Model;

namespace AkkaL4.Actors.Routing;

public enum ListenerKind { Mesh, Gateway }

/// <summary>Why a connection could not be routed; the flags are Envoy's.</summary>
public enum DecisionResult
{
    Route,
    /// <summary>NC: no rule matched at a gateway, unknown host, or undeclared subset.</summary>
    NoRoute,
    /// <summary>UH: the cluster has no endpoint.</summary>
    NoHealthyUpstream,
    /// <summary>Nothing listens on that address and port.</summary>
    NoListener,
}

public enum ClusterStatus { Ok, UnknownHost, UnknownPort, UnknownSubset, NoEndpoints, Passthrough }

public sealed record UpstreamEndpoint(string Address, int Port, int Weight, Labels Labels, string Workload)
{
    public override string ToString() => Address.Contains(':') ? $"[{Address}]:{Port}" : $"{Address}:{Port}";
}

/// <summary>
/// An upstream cluster (<c>outbound|port|subset|host</c>): its endpoints after subset filtering and the
/// traffic policy in force. <see cref="Id"/> is unique in a snapshot (the name, suffixed when
/// DestinationRule lookup gives one name two meanings for different client namespaces).
/// </summary>
public sealed class UpstreamCluster
{
    public required string Id { get; init; }
    public required string Name { get; init; }
    public required string Host { get; init; }
    public required int Port { get; init; }
    public string? Subset { get; init; }
    public required ClusterStatus Status { get; init; }
    public required string Detail { get; init; }
    public required IReadOnlyList<UpstreamEndpoint> Endpoints { get; init; }
    public required UpstreamPolicy Policy { get; init; }
    public IReadOnlyList<ResourceKey> DestinationRules { get; init; } = [];

    public DecisionResult Outcome => Status switch
    {
        // Resolution NONE (the original destination) is refused by the data plane too: one answer in explain and on live connections.
        ClusterStatus.Ok => DecisionResult.Route,
        ClusterStatus.NoEndpoints => DecisionResult.NoHealthyUpstream,
        _ => DecisionResult.NoRoute,
    };

    public static string NameOf(int port, string? subset, string host) => $"outbound|{port}|{subset}|{host}";
}

public sealed record WeightedDestination(string Host, string? Subset, int Port, int Weight, UpstreamCluster Cluster);

/// <summary>
/// What one rule (or the fall-back to the dialled service) sends connections to. <see cref="Id"/>
/// indexes per-target state (the weighted picker) kept by whoever picks.
/// </summary>
public sealed class RouteTarget
{
    public required int Id { get; init; }
    /// <summary><c>ns/name</c> of the VirtualService, or null for the dialled service itself.</summary>
    public string? VirtualService { get; init; }
    public string? Section { get; init; }
    public int? Rule { get; init; }
    public required WeightedDestination[] Destinations { get; init; }
    public required string Reason { get; init; }

    /// <summary>NC when no destination has a cluster, UH when none has endpoints, else Route.</summary>
    public required DecisionResult Outcome { get; init; }

    /// <summary>
    /// The same for the same rule with the same weighted destinations in any snapshot, so the weighted
    /// rotation carries over when configuration is re-applied and stays exact.
    /// </summary>
    public string RotationKey => _rotationKey ??=
        $"{VirtualService}|{Section}|{Rule}|" + string.Join(",", Destinations.Select(d => $"{d.Cluster.Name}={d.Weight}"));

    private string? _rotationKey;

    public static DecisionResult OutcomeOf(IReadOnlyCollection<WeightedDestination> destinations) =>
        destinations.Any(d => d.Cluster.Outcome == DecisionResult.Route) ? DecisionResult.Route
        : destinations.Any(d => d.Cluster.Outcome == DecisionResult.NoHealthyUpstream) ? DecisionResult.NoHealthyUpstream
        : DecisionResult.NoRoute;
}

/// <summary>One condition block of a compiled rule.</summary>
internal sealed class CompiledBlock
{
    public int Port { get; init; }
    public KeyValuePair<string, string>[] SourceLabels { get; init; } = [];
    public string? SourceNamespace { get; init; }
    public IpNet[] Subnets { get; init; } = [];
    public string[] SniHosts { get; init; } = [];
    /// <summary>Mesh: the block applies to mesh traffic. Gateway: it names one of the listener's gateways.</summary>
    public bool GatewayMatches { get; init; }

    public bool MatchesSource(ClientIdentity client)
    {
        if (SourceNamespace is not null && !string.Equals(SourceNamespace, client.Namespace, StringComparison.Ordinal)) return false;
        foreach (var (key, value) in SourceLabels)
            if (!client.Labels.TryGetValue(key, out var v) || !string.Equals(v, value, StringComparison.Ordinal)) return false;
        return true;
    }

    public bool MatchesSni(string? sni)
    {
        if (sni is null) return false;
        foreach (var host in SniHosts)
            if (HostName.Covers(host, sni)) return true;
        return false;
    }
}

internal sealed class CompiledRule
{
    /// <summary>Empty: the rule matches everything.</summary>
    public required CompiledBlock[] Blocks { get; init; }
    public required RouteTarget Target { get; init; }
    /// <summary>Gateway listeners: the gateway (<c>ns/name</c>) this rule is reached through.</summary>
    public string? Gateway { get; init; }
}

/// <summary>The rules a listener applies for one client namespace, in precedence order.</summary>
internal sealed class RuleSet
{
    public required CompiledRule[] Tcp { get; init; }
    public required CompiledRule[] Tls { get; init; }
    public RouteTarget? Default { get; init; }
}

public sealed class CompiledListener
{
    private string? _name;

    public required IpPort Address { get; init; }
    /// <summary><see cref="Address"/> as text, made once: every connection on the listener logs and counts by it.</summary>
    public string Name => _name ??= Address.ToString();
    public required ListenerKind Kind { get; init; }
    /// <summary>Mesh: the dialled service.</summary>
    public ServiceDef? Service { get; init; }
    /// <summary>Gateway: the Gateways (<c>ns/name</c>) whose servers this listener serves.</summary>
    public IReadOnlyList<string> Gateways { get; init; } = [];
    public bool Tls { get; init; }
    /// <summary>
    /// The connection's ClientHello is read before deciding: a TLS gateway listener, or a mesh listener
    /// on a TLS port or with <c>tls</c> rules. A gateway's TLS listener routes only by SNI; a mesh one
    /// without an SNI falls back to its tcp rules, as Istio's sidecar does.
    /// </summary>
    public bool RoutesBySni { get; init; }
    /// <summary>AUTO_PASSTHROUGH servers: the cluster named by an SNI <c>outbound_.PORT_.SUBSET_.HOST</c>, and the gateway.</summary>
    internal IReadOnlyDictionary<string, (RouteTarget Target, string Gateway)> AutoPassthrough { get; init; } =
        new Dictionary<string, (RouteTarget, string)>();
    internal Dictionary<string, RuleSet> ByNamespace { get; init; } = new();
    internal RuleSet Rules { get; init; } = null!;

    public override string ToString() => Kind == ListenerKind.Mesh
        ? $"{Address} ({Service?.Host})"
        : $"{Address} (gateway {string.Join(", ", Gateways)})";
}

/// <summary>The outcome of <see cref="RouteSnapshot.Decide"/>; a struct over precompiled objects, so deciding allocates nothing.</summary>
public readonly record struct Decision(DecisionResult Result, CompiledListener? Listener, RouteTarget? Target, string? Gateway, ClientIdentity Client)
{
    public string Reason => Target?.Reason ?? Result switch
    {
        DecisionResult.NoListener => "no listener on this address and port",
        _ => "no rule matched",
    };
}

/// <summary>
/// Everything a node needs to route: its listeners, each with its rules compiled per client namespace,
/// the upstream clusters, and the source-identity index. Immutable once built; swap it atomically.
/// </summary>
public sealed class RouteSnapshot
{
    private readonly Dictionary<IpPort, CompiledListener> _listeners;

    internal RouteSnapshot(long revision, IReadOnlyList<CompiledListener> listeners, IReadOnlyList<UpstreamCluster> clusters,
        IReadOnlyList<RouteTarget> targets, ServiceCatalog catalog, IReadOnlyList<string> notes)
    {
        Revision = revision;
        Listeners = listeners;
        Clusters = clusters;
        Targets = targets;
        Catalog = catalog;
        Notes = notes;
        _listeners = listeners.ToDictionary(l => l.Address);
    }

    public long Revision { get; }
    public IReadOnlyList<CompiledListener> Listeners { get; }
    public IReadOnlyList<UpstreamCluster> Clusters { get; }
    /// <summary>Every route target, indexed by <see cref="RouteTarget.Id"/>.</summary>
    public IReadOnlyList<RouteTarget> Targets { get; }
    public ServiceCatalog Catalog { get; }
    /// <summary>What compiling noticed (listener clashes, servers an L4 router does not serve).</summary>
    public IReadOnlyList<string> Notes { get; }

    public static RouteSnapshot Empty { get; } = new(0, [], [], [], new ServiceCatalog([]), []);

    /// <summary>This snapshot with <paramref name="more"/> notes after its own; itself when there are none.</summary>
    internal RouteSnapshot WithNotes(IReadOnlyList<string> more) =>
        more.Count == 0 ? this : new RouteSnapshot(Revision, Listeners, Clusters, Targets, Catalog, [.. Notes, .. more]);

    /// <summary>The listener at an exact address, else one bound to all addresses on that port.</summary>
    public CompiledListener? FindListener(IpPort address)
    {
        if (_listeners.TryGetValue(address, out var exact)) return exact;
        var any = new IpPort(new IpKey(0, address.Address.IsV6), address.Port);
        return _listeners.GetValueOrDefault(any);
    }

    public Decision Decide(IpPort listener, IpKey source, IpKey destination, string? sni = null)
    {
        var l = FindListener(listener);
        return l is null
            ? new Decision(DecisionResult.NoListener, null, null, null, Catalog.Identify(source))
            : Decide(l, source, destination, sni);
    }

    /// <summary>Istio's rule walk for one connection (see istio-l4-semantics.md).</summary>
    public Decision Decide(CompiledListener listener, IpKey source, IpKey destination, string? sni = null)
    {
        var client = Catalog.Identify(source);
        var port = listener.Address.Port;
        if (listener.Kind == ListenerKind.Gateway)
        {
            var rules = listener.Rules;
            var set = listener.Tls ? rules.Tls : rules.Tcp;
            foreach (var rule in set)
            {
                if (rule.Blocks.Length == 0 && !listener.Tls) return Routed(listener, rule.Target, rule.Gateway, client);
                foreach (var block in rule.Blocks)
                {
                    if (!block.GatewayMatches || (block.Port != 0 && block.Port != port)) continue;
                    if (listener.Tls && !block.MatchesSni(sni)) continue;
                    return Routed(listener, rule.Target, rule.Gateway, client);
                }
            }
            if (sni is not null && listener.AutoPassthrough.TryGetValue(sni, out var auto)) return Routed(listener, auto.Target, auto.Gateway, client);
            return new Decision(DecisionResult.NoRoute, listener, null, null, client);
        }

        var ruleSet = client.Namespace is not null && listener.ByNamespace.TryGetValue(client.Namespace, out var own) ? own : listener.Rules;

        if (sni is not null)
            foreach (var rule in ruleSet.Tls)
            foreach (var block in rule.Blocks)
                if (block.GatewayMatches && (block.Port == 0 || block.Port == port) && block.MatchesSource(client) && block.MatchesSni(sni)
                    && (block.Subnets.Length == 0 || LongestPrefix(block.Subnets, destination) >= 0))
                    return Routed(listener, rule.Target, null, client);

        RouteTarget? bestSubnet = null;
        var bestPrefix = -1;
        foreach (var rule in ruleSet.Tcp)
        {
            if (rule.Blocks.Length == 0) return Routed(listener, bestSubnet ?? rule.Target, null, client);
            RouteTarget? ruleSubnet = null;
            var rulePrefix = -1;
            var terminal = false;
            foreach (var block in rule.Blocks)
            {
                if (!block.GatewayMatches || (block.Port != 0 && block.Port != port) || !block.MatchesSource(client)) continue;
                if (block.Subnets.Length == 0) { terminal = true; break; }
                var prefix = LongestPrefix(block.Subnets, destination);
                if (prefix > rulePrefix) { rulePrefix = prefix; ruleSubnet = rule.Target; }
            }
            // As in Istio, a terminal block drops the subnet candidates of its own rule.
            if (terminal) return Routed(listener, bestSubnet ?? rule.Target, null, client);
            if (rulePrefix > bestPrefix) { bestPrefix = rulePrefix; bestSubnet = ruleSubnet; }
        }
        return Routed(listener, bestSubnet ?? ruleSet.Default!, null, client);
    }

    private static int LongestPrefix(IpNet[] subnets, IpKey destination)
    {
        var best = -1;
        foreach (var net in subnets)
            if (net.PrefixLength > best && net.Contains(destination)) best = net.PrefixLength;
        return best;
    }

    private static Decision Routed(CompiledListener listener, RouteTarget target, string? gateway, ClientIdentity client) =>
        new(target.Outcome, listener, target, gateway, client);
}
