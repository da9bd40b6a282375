using AkkaL4.Messages.Model;

namespace AkkaL4.Actors.Config.Validation;

/// <summary>Istio's ValidateServiceEntry.</summary>
internal static class ServiceEntryValidator
{
    private static readonly string[] Resolutions = ["NONE", "STATIC", "DNS", "DNS_ROUND_ROBIN", "DYNAMIC_DNS"];

    public static void Validate(ServiceEntry se, Findings f)
    {
        var spec = se.Spec;
        var resolution = spec.Resolution ?? "NONE";
        if (spec.WorkloadSelector is { } selector)
        {
            if (selector.Labels.IsEmpty)
                f.Warning("spec.workloadSelector", "workloadSelector has no labels: the service entry will be applied to all services in namespace");
            Checks.Labels(f, "spec.workloadSelector.labels", selector.Labels);
            if (!spec.Endpoints.IsEmpty) f.Error("spec", "only one of workloadSelector or endpoints is allowed in a ServiceEntry");
        }

        if (spec.Hosts.IsEmpty) f.Error("spec.hosts", "ServiceEntry must have at least one host");
        for (var i = 0; i < spec.Hosts.Count; i++)
        {
            var host = spec.Hosts[i];
            if (host == "*") f.Error($"spec.hosts[{i}]", "invalid host *: a ServiceEntry host must name a service");
            else if (Checks.CheckWildcardDomain(host) is { } error) f.Error($"spec.hosts[{i}]", error);
            else if (Checks.IsPartialWildcard(host) && resolution != "DYNAMIC_DNS")
                f.Warning($"spec.hosts[{i}]", $"partial wildcard '{host}' not allowed: only *.domain matches as a wildcard");
        }

        for (var i = 0; i < spec.Addresses.Count; i++)
        {
            var address = spec.Addresses[i];
            if (Checks.CheckSubnet(address) is { } error) f.Error($"spec.addresses[{i}]", error);
            else if (address.Contains('/') && resolution is not ("NONE" or "STATIC"))
                f.Error($"spec.addresses[{i}]", $"CIDR addresses are allowed only for NONE/STATIC resolution types, not {resolution}");
        }

        var numbers = new HashSet<int>();
        var names = new HashSet<string>();
        for (var i = 0; i < spec.Ports.Count; i++)
        {
            var port = spec.Ports[i];
            var path = $"spec.ports[{i}]";
            if (!names.Add(port.Name ?? "")) f.Error($"{path}.name", $"service entry port name '{port.Name}' already defined");
            if (!Checks.IsIstioLabel(port.Name)) f.Error($"{path}.name", $"invalid port name '{port.Name}': must be a DNS label (1..63 letters, digits and '-')");
            if (!numbers.Add(port.Number ?? 0)) f.Error($"{path}.number", $"service entry port {port.Number} already defined");
            if (!Checks.IsValidPort(port.Number ?? 0)) f.Error($"{path}.number", $"port number {port.Number?.ToString() ?? "(unset)"} must be in the range 1..65535");
            if (port.TargetPort is { } target and not 0 && !Checks.IsValidPort(target))
                f.Error($"{path}.targetPort", $"targetPort {target} must be in the range 1..65535");
            if (!string.IsNullOrEmpty(port.Protocol) && !Checks.IsKnownProtocol(port.Protocol))
                f.Error($"{path}.protocol", $"unsupported protocol '{port.Protocol}', supported protocols are {Checks.KnownProtocols}");
            if (spec.Addresses.IsEmpty && (string.IsNullOrEmpty(port.Protocol) || port.Protocol == "TCP"))
                f.Warning($"{path}", "addresses are required for ports serving TCP (or unset) protocol: without them AkkaL4 has no address to listen on for this port");
        }

        switch (resolution)
        {
            case "NONE":
                if (!spec.Endpoints.IsEmpty) f.Error("spec.endpoints", "no endpoints should be provided for resolution type NONE");
                if (spec.WorkloadSelector is not null) f.Warning("spec.workloadSelector", "workloadSelector should not be set when resolution mode is NONE");
                break;
            case "STATIC":
                for (var i = 0; i < spec.Endpoints.Count; i++)
                    WorkloadEntryValidator.ValidateSpec(f, $"spec.endpoints[{i}]", spec.Endpoints[i], names, allowFqdn: false);
                break;
            case "DNS" or "DNS_ROUND_ROBIN":
                Dns(f, spec, resolution, names);
                break;
            case "DYNAMIC_DNS":
                DynamicDns(f, se, spec);
                break;
            default:
                f.Error("spec.resolution", $"unknown resolution '{resolution}'; use one of {string.Join(", ", Resolutions)}");
                break;
        }

        // Plain TCP cannot tell several hosts apart unless nothing is resolved (NONE).
        if (resolution != "NONE" && spec.Hosts.Count > 1 && spec.Ports.Any(p => !IsHttp(p.Protocol) && !IsTls(p.Protocol)))
            f.Error("spec.ports", "multiple hosts provided with non-HTTP, non-TLS ports");

        if (spec.Location is { } location && location is not ("MESH_EXTERNAL" or "MESH_INTERNAL"))
            f.Error("spec.location", $"unknown location '{location}'; use MESH_EXTERNAL or MESH_INTERNAL");
        Checks.ExportTo(f, "spec.exportTo", spec.ExportTo, isServiceEntry: true);
    }

