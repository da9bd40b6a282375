using AkkaL4.Actors.Routing;
using AkkaL4.Messages.Model;

namespace AkkaL4.Actors.Config.Validation;

/// <summary>Istio's validateVirtualService, for the parts an L4 router reads (tcp, tls, and http destinations).</summary>
internal static class VirtualServiceValidator
{
    public static void Validate(VirtualService vs, Findings f)
    {
        var spec = vs.Spec;
        if (spec.Hosts.IsEmpty)
        {
            // Without hosts a VirtualService is a delegate, included by another one's http rules.
            if (!spec.Gateways.IsEmpty) f.Error("spec.gateways", "a delegate virtual service (no hosts) must have no gateways");
            if (!spec.Tls.IsEmpty) f.Error("spec.tls", "a delegate virtual service (no hosts) must have no tls routes");
            if (!spec.Tcp.IsEmpty) f.Error("spec.tcp", "a delegate virtual service (no hosts) must have no tcp routes");
            if (spec.Gateways.IsEmpty && spec.Tls.IsEmpty && spec.Tcp.IsEmpty)
                f.Warning("spec.hosts", "a virtual service without hosts is an http delegate: an L4 router does not apply it");
        }
        if (spec.Http.IsEmpty && spec.Tcp.IsEmpty && spec.Tls.IsEmpty)
            f.Error("spec", "http, tcp or tls must be provided in virtual service");

        for (var i = 0; i < spec.Gateways.Count; i++) Checks.GatewayName(f, $"spec.gateways[{i}]", spec.Gateways[i]);
        var appliesToMesh = spec.Gateways.IsEmpty || spec.Gateways.Contains("mesh");
        // Istio's isGateway: true unless "mesh" is listed (also when no gateways are).
        var gatewaySni = !spec.Gateways.Contains("mesh");
        var hasSni = spec.Tls.Any(r => r.Match.Any(m => m is { SniHosts.IsEmpty: false }));

        var allHostsValid = true;
        for (var i = 0; i < spec.Hosts.Count; i++)
        {
            var host = spec.Hosts[i];
            var error = appliesToMesh ? Checks.CheckWildcardDomain(host) : CheckGatewayDomain(host, hasSni);
            if (error is not null && !Checks.IsIp(host))
            {
                f.Error($"spec.hosts[{i}]", error);
                allHostsValid = false;
            }
            else if (appliesToMesh && host == "*")
            {
                f.Error($"spec.hosts[{i}]", "wildcard host * is not allowed for virtual services bound to the mesh gateway");
                allHostsValid = false;
            }
        }
        if (allHostsValid)
        {
            for (var i = 0; i < spec.Hosts.Count; i++)
            for (var j = i + 1; j < spec.Hosts.Count; j++)
                if (HostName.Matches(spec.Hosts[i], spec.Hosts[j]))
                    f.Error($"spec.hosts[{j}]", $"duplicate hosts in virtual service: {spec.Hosts[i]} & {spec.Hosts[j]}");
        }
        Checks.ExportTo(f, "spec.exportTo", spec.ExportTo);

        for (var r = 0; r < spec.Tcp.Count; r++)
        {
            var rule = spec.Tcp[r];
            var path = $"spec.tcp[{r}]";
            for (var m = 0; m < rule.Match.Count; m++)
            {
                var match = rule.Match[m];
                var mpath = $"{path}.match[{m}]";
                if (match is null) { f.Error(mpath, "tcp match may not be null"); continue; }
                L4Conditions(f, mpath, match.DestinationSubnets, match.Port, match.SourceLabels, match.Gateways);
            }
            if (rule.Route.IsEmpty) f.Error($"{path}.route", "TCP route is required");
            Destinations(f, $"{path}.route", rule.Route.Select(d => (d.Destination, d.Weight)).ToList());
        }

        for (var r = 0; r < spec.Tls.Count; r++)
        {
            var rule = spec.Tls[r];
            var path = $"spec.tls[{r}]";
            if (rule.Match.IsEmpty) f.Error($"{path}.match", "TLS route must have at least one match condition");
            for (var m = 0; m < rule.Match.Count; m++)
            {
                var match = rule.Match[m];
                var mpath = $"{path}.match[{m}]";
                if (match is null) { f.Error(mpath, "tls match may not be null"); continue; }
                if (match.SniHosts.IsEmpty) f.Error($"{mpath}.sniHosts", "TLS match must have at least one SNI host");
                for (var s = 0; s < match.SniHosts.Count; s++)
                {
                    var sni = match.SniHosts[s];
                    if ((gatewaySni ? CheckGatewayDomain(sni, sni: true) : Checks.CheckWildcardDomain(sni)) is { } error)
                    {
                        if (Checks.IsIp(sni)) f.Warning($"{mpath}.sniHosts[{s}]", $"using an IP address ({sni}) as an SNI host goes against the SNI specification and most clients do not send one");
                        else f.Error($"{mpath}.sniHosts[{s}]", error);
                        continue;
                    }
                    // "*" hosts (gateway-only) admit any SNI.
                    if (!spec.Hosts.Any(h => HostName.SniWithin(sni, h, vs.Metadata.Namespace)))
                        f.Error($"{mpath}.sniHosts[{s}]", $"the SNI host {sni} is not a subset of any of the virtual service hosts");
                }
                L4Conditions(f, mpath, match.DestinationSubnets, match.Port, match.SourceLabels, match.Gateways);
            }
            if (rule.Route.IsEmpty) f.Error($"{path}.route", "TLS route is required");
            Destinations(f, $"{path}.route", rule.Route.Select(d => (d.Destination, d.Weight)).ToList());
        }

        for (var r = 0; r < spec.Http.Count; r++)
            Destinations(f, $"spec.http[{r}].route", spec.Http[r].Route.Select(d => (d.Destination, d.Weight)).ToList());
    }

