using AkkaL4.Messages.Model;

namespace AkkaL4.Actors.Config.Validation;

/// <summary>Kubernetes' v1 Service rules, for the fields AkkaL4 reads.</summary>
internal static class ServiceValidator
{
    public static void Validate(Service svc, Findings f)
    {
        var spec = svc.Spec;
        if (!Checks.IsDns1035Label(svc.Metadata.Name))
            f.Error("metadata.name", $"service name '{svc.Metadata.Name}' must be a DNS-1035 label (lower-case letters, digits and '-', starting with a letter)");
        if (spec.ClusterIp is { } ip && ip != "None" && ip != "" && !Checks.IsIp(ip))
            f.Error("spec.clusterIP", $"clusterIP '{ip}' must be an IP address or None");
        for (var i = 0; i < spec.ClusterIps.Count; i++)
            if (spec.ClusterIps[i] != "None" && !Checks.IsIp(spec.ClusterIps[i]))
                f.Error($"spec.clusterIPs[{i}]", $"'{spec.ClusterIps[i]}' must be an IP address");
        Checks.Labels(f, "spec.selector", spec.Selector);

        var names = new HashSet<string>();
        var numbers = new HashSet<(int, string)>();
        for (var i = 0; i < spec.Ports.Count; i++)
        {
            var port = spec.Ports[i];
            var path = $"spec.ports[{i}]";
            if (port.Port is not { } number) f.Error($"{path}.port", "port is required");
            else if (!Checks.IsValidPort(number)) f.Error($"{path}.port", $"port number {number} must be in the range 1..65535");
            else if (!numbers.Add((number, port.Protocol ?? "TCP"))) f.Error($"{path}.port", $"duplicate port {number}");
            if (spec.Ports.Count > 1 && string.IsNullOrEmpty(port.Name)) f.Error($"{path}.name", "port name is required when a service has more than one port");
            else if (!string.IsNullOrEmpty(port.Name) && !names.Add(port.Name)) f.Error($"{path}.name", $"duplicate port name '{port.Name}'");
            if (port.TargetPort is { } target)
            {
                var isNumber = int.TryParse(target, out var t);
                if (isNumber ? !Checks.IsValidPort(t) : !Checks.IsDns1123Label(target) || target.Length > 15)
                    f.Error($"{path}.targetPort", $"targetPort '{target}' must be a port number 1..65535 or a port name");
            }
            if (port.Protocol is { } protocol && protocol is not ("TCP" or "UDP" or "SCTP"))
                f.Error($"{path}.protocol", $"protocol '{protocol}' must be TCP, UDP or SCTP");
        }
    }
}
