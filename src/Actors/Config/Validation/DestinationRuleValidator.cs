using System.Globalization;
using AkkaL4.Messages.Model;

namespace AkkaL4.Actors.Config.Validation;

/// <summary>Istio's ValidateDestinationRule, validateTrafficPolicy and what they call, plus the limits of the runtime.</summary>
internal static class DestinationRuleValidator
{
    private static readonly string[] SimplePolicies = ["UNSPECIFIED", "LEAST_REQUEST", "LEAST_CONN", "ROUND_ROBIN", "RANDOM", "PASSTHROUGH"];
    private static readonly string[] ClientTlsModes = ["DISABLE", "SIMPLE", "MUTUAL", "ISTIO_MUTUAL"];
    private static readonly string[] TopologyLabels = ["topology.kubernetes.io/region", "topology.kubernetes.io/zone", "topology.istio.io/subzone"];

    // Linux's limits for TCP_KEEPIDLE / TCP_KEEPINTVL (seconds) and TCP_KEEPCNT: setsockopt refuses
    // anything else, which would fail every connect to the host.
    private const int MaxKeepaliveSeconds = 32767;
    private const int MaxKeepaliveProbes = 127;

    public static void Validate(DestinationRule dr, Findings f)
    {
        var spec = dr.Spec;
        if (Checks.CheckWildcardDomain(spec.Host) is { } error) f.Error("spec.host", error);

        TrafficPolicy(f, "spec.trafficPolicy", spec.TrafficPolicy);
        if (dr.Metadata.Annotations.TryGetValue(Upstreams.Health.HealthCheckPolicy.Annotation, out var healthCheck)
            && !Upstreams.Health.HealthCheckPolicy.TryParse(healthCheck, out _, out var problems))
            foreach (var (field, message) in problems) f.Error(field, message);

        var names = new HashSet<string>();
        for (var i = 0; i < spec.Subsets.Count; i++)
        {
            var subset = spec.Subsets[i];
            var path = $"spec.subsets[{i}]";
            if (string.IsNullOrEmpty(subset.Name)) f.Error($"{path}.name", "subset name is required");
            else if (!Checks.IsIstioLabel(subset.Name))
                f.Error($"{path}.name", $"subset name '{subset.Name}' is invalid: must be a DNS-1123 label (letters of either case, digits and '-')");
            if (!names.Add(subset.Name ?? "")) f.Error($"{path}.name", $"duplicate subset names: '{subset.Name}' is defined twice");
            Checks.Labels(f, $"{path}.labels", subset.Labels);
            TrafficPolicy(f, $"{path}.trafficPolicy", subset.TrafficPolicy);
        }
        Checks.ExportTo(f, "spec.exportTo", spec.ExportTo, hasWorkloadSelector: spec.WorkloadSelector is not null);
        if (spec.WorkloadSelector is { } selector)
        {
            if (selector.MatchLabels.IsEmpty)
                f.Warning("spec.workloadSelector", "workloadSelector has no matchLabels: the rule applies to every workload in the namespace");
            Checks.Labels(f, "spec.workloadSelector.matchLabels", selector.MatchLabels);
        }
    }

