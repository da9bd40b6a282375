using AkkaL4.Actors.Config.Analysis;
using AkkaL4.Actors.Config.Validation;
using AkkaL4.Actors.Routing;
using AkkaL4.Messages.Commands;
using AkkaL4.Messages.Events;
using AkkaL4.Messages.Model;

namespace AkkaL4.Actors.ControlPlane;

/// <summary>
/// The stored configuration and its revision: applies a batch (all or nothing, validated against the
/// whole resulting set), deletes, and answers reads. Each resource's <c>metadata.resourceVersion</c>
/// is the revision that last changed it; a write that names a stale one is a conflict. Pure state,
/// owned by one actor.
/// </summary>
public sealed class ConfigStore
{
    private readonly Dictionary<ResourceKey, Resource> _resources = new();

    /// <summary>
    /// Each namespace's resources in <see cref="Read"/>'s order, made when first read and kept until the namespace changes:
    /// the same list for every revision that leaves it as it is (what is made of it, its encoding, is made once).
    /// </summary>
    private readonly Dictionary<string, IReadOnlyList<Resource>> _namespaces = new(StringComparer.Ordinal);

    /// <summary>
    /// The warnings of the stored configuration (validation's and analysis'), as the write that made it found them, to tell
    /// the next write's new ones apart; null until first needed in a store made from a configuration.
    /// </summary>
    private IReadOnlyList<Diagnostic>? _warnings;

    public long Revision { get; private set; }
    public IReadOnlyCollection<Resource> Resources => _resources.Values;

    public ConfigStore(long revision = 0, IEnumerable<Resource>? resources = null)
    {
        Revision = revision;
        foreach (var r in resources ?? []) _resources[r.Key] = r;
    }

    /// <summary>A copy (to put back if what is applied to this one cannot be journaled), its namespaces' lists the same objects.</summary>
    public ConfigStore Copy()
    {
        var copy = new ConfigStore(Revision, _resources.Values);
        copy._warnings = _warnings;
        foreach (var (ns, list) in _namespaces) copy._namespaces[ns] = list;
        return copy;
    }

    /// <summary>Checks <paramref name="batch"/> against the stored configuration and, unless <paramref name="dryRun"/>, commits it.</summary>
    public object Apply(IReadOnlyList<Resource> batch, DateTimeOffset now, bool dryRun = false)
    {
        var errors = new List<Diagnostic>();
        foreach (var group in batch.GroupBy(r => r.Key).Where(g => g.Count() > 1))
            errors.Add(Diagnostic.Error(group.Key.ToString(), "metadata.name", "appears more than once in this batch"));
        var conflicts = batch.Where(r => r.Metadata.ResourceVersion is { } v && _resources.TryGetValue(r.Key, out var stored)
                                         && stored.Metadata.ResourceVersion != v).ToList();
        foreach (var r in conflicts)
            errors.Add(Diagnostic.Error(r.Key.ToString(), "metadata.resourceVersion",
                $"resourceVersion {r.Metadata.ResourceVersion} is stale: the stored one is {_resources[r.Key].Metadata.ResourceVersion}; read it again and retry"));
        if (errors.Count > 0) return new ConfigRejected(errors, Conflict: conflicts.Count > 0);

        var next = Revision + 1;
        var changes = new List<ResourceChange>();
        var merged = new Dictionary<ResourceKey, Resource>(_resources);
        foreach (var incoming in batch)
        {
            _resources.TryGetValue(incoming.Key, out var stored);
            if (stored is not null && SameContent(stored, incoming))
            {
                changes.Add(new ResourceChange(incoming.Key, ChangeAction.Unchanged));
                continue;
            }
            merged[incoming.Key] = incoming with
            {
                Metadata = incoming.Metadata with
                {
                    ResourceVersion = next.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    CreationTimestamp = stored?.Metadata.CreationTimestamp ?? incoming.Metadata.CreationTimestamp ?? now.ToUniversalTime().ToString("yyyy-MM-ddTHH:mm:ssZ"),
                },
            };
            changes.Add(new ResourceChange(incoming.Key, stored is null ? ChangeAction.Created : ChangeAction.Updated));
        }

        return Checked(merged, changes, next, dryRun);
    }

    public object Delete(ResourceKey key) => Delete([key]);

    /// <summary>
    /// Deletes every one of <paramref name="keys"/> in one revision, all or nothing: none is deleted when one is not stored
    /// (<see cref="ConfigRejected.NotFound"/>, each named), is named twice, or when what is left would be refused as an
    /// <see cref="Apply"/> would be.
    /// </summary>
    public object Delete(IReadOnlyList<ResourceKey> keys)
    {
        var errors = keys.GroupBy(k => k).Where(g => g.Count() > 1)
            .Select(g => Diagnostic.Error(g.Key.ToString(), "metadata.name", "appears more than once in this batch")).ToList();
        if (errors.Count > 0) return new ConfigRejected(errors);
        var missing = keys.Where(k => !_resources.ContainsKey(k)).ToList();
        if (missing.Count > 0)
            return new ConfigRejected(missing.Select(k => Diagnostic.Error(k.ToString(), "", keys.Count == 1 ? "not found" : "not found; nothing was deleted")).ToList(),
                NotFound: true);
        var merged = new Dictionary<ResourceKey, Resource>(_resources);
        foreach (var key in keys) merged.Remove(key);
        return Checked(merged, keys.Select(k => new ResourceChange(k, ChangeAction.Deleted)).ToList(), Revision + 1, dryRun: false);
    }

