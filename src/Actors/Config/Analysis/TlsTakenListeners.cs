using AkkaL4.Actors.Routing;
using AkkaL4.Messages.Model;

namespace AkkaL4.Actors.Config.Analysis;

/// <summary>
/// TCP Gateway servers whose listener a TLS server takes over. A node serving several Gateways makes ONE listener of their
/// servers at one address and port, and if one of them is a TLS server the listener is a TLS one, whatever the order
/// (<see cref="RouteCompiler"/>; a node logs "TCP and TLS servers share the port"): each connection's ClientHello is read
/// and it is routed by its SNI through the tls rules of the VirtualServices bound to those Gateways (and AUTO_PASSTHROUGH
/// names). The tcp rules are not compiled there at all, so those of VirtualServices bound through the TCP server never
/// match on that node, and a client that does not open with a TLS ClientHello is closed as not routed (NR): at once when its
/// first bytes are not TLS, after the preamble timeout when it waits for the server to speak first.
/// <para>Which nodes serve both follows from the selectors: a node serves a Gateway when its labels include the selector's,
/// so when the TLS server's selector is within the TCP server's, every node serving the TCP server has the TLS listener;
/// otherwise only the nodes whose labels include both selectors do (none when they give one key two values).</para>
/// </summary>
internal static class TlsTakenListeners
{
    /// <param name="work">Adds the selectors the look-ups of the TLS servers' selectors looked at (the work a test counts: N
    /// tenants with a selector each on one port must not compare every TCP server's with every TLS one's).</param>
    public static List<Diagnostic> Find(IReadOnlyCollection<Resource> resources, WorkCounts work)
    {
        var warnings = new List<Diagnostic>();
        var listeners = new Dictionary<IpPort, List<(Gateway Gw, int Server, bool Tls)>>();
        foreach (var gw in resources.OfType<Gateway>())
            for (var i = 0; i < gw.Spec.Servers.Count; i++)
            {
                if (RouteCompiler.ListenerOf(gw, gw.Spec.Servers[i], out _) is not { } at) continue;
                if (!listeners.TryGetValue(at, out var list)) listeners[at] = list = [];
                list.Add((gw, i, string.Equals(gw.Spec.Servers[i].Port!.Protocol, "TLS", StringComparison.OrdinalIgnoreCase)));
            }

        ILookup<string, VirtualService>? boundTo = null;
        foreach (var (at, servers) in listeners)
        {
            if (!servers.Any(s => s.Tls) || servers.All(s => s.Tls)) continue;
            // The TLS servers by selector, each selector named by its first server.
            var tls = new SelectorIndex();
            var firstTls = new List<(Gateway Gw, int Server)>();
            foreach (var (gw, i, _) in servers.Where(s => s.Tls))
                if (tls.Add(gw.Spec.Selector) == firstTls.Count) firstTls.Add((gw, i));

            var bySelector = new Dictionary<Labels, (List<int> Within, List<int> Compatible)>();
            foreach (var (gw, i, _) in servers.Where(s => !s.Tls))
            {
                var selector = gw.Spec.Selector;
                if (!bySelector.TryGetValue(selector, out var found))
                {
                    var within = tls.Within(selector);
                    bySelector[selector] = found = (within, within.Count > 0 ? [] : tls.Compatible(selector, 1));
                }
                var always = found.Within.Count > 0;
                if (!always && found.Compatible.Count == 0) continue; // no node serves both: their selectors give a key two values
                var t = always ? found.Within[0] : found.Compatible[0];
                var (tlsGw, tlsServer) = firstTls[t];
                boundTo ??= resources.OfType<VirtualService>()
                    .SelectMany(vs => vs.Spec.Gateways.Select(g => RouteCompiler.ResolveGateway(g, vs.Metadata.Namespace)).Distinct().Select(g => (g, vs)))
                    .ToLookup(x => x.g, x => x.vs, StringComparer.Ordinal);
                var server = gw.Spec.Servers[i];
                var affected = boundTo[RouteCompiler.Key(gw)].Where(vs => !vs.Spec.Tcp.IsEmpty && RouteCompiler.AdmitsHost(gw, server, vs))
                    .Select(vs => $"{vs.Metadata.Namespace}/{vs.Metadata.Name}").ToList();
                var tlsName = tlsGw == gw ? $"spec.servers[{tlsServer}] of this Gateway" : $"spec.servers[{tlsServer}] of Gateway {RouteCompiler.Key(tlsGw)}";
                var where = always
                    ? $"every node serving this Gateway serves {(tlsGw == gw ? "that server" : "that Gateway")} too ("
                      + (tlsGw.Spec.Selector.IsEmpty ? "it has no selector" : $"its selector {tlsGw.Spec.Selector} is within this one's, {selector}") + ")"
                    : $"a node whose labels include {Union(selector, tlsGw.Spec.Selector)} serves both Gateways";
                var rules = affected.Count == 0
                    ? "the tcp rules of VirtualServices bound through it"
                    : $"the tcp rules of VirtualService {string.Join(", ", affected.Take(3))}{(affected.Count > 3 ? $" and {affected.Count - 3} more" : "")}";
                warnings.Add(Diagnostic.Warning(gw.Key.ToString(), $"spec.servers[{i}].port",
                    $"this TCP server shares {at} with the TLS server {tlsName}, and {where}: there the two make one listener, which is "
                    + "served as TLS (connections are routed by the SNI of their TLS ClientHello, through tls rules only): "
                    + $"{rules} never match at {at}{(always ? "" : " on such a node")}, and a client that does not open with a TLS ClientHello is closed "
                    + "with no route (NR). Give this server another port or bind address, or "
                    + (always ? "make it a TLS server with tls rules" : "keep those Gateways on different nodes (selectors that give one label two values)")));
            }
            work.Selectors += tls.Visits;
        }
        return warnings;
    }

    private static string Union(Labels a, Labels b) => new Labels(a.Concat(b.Where(l => !a.ContainsKey(l.Key)))).ToString();
}
