using AkkaL4.Messages.Model;

namespace AkkaL4.Actors.Config.Validation;

/// <summary>Istio's ValidateGateway, validateServer, validateServerPort, validateServerBind and validateTLSOptions.</summary>
internal static class GatewayValidator
{
    private static readonly string[] TlsModes = ["PASSTHROUGH", "SIMPLE", "MUTUAL", "AUTO_PASSTHROUGH", "ISTIO_MUTUAL", "OPTIONAL_MUTUAL"];

    // Istio's security.ValidCipherSuites (BoringSSL names Envoy accepts).
    private static readonly HashSet<string> CipherSuites =
    [
        "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305", "ECDHE-ECDSA-AES128-SHA", "ECDHE-RSA-AES128-SHA",
        "ECDHE-ECDSA-AES256-SHA", "ECDHE-RSA-AES256-SHA", "AES128-GCM-SHA256", "AES256-GCM-SHA384", "AES128-SHA", "AES256-SHA", "DES-CBC3-SHA",
    ];

    public static void Validate(Gateway gw, Findings f)
    {
        var spec = gw.Spec;
        // Istio: a Gateway's name is a DNS label (no dots), unlike other kinds.
        if (!Checks.IsIstioLabel(gw.Metadata.Name))
            f.Error("metadata.name", $"invalid gateway name '{gw.Metadata.Name}': must be a DNS label (letters, digits and '-', no dots)");
        if (spec.Servers.IsEmpty) f.Error("spec.servers", "gateway must have at least one server");
        Checks.Labels(f, "spec.selector", spec.Selector);

        var portNames = new Dictionary<string, int>();
        for (var i = 0; i < spec.Servers.Count; i++)
        {
            var server = spec.Servers[i];
            var path = $"spec.servers[{i}]";
            Server(f, path, server);
            if (server.Port is not { } port) continue;
            var name = port.Name ?? "";
            if (portNames.TryGetValue(name, out var first))
                f.Error($"{path}.port.name", $"port names in servers must be unique: '{name}' is also used by spec.servers[{first}]");
            else portNames[name] = i;
            if (server.Tls?.HttpsRedirect == true && port.Protocol?.ToUpperInvariant() is not ("HTTP" or "HTTP2" or "GRPC" or "GRPC-WEB" or "HTTP_PROXY"))
                f.Warning($"{path}.tls.httpsRedirect", "tls.httpsRedirect should only be used with http servers");
        }
    }

    private static void Server(Findings f, string path, Server server)
    {
        if (server.Hosts.IsEmpty) f.Error($"{path}.hosts", "server config must contain at least one host");
        for (var h = 0; h < server.Hosts.Count; h++)
            if (CheckServerHost(server.Hosts[h]) is { } error) f.Error($"{path}.hosts[{h}]", error);

        var unix = server.Bind?.StartsWith(Checks.UnixPrefix, StringComparison.Ordinal) == true;
        var portValid = Port(f, path, server.Port, unix);
        Bind(f, path, server);
        Tls(f, $"{path}.tls", server.Tls);

        if (!portValid) return;
        var protocol = server.Port!.Protocol!.ToUpperInvariant();
        var isTls = protocol is "HTTPS" or "TLS";
        var isHttp = protocol is "HTTP" or "HTTP2" or "GRPC" or "GRPC-WEB" or "HTTP_PROXY";
        if (isTls && server.Tls is null)
            f.Error($"{path}.tls", "server must have TLS settings for HTTPS/TLS protocols");
        else if (!isTls && server.Tls is { } tls)
        {
            // An http server may carry only httpsRedirect.
            if (!isHttp) f.Error($"{path}.tls", $"tls must not be set on a non-TLS server (protocol {server.Port.Protocol}); use protocol TLS for TLS passthrough");
            else if (tls.Mode is not (null or "PASSTHROUGH") || tls.CaCertificates is not null || tls.PrivateKey is not null || tls.ServerCertificate is not null)
                f.Error($"{path}.tls", "server cannot have TLS settings for plain text HTTP ports (only httpsRedirect)");
        }
        if (protocol == "UDP")
            f.Warning($"{path}.port.protocol", $"server '{server.Port.Name}' (port {server.Port.Number}) has protocol {server.Port.Protocol}: AkkaL4 routes TCP only and will not serve it");
        // What the nodes' compiler leaves out (a note in their logs): said here too, where the author looks first.
        else if (protocol is not ("TCP" or "TLS"))
            f.Warning($"{path}.port.protocol", $"server '{server.Port.Name}' (port {server.Port.Number}) has protocol {server.Port.Protocol}: "
                                               + "an L4 router serves TCP and TLS passthrough only and will not serve it (protocol TCP relays it as bytes)");
        else if (protocol == "TLS" && server.Tls?.Mode is { } mode and not ("PASSTHROUGH" or "AUTO_PASSTHROUGH"))
            f.Warning($"{path}.tls.mode", $"server '{server.Port.Name}' (port {server.Port.Number}): TLS mode {mode} terminates TLS, which an L4 router "
                                          + "does not do; it will not serve it (PASSTHROUGH routes by SNI and leaves TLS to the upstream)");
    }

