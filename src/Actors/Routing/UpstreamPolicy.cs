using AkkaL4.Actors.Upstreams.Health;
using AkkaL4.Messages.Model;

namespace AkkaL4.Actors.Routing;

public enum LoadBalancerKind { LeastRequest, RoundRobin, Random, Passthrough, SourceIpHash }

/// <summary>Outlier ejection settings in force for a cluster (only when the DestinationRule sets outlierDetection).</summary>
public sealed record OutlierPolicy(
    int Consecutive5xxErrors,
    int ConsecutiveGatewayErrors,
    TimeSpan Interval,
    TimeSpan BaseEjectionTime,
    int MaxEjectionPercent,
    int MinHealthPercent,
    int? LocalOriginFailures = null)
{
    /// <summary>
    /// For TCP a connect failure counts as both a 5xx and a gateway error; the lower enabled threshold ejects. With
    /// splitExternalLocalOriginErrors (<see cref="LocalOriginFailures"/> set) it is a local-origin failure only, and
    /// consecutiveLocalOriginFailures (Envoy's default 5) ejects.
    /// </summary>
    public int EjectAfter => LocalOriginFailures ?? (Consecutive5xxErrors, ConsecutiveGatewayErrors) switch
    {
        (0, 0) => 0,
        (0, var g) => g,
        (var x, 0) => x,
        var (x, g) => Math.Min(x, g),
    };

    public override string ToString() =>
        $"consecutive5xxErrors={Consecutive5xxErrors},consecutiveGatewayErrors={ConsecutiveGatewayErrors},interval={Duration.FromTimeSpan(Interval)}," +
        $"baseEjectionTime={Duration.FromTimeSpan(BaseEjectionTime)},maxEjectionPercent={MaxEjectionPercent},minHealthPercent={MinHealthPercent}" +
        (LocalOriginFailures is { } local ? $",consecutiveLocalOriginFailures={local}" : "");
}

/// <summary>
/// DestinationRule <c>trafficPolicy.tls</c> SIMPLE or MUTUAL: the upstream side is wrapped in TLS
/// (DISABLE or unset: plain; ISTIO_MUTUAL is refused by validation).
/// </summary>
public sealed record UpstreamTls(string Mode, string? CaCertificates, string? ClientCertificate, string? PrivateKey, string? Sni,
    Seq<string> SubjectAltNames, bool InsecureSkipVerify)
{
    /// <summary>The DestinationRule(s) it comes from, to name in errors.</summary>
    public string Rules { get; init; } = "";
}

