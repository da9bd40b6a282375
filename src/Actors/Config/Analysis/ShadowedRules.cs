using AkkaL4.Actors.Routing;
using AkkaL4.Messages.Model;

namespace AkkaL4.Actors.Config.Analysis;

/// <summary>
/// The tcp rules that can never be used, because a rule before them takes every connection they could match, walked the way
/// <see cref="RouteSnapshot"/>'s Decide walks them (istio-l4-semantics.md):
/// <list type="bullet">
/// <item>Mesh: each listener (a service address and port) and each client namespace that orders a host's VirtualServices
/// differently. Istio concatenates the tcp rules of every VirtualService for a host (exportTo group, creation time, name,
/// namespace); a terminal rule every connection there meets (no match, or only conditions such as the listener's port: a
/// <c>port</c> that is the service's only port is a catch-all) hides every rule after it, in its own VirtualService or a later
/// one; an unconditional destinationSubnets containing the address hides all but narrower subnets (a block with
/// destinationSubnets is not terminal: the walk goes on, and only prefix length can beat it).</item>
/// <item>Gateways: each listener (the TCP servers of Gateways at one address and port, which a node serving them all merges).
/// The FIRST VirtualService bound to one of its Gateways (creation time, name, namespace) and
/// FIRST tcp rule matching port and gateways takes every connection; source conditions and destinationSubnets are ignored.</item>
/// </list>
/// A rule is reported only when it is hidden everywhere it could match; where it cannot match at all (another port, another
/// gateway) it is not counted either way.
/// </summary>
internal static class ShadowedRules
{
    private enum Why { SameVirtualService, EarlierVirtualService, Gateway }

    /// <summary>The warning for each unreachable rule, by VirtualService and tcp rule index.</summary>
    public static Dictionary<(ResourceKey Vs, int Rule), string> Find(IReadOnlyCollection<Resource> resources) => Find(resources, new WorkCounts());

    /// <param name="work">Adds what the walks looked at: the VirtualServices (for each service those bound to mesh for its host,
    /// for each Gateway server those bound to its gateway) and the mesh hosts found for them, the Gateway servers of a
    /// listener (grouping them, building each walk's members, finding those a VirtualService is bound through), and the
    /// selectors (to find, for each distinct selector of a listener, those within it).</param>
    internal static Dictionary<(ResourceKey Vs, int Rule), string> Find(IReadOnlyCollection<Resource> resources, WorkCounts work)
    {
        var alive = new HashSet<(ResourceKey, int)>();
        var shadowers = new Dictionary<(ResourceKey, int), List<(string Text, Why Why)>>();
        void Hidden((ResourceKey, int) rule, string text, Why why)
        {
            if (!shadowers.TryGetValue(rule, out var list)) shadowers[rule] = list = [];
            list.Add((text, why));
        }

        // By host and by gateway, as the compiler indexes them: this runs in the config writer on every write.
        var index = new VirtualServiceIndex(Precedence.Order(resources.OfType<VirtualService>()).ToList());
        work.VirtualServices += WalkMesh(resources, index, alive, Hidden) + WalkGateways(resources, index, alive, Hidden, work);
        work.MeshHosts += index.MeshHostVisits;

        var found = new Dictionary<(ResourceKey, int), string>();
        foreach (var (rule, by) in shadowers)
        {
            if (alive.Contains(rule)) continue;
            var distinct = by.DistinctBy(b => b.Text).ToList();
            found[rule] = "this rule can never match: " + string.Join("; ", distinct.Take(2).Select(b => b.Text))
                          + (distinct.Count > 2 ? $"; and {distinct.Count - 2} more" : "") + ". "
                          + string.Join(". ", distinct.Take(2).Select(b => b.Why).Distinct().Order().Select(Advice));
        }
        return found;
    }

    private static string Advice(Why why) => why switch
    {
        Why.SameVirtualService => "Rules are tried in order and the first that matches takes the connection: move this rule before that one, or narrow that one's match",
        Why.EarlierVirtualService => "A host's VirtualServices have their tcp rules concatenated in Istio's order (exportTo, creation time, name, namespace): "
                                     + "put the rules in one VirtualService in the order meant, or delete the one before",
        _ => "At a gateway the first VirtualService (creation time, name, namespace) and its first tcp rule matching the port and gateway take "
             + "every connection (sourceLabels, sourceNamespace and destinationSubnets are ignored there): move this rule before that one, or narrow that one's port or gateways",
    };

    // ---------------------------------------------------------------- mesh

