namespace AkkaL4.Messages.Model;

public sealed record DestinationRule : Resource
{
    public override string Kind => ResourceKinds.DestinationRule;
    public DestinationRuleSpec Spec { get; init; } = new();
}

public sealed record DestinationRuleSpec
{
    public string? Host { get; init; }
    public TrafficPolicy? TrafficPolicy { get; init; }
    public Seq<Subset> Subsets { get; init; } = Seq<Subset>.Empty;
    public Seq<string> ExportTo { get; init; } = Seq<string>.Empty;
    public WorkloadSelector? WorkloadSelector { get; init; }
}

public sealed record Subset
{
    public string? Name { get; init; }
    public Labels Labels { get; init; } = Labels.Empty;
    public TrafficPolicy? TrafficPolicy { get; init; }
}

public sealed record TrafficPolicy
{
    public LoadBalancerSettings? LoadBalancer { get; init; }
    public ConnectionPoolSettings? ConnectionPool { get; init; }
    public OutlierDetection? OutlierDetection { get; init; }
    public RawValue? Tls { get; init; }
    public Seq<PortTrafficPolicy> PortLevelSettings { get; init; } = Seq<PortTrafficPolicy>.Empty;
    public RawValue? Tunnel { get; init; }
    public ProxyProtocol? ProxyProtocol { get; init; }
}

public sealed record PortTrafficPolicy
{
    public PortSelector? Port { get; init; }
    public LoadBalancerSettings? LoadBalancer { get; init; }
    public ConnectionPoolSettings? ConnectionPool { get; init; }
    public OutlierDetection? OutlierDetection { get; init; }
    public RawValue? Tls { get; init; }
}

public sealed record LoadBalancerSettings
{
    /// <summary>LEAST_REQUEST (default), LEAST_CONN, ROUND_ROBIN, RANDOM, PASSTHROUGH, UNSPECIFIED.</summary>
    public string? Simple { get; init; }
    public ConsistentHashSettings? ConsistentHash { get; init; }
    public RawValue? LocalityLbSetting { get; init; }
    public RawValue? WarmupDurationSecs { get; init; }
}

public sealed record ConsistentHashSettings
{
    public string? HttpHeaderName { get; init; }
    public RawValue? HttpCookie { get; init; }
    public bool? UseSourceIp { get; init; }
    public string? HttpQueryParameterName { get; init; }
    public RawValue? RingHash { get; init; }
    public RawValue? Maglev { get; init; }
    public long? MinimumRingSize { get; init; }
}

public sealed record ConnectionPoolSettings
{
    public TcpSettings? Tcp { get; init; }
    public RawValue? Http { get; init; }
}

public sealed record TcpSettings
{
    public int? MaxConnections { get; init; }
    public Duration? ConnectTimeout { get; init; }
    public TcpKeepalive? TcpKeepalive { get; init; }
    public Duration? MaxConnectionDuration { get; init; }
    public Duration? IdleTimeout { get; init; }
}

public sealed record TcpKeepalive
{
    public int? Probes { get; init; }
    public Duration? Time { get; init; }
    public Duration? Interval { get; init; }
}

public sealed record OutlierDetection
{
    public int? ConsecutiveErrors { get; init; }
    public bool? SplitExternalLocalOriginErrors { get; init; }
    public int? ConsecutiveLocalOriginFailures { get; init; }
    public int? ConsecutiveGatewayErrors { get; init; }
    public int? Consecutive5xxErrors { get; init; }
    public Duration? Interval { get; init; }
    public Duration? BaseEjectionTime { get; init; }
    public int? MaxEjectionPercent { get; init; }
    public int? MinHealthPercent { get; init; }
}

public sealed record ProxyProtocol
{
    /// <summary>V1 or V2.</summary>
    public string? Version { get; init; }
}

public sealed record WorkloadSelector
{
    public Labels MatchLabels { get; init; } = Labels.Empty;
}
