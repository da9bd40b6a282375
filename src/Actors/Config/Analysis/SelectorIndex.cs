using AkkaL4.Messages.Model;

namespace AkkaL4.Actors.Config.Analysis;

/// <summary>
/// The distinct Gateway selectors of one listener, filed by their set of label keys, to answer two questions about a node
/// that serves selector S (its labels include S's) without comparing S with every other selector:
/// <list type="bullet">
/// <item><see cref="Within"/>: the selectors every such node serves too (their labels are all in S): per key set K within S's
/// keys, S's labels on K name at most one;</item>
/// <item><see cref="Compatible"/>: the selectors SOME such node serves too (no label key on which they and S differ): per key
/// set K, those whose labels on the keys K shares with S are S's.</item>
/// </list>
/// A listener of N tenant Gateways, each with its own selector (<c>istio: ingress, tenant: t-i</c>), has one key set: each
/// question is a lookup or two, where comparing every pair of selectors was N × N per write.
/// </summary>
internal sealed class SelectorIndex
{
    private readonly List<Labels> _selectors = [];
    private readonly Dictionary<Labels, int> _ids = [];
    // Key sets (sorted keys joined by '\n', which no label key holds), each with its selectors by their labels.
    private readonly Dictionary<string, (string[] Keys, Dictionary<Labels, int> ByLabels)> _byKeys = new(StringComparer.Ordinal);
    // Per key set and the keys it shares with a question: its selectors by their labels on those keys.
    private readonly Dictionary<(string KeySet, string Shared), Dictionary<Labels, List<int>>> _byShared = [];

    /// <summary>How many key sets and selectors the questions so far looked at: the work a test counts.</summary>
    public int Visits { get; private set; }

    public IReadOnlyList<Labels> Selectors => _selectors;

    /// <summary>The id of <paramref name="selector"/>, added if new (ids are given in the order first seen).</summary>
    public int Add(Labels selector)
    {
        if (_ids.TryGetValue(selector, out var id)) return id;
        _ids[selector] = id = _selectors.Count;
        _selectors.Add(selector);
        var keys = selector.Keys.Order(StringComparer.Ordinal).ToArray();
        var name = string.Join('\n', keys);
        if (!_byKeys.TryGetValue(name, out var set)) _byKeys[name] = set = (keys, []);
        set.ByLabels[selector] = id;
        return id;
    }

    /// <summary>The ids of the selectors within <paramref name="selector"/> (itself included when added), ascending.</summary>
    public List<int> Within(Labels selector)
    {
        var found = new List<int>();
        foreach (var (keys, byLabels) in KeySetsWithin(selector))
            if (byLabels.TryGetValue(Project(selector, keys), out var id)) found.Add(id);
        found.Sort();
        return found;
    }

    /// <summary>
    /// The first <paramref name="limit"/> ids, ascending, of the selectors a node serving <paramref name="selector"/> may serve
    /// too (no label key on which they differ from it).
    /// </summary>
    public List<int> Compatible(Labels selector, int limit)
    {
        var found = new List<int>();
        foreach (var (name, (keys, byLabels)) in _byKeys)
        {
            Visits++;
            var shared = keys.Where(selector.ContainsKey).ToArray();
            if (shared.Length == 0)
            {
                // Ids are filed in the order added: the first ones are the smallest.
                found.AddRange(byLabels.Values.Take(limit));
                continue;
            }
            var key = (name, string.Join('\n', shared));
            if (!_byShared.TryGetValue(key, out var byShared))
            {
                _byShared[key] = byShared = [];
                foreach (var (labels, id) in byLabels)
                {
                    var on = Project(labels, shared);
                    if (byShared.TryGetValue(on, out var ids)) ids.Add(id);
                    else byShared[on] = [id];
                }
            }
            if (byShared.TryGetValue(Project(selector, shared), out var same)) found.AddRange(same.Take(limit));
        }
        found.Sort();
        if (found.Count > limit) found.RemoveRange(limit, found.Count - limit);
        Visits += found.Count;
        return found;
    }

    /// <summary>
    /// The key sets that are subsets of <paramref name="selector"/>'s keys: those filed, checked one by one, or, when there are
    /// more of them than subsets of its keys, each subset looked up.
    /// </summary>
    private IEnumerable<(string[] Keys, Dictionary<Labels, int> ByLabels)> KeySetsWithin(Labels selector)
    {
        var keys = selector.Keys.Order(StringComparer.Ordinal).ToArray();
        if (keys.Length >= 30 || _byKeys.Count <= 1 << keys.Length)
        {
            foreach (var set in _byKeys.Values)
            {
                Visits++;
                if (set.Keys.All(selector.ContainsKey)) yield return set;
            }
            yield break;
        }
        for (var mask = 0; mask < 1 << keys.Length; mask++)
        {
            Visits++;
            var subset = keys.Where((_, i) => (mask & (1 << i)) != 0);
            if (_byKeys.TryGetValue(string.Join('\n', subset), out var set)) yield return set;
        }
    }

    private static Labels Project(Labels labels, string[] keys) =>
        keys.Length == labels.Count ? labels : new Labels(keys.Select(k => new KeyValuePair<string, string>(k, labels[k])));
}
