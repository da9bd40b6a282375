using AkkaL4.Messages.Model;

namespace AkkaL4.Actors.Config.Validation;

/// <summary>Istio's validateGateway and validateServer.</summary>
internal static class GatewayValidator
{
    public static void Validate(Gateway gw, Findings f)
    {
        var spec = gw.Spec;
        if (spec.Servers.IsEmpty) f.Error("spec.servers", "gateway must have at least one server");
        Checks.Labels(f, "spec.selector", spec.Selector);

        var portNames = new Dictionary<string, int>();
        for (var i = 0; i < spec.Servers.Count; i++)
        {
            var server = spec.Servers[i];
            var path = $"spec.servers[{i}]";
            if (server.Hosts.IsEmpty) f.Error($"{path}.hosts", "server config must contain at least one host");
            for (var h = 0; h < server.Hosts.Count; h++)
                if (CheckServerHost(server.Hosts[h]) is { } error) f.Error($"{path}.hosts[{h}]", error);

            var protocol = server.Port?.Protocol?.ToUpperInvariant();
            if (server.Port is not { } port) f.Error($"{path}.port", "port is required");
            else
            {
                if (port.Number is not { } number) f.Error($"{path}.port.number", "port number is required");
                else if (!Checks.IsValidPort(number)) f.Error($"{path}.port.number", $"port number {number} must be in the range 1..65535");
                if (port.TargetPort is { } target && !Checks.IsValidPort(target))
                    f.Error($"{path}.port.targetPort", $"port number {target} must be in the range 1..65535");
                if (string.IsNullOrEmpty(port.Protocol)) f.Error($"{path}.port.protocol", "protocol is required");
                else if (!Checks.IsKnownProtocol(port.Protocol))
                    f.Error($"{path}.port.protocol", $"invalid protocol '{port.Protocol}', supported protocols are {Checks.KnownProtocols}");
                if (string.IsNullOrEmpty(port.Name)) f.Error($"{path}.port.name", "port name must be set");
                else if (portNames.TryGetValue(port.Name, out var first))
                    f.Error($"{path}.port.name", $"port names in servers must be unique: '{port.Name}' is also used by spec.servers[{first}]");
                else portNames[port.Name] = i;
            }

            var isTls = protocol is "HTTPS" or "TLS";
            if (isTls && server.Tls is null)
                f.Error($"{path}.tls", "server must have TLS settings for HTTPS/TLS protocols");
            else if (!isTls && server.Tls is { } tls && protocol is not null)
            {
                if (protocol is "HTTP")
                {
                    if (tls.Mode is not null || tls.ServerCertificate is not null || tls.PrivateKey is not null || tls.CaCertificates is not null || tls.CredentialName is not null)
                        f.Error($"{path}.tls", "only httpsRedirect can be set on an HTTP server");
                }
                else f.Error($"{path}.tls", $"tls must not be set on a non-TLS server (protocol {server.Port!.Protocol}); use protocol TLS for TLS passthrough");
            }
            if (server.Tls?.Mode is { } mode && mode is not ("PASSTHROUGH" or "SIMPLE" or "MUTUAL" or "AUTO_PASSTHROUGH" or "ISTIO_MUTUAL" or "OPTIONAL_MUTUAL"))
                f.Error($"{path}.tls.mode", $"unknown TLS mode '{mode}'");
            if (server.Bind is { } bind && !Checks.IsIp(bind) && !bind.StartsWith("unix://", StringComparison.Ordinal))
                f.Error($"{path}.bind", $"bind '{bind}' must be an IP address");
        }
    }

    /// <summary>A server host is <c>[namespace/]dnsName</c>; the name must be a FQDN or a whole-label wildcard.</summary>
    private static string? CheckServerHost(string host)
    {
        var slash = host.IndexOf('/');
        var ns = slash < 0 ? null : host[..slash];
        var name = slash < 0 ? host : host[(slash + 1)..];
        if (ns is not null && ns is not ("." or "*" or "~") && !Checks.IsDns1123Label(ns))
            return $"invalid namespace '{ns}' in host '{host}': use '.', '*' or a namespace name";
        if (Checks.CheckWildcardDomain(name) is { } error) return error;
        if (name != "*" && !name.Contains('.'))
            return $"short names (non FQDN) are not allowed in Gateway server hosts: '{name}'";
        return null;
    }
}
