using AkkaL4.Messages.Model;

namespace AkkaL4.Actors.Config.Validation;

/// <summary>Istio's validateServiceEntry.</summary>
internal static class ServiceEntryValidator
{
    private static readonly string[] Resolutions = ["NONE", "STATIC", "DNS", "DNS_ROUND_ROBIN"];

    public static void Validate(ServiceEntry se, Findings f)
    {
        var spec = se.Spec;
        if (spec.Hosts.IsEmpty) f.Error("spec.hosts", "ServiceEntry must have at least one host");
        for (var i = 0; i < spec.Hosts.Count; i++)
        {
            var host = spec.Hosts[i];
            if (host == "*") f.Error($"spec.hosts[{i}]", "invalid host *: a ServiceEntry host must name a service");
            else if (Checks.CheckWildcardDomain(host) is { } error) f.Error($"spec.hosts[{i}]", error);
        }

        var resolution = spec.Resolution ?? "NONE";
        if (!Resolutions.Contains(resolution))
            f.Error("spec.resolution", $"unknown resolution '{resolution}'; use one of {string.Join(", ", Resolutions)}");
        if (spec.Location is { } location && location is not ("MESH_EXTERNAL" or "MESH_INTERNAL"))
            f.Error("spec.location", $"unknown location '{location}'; use MESH_EXTERNAL or MESH_INTERNAL");

        for (var i = 0; i < spec.Addresses.Count; i++)
        {
            var address = spec.Addresses[i];
            if (Checks.CheckSubnet(address) is { } error) f.Error($"spec.addresses[{i}]", error);
            else if (address.Contains('/') && resolution is "DNS" or "DNS_ROUND_ROBIN")
                f.Error($"spec.addresses[{i}]", $"CIDR addresses are allowed only for NONE/STATIC resolution types, not {resolution}");
        }

        var numbers = new HashSet<int>();
        var names = new HashSet<string>();
        for (var i = 0; i < spec.Ports.Count; i++)
        {
            var port = spec.Ports[i];
            var path = $"spec.ports[{i}]";
            if (port.Number is not { } number) f.Error($"{path}.number", "port number is required");
            else if (!Checks.IsValidPort(number)) f.Error($"{path}.number", $"port number {number} must be in the range 1..65535");
            else if (!numbers.Add(number)) f.Error($"{path}.number", $"service entry port {number} already defined");
            if (port.TargetPort is { } target && !Checks.IsValidPort(target))
                f.Error($"{path}.targetPort", $"port number {target} must be in the range 1..65535");
            if (string.IsNullOrEmpty(port.Name)) f.Error($"{path}.name", "port name must be set");
            else if (!names.Add(port.Name)) f.Error($"{path}.name", $"port name '{port.Name}' already defined");
            if (port.Protocol is { } protocol && !Checks.IsKnownProtocol(protocol))
                f.Error($"{path}.protocol", $"invalid protocol '{protocol}', supported protocols are {Checks.KnownProtocols}");
        }

        if (spec.WorkloadSelector is not null && !spec.Endpoints.IsEmpty)
            f.Error("spec", "only one of workloadSelector or endpoints is allowed in a ServiceEntry");
        if (resolution == "NONE" && !spec.Endpoints.IsEmpty)
            f.Error("spec.endpoints", "no endpoints should be provided for resolution type NONE");
        if (spec.WorkloadSelector is { } selector) Checks.Labels(f, "spec.workloadSelector.labels", selector.Labels);

        for (var i = 0; i < spec.Endpoints.Count; i++)
        {
            var path = $"spec.endpoints[{i}]";
            var endpoint = spec.Endpoints[i];
            WorkloadEntryValidator.ValidateSpec(f, path, endpoint);
            if (resolution == "STATIC" && endpoint.Address is { } address && !Checks.IsIp(address))
                f.Error($"{path}.address", $"endpoint address '{address}' is not a valid IP address (resolution STATIC)");
            foreach (var port in endpoint.Ports)
                if (!names.Contains(port.Name))
                    f.Error($"{path}.ports.{port.Name}", $"endpoint port '{port.Name}' is not defined by the service entry");
        }
        Checks.ExportTo(f, "spec.exportTo", spec.ExportTo);
    }
}
