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
    public ClientTlsSettings? Tls { get; init; }
    public Seq<PortTrafficPolicy> PortLevelSettings { get; init; } = Seq<PortTrafficPolicy>.Empty;
    public TunnelSettings? Tunnel { get; init; }
    public ProxyProtocol? ProxyProtocol { get; init; }
    public RetryBudget? RetryBudget { get; init; }
}

/// <summary>Upstream TLS origination: validated like Istio; an L4 router does not originate TLS.</summary>
public sealed record ClientTlsSettings
{
    /// <summary>DISABLE, SIMPLE, MUTUAL, ISTIO_MUTUAL.</summary>
    public string? Mode { get; init; }
    public string? ClientCertificate { get; init; }
    public string? PrivateKey { get; init; }
    public string? CaCertificates { get; init; }
    public string? CredentialName { get; init; }
    public Seq<string> SubjectAltNames { get; init; } = Seq<string>.Empty;
    public string? Sni { get; init; }
    public bool? InsecureSkipVerify { get; init; }
    public string? CaCrl { get; init; }
}

/// <summary>HTTP CONNECT/POST tunnelling; validated, not applied by an L4 router.</summary>
public sealed record TunnelSettings
{
    public string? Protocol { get; init; }
    public string? TargetHost { get; init; }
    public int? TargetPort { get; init; }
}

/// <summary>An HTTP retry budget; validated, not applied by an L4 router.</summary>
public sealed record RetryBudget
{
    /// <summary>A double (DoubleValue <c>{value: 20}</c> or a bare number); kept as written.</summary>
    public RawValue? Percent { get; init; }
    public int? MinRetryConcurrency { get; init; }
}

public sealed record PortTrafficPolicy
{
    public PortSelector? Port { get; init; }
    public LoadBalancerSettings? LoadBalancer { get; init; }
    public ConnectionPoolSettings? ConnectionPool { get; init; }
    public OutlierDetection? OutlierDetection { get; init; }
    public ClientTlsSettings? Tls { get; init; }
}

public sealed record LoadBalancerSettings
{
    /// <summary>LEAST_REQUEST (default), LEAST_CONN, ROUND_ROBIN, RANDOM, PASSTHROUGH, UNSPECIFIED.</summary>
    public string? Simple { get; init; }
    public ConsistentHashSettings? ConsistentHash { get; init; }
    public LocalityLbSetting? LocalityLbSetting { get; init; }
    /// <summary>Deprecated since Istio 1.24 in favour of <see cref="Warmup"/>.</summary>
    public Duration? WarmupDurationSecs { get; init; }
    public WarmupConfiguration? Warmup { get; init; }
}

/// <summary>Slow start for new endpoints (Istio 1.24+); validated, not applied by an L4 router.</summary>
public sealed record WarmupConfiguration
{
    public Duration? Duration { get; init; }
    /// <summary>Doubles, kept as written.</summary>
    public RawValue? MinimumPercent { get; init; }
    public RawValue? Aggression { get; init; }
}

/// <summary>Locality-weighted load balancing; validated, not applied by an L4 router.</summary>
public sealed record LocalityLbSetting
{
    public Seq<LocalityDistribute> Distribute { get; init; } = Seq<LocalityDistribute>.Empty;
    public Seq<LocalityFailover> Failover { get; init; } = Seq<LocalityFailover>.Empty;
    public Seq<string> FailoverPriority { get; init; } = Seq<string>.Empty;
    public bool? Enabled { get; init; }
}

public sealed record LocalityDistribute
{
    public string? From { get; init; }
    /// <summary>Locality → weight; kept as written, weights are checked by validation.</summary>
    public RawValue? To { get; init; }
}

public sealed record LocalityFailover
{
    public string? From { get; init; }
    public string? To { get; init; }
}

public sealed record ConsistentHashSettings
{
    public string? HttpHeaderName { get; init; }
    public HttpCookie? HttpCookie { get; init; }
    public bool? UseSourceIp { get; init; }
    public string? HttpQueryParameterName { get; init; }
    public RingHash? RingHash { get; init; }
    public Maglev? Maglev { get; init; }
    /// <summary>Deprecated in favour of <see cref="RingHash"/>.</summary>
    public long? MinimumRingSize { get; init; }
}

public sealed record HttpCookie
{
    public string? Name { get; init; }
    public string? Path { get; init; }
    public Duration? Ttl { get; init; }
    public Seq<HttpCookieAttribute> Attributes { get; init; } = Seq<HttpCookieAttribute>.Empty;
}

public sealed record HttpCookieAttribute
{
    public string? Name { get; init; }
    public string? Value { get; init; }
}

public sealed record RingHash
{
    public long? MinimumRingSize { get; init; }
}

public sealed record Maglev
{
    public long? TableSize { get; init; }
}

public sealed record ConnectionPoolSettings
{
    public TcpSettings? Tcp { get; init; }
    public HttpSettings? Http { get; init; }
}

/// <summary>HTTP connection pool limits; validated, not applied by an L4 router.</summary>
public sealed record HttpSettings
{
    public int? Http1MaxPendingRequests { get; init; }
    public int? Http2MaxRequests { get; init; }
    public int? MaxRequestsPerConnection { get; init; }
    public int? MaxRetries { get; init; }
    public Duration? IdleTimeout { get; init; }
    /// <summary>DEFAULT, DO_NOT_UPGRADE, UPGRADE.</summary>
    public string? H2UpgradePolicy { get; init; }
    public bool? UseClientProtocol { get; init; }
    public int? MaxConcurrentStreams { get; init; }
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