/// <summary>The traffic policy a cluster runs with after DestinationRule lookup, subset override and port-level replacement.</summary>
public sealed record UpstreamPolicy(
    LoadBalancerKind LoadBalancer,
    int? MaxConnections,
    TimeSpan ConnectTimeout,
    TimeSpan? IdleTimeout,
    TimeSpan? MaxConnectionDuration,
    TcpKeepalive? Keepalive,
    OutlierPolicy? Outlier,
    string? ProxyProtocolVersion,
    HealthCheckPolicy? HealthCheck = null,
    UpstreamTls? Tls = null)
{
    public static readonly TimeSpan DefaultConnectTimeout = TimeSpan.FromSeconds(10);
    public static readonly TimeSpan DefaultIdleTimeout = TimeSpan.FromHours(1);

    public static readonly UpstreamPolicy Default = From(null);

    /// <summary>Reads Istio defaults for whatever the policy leaves unset.</summary>
    public static UpstreamPolicy From(TrafficPolicy? policy, HealthCheckPolicy? healthCheck = null)
    {
        var tcp = policy?.ConnectionPool?.Tcp;
        var od = policy?.OutlierDetection;
        return new UpstreamPolicy(
            Balancer(policy?.LoadBalancer),
            tcp?.MaxConnections,
            tcp?.ConnectTimeout?.ToTimeSpan() ?? DefaultConnectTimeout,
            tcp?.IdleTimeout is { } idle ? (idle.IsZero ? null : idle.ToTimeSpan()) : DefaultIdleTimeout,
            tcp?.MaxConnectionDuration?.ToTimeSpan(),
            tcp?.TcpKeepalive,
            od is null ? null : new OutlierPolicy(
                od.Consecutive5xxErrors ?? od.ConsecutiveErrors ?? 5,
                od.ConsecutiveGatewayErrors ?? 0,
                od.Interval?.ToTimeSpan() ?? TimeSpan.FromSeconds(10),
                od.BaseEjectionTime?.ToTimeSpan() ?? TimeSpan.FromSeconds(30),
                od.MaxEjectionPercent ?? 10,
                od.MinHealthPercent ?? 0,
                od.SplitExternalLocalOriginErrors == true ? od.ConsecutiveLocalOriginFailures ?? 5 : null),
            policy?.ProxyProtocol?.Version,
            healthCheck,
            policy?.Tls is { Mode: "SIMPLE" or "MUTUAL" } tls
                ? new UpstreamTls(tls.Mode, tls.CaCertificates, tls.ClientCertificate, tls.PrivateKey, tls.Sni, tls.SubjectAltNames, tls.InsecureSkipVerify == true)
                : null);
    }

    private static LoadBalancerKind Balancer(LoadBalancerSettings? lb) => lb switch
    {
        { ConsistentHash.UseSourceIp: true } => LoadBalancerKind.SourceIpHash,
        { Simple: "ROUND_ROBIN" } => LoadBalancerKind.RoundRobin,
        { Simple: "RANDOM" } => LoadBalancerKind.Random,
        { Simple: "PASSTHROUGH" } => LoadBalancerKind.Passthrough,
        _ => LoadBalancerKind.LeastRequest, // unset, UNSPECIFIED, LEAST_REQUEST, LEAST_CONN; other hash keys do nothing at L4
    };
}

/// <summary>
/// The DestinationRules that apply to one service for one client namespace, merged. <see cref="HealthCheck"/>:
/// the first one's <c>akkal4.io/health-check</c> annotation, for every subset and port (as the first trafficPolicy wins).
/// </summary>
public sealed record MergedDestinationRule(IReadOnlyList<ResourceKey> Sources, TrafficPolicy? TrafficPolicy, IReadOnlyList<Subset> Subsets,
    HealthCheckPolicy? HealthCheck = null)
{
    public Subset? Subset(string name) => Subsets.FirstOrDefault(s => s.Name == name);

    /// <summary>
    /// Istio's MergeTrafficPolicy: the top-level policy (with its own port-level settings applied),
    /// overridden field by field by the subset's, whose port-level settings for the port then
    /// replace loadBalancer, connectionPool, outlierDetection and tls outright.
    /// </summary>
    public UpstreamPolicy PolicyFor(string? subsetName, int port)
    {
        var policy = ForPort(TrafficPolicy, port);
        if (subsetName is not null && Subset(subsetName)?.TrafficPolicy is { } sub)
        {
            policy = new TrafficPolicy
            {
                LoadBalancer = sub.LoadBalancer ?? policy?.LoadBalancer,
                ConnectionPool = sub.ConnectionPool ?? policy?.ConnectionPool,
                OutlierDetection = sub.OutlierDetection ?? policy?.OutlierDetection,
                Tls = sub.Tls ?? policy?.Tls,
                ProxyProtocol = sub.ProxyProtocol ?? policy?.ProxyProtocol,
                PortLevelSettings = sub.PortLevelSettings,
            };
            policy = ForPort(policy, port);
        }
        var merged = UpstreamPolicy.From(policy, HealthCheck);
        return merged.Tls is null ? merged : merged with { Tls = merged.Tls with { Rules = string.Join(", ", Sources) } };
    }

    private static TrafficPolicy? ForPort(TrafficPolicy? policy, int port)
    {
        var pls = policy?.PortLevelSettings.FirstOrDefault(p => p.Port?.Number == port);
        return pls is null
            ? policy
            : policy! with
            {
                LoadBalancer = pls.LoadBalancer, ConnectionPool = pls.ConnectionPool,
                OutlierDetection = pls.OutlierDetection, Tls = pls.Tls, PortLevelSettings = Seq<PortTrafficPolicy>.Empty,
            };
    }
}