    /// <summary>
    /// What a write leaves (<paramref name="merged"/>), checked as a whole, and committed as <paramref name="next"/> when it
    /// changes anything and is no dry run: refused when not valid, or when a node's compiler would refuse it.
    /// </summary>
    private object Checked(Dictionary<ResourceKey, Resource> merged, List<ResourceChange> changes, long next, bool dryRun)
    {
        var findings = ConfigValidator.Validate(merged.Values.ToList());
        if (findings.Any(d => d.Severity == Severity.Error)) return new ConfigRejected(findings.Where(d => d.Severity == Severity.Error).ToList());
        // Only what every node can compile is journaled: the same compiler, every Gateway served.
        var refused = RouteCompiler.Check(merged.Values);
        if (refused.Count > 0) return new ConfigRejected(refused);
        var warnings = findings.Concat(ConfigAnalyzer.Analyze(merged.Values)).ToList();
        var brought = Brought(_warnings ??= WarningsOf(_resources.Values), warnings);
        if (dryRun || changes.All(c => c.Action == ChangeAction.Unchanged)) return new ConfigAccepted(Revision, changes, warnings, brought);

        Commit(merged, next);
        _warnings = warnings;
        return new ConfigAccepted(Revision, changes, warnings, brought);
    }

    private static List<Diagnostic> WarningsOf(IReadOnlyCollection<Resource> resources) =>
        ConfigValidator.Validate(resources.ToList()).Where(d => d.Severity == Severity.Warning).Concat(ConfigAnalyzer.Analyze(resources)).ToList();

    /// <summary>
    /// For each of <paramref name="after"/>: true when <paramref name="before"/> did not have it (by resource, field and
    /// message; one warning twice is two).
    /// </summary>
    private static List<bool> Brought(IReadOnlyList<Diagnostic> before, IReadOnlyList<Diagnostic> after)
    {
        var left = before.GroupBy(d => (d.Resource, d.Field, d.Message)).ToDictionary(g => g.Key, g => g.Count());
        return after.Select(d =>
        {
            var key = (d.Resource, d.Field, d.Message);
            if (!left.TryGetValue(key, out var n) || n == 0) return true;
            left[key] = n - 1;
            return false;
        }).ToList();
    }

    public ConfigContent Read(string? kind, string? ns) => kind is null && ns is not null
        ? new(Revision, Namespace(ns))
        : new(Revision, Ordered(_resources.Values.Where(r => (kind is null || string.Equals(r.Kind, kind, StringComparison.OrdinalIgnoreCase)) && (ns is null || r.Metadata.Namespace == ns))));

    /// <summary>The whole configuration as its namespaces' lists (<see cref="NamespacedResources"/>), each kept while it does not change.</summary>
    public ConfigContent ReadByNamespace() => new(Revision, new NamespacedResources(_resources.Values.Select(r => r.Metadata.Namespace)
        .Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).Select(ns => new NamespaceResources(ns, Namespace(ns))).ToList()));

    private IReadOnlyList<Resource> Namespace(string ns)
    {
        if (_namespaces.TryGetValue(ns, out var list)) return list;
        list = Ordered(_resources.Values.Where(r => r.Metadata.Namespace == ns));
        // A namespace without resources (one just emptied, read for its entity) is not kept: nothing would remove it.
        if (list.Count > 0) _namespaces[ns] = list;
        return list;
    }

    private static List<Resource> Ordered(IEnumerable<Resource> resources) => resources
        .OrderBy(r => r.Kind, StringComparer.Ordinal).ThenBy(r => r.Metadata.Namespace, StringComparer.Ordinal).ThenBy(r => r.Metadata.Name, StringComparer.Ordinal)
        .ToList();

    private void Commit(Dictionary<ResourceKey, Resource> merged, long revision)
    {
        // The namespaces whose content changes: a resource added, replaced or removed.
        foreach (var (k, v) in merged)
            if (!_resources.TryGetValue(k, out var old) || !ReferenceEquals(old, v)) _namespaces.Remove(k.Namespace);
        foreach (var k in _resources.Keys.Where(k => !merged.ContainsKey(k))) _namespaces.Remove(k.Namespace);
        _resources.Clear();
        foreach (var (k, v) in merged) _resources[k] = v;
        Revision = revision;
    }

    /// <summary>Equal apart from the bookkeeping fields the store sets itself.</summary>
    private static bool SameContent(Resource stored, Resource incoming) =>
        stored with { Metadata = stored.Metadata with { ResourceVersion = null, CreationTimestamp = null, Uid = null, Generation = null } }
        == incoming with { Metadata = incoming.Metadata with { ResourceVersion = null, CreationTimestamp = null, Uid = null, Generation = null } };
}