    private static void Dns(Findings f, ServiceEntrySpec spec, string resolution, HashSet<string> portNames)
    {
        if (spec.Endpoints.IsEmpty && spec.Hosts.Select(h => Checks.CheckFqdn(h)).FirstOrDefault(e => e is not null) is { } hostError)
            f.Error("spec.hosts", $"hosts must be FQDN if no endpoints are provided for resolution mode {resolution}: {hostError}");
        if (resolution == "DNS_ROUND_ROBIN" && spec.Endpoints.Count > 1)
            f.Error("spec.endpoints", $"there must only be 0 or 1 endpoint for resolution mode {resolution}");
        for (var i = 0; i < spec.Endpoints.Count; i++)
        {
            var endpoint = spec.Endpoints[i];
            var path = $"spec.endpoints[{i}]";
            if (!Checks.IsIp(endpoint.Address ?? "") && Checks.CheckFqdn(endpoint.Address) is not null)
                f.Error($"{path}.address", $"endpoint address '{endpoint.Address}' is not a valid FQDN or an IP address");
            else if (Checks.NotCanonicalIp(endpoint.Address ?? "") is { } notCanonical) f.Warning($"{path}.address", notCanonical);
            Checks.Labels(f, $"{path}.labels", endpoint.Labels);
            WorkloadEntryValidator.Ports(f, path, endpoint, portNames);
        }
        if (!spec.Addresses.IsEmpty && spec.Hosts.Count > 1 && spec.Ports.Any(p => IsTcp(p.Protocol)))
            f.Warning("spec.hosts", "service entry can not have more than one host specified simultaneously with address and tcp port");
    }

    private static void DynamicDns(Findings f, ServiceEntry se, ServiceEntrySpec spec)
    {
        if (spec.Hosts.Any(h => !h.StartsWith('*'))) f.Error("spec.hosts", "hosts must be wildcarded for resolution mode DYNAMIC_DNS");
        if (!spec.Addresses.IsEmpty) f.Error("spec.addresses", "addresses cannot be set for resolution type DYNAMIC_DNS");
        if (!spec.Endpoints.IsEmpty) f.Error("spec.endpoints", "endpoints cannot be set for resolution type DYNAMIC_DNS");
        for (var i = 0; i < spec.Ports.Count; i++)
            if (spec.Ports[i].Protocol?.ToUpperInvariant() is not ("HTTP" or "TLS" or "GRPC" or "HTTP2"))
                f.Error($"spec.ports[{i}].protocol", "only HTTP, TLS, GRPC, and HTTP2 protocols are supported for resolution type DYNAMIC_DNS");
        if (spec.Location == "MESH_INTERNAL" && se.Metadata.Labels.ContainsKey("istio.io/use-waypoint"))
            f.Error("spec.location", "location MESH_INTERNAL with resolution type DYNAMIC_DNS is not supported when using waypoints");
        f.Warning("spec.resolution", "resolution DYNAMIC_DNS (a dynamic forward proxy by SNI or Host) is not applied by an L4 router: connections to these hosts find no endpoint");
    }

    private static bool IsHttp(string? p) => p?.ToUpperInvariant() is "HTTP" or "HTTP2" or "GRPC" or "GRPC-WEB" or "HTTP_PROXY";
    private static bool IsTls(string? p) => p?.ToUpperInvariant() is "HTTPS" or "TLS";
    private static bool IsTcp(string? p) => p?.ToUpperInvariant() is "TCP" or "HTTPS" or "TLS" or "MONGO" or "REDIS" or "MYSQL";
}