    private static void TrafficPolicy(Findings f, string path, TrafficPolicy? policy)
    {
        if (policy is null) return;
        if (policy.LoadBalancer is null && policy.ConnectionPool is null && policy.OutlierDetection is null && policy.Tls is null
            && policy.PortLevelSettings.IsEmpty && policy.ProxyProtocol is null && policy.Tunnel is null && policy.RetryBudget is null)
        {
            f.Error(path, "traffic policy must have at least one field");
            return;
        }
        if (policy.Tunnel is not null && policy.ProxyProtocol is not null)
        {
            f.Error(path, "tunnel and proxyProtocol must not be set together");
            return;
        }
        Settings(f, path, policy.LoadBalancer, policy.ConnectionPool, policy.OutlierDetection, policy.Tls);
        if (policy.ProxyProtocol is { } pp && pp.Version is not (null or "V1" or "V2"))
            f.Error($"{path}.proxyProtocol.version", $"invalid proxy protocol version '{pp.Version}': use V1 or V2");
        if (policy.Tunnel is { } tunnel) Tunnel(f, $"{path}.tunnel", tunnel);
        if (policy.RetryBudget is { } budget)
        {
            if (Number(f, $"{path}.retryBudget.percent", budget.Percent is RawMap m ? m["value"] : budget.Percent) is < 0 or > 100)
                f.Error($"{path}.retryBudget.percent", "retry budget percent must be in the range 0..100");
            if (budget.MinRetryConcurrency < 0) f.Error($"{path}.retryBudget.minRetryConcurrency", "minRetryConcurrency must not be negative");
        }

        var ports = new HashSet<int>();
        for (var i = 0; i < policy.PortLevelSettings.Count; i++)
        {
            var pls = policy.PortLevelSettings[i];
            var ppath = $"{path}.portLevelSettings[{i}]";
            if (pls.Port is null) f.Error($"{ppath}.port", "portTrafficPolicy must have a valid port");
            // Istio accepts a port twice; only the first entry applies.
            else if (pls.Port.Number is { } number && !ports.Add(number))
                f.Warning($"{ppath}.port.number", $"port {number} has more than one portLevelSettings entry; only the first applies");
            if (pls.LoadBalancer is null && pls.ConnectionPool is null && pls.OutlierDetection is null && pls.Tls is null)
                f.Error(ppath, "port traffic policy must have at least one field");
            else Settings(f, ppath, pls.LoadBalancer, pls.ConnectionPool, pls.OutlierDetection, pls.Tls);
        }
    }

    private static void Settings(Findings f, string path, LoadBalancerSettings? lb, ConnectionPoolSettings? pool, OutlierDetection? od, ClientTlsSettings? tls)
    {
        Outlier(f, $"{path}.outlierDetection", od);
        ConnectionPool(f, $"{path}.connectionPool", pool);
        LoadBalancer(f, $"{path}.loadBalancer", lb, od);
        Tls(f, $"{path}.tls", tls);
    }

    private static void Tunnel(Findings f, string path, TunnelSettings tunnel)
    {
        if (tunnel.Protocol is not (null or "" or "CONNECT" or "POST")) f.Error($"{path}.protocol", "tunnel protocol must be CONNECT or POST");
        if (Checks.CheckFqdn(tunnel.TargetHost) is not null && !Checks.IsIp(tunnel.TargetHost ?? ""))
            f.Error($"{path}.targetHost", $"tunnel target host '{tunnel.TargetHost}' must be a valid FQDN or IP address");
        if (!Checks.IsValidPort(tunnel.TargetPort ?? 0)) f.Error($"{path}.targetPort", $"tunnel target port {tunnel.TargetPort} must be in the range 1..65535");
    }

