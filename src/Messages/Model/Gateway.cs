namespace AkkaL4.Messages.Model;

public sealed record Gateway : Resource
{
    public override string Kind => ResourceKinds.Gateway;
    public GatewaySpec Spec { get; init; } = new();
}

public sealed record GatewaySpec
{
    public Seq<Server> Servers { get; init; } = Seq<Server>.Empty;
    public Labels Selector { get; init; } = Labels.Empty;
}

public sealed record Server
{
    public GatewayPort? Port { get; init; }
    public string? Bind { get; init; }
    public Seq<string> Hosts { get; init; } = Seq<string>.Empty;
    public ServerTlsSettings? Tls { get; init; }
    public string? DefaultEndpoint { get; init; }
    public string? Name { get; init; }
}

public sealed record GatewayPort
{
    public int? Number { get; init; }
    /// <summary>HTTP, HTTPS, GRPC, HTTP2, MONGO, TCP, TLS.</summary>
    public string? Protocol { get; init; }
    public string? Name { get; init; }
    public int? TargetPort { get; init; }
}

public sealed record ServerTlsSettings
{
    public bool? HttpsRedirect { get; init; }
    /// <summary>PASSTHROUGH (default), SIMPLE, MUTUAL, AUTO_PASSTHROUGH, ISTIO_MUTUAL, OPTIONAL_MUTUAL.</summary>
    public string? Mode { get; init; }
    public string? ServerCertificate { get; init; }
    public string? PrivateKey { get; init; }
    public string? CaCertificates { get; init; }
    public string? CaCrl { get; init; }
    public string? CredentialName { get; init; }
    public Seq<string> CredentialNames { get; init; } = Seq<string>.Empty;
    public string? CaCertCredentialName { get; init; }
    public Seq<ServerTlsCertificate> TlsCertificates { get; init; } = Seq<ServerTlsCertificate>.Empty;
    public Seq<string> SubjectAltNames { get; init; } = Seq<string>.Empty;
    public Seq<string> VerifyCertificateSpki { get; init; } = Seq<string>.Empty;
    public Seq<string> VerifyCertificateHash { get; init; } = Seq<string>.Empty;
    public string? MinProtocolVersion { get; init; }
    public string? MaxProtocolVersion { get; init; }
    public Seq<string> CipherSuites { get; init; } = Seq<string>.Empty;
}

/// <summary>One of up to two server certificates (e.g. RSA and ECDSA) of a TLS server.</summary>
public sealed record ServerTlsCertificate
{
    public string? ServerCertificate { get; init; }
    public string? PrivateKey { get; init; }
    public string? CaCertificates { get; init; }
}