/// <summary>Istio's DestinationRule lookup: client namespace, then the service's, then the root namespace; most specific host wins.</summary>
/// <remarks>
/// Wildcard hosts are looked up (<see cref="HostPatterns{T}"/>), not matched one by one: the compiler resolves a host per
/// destination and client namespace and asks which namespaces may resolve it otherwise per listener, so a scan of the
/// wildcard rules (a <c>*.example.com</c> rule in each of N namespaces, or N in one) per question was N × N per write.
/// </remarks>
public sealed class DestinationRuleIndex
{
    public const string RootNamespace = "istio-system";

    // Per namespace: rules by exact (expanded) host, and the wildcard ones; each in precedence order.
    private readonly Dictionary<string, (Dictionary<string, List<DestinationRule>> Exact, HostPatterns<DestinationRule> Wildcards)> _byNamespace = new();

    // Every namespace's together, for MayResolveOtherwise.
    private readonly Dictionary<string, List<DestinationRule>> _exact = new(StringComparer.Ordinal);
    private readonly HostPatterns<DestinationRule> _wildcards;
    // The hosts (expanded) of the rules that may make a namespace resolve otherwise: its own, and those exported to it by name.
    private readonly Dictionary<string, List<string>> _hostsByViewer = new(StringComparer.Ordinal);
    private int _exactVisits;

    public DestinationRuleIndex(IEnumerable<DestinationRule> rules)
    {
        var wildcards = new List<(string Host, DestinationRule Rule)>();
        var wildcardsByNamespace = new Dictionary<string, List<(string Host, DestinationRule Rule)>>(StringComparer.Ordinal);
        var exactByNamespace = new Dictionary<string, Dictionary<string, List<DestinationRule>>>(StringComparer.Ordinal);
        foreach (var rule in Precedence.Order(rules).Where(r => r.Spec.Host is not null))
        {
            var ns = rule.Metadata.Namespace;
            if (!exactByNamespace.TryGetValue(ns, out var exact))
            {
                exactByNamespace[ns] = exact = new(StringComparer.Ordinal);
                wildcardsByNamespace[ns] = [];
            }
            var host = HostName.Expand(rule.Spec.Host!, ns);
            if (HostName.IsWildcard(host))
            {
                wildcards.Add((host, rule));
                wildcardsByNamespace[ns].Add((host, rule));
            }
            else
            {
                if (_exact.TryGetValue(host, out var all)) all.Add(rule);
                else _exact[host] = [rule];
                if (exact.TryGetValue(host, out var list)) list.Add(rule);
                else exact[host] = [rule];
            }
            Viewer(ns, host);
            if (!Precedence.Public(rule.Spec.ExportTo))
                foreach (var to in rule.Spec.ExportTo) Viewer(to, host);
        }
        _wildcards = new HostPatterns<DestinationRule>(wildcards);
        foreach (var (ns, exact) in exactByNamespace) _byNamespace[ns] = (exact, new HostPatterns<DestinationRule>(wildcardsByNamespace[ns]));

        void Viewer(string ns, string host)
        {
            if (_hostsByViewer.TryGetValue(ns, out var hosts)) hosts.Add(host);
            else _hostsByViewer[ns] = [host];
        }
    }

    /// <summary>How many rules the questions so far looked at: the work a test counts.</summary>
    public int Visits => _exactVisits + _wildcards.Visits + _byNamespace.Values.Sum(x => x.Wildcards.Visits);

    /// <summary>
    /// Adds to <paramref name="into"/> every client namespace for which <see cref="Resolve"/> of <paramref name="host"/> may
    /// differ from its result for no client namespace: those with a rule for the host (their own comes first), and those a
    /// non-public rule for it is exported to. For any other, each namespace looked in shows it only the public rules.
    /// </summary>
    public void MayResolveOtherwise(string host, ISet<string> into)
    {
        if (_exact.TryGetValue(host, out var exact))
        {
            _exactVisits += exact.Count;
            foreach (var rule in exact) Add(rule);
        }
        foreach (var i in _wildcards.Covering(host)) Add(_wildcards[i].Value);

        void Add(DestinationRule rule)
        {
            into.Add(rule.Metadata.Namespace);
            if (!Precedence.Public(rule.Spec.ExportTo)) into.UnionWith(rule.Spec.ExportTo);
        }
    }