    /// <summary>Istio's ValidateTLS for upstream TLS settings.</summary>
    private static void Tls(Findings f, string path, ClientTlsSettings? tls)
    {
        if (tls is null) return;
        var mode = tls.Mode ?? "DISABLE";
        if (!ClientTlsModes.Contains(mode)) f.Error($"{path}.mode", $"unknown TLS mode '{mode}'; use one of {string.Join(", ", ClientTlsModes)}");
        // Istio accepts it; AkkaL4 has no mesh CA to issue the workload certificates it needs.
        if (mode == "ISTIO_MUTUAL")
            f.Error($"{path}.mode", "ISTIO_MUTUAL needs Istio's mesh certificate authority, which AkkaL4 does not have: "
                                    + "use MUTUAL with clientCertificate, privateKey and caCertificates files (or SIMPLE)");
        bool Set(string? s) => !string.IsNullOrEmpty(s);
        if (tls.InsecureSkipVerify == true)
        {
            if (mode == "SIMPLE" && (Set(tls.CaCertificates) || Set(tls.CredentialName) || !tls.SubjectAltNames.IsEmpty))
                f.Error($"{path}.insecureSkipVerify", "cannot specify caCertificates, credentialName or subjectAltNames when insecureSkipVerify is true");
            // With MUTUAL a credentialName may carry only the client certificate.
            if (mode == "MUTUAL" && (Set(tls.CaCertificates) || !tls.SubjectAltNames.IsEmpty))
                f.Error($"{path}.insecureSkipVerify", "cannot specify caCertificates or subjectAltNames when insecureSkipVerify is true");
        }
        if (mode is "SIMPLE" or "MUTUAL" && Set(tls.CredentialName))
        {
            if (Set(tls.ClientCertificate) || Set(tls.CaCertificates) || Set(tls.PrivateKey) || Set(tls.CaCrl))
                f.Error($"{path}.credentialName", "cannot specify client certificates, CA certificate or CA CRL if credentialName is set");
            return;
        }
        if (mode == "MUTUAL")
        {
            if (!Set(tls.ClientCertificate)) f.Error($"{path}.clientCertificate", "client certificate required for mutual tls");
            if (!Set(tls.PrivateKey)) f.Error($"{path}.privateKey", "private key required for mutual tls");
        }
        // The files are read by each router node when it connects through this rule, never here: validation runs on the
        // config writer for whoever holds an API token, and whether a path exists on the writer's host is not theirs to
        // learn (a node that cannot read a file refuses those connections, NC, and logs why). Only the path's form is
        // checked: here whether it is relative; at the writer, against the TLS file roots (FilesOutside).
        if (mode is "SIMPLE" or "MUTUAL")
        {
            RelativeFile(f, $"{path}.caCertificates", tls.CaCertificates);
            RelativeFile(f, $"{path}.clientCertificate", tls.ClientCertificate);
            RelativeFile(f, $"{path}.privateKey", tls.PrivateKey);
        }
    }

    private static void RelativeFile(Findings f, string path, string? file)
    {
        if (!string.IsNullOrEmpty(file) && !Path.IsPathRooted(file))
            f.Warning(path, $"'{Diagnostic.Quote(file)}' is a relative path: the config writer refuses it (TLS files are read only inside "
                            + $"{DataPlane.TlsFileRoots.Key}); give an absolute path");
    }

    /// <summary>
    /// Errors for the TLS files the DestinationRules of <paramref name="resources"/> name outside <paramref name="roots"/>
    /// (<see cref="DataPlane.TlsFileRoots"/>, by the path's text alone): the config writer's check of what a write brings.
    /// Not part of <see cref="Validate"/>, which also reads stored configurations (last-known-good, every node's copy): a rule
    /// stored before the setting still loads, and nodes refuse to read its files.
    /// </summary>
    internal static List<Diagnostic> FilesOutside(IEnumerable<Resource> resources, IReadOnlyList<string> roots)
    {
        var errors = new List<Diagnostic>();
        foreach (var dr in resources.OfType<DestinationRule>())
        {
            var f = new Findings(dr, errors);
            PolicyFiles(f, "spec.trafficPolicy", dr.Spec.TrafficPolicy, roots);
            for (var i = 0; i < dr.Spec.Subsets.Count; i++) PolicyFiles(f, $"spec.subsets[{i}].trafficPolicy", dr.Spec.Subsets[i].TrafficPolicy, roots);
        }
        return errors;
    }

    private static void PolicyFiles(Findings f, string path, TrafficPolicy? policy, IReadOnlyList<string> roots)
    {
        if (policy is null) return;
        TlsFiles(f, $"{path}.tls", policy.Tls, roots);
        for (var i = 0; i < policy.PortLevelSettings.Count; i++) TlsFiles(f, $"{path}.portLevelSettings[{i}].tls", policy.PortLevelSettings[i].Tls, roots);
    }

    /// <summary>The files a node would read: those of SIMPLE and MUTUAL (DISABLE's are never read).</summary>
    private static void TlsFiles(Findings f, string path, ClientTlsSettings? tls, IReadOnlyList<string> roots)
    {
        if (tls is not { Mode: "SIMPLE" or "MUTUAL" }) return;
        foreach (var (field, file) in new[] { ("caCertificates", tls.CaCertificates), ("clientCertificate", tls.ClientCertificate), ("privateKey", tls.PrivateKey) })
            if (!string.IsNullOrEmpty(file) && DataPlane.TlsFileRoots.Refusal(file, roots) is { } refused) f.Error($"{path}.{field}", refused);
    }

