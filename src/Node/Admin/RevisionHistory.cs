using AkkaL4.Actors;
using AkkaL4.Messages.Model;

namespace AkkaL4.Node.Admin;

/// <summary>
/// The last configuration revisions this node put in force and what each changed (created, updated, deleted
/// resources), found by comparing each applied configuration with the one before it. Watches the node, so it
/// sees every revision applied while the admin API runs; several applied at once read as one step.
/// </summary>
internal sealed class RevisionHistory : IDisposable
{
    public const int Kept = 20;

    /// <summary>Changes kept per revision (the rest counted in <see cref="Entry.ChangesOmitted"/>): the status page polls them every second.</summary>
    public const int MaxChangesShown = 100;

    public sealed record Change(string Kind, string Namespace, string Name, string Action);
    public sealed record Entry(long Revision, DateTimeOffset Seen, int Resources, IReadOnlyList<Change> Changes, int ChangesOmitted);

    private readonly RouterNode _node;
    private readonly Timer _timer;
    private readonly LinkedList<Entry> _entries = new();
    private Dictionary<ResourceKey, string?>? _previous;
    private long _revision = -1;

    public RevisionHistory(RouterNode node)
    {
        _node = node;
        Observe();
        _timer = new Timer(_ => Observe(), null, TimeSpan.FromMilliseconds(250), TimeSpan.FromMilliseconds(250));
    }

    /// <summary>Newest first.</summary>
    public IReadOnlyList<Entry> Entries
    {
        get { lock (_entries) return _entries.ToList(); }
    }

    private void Observe()
    {
        var applied = _node.Applied;
        if (applied is null) return;
        lock (_entries)
        {
            if (applied.Revision == _revision) return;
            // resourceVersion changes with every write of a resource; it is what "updated" means.
            var current = applied.Resources.ToDictionary(r => r.Key, r => r.Metadata.ResourceVersion);
            var changes = new List<Change>();
            if (_previous is not null)
            {
                foreach (var (key, version) in current)
                {
                    if (!_previous.TryGetValue(key, out var before)) changes.Add(Of(key, "created"));
                    else if (before != version) changes.Add(Of(key, "updated"));
                }
                changes.AddRange(_previous.Keys.Where(k => !current.ContainsKey(k)).Select(k => Of(k, "deleted")));
            }
            _entries.AddFirst(Capped(applied.Revision, DateTimeOffset.UtcNow, current.Count, changes));
            if (_entries.Count > Kept) _entries.RemoveLast();
            _previous = current;
            _revision = applied.Revision;
        }
    }

    /// <summary>An entry with the first <see cref="MaxChangesShown"/> of <paramref name="changes"/> and the count of the rest.</summary>
    internal static Entry Capped(long revision, DateTimeOffset seen, int resources, IReadOnlyList<Change> changes) =>
        new(revision, seen, resources, changes.Take(MaxChangesShown).ToList(), Math.Max(0, changes.Count - MaxChangesShown));

    private static Change Of(ResourceKey key, string action) => new(key.Kind, key.Namespace, key.Name, action);

    public void Dispose() => _timer.Dispose();
}
