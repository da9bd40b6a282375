using AkkaL4.Messages.Model;

namespace AkkaL4.Actors.Config.Validation;

/// <summary>Istio's validateWorkloadEntry; also applied to STATIC ServiceEntry endpoints (inline WorkloadEntries).</summary>
internal static class WorkloadEntryValidator
{
    public static void Validate(WorkloadEntry we, Findings f) => ValidateSpec(f, "spec", we.Spec, servicePorts: null, allowFqdn: true);

    /// <param name="servicePorts">The ServiceEntry's port names an endpoint may use; null for a WorkloadEntry.</param>
    /// <param name="allowFqdn">A WorkloadEntry may name a host; a STATIC endpoint must be an IP.</param>
    public static void ValidateSpec(Findings f, string path, WorkloadEntrySpec spec, HashSet<string>? servicePorts, bool allowFqdn)
    {
        var address = spec.Address ?? "";
        if (address.Length == 0)
        {
            if (string.IsNullOrEmpty(spec.Network)) { f.Error($"{path}.address", "address must be set"); return; }
            // Reached through a network gateway in Istio; an L4 router has nowhere to connect.
            f.Warning($"{path}.address", $"address is unset with network '{spec.Network}': AkkaL4 does not route to this endpoint");
        }
        var unix = address.StartsWith(Checks.UnixPrefix, StringComparison.Ordinal);
        if (unix)
        {
            if (Checks.CheckUnixAddress(address) is { } error) f.Error($"{path}.address", error);
            else f.Warning($"{path}.address", $"address {address} is a unix domain socket: AkkaL4 connects over TCP only and does not route to this endpoint");
            if (!spec.Ports.IsEmpty) f.Error($"{path}.ports", $"unix endpoint {address} must not include ports");
            if (servicePorts is { Count: not 1 }) f.Error($"{path}.address", "exactly 1 service port required for unix endpoints");
        }
        else if (address.Length > 0 && !Checks.IsIp(address))
        {
            if (!allowFqdn) f.Error($"{path}.address", $"endpoint address '{address}' is not a valid IP address (resolution STATIC)");
            else if (Checks.CheckFqdn(address) is not null) f.Error($"{path}.address", $"endpoint address '{address}' is not a valid FQDN or an IP address");
            else if (Checks.NotCanonicalIp(address) is { } number) f.Warning($"{path}.address", number);
        }
        else if (Checks.NotCanonicalIp(address) is { } notCanonical) f.Warning($"{path}.address", notCanonical);
        Ports(f, path, spec, servicePorts);
        Checks.Labels(f, $"{path}.labels", spec.Labels);
        if (spec.Weight < 0) f.Error($"{path}.weight", $"weight {spec.Weight} must not be negative");
    }

    /// <summary>An endpoint's named ports: declared by the service (when there is one), DNS-label names, valid numbers.</summary>
    public static void Ports(Findings f, string path, WorkloadEntrySpec spec, HashSet<string>? servicePorts)
    {
        foreach (var port in spec.Ports)
        {
            if (servicePorts is not null && !servicePorts.Contains(port.Name))
                f.Error($"{path}.ports.{port.Name}", $"endpoint port '{port.Name}' is not defined by the service entry");
            if (!Checks.IsIstioLabel(port.Name)) f.Error($"{path}.ports.{port.Name}", $"invalid port name '{port.Name}': must be a DNS label");
            if (!Checks.IsValidPort(port.Number)) f.Error($"{path}.ports.{port.Name}", $"port number {port.Number} must be in the range 1..65535");
        }
    }
}