    private static void LoadBalancer(Findings f, string path, LoadBalancerSettings? lb, OutlierDetection? od)
    {
        if (lb is null) return;
        if (lb.Simple is { } simple && !SimplePolicies.Contains(simple))
            f.Error($"{path}.simple", $"unknown load balancer '{simple}'; use one of {string.Join(", ", SimplePolicies)}");
        if (lb.Simple is not null && lb.ConsistentHash is not null)
            f.Error(path, "set either simple or consistentHash, not both");
        if (lb.ConsistentHash is { } hash) ConsistentHash(f, $"{path}.consistentHash", hash);
        if (lb.LocalityLbSetting is { } locality) Locality(f, $"{path}.localityLbSetting", locality, od);
        Checks.Duration(f, $"{path}.warmupDurationSecs", lb.WarmupDurationSecs);
        if (lb.Warmup is { } warmup)
        {
            if (warmup.Duration is null) f.Error($"{path}.warmup.duration", "warmup duration is required");
            Checks.Duration(f, $"{path}.warmup.duration", warmup.Duration);
            if (Number(f, $"{path}.warmup.minimumPercent", warmup.MinimumPercent) is < 0 or > 100)
                f.Error($"{path}.warmup.minimumPercent", "warmup minimumPercent must be in the range 0..100");
            if (Number(f, $"{path}.warmup.aggression", warmup.Aggression) is < 1)
                f.Error($"{path}.warmup.aggression", "warmup aggression must be at least 1");
        }
    }

    private static void ConsistentHash(Findings f, string path, ConsistentHashSettings hash)
    {
        if (hash.HttpCookie is { } cookie)
        {
            if (string.IsNullOrEmpty(cookie.Name)) f.Error($"{path}.httpCookie.name", "name required for httpCookie");
            var attributes = new HashSet<string>();
            for (var i = 0; i < cookie.Attributes.Count; i++)
            {
                var name = cookie.Attributes[i].Name;
                if (string.IsNullOrEmpty(name)) f.Error($"{path}.httpCookie.attributes[{i}].name", "cookie attribute name cannot be empty");
                else if (!attributes.Add(name)) f.Error($"{path}.httpCookie.attributes[{i}].name", $"duplicate cookie attribute name: {name}");
            }
        }
        if (hash.MinimumRingSize is not null and not 0)
        {
            f.Warning($"{path}.minimumRingSize", "consistentHash minimumRingSize is deprecated, use ringHash.minimumRingSize instead");
            if (hash.RingHash is not null || hash.Maglev is not null)
                f.Error($"{path}.minimumRingSize", "only one of minimumRingSize or maglev/ringHash can be specified");
        }
        if (hash.Maglev is { } maglev)
        {
            var size = maglev.TableSize ?? 0;
            if (size == 0) f.Error($"{path}.maglev.tableSize", "tableSize must be set for maglev");
            else if (size < 0 || size >= 5_000_011) f.Error($"{path}.maglev.tableSize", "tableSize must be less than 5000011 for maglev");
            else if (!IsPrime(size)) f.Error($"{path}.maglev.tableSize", $"tableSize must be a prime number for maglev, not {size}");
        }
    }

    private static bool IsPrime(long x)
    {
        if (x < 4) return x > 1;
        if (x % 2 == 0) return false;
        for (long d = 3; d * d <= x; d += 2)
            if (x % d == 0) return false;
        return true;
    }

