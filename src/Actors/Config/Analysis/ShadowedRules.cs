using AkkaL4.Actors.Routing;
using AkkaL4.Messages.Model;

namespace AkkaL4.Actors.Config.Analysis;

/// <summary>
/// The tcp rules of a mesh VirtualService that an EARLIER VirtualService for the same host makes unreachable. Istio
/// concatenates the tcp rules of every VirtualService for a host in one order (exportTo group, creation time, name,
/// namespace), so a catch-all rule in the first hides every rule of the later ones. Each mesh listener (a service address and
/// port) and each client namespace that orders them differently is walked as <see cref="RouteSnapshot"/>'s Decide walks it:
/// a rule is reported only when, everywhere it is evaluated, a rule of another VirtualService before it takes every
/// connection. A catch-all inside the same VirtualService is <see cref="ConfigAnalyzer"/>'s own warning.
/// </summary>
internal static class ShadowedRules
{
    /// <summary>The warning for each unreachable rule, by VirtualService and tcp rule index.</summary>
    public static Dictionary<(ResourceKey Vs, int Rule), string> Find(IReadOnlyCollection<Resource> resources)
    {
        var found = new Dictionary<(ResourceKey, int), string>();
        var mesh = Precedence.Order(resources.OfType<VirtualService>().Where(AppliesToMesh)).ToList();
        if (mesh.Count < 2) return found;

        // By host, as the compiler indexes them: this runs in the config writer on every write, over every service.
        var index = new VirtualServiceIndex(mesh);

        var catalog = new ServiceCatalog(resources);
        var alive = new HashSet<(ResourceKey, int)>();
        var shadowers = new Dictionary<(ResourceKey, int), List<string>>();
        foreach (var service in catalog.Services)
        {
            var forHost = index.For(service.Host).ToList();
            if (forHost.Count < 2)
            {
                // Alone on this host: nothing of another VirtualService comes before its rules here.
                foreach (var vs in forHost) for (var r = 0; r < vs.Spec.Tcp.Count; r++) alive.Add((vs.Key, r));
                continue;
            }
            var addresses = service.Addresses.Where(a => !a.Contains('/')).Select(a => IpKey.TryParse(a, out var ip) ? ip : (IpKey?)null).OfType<IpKey>().ToList();
            if (addresses.Count == 0 || service.Ports.Count == 0) continue; // no mesh listener: nothing is evaluated
            // Client namespaces that can see another order or match a sourceNamespace; every other one (and an unknown
            // client) sees what a client without a namespace sees.
            var mentioned = forHost.SelectMany(vs => vs.Spec.ExportTo.Append(vs.Metadata.Namespace)
                .Concat(vs.Spec.Tcp.SelectMany(r => r.Match).OfType<L4MatchAttributes>().Select(m => m.SourceNamespace).OfType<string>()));
            var clients = catalog.Namespaces.Intersect(mentioned).Cast<string?>().Prepend(null).ToList();
            foreach (var address in addresses)
            foreach (var port in service.Ports)
            foreach (var client in clients)
                Walk(service.Host, address, port.Number, client, forHost, alive, shadowers);
        }

        foreach (var (rule, by) in shadowers)
        {
            if (alive.Contains(rule)) continue;
            var distinct = by.Distinct().ToList();
            found[rule] = "this rule can never match: " + string.Join("; ", distinct.Take(2))
                          + (distinct.Count > 2 ? $"; and {distinct.Count - 2} more" : "")
                          + ". A host's VirtualServices have their tcp rules concatenated in Istio's order (exportTo, creation time, name, namespace): "
                          + "put the rules in one VirtualService in the order meant, or delete the one before";
        }
        return found;
    }

