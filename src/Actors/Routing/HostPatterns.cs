namespace AkkaL4.Actors.Routing;

/// <summary>
/// Host names and wildcard patterns (Service FQDNs, ServiceEntry hosts, DestinationRule hosts), each with a value, found by
/// the relation <see cref="HostName.Covers"/> decides instead of compared one by one: a name is covered only by <c>*</c>,
/// itself and <c>*.SUFFIX</c> for each of its dot-suffixes (a few lookups), and a pattern <c>*.SUFFIX</c> covers the hosts
/// filed under that suffix. The analyser asks for every host and destination of every VirtualService and DestinationRule,
/// and the compiler for every AUTO_PASSTHROUGH server's hosts, on every write: a scan of every host per question made
/// 10,000 Services with their VirtualServices and DestinationRules cost seconds per write.
/// </summary>
internal sealed class HostPatterns<T>
{
    private readonly List<(string Host, T Value)> _entries = [];
    private readonly Dictionary<string, List<int>> _exact = new(StringComparer.Ordinal);
    private readonly List<int> _star = [];
    // Some host starts with '*': only then can a name's suffixes find a pattern (most sets of names have none).
    private bool _wildcards;
    // ".b.c" → the entries whose host ends with it after a first character ("a.b.c", "*.b.c"): what *.b.c covers. Built at
    // the first wildcard question (host checks of a mesh without wildcards never need it).
    private Dictionary<string, List<int>>? _bySuffix;

    public HostPatterns(IEnumerable<(string Host, T Value)> entries)
    {
        foreach (var (host, value) in entries)
        {
            var i = _entries.Count;
            _entries.Add((host, value));
            if (host == "*") _star.Add(i);
            if (host.StartsWith('*')) _wildcards = true;
            if (_exact.TryGetValue(host, out var same)) same.Add(i);
            else _exact[host] = [i];
        }
    }

    public int Count => _entries.Count;

    /// <summary>How many entries the questions so far looked at: the work a test counts.</summary>
    public int Visits { get; private set; }

    public (string Host, T Value) this[int index] => _entries[index];

    /// <summary>The entries whose host covers <paramref name="name"/> (<c>Covers(host, name)</c>), in the order given.</summary>
    public List<int> Covering(string name)
    {
        var found = new List<int>(_star);
        if (name != "*" && _exact.TryGetValue(name, out var same)) found.AddRange(same);
        if (!_wildcards) return Ordered(found);
        foreach (var p in Dots(name))
            if (_exact.TryGetValue(string.Concat("*", name.AsSpan(p)), out var wildcards)) found.AddRange(wildcards);
        return Ordered(found);
    }

    /// <summary>The entries whose host <paramref name="pattern"/> covers (<c>Covers(pattern, host)</c>), in the order given.</summary>
    public List<int> CoveredBy(string pattern)
    {
        if (pattern == "*")
        {
            Visits += _entries.Count;
            return Enumerable.Range(0, _entries.Count).ToList();
        }
        if (!pattern.StartsWith("*.", StringComparison.Ordinal)) return Ordered(_exact.TryGetValue(pattern, out var same) ? [.. same] : []);
        return Ordered(BySuffix().TryGetValue(pattern[1..], out var under) ? [.. under] : []);
    }

    /// <summary>Some entry's host overlaps <paramref name="name"/> (<see cref="HostName.Matches"/>): a service it can mean.</summary>
    public bool AnyOverlapping(string name)
    {
        if (name == "*") return _entries.Count > 0;
        return Covering(name).Count > 0 || CoveredBy(name).Count > 0;
    }

    /// <summary>Sorted by the order given, each once (a pattern asked for is found as itself and as its own suffix).</summary>
    private List<int> Ordered(List<int> found)
    {
        if (found.Count > 1)
        {
            found.Sort();
            var kept = 1;
            for (var i = 1; i < found.Count; i++)
                if (found[i] != found[kept - 1]) found[kept++] = found[i];
            found.RemoveRange(kept, found.Count - kept);
        }
        Visits += found.Count;
        return found;
    }

    /// <summary>The positions of the dots after the first character: where the suffixes a <c>*.</c> pattern can name start.</summary>
    private static IEnumerable<int> Dots(string host)
    {
        for (var p = host.Length > 1 ? host.IndexOf('.', 1) : -1; p > 0; p = host.IndexOf('.', p + 1))
            yield return p;
    }

    private Dictionary<string, List<int>> BySuffix()
    {
        if (_bySuffix is not null) return _bySuffix;
        _bySuffix = new Dictionary<string, List<int>>(StringComparer.Ordinal);
        for (var i = 0; i < _entries.Count; i++)
        {
            var host = _entries[i].Host;
            foreach (var p in Dots(host))
            {
                var suffix = host[p..];
                if (_bySuffix.TryGetValue(suffix, out var list)) list.Add(i);
                else _bySuffix[suffix] = [i];
            }
        }
        return _bySuffix;
    }
}
