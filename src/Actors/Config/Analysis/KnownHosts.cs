using AkkaL4.Actors.Routing;
using AkkaL4.Messages.Model;

namespace AkkaL4.Actors.Config.Analysis;

/// <summary>
/// Every service host a route can name (Services as FQDNs, ServiceEntry hosts as written), for the analyser's questions about
/// each host and destination of every VirtualService and DestinationRule: does it mean a service, and if not, which one was
/// probably meant. Both are lookups: asked of every host, 5,000 Services with their VirtualServices and DestinationRules
/// were 25 million comparisons per write.
/// </summary>
internal sealed class KnownHosts
{
    private readonly IReadOnlyList<string> _hosts;
    private readonly HostPatterns<int> _index;
    private (string Host, int Index)[]? _sorted;
    private Dictionary<string, int>? _byShortName;
    private readonly Dictionary<string, string?> _near = new(StringComparer.Ordinal);
    private int _suggestVisits;

    public KnownHosts(IEnumerable<Resource> resources)
    {
        _hosts = resources.SelectMany(r => r switch
        {
            Service svc => [HostName.Expand(svc.Metadata.Name, svc.Metadata.Namespace)],
            ServiceEntry se => se.Spec.Hosts.AsEnumerable(),
            _ => [],
        }).Distinct().ToList();
        _index = new HostPatterns<int>(_hosts.Select((h, i) => (h, i)));
    }

    /// <summary>How many known hosts the questions so far looked at: the work a test counts.</summary>
    public int Visits => _index.Visits + _suggestVisits;

    /// <summary>Some known host overlaps <paramref name="host"/> (<see cref="HostName.Matches"/>): a service it can mean.</summary>
    public bool Means(string host) => _index.AnyOverlapping(host);

    /// <summary>"did you mean" for a host (expanded): the first known host that starts with its short name, or whose short
    /// name its short name starts with.</summary>
    public string Suggest(string expanded)
    {
        // Typically one case file validated without the world it routes in (validate -f 02-port.yaml).
        if (_hosts.Count == 0) return " (no Service or ServiceEntry is in this configuration: give the manifests that define them with it)";
        var first = expanded.Split('.')[0];
        if (!_near.TryGetValue(first, out var near)) _near[first] = near = Near(first);
        return near is null ? "" : $" (did you mean '{near}'?)";
    }

    /// <summary>
    /// The first host, in the order given, that starts with <paramref name="first"/> (a range of the hosts sorted) or whose
    /// short name <paramref name="first"/> starts with (one look-up per prefix). Asked once per short name: each host is in
    /// the range of at most as many short names as it has characters.
    /// </summary>
    private string? Near(string first)
    {
        _sorted ??= _hosts.Select((h, i) => (h, i)).OrderBy(x => x.h, StringComparer.Ordinal).ToArray();
        _byShortName ??= _hosts.Select((h, i) => (Short: h.Split('.')[0], i)).GroupBy(x => x.Short, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Min(x => x.i), StringComparer.Ordinal);
        var best = int.MaxValue;
        var lo = 0;
        var hi = _sorted.Length;
        while (lo < hi)
        {
            var mid = (lo + hi) / 2;
            if (string.CompareOrdinal(_sorted[mid].Host, first) < 0) lo = mid + 1;
            else hi = mid;
        }
        for (var i = lo; i < _sorted.Length && _sorted[i].Host.StartsWith(first, StringComparison.Ordinal); i++)
        {
            _suggestVisits++;
            best = Math.Min(best, _sorted[i].Index);
        }
        for (var length = 0; length <= first.Length; length++)
        {
            _suggestVisits++;
            if (_byShortName.TryGetValue(first[..length], out var i)) best = Math.Min(best, i);
        }
        return best == int.MaxValue ? null : _hosts[best];
    }
}