    /// <summary>Istio's validateServerPort; true when the port is usable for the protocol checks.</summary>
    private static bool Port(Findings f, string path, GatewayPort? port, bool unix)
    {
        if (port is null)
        {
            f.Error($"{path}.port", "port is required");
            return false;
        }
        var valid = true;
        if (string.IsNullOrEmpty(port.Protocol) || !Checks.IsKnownProtocol(port.Protocol))
        {
            f.Error($"{path}.port.protocol", $"invalid protocol '{port.Protocol}', supported protocols are {Checks.KnownProtocols}");
            valid = false;
        }
        // A unix domain socket server has port 0; validateServerBind checks that.
        if (port.Number is not { } number ? !unix : (number != 0 || !unix) && !Checks.IsValidPort(number))
        {
            f.Error($"{path}.port.number", $"port number {port.Number?.ToString() ?? "(unset)"} must be in the range 1..65535");
            valid = false;
        }
        if (port.TargetPort is > 0) f.Error($"{path}.port.targetPort", "targetPort has no impact on Gateways; remove it");
        if (string.IsNullOrEmpty(port.Name))
        {
            f.Error($"{path}.port.name", "port name must be set");
            valid = false;
        }
        return valid;
    }

    /// <summary>
    /// Istio's validateServerBind. A unix socket bind is valid Istio, but an L4 TCP router cannot serve
    /// it, and must never widen it to every interface: it is skipped with a warning.
    /// </summary>
    private static void Bind(Findings f, string path, Server server)
    {
        if (server.Bind is not { Length: > 0 } bind) return;
        if (!bind.StartsWith(Checks.UnixPrefix, StringComparison.Ordinal))
        {
            if (!Checks.IsIp(bind)) f.Error($"{path}.bind", $"bind {bind} is not a valid IP address");
            return;
        }
        var error = Checks.CheckUnixAddress(bind);
        if (error is not null) f.Error($"{path}.bind", error);
        if (server.Port?.Number is { } n and not 0) f.Error($"{path}.port.number", $"port number must be 0 for unix domain socket bind {bind}, not {n}");
        if (error is null && server.Port?.Number is null or 0)
            f.Warning($"{path}.bind", $"bind {bind} is a unix domain socket: AkkaL4 listens on TCP only and will not serve this server (it never binds it elsewhere)");
    }

