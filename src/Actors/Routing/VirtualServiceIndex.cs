using AkkaL4.Messages.Model;

namespace AkkaL4.Actors.Routing;

/// <summary>
/// VirtualServices by what binds them, kept in the precedence order they were given: those bound to mesh by the hosts they
/// name (an exact host is one dictionary lookup, and only VirtualServices with a wildcard host are matched one by one), and
/// every one by the gateways its spec.gateways name. The route compiler and the analyser both ask it for a service's
/// VirtualServices, over every service of a configuration, and for a gateway listener's, over every Gateway server: a
/// configuration of thousands of Gateways, each with its own VirtualService for hosts "*", is then linear, not a scan of
/// every VirtualService per service and per listener.
/// </summary>
public sealed class VirtualServiceIndex
{
    private static readonly IEqualityComparer<VirtualService> Same = ReferenceEqualityComparer.Instance;
    private readonly List<VirtualService> _mesh = [];
    private readonly Dictionary<string, List<VirtualService>> _byHost = new(StringComparer.Ordinal);
    private readonly List<VirtualService> _withWildcards = [];
    private readonly Dictionary<VirtualService, int> _order = new(Same);
    private readonly Dictionary<string, List<VirtualService>> _byGateway = new(StringComparer.Ordinal);

    /// <param name="ordered">VirtualServices in precedence order (<see cref="Precedence.Order"/>).</param>
    public VirtualServiceIndex(IReadOnlyList<VirtualService> ordered)
    {
        All = ordered;
        foreach (var vs in ordered)
        {
            _order[vs] = _order.Count;
            foreach (var gateway in vs.Spec.Gateways.Select(g => RouteCompiler.ResolveGateway(g, vs.Metadata.Namespace)).Distinct())
            {
                if (gateway == "mesh") continue;
                if (_byGateway.TryGetValue(gateway, out var list)) list.Add(vs);
                else _byGateway[gateway] = [vs];
            }
            if (!AppliesToMesh(vs)) continue;
            _mesh.Add(vs);
            var wildcard = false;
            foreach (var host in vs.Spec.Hosts.Select(h => HostName.Expand(h, vs.Metadata.Namespace)).Distinct())
            {
                if (HostName.IsWildcard(host)) wildcard = true;
                else if (_byHost.TryGetValue(host, out var list)) list.Add(vs);
                else _byHost[host] = [vs];
            }
            if (wildcard) _withWildcards.Add(vs);
        }
    }

    /// <summary>Every VirtualService, in precedence order.</summary>
    public IReadOnlyList<VirtualService> All { get; }

    /// <summary>A VirtualService applies to mesh traffic when its spec.gateways is empty or names mesh.</summary>
    public static bool AppliesToMesh(VirtualService vs) => vs.Spec.Gateways.IsEmpty || vs.Spec.Gateways.Contains("mesh");

    /// <summary>VirtualServices bound to mesh with a host overlapping <paramref name="host"/>, in precedence order.</summary>
    public IEnumerable<VirtualService> BoundToMesh(string host)
    {
        if (HostName.IsWildcard(host)) return _mesh.Where(vs => Names(vs, host));
        var exact = _byHost.GetValueOrDefault(host) ?? [];
        return exact.Union(_withWildcards.Where(vs => Names(vs, host)), Same).OrderBy(vs => _order[vs]);
    }

    /// <summary>
    /// VirtualServices whose spec.gateways name one of <paramref name="gateways"/> (<c>namespace/name</c>, as
    /// <see cref="RouteCompiler.ResolveGateway"/> resolves a reference), in precedence order.
    /// </summary>
    public IEnumerable<VirtualService> BoundTo(IReadOnlyList<string> gateways) => gateways.Count == 1
        ? _byGateway.GetValueOrDefault(gateways[0]) ?? []
        : gateways.SelectMany(g => _byGateway.GetValueOrDefault(g) ?? []).Distinct(Same).OrderBy(vs => _order[vs]);

    private static bool Names(VirtualService vs, string host) =>
        vs.Spec.Hosts.Any(h => HostName.Matches(HostName.Expand(h, vs.Metadata.Namespace), host));
}
