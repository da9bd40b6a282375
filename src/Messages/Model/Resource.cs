namespace AkkaL4.Messages.Model;

/// <summary>Overrides the manifest key of a model property (default: the camelCase property name).</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class FieldAttribute(string name) : Attribute
{
    public string Name { get; } = name;
}

public sealed record ObjectMeta
{
    public string Name { get; init; } = "";
    public string Namespace { get; init; } = "default";
    public Labels Labels { get; init; } = Labels.Empty;
    public Labels Annotations { get; init; } = Labels.Empty;
    public string? ResourceVersion { get; init; }
    public string? CreationTimestamp { get; init; }
    public string? Uid { get; init; }
    public long? Generation { get; init; }
}

/// <summary>The identity of a resource: <c>Kind/namespace/name</c>.</summary>
public readonly record struct ResourceKey(string Kind, string Namespace, string Name)
{
    public override string ToString() => $"{Kind}/{Namespace}/{Name}";
}

/// <summary>A routing resource as written by the user (one YAML/JSON document).</summary>
public abstract record Resource
{
    public string ApiVersion { get; init; } = "";
    public ObjectMeta Metadata { get; init; } = new();

    public abstract string Kind { get; }
    public ResourceKey Key => new(Kind, Metadata.Namespace, Metadata.Name);
    public override string ToString() => Key.ToString();
}

public static class ResourceKinds
{
    public const string VirtualService = "VirtualService";
    public const string DestinationRule = "DestinationRule";
    public const string Gateway = "Gateway";
    public const string ServiceEntry = "ServiceEntry";
    public const string WorkloadEntry = "WorkloadEntry";
    public const string Service = "Service";

    public const string IstioGroup = "networking.istio.io";

    /// <summary>The apiVersions read for Istio kinds; all three share one schema.</summary>
    public static readonly string[] IstioVersions = ["networking.istio.io/v1", "networking.istio.io/v1beta1", "networking.istio.io/v1alpha3"];

    public static readonly IReadOnlyDictionary<string, Type> Types = new Dictionary<string, Type>
    {
        [VirtualService] = typeof(VirtualService),
        [DestinationRule] = typeof(DestinationRule),
        [Gateway] = typeof(Gateway),
        [ServiceEntry] = typeof(ServiceEntry),
        [WorkloadEntry] = typeof(WorkloadEntry),
        [Service] = typeof(Service),
    };

    public static IReadOnlyList<string> ApiVersionsOf(string kind) => kind == Service ? ["v1"] : IstioVersions;
}