    /// <summary>
    /// The hosts (expanded; exact or wildcard) of the rules that put <paramref name="ns"/> in <see cref="MayResolveOtherwise"/>:
    /// a host covered by none of them resolves for <paramref name="ns"/> as for no client namespace.
    /// </summary>
    public IReadOnlyList<string> HostsResolvedOtherwiseBy(string ns) => _hostsByViewer.GetValueOrDefault(ns) ?? [];

    public MergedDestinationRule? Resolve(string host, string serviceNamespace, string? clientNamespace)
    {
        foreach (var ns in new[] { clientNamespace, serviceNamespace, RootNamespace }.Distinct())
        {
            if (ns is null || !_byNamespace.TryGetValue(ns, out var index)) continue;
            // Most specific: an exact host beats any wildcard, a longer wildcard beats a shorter one.
            var exact = index.Exact.GetValueOrDefault(host) ?? [];
            _exactVisits += exact.Count;
            var chosen = exact.Where(Visible).ToList();
            if (chosen.Count == 0)
            {
                var wildcards = index.Wildcards.Covering(host).Select(i => index.Wildcards[i]).Where(w => Visible(w.Value)).ToList();
                if (wildcards.Count == 0) continue;
                var best = wildcards.Max(w => w.Host.Length);
                chosen = wildcards.Where(w => w.Host.Length == best).Select(w => w.Value).ToList();
            }
            if (chosen.Count == 0) continue;
            var subsets = new List<Subset>();
            foreach (var s in chosen.SelectMany(r => r.Spec.Subsets))
                if (subsets.All(x => x.Name != s.Name)) subsets.Add(s); // first definition of a name wins
            return new MergedDestinationRule(chosen.Select(r => r.Key).ToList(),
                chosen.Select(r => r.Spec.TrafficPolicy).FirstOrDefault(p => p is not null), subsets,
                chosen.Select(r => HealthCheckPolicy.Of(r.Metadata)).FirstOrDefault(h => h is not null));
        }
        return null;

        bool Visible(DestinationRule r) => Precedence.VisibleTo(r.Metadata.Namespace, r.Spec.ExportTo, clientNamespace);
    }
}

/// <summary>Istio's ordering and visibility rules shared by VirtualServices and DestinationRules.</summary>
public static class Precedence
{
    /// <summary>Creation time, then name, then namespace.</summary>
    public static IEnumerable<T> Order<T>(IEnumerable<T> resources) where T : Resource =>
        resources.OrderBy(r => r.Metadata.CreationTimestamp ?? "", StringComparer.Ordinal)
            .ThenBy(r => r.Metadata.Name, StringComparer.Ordinal)
            .ThenBy(r => r.Metadata.Namespace, StringComparer.Ordinal);

    /// <summary>exportTo: empty or <c>*</c> = everyone, <c>.</c> = own namespace, else the namespaces listed.</summary>
    public static bool VisibleTo(string ownNamespace, Seq<string> exportTo, string? clientNamespace) =>
        Public(exportTo)
        || (clientNamespace is not null && ((exportTo.Contains(".") && clientNamespace == ownNamespace) || exportTo.Contains(clientNamespace)));

    /// <summary>exportTo empty or <c>*</c>: visible to every namespace alike.</summary>
    public static bool Public(Seq<string> exportTo) => exportTo.IsEmpty || exportTo.Contains("*");

    /// <summary>0 = private to the client's namespace, 1 = exported to it by name, 2 = public; -1 = not visible.</summary>
    public static int Group(string ownNamespace, Seq<string> exportTo, string? clientNamespace)
    {
        if (Public(exportTo)) return 2;
        if (clientNamespace is null) return -1;
        if (exportTo.Contains(".") && clientNamespace == ownNamespace) return 0;
        return exportTo.Contains(clientNamespace) ? 1 : -1;
    }
}
