using AkkaL4.Actors.Routing;
using AkkaL4.Messages.Model;

namespace AkkaL4.Actors.Config.Analysis;

/// <summary>
/// The tcp match blocks no connection can satisfy anywhere the rule is evaluated (istio-l4-semantics.md), for a reason the
/// configuration itself shows:
/// <list type="bullet">
/// <item>Mesh traffic (the VirtualService and the block bound to mesh): a rule is evaluated only on the listeners of the
/// services its hosts name, so a <c>port</c> none of those services has is never dialled there; a client's namespace and
/// labels are those of the WorkloadEntry or ServiceEntry endpoint at its source IP (an unknown source has neither), so a
/// <c>sourceNamespace</c> no such workload is in, or <c>sourceLabels</c> no such workload carries (in that namespace, when
/// both are given), is never met.</item>
/// <item>Gateway traffic: source conditions are ignored there; the block's <c>port</c> must be the port of a TCP server of
/// one of its gateways that admits the VirtualService's hosts.</item>
/// </list>
/// A block is reported only when every way it is evaluated fails for such a reason. Where that cannot be told from the
/// configuration (a host naming no service, a gateway that is not there or admits none of the hosts: other warnings say so)
/// nothing is said.
/// </summary>
internal static class UnmatchableBlocks
{
    /// <summary>For each tcp match block that can match nothing: the field to point at (under the block) and why.</summary>
    public static Dictionary<(ResourceKey Vs, int Rule, int Block), (string Field, string Why)> Find(IReadOnlyCollection<Resource> resources) =>
        Find(resources, new WorkCounts());

    /// <param name="work">Adds the services looked at to find those whose listeners evaluate each VirtualService's rules.</param>
    internal static Dictionary<(ResourceKey Vs, int Rule, int Block), (string Field, string Why)> Find(IReadOnlyCollection<Resource> resources, WorkCounts work)
    {
        var found = new Dictionary<(ResourceKey, int, int), (string, string)>();
        var catalog = new ServiceCatalog(resources);
        // The services that have a mesh listener, by host: looked up for each VirtualService's hosts, not scanned (every
        // Service per VirtualService with a wildcard host was N × N for N tenants' *.tenant.example.com).
        var listening = catalog.Services.Where(Listens).ToList();
        var byHost = new HostPatterns<int>(listening.Select((s, i) => (s.Host, i)));
        // Known clients: the workloads the router identifies a source as (by their address, an IP in canonical text).
        var clients = catalog.Workloads.Where(w => ServiceCatalog.IdentifiedAt(w, out _)).ToList();
        var clientNamespaces = clients.Select(w => w.Namespace).ToHashSet(StringComparer.Ordinal);
        var byLabel = clients.SelectMany(w => w.Labels.Select(l => (Label: (l.Key, l.Value), Workload: w))).ToLookup(x => x.Label, x => x.Workload);
        var gateways = resources.OfType<Gateway>().GroupBy(RouteCompiler.Key).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);