    /// <summary>Istio's validateTLSOptions for a server.</summary>
    private static void Tls(Findings f, string path, ServerTlsSettings? tls)
    {
        if (tls is null) return;
        var mode = tls.Mode ?? "PASSTHROUGH";
        if (!TlsModes.Contains(mode)) f.Error($"{path}.mode", $"unknown TLS mode '{mode}'; use one of {string.Join(", ", TlsModes)}");
        if (tls.MinProtocolVersion is "TLSV1_0" or "TLSV1_1" && tls.CipherSuites.IsEmpty)
            f.Warning($"{path}.minProtocolVersion", "TLS versions below TLSV1_2 require setting compatible cipherSuites: the defaults no longer include them");
        var invalid = tls.CipherSuites.Where(c => c.Length > 0 && c != "ALL" && char.IsAsciiLetterOrDigit(c[0]) && !CipherSuites.Contains(c)).Distinct().Order().ToList();
        if (invalid.Count > 0) f.Warning($"{path}.cipherSuites", $"ignoring invalid cipher suites: {string.Join(", ", invalid)}");
        var duplicates = tls.CipherSuites.Where(c => !invalid.Contains(c)).GroupBy(c => c).Where(g => g.Count() > 1).Select(g => g.Key).Order().ToList();
        if (duplicates.Count > 0) f.Warning($"{path}.cipherSuites", $"ignoring duplicate cipher suites: {string.Join(", ", duplicates)}");

        bool Set(string? s) => !string.IsNullOrEmpty(s);
        if (mode == "ISTIO_MUTUAL")
        {
            // ISTIO_MUTUAL takes its certificates from the mesh.
            if (Set(tls.ServerCertificate)) f.Error($"{path}.serverCertificate", "ISTIO_MUTUAL TLS cannot have associated server certificate");
            if (Set(tls.PrivateKey)) f.Error($"{path}.privateKey", "ISTIO_MUTUAL TLS cannot have associated private key");
            if (Set(tls.CaCertificates)) f.Error($"{path}.caCertificates", "ISTIO_MUTUAL TLS cannot have associated CA bundle");
            if (!tls.TlsCertificates.IsEmpty) f.Error($"{path}.tlsCertificates", "ISTIO_MUTUAL TLS cannot have associated tlsCertificates");
            if (Set(tls.CredentialName)) f.Error($"{path}.credentialName", "ISTIO_MUTUAL TLS cannot have associated credentialName");
            if (!tls.CredentialNames.IsEmpty) f.Error($"{path}.credentialNames", "ISTIO_MUTUAL TLS cannot have associated credentialNames");
            return;
        }
        if (mode is "PASSTHROUGH" or "AUTO_PASSTHROUGH"
            && (Set(tls.CaCrl) || Set(tls.ServerCertificate) || Set(tls.PrivateKey) || Set(tls.CaCertificates)
                || !tls.TlsCertificates.IsEmpty || Set(tls.CredentialName) || !tls.CredentialNames.IsEmpty))
            f.Warning(path, $"{mode} mode does not use certificates, they will be ignored");

        var sources = (Set(tls.ServerCertificate) && Set(tls.PrivateKey) ? 1 : 0) + (Set(tls.CredentialName) ? 1 : 0)
                      + (tls.CredentialNames.IsEmpty ? 0 : 1) + (tls.TlsCertificates.IsEmpty ? 0 : 1);
        if (sources > 1)
            f.Error(path, "only one of credentialName, credentialNames, serverCertificate/privateKey, tlsCertificates should be specified");

        var terminates = mode is "SIMPLE" or "MUTUAL" or "OPTIONAL_MUTUAL";
        // With a credential name the certificates are fetched remotely.
        if (terminates && (Set(tls.CredentialName) || !tls.CredentialNames.IsEmpty)) return;
        if (terminates)
        {
            var prefix = mode == "SIMPLE" ? "SIMPLE TLS" : "MUTUAL TLS";
            if (mode != "SIMPLE" && !Set(tls.CaCertificates)) f.Error($"{path}.caCertificates", $"{prefix} requires a client CA bundle");
            if (tls.TlsCertificates.Count > 2) f.Warning($"{path}.tlsCertificates", $"{prefix} can support up to 2 server certificates");
            var certificates = tls.TlsCertificates.IsEmpty
                ? [(path, tls.ServerCertificate, tls.PrivateKey)]
                : tls.TlsCertificates.Select((c, i) => ($"{path}.tlsCertificates[{i}]", c.ServerCertificate, c.PrivateKey)).ToList();
            foreach (var (cpath, certificate, key) in certificates)
            {
                if (!Set(certificate)) f.Error($"{cpath}.serverCertificate", $"{prefix} requires a server certificate");
                if (!Set(key)) f.Error($"{cpath}.privateKey", $"{prefix} requires a private key");
            }
        }
        if (Set(tls.CaCrl))
        {
            if (Set(tls.CredentialName)) f.Error($"{path}.caCrl", "CRL is not supported with credentialName. CRL has to be specified in the credential");
            if (mode == "SIMPLE") f.Error($"{path}.caCrl", "CRL is not supported with SIMPLE TLS");
        }
    }

    /// <summary>Istio's ValidateNamespaceSlashWildcardHostname for gateways: <c>[namespace/]dnsName</c>, an FQDN, a whole-label wildcard or an IP.</summary>
    private static string? CheckServerHost(string host)
    {
        var slash = host.IndexOf('/');
        var ns = slash < 0 ? null : host[..slash];
        var name = slash < 0 ? host : host[(slash + 1)..];
        if (ns is not null)
        {
            if (ns.Length == 0 || name.Length == 0) return $"invalid host '{host}': namespace and dnsName cannot be empty";
            // "~" is only for gateways converted from the Kubernetes Gateway API.
            if (ns is not ("." or "*") && !Checks.IsIstioLabel(ns))
                return $"invalid namespace value '{ns}' in host '{host}': use '.', '*' or a namespace name";
        }
        if (name != "*" && !name.Contains('.')) return $"short names (non FQDN) are not allowed in Gateway server hosts: '{name}'";
        if (Checks.IsPartialWildcard(name)) return $"partial wildcard '{name}' not allowed in host '{host}'";
        return Checks.CheckWildcardDomain(name) is { } error && !Checks.IsIp(name) ? error : null;
    }
}
