namespace AkkaL4.Messages.Model;

public sealed record ServiceEntry : Resource
{
    public override string Kind => ResourceKinds.ServiceEntry;
    public ServiceEntrySpec Spec { get; init; } = new();
}

public sealed record ServiceEntrySpec
{
    public Seq<string> Hosts { get; init; } = Seq<string>.Empty;
    public Seq<string> Addresses { get; init; } = Seq<string>.Empty;
    public Seq<ServicePort> Ports { get; init; } = Seq<ServicePort>.Empty;
    /// <summary>MESH_EXTERNAL or MESH_INTERNAL.</summary>
    public string? Location { get; init; }
    /// <summary>NONE, STATIC, DNS, DNS_ROUND_ROBIN, DYNAMIC_DNS (Istio 1.28+).</summary>
    public string? Resolution { get; init; }
    public Seq<WorkloadEntrySpec> Endpoints { get; init; } = Seq<WorkloadEntrySpec>.Empty;
    public EntryWorkloadSelector? WorkloadSelector { get; init; }
    public Seq<string> ExportTo { get; init; } = Seq<string>.Empty;
    public Seq<string> SubjectAltNames { get; init; } = Seq<string>.Empty;
}

public sealed record ServicePort
{
    public int? Number { get; init; }
    public string? Protocol { get; init; }
    public string? Name { get; init; }
    public int? TargetPort { get; init; }
}

public sealed record WorkloadEntry : Resource
{
    public override string Kind => ResourceKinds.WorkloadEntry;
    public WorkloadEntrySpec Spec { get; init; } = new();
}

public sealed record WorkloadEntrySpec
{
    public string? Address { get; init; }
    /// <summary>Port name → workload port.</summary>
    public Seq<NamedPort> Ports { get; init; } = Seq<NamedPort>.Empty;
    public Labels Labels { get; init; } = Labels.Empty;
    public string? Network { get; init; }
    public string? Locality { get; init; }
    public int? Weight { get; init; }
    public string? ServiceAccount { get; init; }
}

/// <summary>One entry of a WorkloadEntry's <c>ports</c> map (<c>name: number</c>).</summary>
public sealed record NamedPort(string Name, int Number);

/// <summary>A ServiceEntry's <c>workloadSelector</c>: WorkloadEntries of its namespace carrying these labels are its endpoints.</summary>
public sealed record EntryWorkloadSelector
{
    public Labels Labels { get; init; } = Labels.Empty;
}