    /// <summary>Istio's ValidateLocalityLbSetting and validateLocalities.</summary>
    private static void Locality(Findings f, string path, LocalityLbSetting lb, OutlierDetection? od)
    {
        if (!lb.Distribute.IsEmpty && !lb.Failover.IsEmpty)
        {
            f.Error(path, "can not simultaneously specify 'distribute' and 'failover'");
            return;
        }
        if (!lb.Failover.IsEmpty && lb.FailoverPriority.FirstOrDefault(TopologyLabels.Contains) is { } topology)
        {
            f.Error($"{path}.failoverPriority", $"can not simultaneously set 'failover' and topology label '{topology}' in 'failoverPriority'");
            return;
        }
        for (var i = 0; i < lb.Distribute.Count; i++)
        {
            var dpath = $"{path}.distribute[{i}].to";
            var weights = lb.Distribute[i].To is RawMap to ? to.Fields : Seq<RawField>.Empty;
            var total = 0L;
            foreach (var (locality, value) in weights)
            {
                if (value is not RawScalar { Value: var text } || !int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var weight) || weight is < 1 or > 100)
                {
                    f.Error($"{dpath}.{locality}", "locality weight must be in the range 1..100");
                    return;
                }
                total += weight;
            }
            if (total != 100)
            {
                f.Error(dpath, $"total locality weight {total} != 100");
                return;
            }
            if (Localities(weights.Select(w => w.Key)) is { } error) f.Error(dpath, error);
        }
        if (Localities(lb.Distribute.Select(d => d.From ?? "")) is { } fromError) f.Error($"{path}.distribute", fromError);
        if ((!lb.Failover.IsEmpty || !lb.FailoverPriority.IsEmpty) && od is null)
            f.Warning(path, "outlier detection policy must be provided for failover");
        for (var i = 0; i < lb.Failover.Count; i++)
        {
            var (from, to) = (lb.Failover[i].From ?? "", lb.Failover[i].To ?? "");
            var fpath = $"{path}.failover[{i}]";
            if (from == to) f.Error(fpath, "locality lb failover settings must specify different regions");
            if (from.Contains('/') || to.Contains('/')) f.Error(fpath, "locality lb failover only specify region");
            if (from.Contains('*') || to.Contains('*')) f.Error(fpath, "locality lb failover region should not contain '*' wildcard");
        }
    }

    /// <summary>Localities (<c>region[/zone[/subzone]]</c>, a trailing <c>*</c> allowed) that do not overlap.</summary>
    private static string? Localities(IEnumerable<string> localities)
    {
        // region → zone → subzones, "*" standing for "all".
        var seen = new Dictionary<string, Dictionary<string, HashSet<string>>>();
        foreach (var locality in localities)
        {
            var stars = locality.Count(c => c == '*');
            if (stars > 1 || (stars == 1 && !locality.EndsWith('*')))
                return $"locality {locality}: a wildcard '*' may appear once, at the end";
            if (seen.ContainsKey("*")) return $"locality {locality} overlaps with previous ones";
            var parts = locality.Split('/', 3);
            if (parts.Any(p => p.Length == 0)) return $"locality {locality} must not contain an empty region/zone/subzone";
            var region = parts[0];
            if (parts.Length == 1)
            {
                if (!seen.TryAdd(region, new() { ["*"] = ["*"] })) return $"locality {locality} overlaps with previous ones";
                continue;
            }
            if (!seen.TryGetValue(region, out var zones)) seen[region] = zones = [];
            else if (zones.ContainsKey("*")) return $"locality {locality} overlaps with previous ones";
            if (parts.Length == 2)
            {
                if (!zones.TryAdd(parts[1], ["*"])) return $"locality {locality} overlaps with previous ones";
                continue;
            }
            if (!zones.TryGetValue(parts[1], out var subzones)) zones[parts[1]] = subzones = [];
            if (subzones.Contains("*") || !subzones.Add(parts[2])) return $"locality {locality} overlaps with previous ones";
        }
        return null;
    }

    private static void ConnectionPool(Findings f, string path, ConnectionPoolSettings? pool)
    {
        if (pool is null) return;
        if (pool.Tcp is null && pool.Http is null)
        {
            f.Error(path, "connection pool must set at least one protocol (tcp or http)");
            return;
        }
        if (pool.Http is { } http)
        {
            var hpath = $"{path}.http";
            foreach (var (name, value) in new[]
                     {
                         ("http1MaxPendingRequests", http.Http1MaxPendingRequests), ("http2MaxRequests", http.Http2MaxRequests),
                         ("maxRequestsPerConnection", http.MaxRequestsPerConnection), ("maxRetries", http.MaxRetries),
                         ("maxConcurrentStreams", http.MaxConcurrentStreams),
                     })
                if (value < 0) f.Error($"{hpath}.{name}", $"{name} must be non-negative, got {value}");
            Checks.Duration(f, $"{hpath}.idleTimeout", http.IdleTimeout);
            if (http.H2UpgradePolicy is { } upgrade && upgrade is not ("DEFAULT" or "DO_NOT_UPGRADE" or "UPGRADE"))
                f.Error($"{hpath}.h2UpgradePolicy", $"unknown h2UpgradePolicy '{upgrade}'; use DEFAULT, DO_NOT_UPGRADE or UPGRADE");
            if (http.H2UpgradePolicy == "UPGRADE" && http.UseClientProtocol == true)
                f.Error($"{hpath}.useClientProtocol", "useClientProtocol must not be true when h2UpgradePolicy is UPGRADE");
        }
        if (pool.Tcp is not { } tcp) return;
        var tpath = $"{path}.tcp";
        if (tcp.MaxConnections < 0) f.Error($"{tpath}.maxConnections", $"max connections must be non-negative, got {tcp.MaxConnections}");
        Checks.Duration(f, $"{tpath}.connectTimeout", tcp.ConnectTimeout, max: Checks.MaxTimer);
        Checks.Duration(f, $"{tpath}.maxConnectionDuration", tcp.MaxConnectionDuration, max: Checks.MaxTimer);
        Checks.Duration(f, $"{tpath}.idleTimeout", tcp.IdleTimeout, allowZero: true, max: Checks.MaxTimer);
        if (tcp.TcpKeepalive is { } ka)
        {
            // Istio accepts any count; the kernel takes 1..127 and the socket option would fail every connect.
            if (ka.Probes is < 1 or > MaxKeepaliveProbes)
                f.Error($"{tpath}.tcpKeepalive.probes", $"probes {ka.Probes} must be in the range 1..{MaxKeepaliveProbes} (the kernel's TCP_KEEPCNT limit)");
            var maxKeepalive = new Duration(MaxKeepaliveSeconds * 1_000_000_000L);
            Checks.Duration(f, $"{tpath}.tcpKeepalive.time", ka.Time, max: maxKeepalive);
            Checks.Duration(f, $"{tpath}.tcpKeepalive.interval", ka.Interval, max: maxKeepalive);
        }
    }

    private static void Outlier(Findings f, string path, OutlierDetection? od)
    {
        if (od is null) return;
        foreach (var (name, value) in new[]
                 {
                     ("consecutiveErrors", od.ConsecutiveErrors), ("consecutive5xxErrors", od.Consecutive5xxErrors),
                     ("consecutiveGatewayErrors", od.ConsecutiveGatewayErrors), ("consecutiveLocalOriginFailures", od.ConsecutiveLocalOriginFailures),
                 })
            if (value < 0) f.Error($"{path}.{name}", $"outlier detection {name} cannot be negative, got {value}");
        if (od.ConsecutiveErrors is not null and not 0)
            f.Warning($"{path}.consecutiveErrors", "outlier detection consecutiveErrors is deprecated, use consecutiveGatewayErrors or consecutive5xxErrors instead");
        if (od.SplitExternalLocalOriginErrors != true && od.ConsecutiveLocalOriginFailures > 0)
            f.Error($"{path}.consecutiveLocalOriginFailures", "consecutiveLocalOriginFailures is set, but splitExternalLocalOriginErrors is not true");
        Checks.Duration(f, $"{path}.interval", od.Interval, max: Checks.MaxTimer);
        Checks.Duration(f, $"{path}.baseEjectionTime", od.BaseEjectionTime, max: Checks.MaxTimer);
        Checks.Percent(f, $"{path}.maxEjectionPercent", od.MaxEjectionPercent);
        Checks.Percent(f, $"{path}.minHealthPercent", od.MinHealthPercent);
    }

    /// <summary>A number kept as written (a protobuf double); null when unset, an error when it is not a number.</summary>
    private static double? Number(Findings f, string path, RawValue? value)
    {
        if (value is null) return null;
        if (value is RawScalar { Value: var text } && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) && double.IsFinite(number))
            return number;
        f.Error(path, "expected a number");
        return null;
    }
}