    /// <summary>
    /// Istio's ValidateWildcardDomainForVirtualServiceBoundToGateway: as a wildcard domain, and for SNI
    /// also the <c>outbound_.PORT_._.HOST</c> names Istio generates for AUTO_PASSTHROUGH.
    /// </summary>
    private static string? CheckGatewayDomain(string host, bool sni)
    {
        if (!sni || !host.StartsWith("outbound_", StringComparison.Ordinal)) return Checks.CheckWildcardDomain(host);
        var parts = host.Split('_');
        if (parts.Length < 4) return $"invalid SNI host '{host}': expected outbound_.<port>_._.<hostname>";
        var port = parts[1].Trim('.');
        var name = parts[3].Trim('.');
        if (parts[0] != "outbound") return $"invalid SNI host '{host}': it must start with outbound_";
        if (!port.Any(char.IsAsciiDigit)) return $"invalid SNI host '{host}': '{port}' is not a port (expected outbound_.<port>_._.<hostname>)";
        if (!name.Any(char.IsAsciiLetter)) return $"invalid SNI host '{host}': '{name}' is not a host name (expected outbound_.<port>_._.<hostname>)";
        return null;
    }

    private static void L4Conditions(Findings f, string path, Seq<string> subnets, int? port, Labels sourceLabels, Seq<string> gateways)
    {
        for (var i = 0; i < subnets.Count; i++)
            if (Checks.CheckSubnet(subnets[i]) is { } error) f.Error($"{path}.destinationSubnets[{i}]", error);
        if (port is { } p && p != 0 && !Checks.IsValidPort(p)) f.Error($"{path}.port", $"port number {p} must be in the range 1..65535");
        Checks.Labels(f, $"{path}.sourceLabels", sourceLabels);
        for (var i = 0; i < gateways.Count; i++) Checks.GatewayName(f, $"{path}.gateways[{i}]", gateways[i]);
    }

    private static void Destinations(Findings f, string path, IReadOnlyList<(Destination? Destination, int? Weight)> routes)
    {
        var total = 0L;
        for (var i = 0; i < routes.Count; i++)
        {
            var (destination, weight) = routes[i];
            var dpath = $"{path}[{i}]";
            if (destination is null) f.Error($"{dpath}.destination", "destination is required");
            else
            {
                if (string.IsNullOrEmpty(destination.Host)) f.Error($"{dpath}.destination.host", "destination host is required");
                else if (destination.Host == "*") f.Error($"{dpath}.destination.host", "invalid destination host *: a destination must name one service");
                // Unlike a VirtualService host, a destination host may not be an IP: it names a service.
                else if (Checks.CheckWildcardDomain(destination.Host) is { } error) f.Error($"{dpath}.destination.host", error);
                if (destination.Subset is { Length: > 0 } subset && !Checks.IsIstioLabel(subset))
                    f.Error($"{dpath}.destination.subset", $"subset name '{subset}' is invalid: must be a DNS-1123 label (letters of either case, digits and '-')");
                if (destination.Port is { } port && !Checks.IsValidPort(port.Number ?? 0))
                    f.Error($"{dpath}.destination.port.number", $"port number {port.Number?.ToString() ?? "(unset)"} must be in the range 1..65535");
            }
            if (weight < 0) f.Error($"{dpath}.weight", $"weight {weight} < 0");
            total += Math.Max(0, weight ?? 0);
        }
        if (routes.Count > 1 && total == 0) f.Error(path, "total destination weight = 0: with two or more destinations at least one needs a positive weight");
    }
}
