using AkkaL4.Messages.Model;

namespace AkkaL4.Actors.Routing;

/// <summary>
/// VirtualServices by what binds them, kept in the precedence order they were given: those bound to mesh by the hosts they
/// name (<see cref="HostPatterns{T}"/>: a service's host finds the VirtualServices naming it, or a wildcard covering it, in a
/// few lookups), and every one by the gateways its spec.gateways name. The route compiler and the analyser both ask it for a
/// service's VirtualServices, over every service of a configuration, and for a gateway listener's, over every Gateway
/// server: a configuration of thousands of Gateways, each with its own VirtualService for hosts "*", or of thousands of
/// tenants each with a VirtualService for <c>*.tenant.example.com</c>, is then linear, not a scan of every VirtualService
/// (or every one with a wildcard host) per service and per listener.
/// </summary>
public sealed class VirtualServiceIndex
{
    private static readonly IEqualityComparer<VirtualService> Same = ReferenceEqualityComparer.Instance;
    // Every host of a mesh-bound VirtualService (expanded in its namespace), with the VirtualService's place in All.
    private readonly HostPatterns<int> _meshHosts;
    private readonly Dictionary<VirtualService, int> _order = new(Same);
    private readonly Dictionary<string, List<VirtualService>> _byGateway = new(StringComparer.Ordinal);

    /// <param name="ordered">VirtualServices in precedence order (<see cref="Precedence.Order"/>).</param>
    public VirtualServiceIndex(IReadOnlyList<VirtualService> ordered)
    {
        All = ordered;
        var meshHosts = new List<(string Host, int Place)>();
        for (var place = 0; place < ordered.Count; place++)
        {
            var vs = ordered[place];
            _order[vs] = _order.Count;
            foreach (var gateway in vs.Spec.Gateways.Select(g => RouteCompiler.ResolveGateway(g, vs.Metadata.Namespace)).Distinct())
            {
                if (gateway == "mesh") continue;
                if (_byGateway.TryGetValue(gateway, out var list)) list.Add(vs);
                else _byGateway[gateway] = [vs];
            }
            if (!AppliesToMesh(vs)) continue;
            foreach (var host in vs.Spec.Hosts.Select(h => HostName.Expand(h, vs.Metadata.Namespace)).Distinct())
                meshHosts.Add((host, place));
        }
        _meshHosts = new HostPatterns<int>(meshHosts);
    }

    /// <summary>How many hosts of mesh-bound VirtualServices the <see cref="BoundToMesh"/> questions so far looked at.</summary>
    public int MeshHostVisits => _meshHosts.Visits;

    /// <summary>Every VirtualService, in precedence order.</summary>
    public IReadOnlyList<VirtualService> All { get; }

    /// <summary>A VirtualService applies to mesh traffic when its spec.gateways is empty or names mesh.</summary>
    public static bool AppliesToMesh(VirtualService vs) => vs.Spec.Gateways.IsEmpty || vs.Spec.Gateways.Contains("mesh");

    /// <summary>VirtualServices bound to mesh with a host overlapping <paramref name="host"/>, in precedence order.</summary>
    /// <remarks>Looked up, not matched one by one: a scan of the VirtualServices with a wildcard host per service was N × N for
    /// N tenants with a VirtualService for <c>*.tenant.example.com</c> each, in the compiler and in the analyser.</remarks>
    public List<VirtualService> BoundToMesh(string host)
    {
        // The hosts covering it, and (a wildcard asked for) those it covers: Istio's Matches, either way round.
        var found = _meshHosts.Covering(host);
        if (HostName.IsWildcard(host)) found.AddRange(_meshHosts.CoveredBy(host));
        var places = new List<int>(found.Count);
        foreach (var entry in found) places.Add(_meshHosts[entry].Value);
        places.Sort();
        var result = new List<VirtualService>(places.Count);
        for (var i = 0; i < places.Count; i++)
            if (i == 0 || places[i] != places[i - 1]) result.Add(All[places[i]]);
        return result;
    }

    /// <summary>
    /// VirtualServices whose spec.gateways name one of <paramref name="gateways"/> (<c>namespace/name</c>, as
    /// <see cref="RouteCompiler.ResolveGateway"/> resolves a reference), in precedence order.
    /// </summary>
    public IEnumerable<VirtualService> BoundTo(IReadOnlyList<string> gateways) => gateways.Count == 1
        ? _byGateway.GetValueOrDefault(gateways[0]) ?? []
        : gateways.SelectMany(g => _byGateway.GetValueOrDefault(g) ?? []).Distinct(Same).OrderBy(vs => _order[vs]);
}
