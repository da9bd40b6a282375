namespace AkkaL4.Messages.Model;

/// <summary>A Kubernetes v1 Service: its clusterIP is a listen address, its selector picks WorkloadEntries.</summary>
public sealed record Service : Resource
{
    public override string Kind => ResourceKinds.Service;
    public ServiceSpec Spec { get; init; } = new();
}

public sealed record ServiceSpec
{
    [Field("clusterIP")] public string? ClusterIp { get; init; }
    [Field("clusterIPs")] public Seq<string> ClusterIps { get; init; } = Seq<string>.Empty;
    public Labels Selector { get; init; } = Labels.Empty;
    public Seq<KubernetesServicePort> Ports { get; init; } = Seq<KubernetesServicePort>.Empty;
    /// <summary>ClusterIP (default), NodePort, LoadBalancer, ExternalName.</summary>
    public string? Type { get; init; }
}

public sealed record KubernetesServicePort
{
    public string? Name { get; init; }
    public int? Port { get; init; }
    /// <summary>A number or a container port name (IntOrString); unset = <see cref="Port"/>.</summary>
    public string? TargetPort { get; init; }
    public string? Protocol { get; init; }
    public string? AppProtocol { get; init; }
    public int? NodePort { get; init; }
}
