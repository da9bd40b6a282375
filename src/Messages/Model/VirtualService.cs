namespace AkkaL4.Messages.Model;

public sealed record VirtualService : Resource
{
    public override string Kind => ResourceKinds.VirtualService;
    public VirtualServiceSpec Spec { get; init; } = new();
}

public sealed record VirtualServiceSpec
{
    public Seq<string> Hosts { get; init; } = Seq<string>.Empty;
    public Seq<string> Gateways { get; init; } = Seq<string>.Empty;
    public Seq<HttpRoute> Http { get; init; } = Seq<HttpRoute>.Empty;
    public Seq<TlsRoute> Tls { get; init; } = Seq<TlsRoute>.Empty;
    public Seq<TcpRoute> Tcp { get; init; } = Seq<TcpRoute>.Empty;
    public Seq<string> ExportTo { get; init; } = Seq<string>.Empty;
}

public sealed record TcpRoute
{
    /// <summary>Match blocks; null entries are kept so validation can reject them.</summary>
    public Seq<L4MatchAttributes?> Match { get; init; } = Seq<L4MatchAttributes?>.Empty;
    public Seq<RouteDestination> Route { get; init; } = Seq<RouteDestination>.Empty;
}

public sealed record L4MatchAttributes
{
    public Seq<string> DestinationSubnets { get; init; } = Seq<string>.Empty;
    public int? Port { get; init; }
    public string? SourceSubnet { get; init; }
    public Labels SourceLabels { get; init; } = Labels.Empty;
    public Seq<string> Gateways { get; init; } = Seq<string>.Empty;
    public string? SourceNamespace { get; init; }
}

public sealed record TlsRoute
{
    public Seq<TlsMatchAttributes?> Match { get; init; } = Seq<TlsMatchAttributes?>.Empty;
    public Seq<RouteDestination> Route { get; init; } = Seq<RouteDestination>.Empty;
}

public sealed record TlsMatchAttributes
{
    public Seq<string> SniHosts { get; init; } = Seq<string>.Empty;
    public Seq<string> DestinationSubnets { get; init; } = Seq<string>.Empty;
    public int? Port { get; init; }
    public Labels SourceLabels { get; init; } = Labels.Empty;
    public Seq<string> Gateways { get; init; } = Seq<string>.Empty;
    public string? SourceNamespace { get; init; }
}

public sealed record RouteDestination
{
    public Destination? Destination { get; init; }
    public int? Weight { get; init; }
}

public sealed record Destination
{
    public string? Host { get; init; }
    public string? Subset { get; init; }
    public PortSelector? Port { get; init; }
}

public sealed record PortSelector
{
    public int? Number { get; init; }
}

/// <summary>
/// An HTTP rule. An L4 router never applies it; it is kept so analysis can report it and show the
/// equivalent <c>tcp:</c> rule. Only the destinations are modelled; the rest is kept verbatim.
/// </summary>
public sealed record HttpRoute
{
    public string? Name { get; init; }
    public Seq<RawValue> Match { get; init; } = Seq<RawValue>.Empty;
    public Seq<HttpRouteDestination> Route { get; init; } = Seq<HttpRouteDestination>.Empty;
    public RawValue? Redirect { get; init; }
    public RawValue? DirectResponse { get; init; }
    public RawValue? Delegate { get; init; }
    public RawValue? Rewrite { get; init; }
    public RawValue? Timeout { get; init; }
    public RawValue? Retries { get; init; }
    public RawValue? Fault { get; init; }
    public RawValue? Mirror { get; init; }
    public RawValue? Mirrors { get; init; }
    public RawValue? MirrorPercentage { get; init; }
    public RawValue? MirrorPercent { get; init; }
    public RawValue? CorsPolicy { get; init; }
    public RawValue? Headers { get; init; }
}

public sealed record HttpRouteDestination
{
    public Destination? Destination { get; init; }
    public int? Weight { get; init; }
    public RawValue? Headers { get; init; }
}