        foreach (var vs in resources.OfType<VirtualService>())
        {
            var ns = vs.Metadata.Namespace;
            var bound = vs.Spec.Gateways.Select(g => RouteCompiler.ResolveGateway(g, ns)).ToHashSet(StringComparer.Ordinal);
            List<ServiceDef>? services = null;
            for (var r = 0; r < vs.Spec.Tcp.Count; r++)
            {
                var rule = vs.Spec.Tcp[r];
                if (rule.Route.IsEmpty) continue;
                for (var m = 0; m < rule.Match.Count; m++)
                {
                    if (rule.Match[m] is not { } block) continue;
                    var reasons = new List<(string Field, string Why)>();
                    var mesh = VirtualServiceIndex.AppliesToMesh(vs) && (block.Gateways.IsEmpty || block.Gateways.Contains("mesh"));
                    if (mesh)
                    {
                        services ??= ServicesOf(vs, byHost, listening);
                        if (services.Count == 0) continue; // no mesh listener for its hosts: the host warnings say so
                        var before = reasons.Count;
                        MeshReasons(block, services, clientNamespaces, byLabel, reasons);
                        if (reasons.Count == before) continue; // some mesh connection can match it
                    }
                    var through = (block.Gateways.IsEmpty ? vs.Spec.Gateways : block.Gateways)
                        .Where(g => g != "mesh").Select(g => RouteCompiler.ResolveGateway(g, ns)).Where(bound.Contains).Distinct().ToList();
                    if (!mesh && through.Count == 0) continue; // evaluated nowhere: the gateway warnings say so
                    if (!GatewayReasons(block, vs, through, gateways, reasons)) continue;
                    found[(vs.Key, r, m)] = reasons.Select(x => x.Field).Distinct().Count() == 1
                        ? (reasons[0].Field, string.Join("; ", reasons.Select(x => x.Why)))
                        : ("", string.Join("; ", reasons.Select(x => $"{x.Field}: {x.Why}")));
                }
            }
        }
        work.Services += byHost.Visits;
        return found;
    }

    /// <summary>A service that has a mesh listener: an IP address and a port.</summary>
    private static bool Listens(ServiceDef service) =>
        service.Ports.Count > 0 && service.Addresses.Any(a => !a.Contains('/') && IpKey.TryParse(a, out _));

    /// <summary>The services whose mesh listeners evaluate this VirtualService's rules (its hosts overlap theirs): with a
    /// wildcard host, in the catalog's order; else for each host, the services of that host, then those whose wildcard covers it.</summary>
    private static List<ServiceDef> ServicesOf(VirtualService vs, HostPatterns<int> byHost, List<ServiceDef> listening)
    {
        var hosts = vs.Spec.Hosts.Select(h => HostName.Expand(h, vs.Metadata.Namespace)).Distinct().ToList();
        var found = new List<int>();
        if (hosts.Any(HostName.IsWildcard))
        {
            foreach (var h in hosts)
            {
                found.AddRange(byHost.Covering(h));
                if (HostName.IsWildcard(h)) found.AddRange(byHost.CoveredBy(h));
            }
            found.Sort();
        }
        else
            foreach (var h in hosts)
            {
                var covering = byHost.Covering(h);
                found.AddRange(covering.Where(e => byHost[e].Host == h));
                found.AddRange(covering.Where(e => byHost[e].Host != h));
            }
        return found.Distinct().Select(e => listening[byHost[e].Value]).ToList();
    }

    private static void MeshReasons(L4MatchAttributes block, List<ServiceDef> services, HashSet<string> clientNamespaces,
        ILookup<(string, string), Workload> byLabel, List<(string Field, string Why)> reasons)
    {
        if (block.Port is > 0 and var port && !services.Any(s => s.Ports.Any(p => p.Number == port)))
            reasons.Add(("port", $"port {port} is no port of {Describe(services)}, the only listeners where this rule is evaluated for mesh traffic"));
        if (block.SourceNamespace is { } ns && !clientNamespaces.Contains(ns))
            reasons.Add(("sourceNamespace", $"no WorkloadEntry or ServiceEntry endpoint is in namespace {ns}, and a client is only of a namespace "
                                            + "through the workload at its source address (an unknown source has none)"));
        else if (!block.SourceLabels.IsEmpty)
        {
            var (key, value) = block.SourceLabels.First();
            if (!byLabel[(key, value)].Any(w => block.SourceLabels.IsSubsetOf(w.Labels) && (block.SourceNamespace is null || w.Namespace == block.SourceNamespace)))
                reasons.Add(("sourceLabels", $"no WorkloadEntry or ServiceEntry endpoint{(block.SourceNamespace is { } n ? $" in namespace {n}" : "")} carries "
                                             + $"{string.Join(", ", block.SourceLabels.Select(l => $"{l.Key}={l.Value}"))}, and a client only has the labels "
                                             + "of the workload at its source address (an unknown source has none)"));
        }
    }

    /// <summary>
    /// False when the block can match through one of <paramref name="through"/>, or that cannot be told; else true, with why
    /// for each gateway (its TCP servers admitting the VirtualService are on other ports).
    /// </summary>
    private static bool GatewayReasons(L4MatchAttributes block, VirtualService vs, List<string> through, Dictionary<string, Gateway> gateways,
        List<(string Field, string Why)> reasons)
    {
        foreach (var key in through)
        {
            if (!gateways.TryGetValue(key, out var gw)) return false;
            var ports = gw.Spec.Servers
                .Where(s => string.Equals(s.Port?.Protocol, "TCP", StringComparison.OrdinalIgnoreCase) && RouteCompiler.ListenerOf(gw, s, out _) is not null
                            && RouteCompiler.AdmitsHost(gw, s, vs))
                .Select(s => s.Port!.Number!.Value).Distinct().Order().ToList();
            if (ports.Count == 0 || block.Port is null or 0 || ports.Contains(block.Port.Value)) return false;
            reasons.Add(("port", $"port {block.Port} is the port of no TCP server of gateway {key} that admits this VirtualService's hosts "
                                 + $"(those are on {(ports.Count == 1 ? "port" : "ports")} {string.Join(", ", ports)})"));
        }
        return true;
    }

    private static string Describe(List<ServiceDef> services)
    {
        var shown = services.Take(3).Select(s => $"{s.Host} (ports: {string.Join(", ", s.Ports.Select(p => p.Number))})");
        return string.Join(", ", shown) + (services.Count > 3 ? $" and {services.Count - 3} more services" : "");
    }
}
