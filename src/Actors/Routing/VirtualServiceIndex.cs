using AkkaL4.Messages.Model;

namespace AkkaL4.Actors.Routing;

/// <summary>
/// VirtualServices by the hosts they name, kept in the precedence order they were given: an exact host is one
/// dictionary lookup, and only VirtualServices with a wildcard host are matched one by one. The route compiler and the
/// analyser both ask it for a service's VirtualServices, over every service of a configuration.
/// </summary>
public sealed class VirtualServiceIndex
{
    private static readonly IEqualityComparer<VirtualService> Same = ReferenceEqualityComparer.Instance;
    private readonly Dictionary<string, List<VirtualService>> _byHost = new(StringComparer.Ordinal);
    private readonly List<VirtualService> _withWildcards = [];
    private readonly Dictionary<VirtualService, int> _order = new(Same);

    /// <param name="ordered">VirtualServices in precedence order (<see cref="Precedence.Order"/>).</param>
    public VirtualServiceIndex(IReadOnlyList<VirtualService> ordered)
    {
        All = ordered;
        foreach (var vs in ordered)
        {
            _order[vs] = _order.Count;
            foreach (var host in vs.Spec.Hosts.Select(h => HostName.Expand(h, vs.Metadata.Namespace)).Distinct())
            {
                if (HostName.IsWildcard(host)) { if (!_withWildcards.Contains(vs, Same)) _withWildcards.Add(vs); }
                else if (_byHost.TryGetValue(host, out var list)) list.Add(vs);
                else _byHost[host] = [vs];
            }
        }
    }

    /// <summary>Every VirtualService, in precedence order.</summary>
    public IReadOnlyList<VirtualService> All { get; }

    /// <summary>VirtualServices with a host overlapping <paramref name="host"/>, in precedence order.</summary>
    public IEnumerable<VirtualService> For(string host)
    {
        if (HostName.IsWildcard(host)) return All.Where(vs => Names(vs, host));
        var exact = _byHost.GetValueOrDefault(host) ?? [];
        return exact.Union(_withWildcards.Where(vs => Names(vs, host)), Same).OrderBy(vs => _order[vs]);
    }

    private static bool Names(VirtualService vs, string host) =>
        vs.Spec.Hosts.Any(h => HostName.Matches(HostName.Expand(h, vs.Metadata.Namespace), host));
}
