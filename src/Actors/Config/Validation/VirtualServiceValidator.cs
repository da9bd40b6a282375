using AkkaL4.Actors.Routing;
using AkkaL4.Messages.Model;

namespace AkkaL4.Actors.Config.Validation;

/// <summary>Istio's validateVirtualService, for the parts an L4 router reads (tcp, tls, and http destinations).</summary>
internal static class VirtualServiceValidator
{
    public static void Validate(VirtualService vs, Findings f)
    {
        var spec = vs.Spec;
        if (spec.Hosts.IsEmpty) f.Error("spec.hosts", "virtual service must have at least one host");
        if (spec.Http.IsEmpty && spec.Tcp.IsEmpty && spec.Tls.IsEmpty)
            f.Error("spec", "http, tcp or tls must be provided in virtual service");

        for (var i = 0; i < spec.Gateways.Count; i++) Checks.GatewayName(f, $"spec.gateways[{i}]", spec.Gateways[i]);
        var appliesToMesh = spec.Gateways.IsEmpty || spec.Gateways.Contains("mesh");

        var allHostsValid = true;
        for (var i = 0; i < spec.Hosts.Count; i++)
        {
            var host = spec.Hosts[i];
            if (Checks.CheckWildcardDomain(host) is { } error && !Checks.IsIp(host))
            {
                f.Error($"spec.hosts[{i}]", error);
                allHostsValid = false;
            }
            else if (appliesToMesh && host == "*")
                f.Error($"spec.hosts[{i}]", "wildcard host * is not allowed for virtual services bound to the mesh gateway");
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
                    if (Checks.CheckWildcardDomain(sni) is { } error) { f.Error($"{mpath}.sniHosts[{s}]", error); continue; }
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
                else if (Checks.CheckWildcardDomain(destination.Host) is { } error && !Checks.IsIp(destination.Host))
                    f.Error($"{dpath}.destination.host", error);
                if (destination.Subset is { } subset && !Checks.IsDns1123Label(subset))
                    f.Error($"{dpath}.destination.subset", $"subset name '{subset}' is invalid: must be a DNS-1123 label (lower-case letters, digits and '-')");
                if (destination.Port?.Number is { } port && !Checks.IsValidPort(port))
                    f.Error($"{dpath}.destination.port.number", $"port number {port} must be in the range 1..65535");
            }
            if (weight < 0) f.Error($"{dpath}.weight", $"weight {weight} < 0");
            total += Math.Max(0, weight ?? 0);
        }
        if (routes.Count > 1 && total == 0) f.Error(path, "total destination weight = 0: with two or more destinations at least one needs a positive weight");
    }
}
