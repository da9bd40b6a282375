using AkkaL4.Messages.Model;

namespace AkkaL4.Actors.Config.Validation;

/// <summary>Istio's validateDestinationRule and validateTrafficPolicy.</summary>
internal static class DestinationRuleValidator
{
    private static readonly string[] SimplePolicies = ["UNSPECIFIED", "LEAST_REQUEST", "LEAST_CONN", "ROUND_ROBIN", "RANDOM", "PASSTHROUGH"];

    public static void Validate(DestinationRule dr, Findings f)
    {
        var spec = dr.Spec;
        if (string.IsNullOrEmpty(spec.Host)) f.Error("spec.host", "host is required");
        else if (Checks.CheckWildcardDomain(spec.Host) is { } error && !Checks.IsIp(spec.Host)) f.Error("spec.host", error);

        TrafficPolicy(f, "spec.trafficPolicy", spec.TrafficPolicy);

        var names = new HashSet<string>();
        for (var i = 0; i < spec.Subsets.Count; i++)
        {
            var subset = spec.Subsets[i];
            var path = $"spec.subsets[{i}]";
            if (string.IsNullOrEmpty(subset.Name)) f.Error($"{path}.name", "subset name is required");
            else if (!Checks.IsDns1123Label(subset.Name))
                f.Error($"{path}.name", $"subset name '{subset.Name}' is invalid: must be a DNS-1123 label (lower-case letters, digits and '-')");
            else if (!names.Add(subset.Name)) f.Error($"{path}.name", $"duplicate subset names: '{subset.Name}' is defined twice");
            Checks.Labels(f, $"{path}.labels", subset.Labels);
            TrafficPolicy(f, $"{path}.trafficPolicy", subset.TrafficPolicy);
        }
        Checks.ExportTo(f, "spec.exportTo", spec.ExportTo);
        if (spec.WorkloadSelector is { } selector) Checks.Labels(f, "spec.workloadSelector.matchLabels", selector.MatchLabels);
    }

    private static void TrafficPolicy(Findings f, string path, TrafficPolicy? policy)
    {
        if (policy is null) return;
        if (policy.LoadBalancer is null && policy.ConnectionPool is null && policy.OutlierDetection is null && policy.Tls is null
            && policy.PortLevelSettings.IsEmpty && policy.ProxyProtocol is null && policy.Tunnel is null)
            f.Error(path, "traffic policy must have at least one field");

        LoadBalancer(f, $"{path}.loadBalancer", policy.LoadBalancer);
        ConnectionPool(f, $"{path}.connectionPool", policy.ConnectionPool);
        Outlier(f, $"{path}.outlierDetection", policy.OutlierDetection);
        if (policy.ProxyProtocol is { } pp && pp.Version is not (null or "V1" or "V2"))
            f.Error($"{path}.proxyProtocol.version", $"invalid proxy protocol version '{pp.Version}': use V1 or V2");

        var ports = new HashSet<int>();
        for (var i = 0; i < policy.PortLevelSettings.Count; i++)
        {
            var pls = policy.PortLevelSettings[i];
            var ppath = $"{path}.portLevelSettings[{i}]";
            if (pls.Port?.Number is not { } number) f.Error($"{ppath}.port", "port must be specified");
            else if (!Checks.IsValidPort(number)) f.Error($"{ppath}.port.number", $"port number {number} must be in the range 1..65535");
            else if (!ports.Add(number)) f.Error($"{ppath}.port.number", $"port {number} has more than one portLevelSettings entry");
            if (pls.LoadBalancer is null && pls.ConnectionPool is null && pls.OutlierDetection is null && pls.Tls is null)
                f.Error(ppath, "port traffic policy must have at least one field");
            LoadBalancer(f, $"{ppath}.loadBalancer", pls.LoadBalancer);
            ConnectionPool(f, $"{ppath}.connectionPool", pls.ConnectionPool);
            Outlier(f, $"{ppath}.outlierDetection", pls.OutlierDetection);
        }
    }

    private static void LoadBalancer(Findings f, string path, LoadBalancerSettings? lb)
    {
        if (lb is null) return;
        if (lb.Simple is { } simple && !SimplePolicies.Contains(simple))
            f.Error($"{path}.simple", $"unknown load balancer '{simple}'; use one of {string.Join(", ", SimplePolicies)}");
        if (lb.Simple is not null && lb.ConsistentHash is not null)
            f.Error(path, "set either simple or consistentHash, not both");
    }

    private static void ConnectionPool(Findings f, string path, ConnectionPoolSettings? pool)
    {
        if (pool is null) return;
        if (pool.Tcp is null && pool.Http is null) f.Error(path, "must set connection pool for at least one protocol");
        if (pool.Tcp is not { } tcp) return;
        var tpath = $"{path}.tcp";
        if (tcp.MaxConnections < 0) f.Error($"{tpath}.maxConnections", $"max connections must be non-negative, got {tcp.MaxConnections}");
        Checks.Duration(f, $"{tpath}.connectTimeout", tcp.ConnectTimeout);
        Checks.Duration(f, $"{tpath}.maxConnectionDuration", tcp.MaxConnectionDuration);
        Checks.Duration(f, $"{tpath}.idleTimeout", tcp.IdleTimeout, allowZero: true);
        if (tcp.TcpKeepalive is { } ka)
        {
            if (ka.Probes < 0) f.Error($"{tpath}.tcpKeepalive.probes", "probes must be non-negative");
            Checks.Duration(f, $"{tpath}.tcpKeepalive.time", ka.Time);
            Checks.Duration(f, $"{tpath}.tcpKeepalive.interval", ka.Interval);
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
            if (value < 0) f.Error($"{path}.{name}", $"outlier detection consecutive errors cannot be negative, got {value}");
        Checks.Duration(f, $"{path}.interval", od.Interval);
        Checks.Duration(f, $"{path}.baseEjectionTime", od.BaseEjectionTime);
        Checks.Percent(f, $"{path}.maxEjectionPercent", od.MaxEjectionPercent);
        Checks.Percent(f, $"{path}.minHealthPercent", od.MinHealthPercent);
    }
}