    private static int WalkMesh(IReadOnlyCollection<Resource> resources, VirtualServiceIndex index, HashSet<(ResourceKey, int)> alive,
        Action<(ResourceKey, int), string, Why> hidden)
    {
        var visits = 0;
        if (!index.All.Any(VirtualServiceIndex.AppliesToMesh)) return visits;
        var catalog = new ServiceCatalog(resources);
        foreach (var service in catalog.Services)
        {
            var forHost = index.BoundToMesh(service.Host);
            visits += forHost.Count;
            if (forHost.Count == 0) continue;
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
                WalkListener(service, address, port.Number, client, forHost, alive, hidden);
        }
        return visits;
    }

    /// <summary>One listener, one client namespace: the rules in the order Decide walks them, and what each is behind.</summary>
    private static void WalkListener(ServiceDef service, IpKey address, int port, string? client, List<VirtualService> forHost,
        HashSet<(ResourceKey, int)> alive, Action<(ResourceKey, int), string, Why> hidden)
    {
        var host = service.Host;
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
            if (rule.Match.IsEmpty || blocks.Any(b => CanMatch(b, address, port, client)))
            {
                // A terminal catch-all takes every connection; an unconditional subnet that contains the address wins over any
                // terminal rule after it, and loses only to a narrower subnet.
                if (terminal is { } t)
                    hidden(key, t.Vs == vs
                        ? $"spec.tcp[{t.Rule}] before it matches every connection to {host}{t.Condition}"
                        : $"{Name(t.Vs, t.Rule)} matches every connection to {host}{t.Condition} first, {Before(t.Vs, vs, client)}",
                        t.Vs == vs ? Why.SameVirtualService : Why.EarlierVirtualService);
                else if (subnet is { } s
                         && !blocks.Any(b => b.DestinationSubnets.Any(n => IpNet.TryParse(n, out var net) && net.Contains(address) && net.PrefixLength > s.Prefix)))
                {
                    var takes = $"takes every connection to {host} at {address} first (its destinationSubnets {s.Subnet} contain that address, "
                                + "and only a narrower subnet in a later rule wins over it)";
                    hidden(key, s.Vs == vs ? $"spec.tcp[{s.Rule}] before it {takes}" : $"{Name(s.Vs, s.Rule)} {takes}, {Before(s.Vs, vs, client)}",
                        s.Vs == vs ? Why.SameVirtualService : Why.EarlierVirtualService);
                }
                else alive.Add(key);
            }

            if (terminal is not null) continue;
            if (rule.Match.IsEmpty) { terminal = (vs, r, ""); continue; }
            foreach (var b in blocks.Where(b => TakesEvery(b, port, client)))
            {
                if (b.DestinationSubnets.IsEmpty) { terminal = (vs, r, Condition(b, service)); break; }
                foreach (var text in b.DestinationSubnets)
                    if (IpNet.TryParse(text, out var net) && net.Contains(address) && net.PrefixLength > (subnet?.Prefix ?? -1))
                        subnet = (vs, r, net.PrefixLength, text);
            }
        }
    }

    /// <summary>A block some connection of this listener and client namespace can satisfy.</summary>
    private static bool CanMatch(L4MatchAttributes block, IpKey address, int port, string? client) =>
        OnListener(block, port, client)
        && (block.DestinationSubnets.IsEmpty || block.DestinationSubnets.Any(n => IpNet.TryParse(n, out var net) && net.Contains(address)));

    /// <summary>A block every connection of this listener and client namespace satisfies (destinationSubnets apart).</summary>
    private static bool TakesEvery(L4MatchAttributes block, int port, string? client) => OnListener(block, port, client) && block.SourceLabels.IsEmpty;

    /// <summary>The block's mesh, port and sourceNamespace conditions hold for this listener and client namespace.</summary>
    private static bool OnListener(L4MatchAttributes block, int port, string? client) =>
        (block.Gateways.IsEmpty || block.Gateways.Contains("mesh")) && (block.Port is null or 0 || block.Port == port)
        && (block.SourceNamespace is null || block.SourceNamespace == client);

    /// <summary>What a catch-all block does test (it holds for every connection of the listener and client namespace walked).</summary>
    private static string Condition(L4MatchAttributes block, ServiceDef service) =>
        (block.Port is > 0 and var port ? $" on port {port}" + (service.Ports.Count == 1 ? " (its only port)" : "") : "")
        + (block.SourceNamespace is { } ns ? $" from namespace {ns}" : "");

    /// <summary>Why <paramref name="first"/>'s rules come before <paramref name="later"/>'s for a client of <paramref name="client"/>.</summary>
    private static string Before(VirtualService first, VirtualService later, string? client)
    {
        var (a, b) = (Precedence.Group(first.Metadata.Namespace, first.Spec.ExportTo, client), Precedence.Group(later.Metadata.Namespace, later.Spec.ExportTo, client));
        if (a < b)
            return a == 0 ? $"as it is private to namespace {client} (exportTo: [\".\"]), which comes before exported ones"
                : $"as it is exported to namespace {client} by name, which comes before exported to all";
        return Older(first, later);
    }

    /// <summary>Istio's order inside one exportTo group (and at gateways): creation time, then name, then namespace.</summary>
    private static string Older(VirtualService first, VirtualService later)
    {
        var (at, bt) = (first.Metadata.CreationTimestamp, later.Metadata.CreationTimestamp);
        if (at != bt) return $"as it was created earlier ({at ?? "no creationTimestamp"}, this one {bt ?? "none"})";
        var same = at is null ? "neither has a creationTimestamp" : $"both were created at {at} (applied together)";
        return first.Metadata.Name != later.Metadata.Name
            ? $"as {same} and its name '{first.Metadata.Name}' sorts before '{later.Metadata.Name}'"
            : $"as {same} and its namespace '{first.Metadata.Namespace}' sorts before '{later.Metadata.Namespace}'";
    }

    // ---------------------------------------------------------------- gateways

    /// <summary>
    /// Each gateway listener, as the route compiler builds it: the servers of the Gateways a node serves at one address and
    /// port make ONE listener, whose rules are those of the VirtualServices bound to any of those Gateways (visible to the
    /// first one's namespace, admitted by a server's hosts), in creation-time order; the first rule matching the port and
    /// one of the gateways it is bound through wins, and every later rule that could match there never does. Which Gateways
    /// a node serves depends on its labels: every node serving Gateway G serves at least those whose selector is within
    /// G's, so each G's listener is walked with those (more Gateways only add rules before or after, never take one away,
    /// except where they change the first Gateway's namespace, whose view of exportTo the listener takes: not followed);
    /// a rule alive in any of these walks is alive. A listener that also has a TLS server is served as TLS: its tcp rules
    /// are not walked (<see cref="TlsTakenListeners"/> warns about its TCP servers).
    /// </summary>
    /// <returns>How many VirtualServices were looked at (those bound to each walked listener's gateways, summed).</returns>
    /// <remarks>Linear in the Gateways sharing one listener (one shared ingress, a Gateway per tenant, one port): those of one
    /// selector share their member set, so it is built once per distinct selector (and not at all where it has a TLS server),
    /// and a VirtualService's gateways are looked up by name, not found by scanning the members (review1-s16 R9). The
    /// selectors within each one are looked up by key set (<see cref="SelectorIndex"/>), not found by comparing every pair
    /// (cfg17: a Gateway per tenant, each with its own selector, on one port). What stays is the walks' own size: a selector
    /// within many others (a shared ingress's, beside a selector per tenant) is walked again with each of them.</remarks>
    private static int WalkGateways(IReadOnlyCollection<Resource> resources, VirtualServiceIndex index, HashSet<(ResourceKey, int)> alive,
        Action<(ResourceKey, int), string, Why> hidden, WorkCounts work)
    {
        var visits = 0;
        var listeners = new Dictionary<IpPort, List<Member>>();
        foreach (var gw in resources.OfType<Gateway>())
        foreach (var server in gw.Spec.Servers)
        {
            if (RouteCompiler.ListenerOf(gw, server, out _) is not { } at) continue;
            if (!listeners.TryGetValue(at, out var list)) listeners[at] = list = [];
            list.Add(new Member(gw, server, RouteCompiler.Key(gw)));
        }

        foreach (var (at, servers) in listeners)
        {
            // The distinct selectors, in the order of their first Gateway (the one a walk is named after), their servers, and
            // which have a TLS server. A node serving G serves every Gateway whose selector is within G's: the same set for
            // every Gateway of G's selector, and a different one for each distinct selector (each set holds its own selector's
            // Gateways).
            var selectors = new SelectorIndex();
            var served = new List<string>();
            var tls = new List<bool>();
            var serversOf = new List<List<int>>();
            for (var i = 0; i < servers.Count; i++)
            {
                work.Servers++;
                var m = servers[i];
                var s = selectors.Add(m.Gw.Spec.Selector);
                if (s == served.Count)
                {
                    served.Add(m.Key);
                    tls.Add(false);
                    serversOf.Add([]);
                }
                serversOf[s].Add(i);
                if (string.Equals(m.Server.Port!.Protocol, "TLS", StringComparison.OrdinalIgnoreCase)) tls[s] = true;
            }

            for (var s = 0; s < served.Count; s++)
            {
                // Looked up, not compared with every other selector: N tenant Gateways with a selector each made N × N.
                var within = selectors.Within(selectors.Selectors[s]);
                // A listener that also has a TLS server is served as TLS: nothing to build for it.
                if (within.Any(w => tls[w])) continue;
                var members = within.SelectMany(w => serversOf[w]).Order().Select(i => servers[i]).ToList();
                work.Servers += members.Count;
                visits += WalkGatewayListener(at, served[s], members, index, alive, hidden, work);
            }
            work.Selectors += selectors.Visits;
        }
        return visits;
    }

    private sealed record Member(Gateway Gw, Server Server, string Key);

    /// <summary>The listener at <paramref name="at"/> on a node serving <paramref name="served"/>: <paramref name="members"/>'s servers.</summary>
    private static int WalkGatewayListener(IpPort at, string served, List<Member> members, VirtualServiceIndex index,
        HashSet<(ResourceKey, int)> alive, Action<(ResourceKey, int), string, Why> hidden, WorkCounts work)
    {
        var visits = 0;
        var port = at.Port;
        // Each gateway's servers at this listener, in the listener's order.
        var byGateway = new Dictionary<string, List<Member>>(StringComparer.Ordinal);
        var gateways = new List<string>();
        foreach (var m in members)
        {
            if (!byGateway.TryGetValue(m.Key, out var own)) { byGateway[m.Key] = own = []; gateways.Add(m.Key); }
            own.Add(m);
        }
        string? takes = null; // built at the first warning: most listeners have none
        string Takes() => takes ??= gateways.Count == 1
            ? $"takes every connection through gateway {gateways[0]} on port {port}"
            : $"takes every connection on port {port} of the one listener ({at}) that gateways {Names(gateways)} make together "
              + $"(a node serving {served} serves {Names(gateways.Where(g => g != served).ToList())} too: "
              + $"{(gateways.Count == 2 ? "its selector is" : "their selectors are")} within {served}'s)";
        var gatewayNamespace = members[0].Gw.Metadata.Namespace;
        (VirtualService Vs, int Rule)? winner = null;
        foreach (var vs in index.BoundTo(gateways))
        {
            visits++;
            if (!Precedence.VisibleTo(vs.Metadata.Namespace, vs.Spec.ExportTo, gatewayNamespace)) continue;
            var bound = vs.Spec.Gateways.Select(g => RouteCompiler.ResolveGateway(g, vs.Metadata.Namespace)).ToList();
            var through = new HashSet<string>(StringComparer.Ordinal);
            foreach (var g in bound)
            {
                if (!byGateway.TryGetValue(g, out var own)) continue;
                foreach (var m in own)
                {
                    work.Servers++;
                    if (RouteCompiler.AdmitsHost(m.Gw, m.Server, vs)) { through.Add(g); break; }
                }
            }
            if (through.Count == 0) continue;
            for (var r = 0; r < vs.Spec.Tcp.Count; r++)
            {
                var rule = vs.Spec.Tcp[r];
                var matches = rule.Match.IsEmpty || rule.Match.OfType<L4MatchAttributes>().Any(b =>
                    (b.Port is null or 0 || b.Port == port)
                    && (b.Gateways.IsEmpty ? bound : b.Gateways.Select(g => RouteCompiler.ResolveGateway(g, vs.Metadata.Namespace))).Any(through.Contains));
                if (!matches) continue;
                if (winner is not { } w) { winner = (vs, r); alive.Add((vs.Key, r)); continue; }
                hidden((vs.Key, r), w.Vs == vs ? $"spec.tcp[{w.Rule}] before it {Takes()}" : $"{Name(w.Vs, w.Rule)} {Takes()} first, {Older(w.Vs, vs)}",
                    Why.Gateway);
            }
        }
        return visits;
    }

    /// <summary>At most three gateways by name, then how many more: a listener may merge thousands (one per tenant).</summary>
    private static string Names(IReadOnlyList<string> gateways) => gateways.Count <= 3
        ? string.Join(" and ", gateways)
        : $"{string.Join(", ", gateways.Take(3))} and {gateways.Count - 3} more";

    private static string Name(VirtualService vs, int rule) => $"VirtualService {vs.Metadata.Namespace}/{vs.Metadata.Name} spec.tcp[{rule}]";
}