    /// <summary>One listener, one client namespace: the rules in the order Decide walks them, and what each is behind.</summary>
    private static void Walk(string host, IpKey address, int port, string? client, List<VirtualService> forHost,
        HashSet<(ResourceKey, int)> alive, Dictionary<(ResourceKey, int), List<string>> shadowers)
    {
        var applicable = forHost.Select(vs => (vs, group: Precedence.Group(vs.Metadata.Namespace, vs.Spec.ExportTo, client)))
            .Where(x => x.group >= 0).OrderBy(x => x.group).Select(x => x.vs).ToList();
        (VirtualService Vs, int Rule, string Condition)? terminal = null;
        (VirtualService Vs, int Rule, int Prefix, string Subnet)? subnet = null;
        foreach (var vs in applicable)
        for (var r = 0; r < vs.Spec.Tcp.Count; r++)
        {
            var rule = vs.Spec.Tcp[r];
            if (rule.Route.IsEmpty) continue;
            var blocks = rule.Match.OfType<L4MatchAttributes>().ToList();
            var key = (vs.Key, r);
            // A terminal catch-all takes every connection; an unconditional subnet that contains the address wins over any
            // terminal rule after it, and loses only to a narrower subnet.
            string? behind = null;
            if (terminal is { } t && t.Vs != vs)
                behind = $"{Name(t.Vs, t.Rule)} matches every connection to {host}{t.Condition} first, {Before(t.Vs, vs, client)}";
            else if (terminal is null && subnet is { } s && s.Vs != vs
                     && !blocks.Any(b => b.DestinationSubnets.Any(n => IpNet.TryParse(n, out var net) && net.Contains(address) && net.PrefixLength > s.Prefix)))
                behind = $"{Name(s.Vs, s.Rule)} takes every connection to {host} at {address} first (its destinationSubnets {s.Subnet} contain that address, "
                         + $"and only a narrower subnet in a later rule wins over it), {Before(s.Vs, vs, client)}";
            if (behind is null) alive.Add(key);
            else
            {
                if (!shadowers.TryGetValue(key, out var list)) shadowers[key] = list = [];
                list.Add(behind);
            }

            if (terminal is not null) continue;
            if (rule.Match.IsEmpty) { terminal = (vs, r, ""); continue; }
            foreach (var b in blocks.Where(b => TakesEvery(b, port, client)))
            {
                if (b.DestinationSubnets.IsEmpty) { terminal = (vs, r, Condition(b)); break; }
                foreach (var text in b.DestinationSubnets)
                    if (IpNet.TryParse(text, out var net) && net.Contains(address) && net.PrefixLength > (subnet?.Prefix ?? -1))
                        subnet = (vs, r, net.PrefixLength, text);
            }
        }
    }

    /// <summary>A block every connection of this listener and client namespace satisfies (destinationSubnets apart).</summary>
    private static bool TakesEvery(L4MatchAttributes block, int port, string? client) =>
        (block.Gateways.IsEmpty || block.Gateways.Contains("mesh")) && (block.Port is null or 0 || block.Port == port)
        && block.SourceLabels.IsEmpty && (block.SourceNamespace is null || block.SourceNamespace == client);

    private static bool AppliesToMesh(VirtualService vs) => vs.Spec.Gateways.IsEmpty || vs.Spec.Gateways.Contains("mesh");

    private static string Name(VirtualService vs, int rule) => $"VirtualService {vs.Metadata.Namespace}/{vs.Metadata.Name} spec.tcp[{rule}]";

    /// <summary>What a catch-all block does test (it holds for every connection of the listener and client namespace walked).</summary>
    private static string Condition(L4MatchAttributes block) =>
        (block.Port is > 0 and var port ? $" on port {port}" : "") + (block.SourceNamespace is { } ns ? $" from namespace {ns}" : "");

    /// <summary>Why <paramref name="first"/>'s rules come before <paramref name="later"/>'s for a client of <paramref name="client"/>.</summary>
    private static string Before(VirtualService first, VirtualService later, string? client)
    {
        var (a, b) = (Precedence.Group(first.Metadata.Namespace, first.Spec.ExportTo, client), Precedence.Group(later.Metadata.Namespace, later.Spec.ExportTo, client));
        if (a < b)
            return a == 0 ? $"as it is private to namespace {client} (exportTo: [\".\"]), which comes before exported ones"
                : $"as it is exported to namespace {client} by name, which comes before exported to all";
        var (at, bt) = (first.Metadata.CreationTimestamp, later.Metadata.CreationTimestamp);
        if (at != bt) return $"as it was created earlier ({at ?? "no creationTimestamp"}, this one {bt ?? "none"})";
        var same = at is null ? "neither has a creationTimestamp" : $"both were created at {at} (applied together)";
        return first.Metadata.Name != later.Metadata.Name
            ? $"as {same} and its name '{first.Metadata.Name}' sorts before '{later.Metadata.Name}'"
            : $"as {same} and its namespace '{first.Metadata.Namespace}' sorts before '{later.Metadata.Namespace}'";
    }
}
