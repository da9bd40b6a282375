using Akka.Actor;
using AkkaL4.Messages.Events;
using AkkaL4.Messages.Model;
using AkkaL4.Messages.Queries;
using AkkaL4.Messages.Serialization;

namespace AkkaL4.Actors.ControlPlane;

/// <summary>
/// One read of namespaces from their <see cref="RouteTable"/> entities, each at the revision (and hash) an index names:
/// what <c>GET /v1/config</c> (<see cref="ConfigReader"/>, at the writer's index) and a recovering writer (at its
/// checkpoint's index) both do. It asks, takes the answers that match and says why it has not taken the others; how often
/// to ask again and when to give up are its user's.
/// </summary>
/// <param name="names">Who names the revisions, for the reasons (<c>the checkpoint names</c>).</param>
internal sealed class RouteTableRead(IEnumerable<NamespaceRevision> wanted, string names)
{
    /// <summary>What an entity's answer did to the read.</summary>
    public enum Outcome
    {
        /// <summary>Not asked for, or already read.</summary>
        Ignored,
        Taken,
        /// <summary>Behind the revision wanted, the first time it says so: the writer may send it again at once.</summary>
        FirstBehind,
        /// <summary>Past the revision wanted: the index is out of date.</summary>
        Newer,
        /// <summary>Not taken (behind again, other content, or content that is not what its hash says): see <see cref="Waiting"/>.</summary>
        Refused,
    }

    private readonly Dictionary<string, NamespaceRevision> _wanted = wanted.ToDictionary(n => n.Namespace, StringComparer.Ordinal);
    private readonly Dictionary<string, IReadOnlyList<Resource>> _read = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _why = new(StringComparer.Ordinal);

    /// <summary>Namespaces whose last answer was other content under the revision wanted (not behind): said, never read elsewhere.</summary>
    private readonly HashSet<string> _otherContent = new(StringComparer.Ordinal);

    /// <summary>Namespaces already asked of the writer: its answer is on its way, and would be the same.</summary>
    private readonly HashSet<string> _askedWriter = new(StringComparer.Ordinal);

    public bool Done => _read.Count == _wanted.Count;

    /// <summary>What was read, namespace by namespace.</summary>
    public IEnumerable<Resource> Resources => _read.Values.SelectMany(r => r);

    /// <summary>Asks each namespace not yet read of its entity (the answers go to <paramref name="self"/>).</summary>
    public void Ask(IActorRef routeTables, IActorRef self)
    {
        foreach (var ns in _wanted.Keys.Where(ns => !_read.ContainsKey(ns))) routeTables.Tell(new ReadNamespace(ns), self);
    }

    /// <summary>
    /// Asks <paramref name="writer"/> for each namespace not yet read whose entity is behind or silent (not one that holds
    /// other content under the revision: that is a fault to say, not to read around), once each unless <paramref name="again"/>.
    /// </summary>
    /// <param name="only">Which of them (all when not given).</param>
    /// <param name="again">Those asked before too: that ask may have been lost.</param>
    public void AskWriter(IActorRef writer, IActorRef self, Func<string, bool>? only = null, bool again = false)
    {
        foreach (var ns in Unread().Where(ns => only is null || only(ns)).ToList())
            if (_askedWriter.Add(ns) || again) writer.Tell(new ReadNamespace(ns), self);
    }

    public Outcome Take(NamespaceContent content)
    {
        if (!_wanted.TryGetValue(content.Namespace, out var want) || _read.ContainsKey(content.Namespace)) return Outcome.Ignored;
        var first = !_why.ContainsKey(content.Namespace);
        if (Mismatch(content, want) is { } mismatch)
        {
            _why[content.Namespace] = mismatch;
            if (content.Revision == want.Revision) _otherContent.Add(content.Namespace);
            else _otherContent.Remove(content.Namespace);
            if (content.Revision > want.Revision) return Outcome.Newer;
            return first && content.Revision < want.Revision ? Outcome.FirstBehind : Outcome.Refused;
        }
        _read[content.Namespace] = content.Resources;
        return Outcome.Taken;
    }

    /// <summary>The namespaces not read yet, but for those whose entity holds other content under the revision.</summary>
    public IEnumerable<string> Unread() => _wanted.Keys.Where(ns => !_read.ContainsKey(ns) && !_otherContent.Contains(ns));

    /// <summary>The namespaces not read yet, each with why (the first five, then how many more).</summary>
    public string Waiting()
    {
        var missing = _wanted.Keys.Where(ns => !_read.ContainsKey(ns)).Order(StringComparer.Ordinal).ToList();
        return string.Join(", ", missing.Take(5).Select(ns => $"namespace {ns} ({_why.GetValueOrDefault(ns, "its route table did not answer; its node may be unreachable")})"))
               + (missing.Count > 5 ? $" and {missing.Count - 5} more" : "");
    }

    /// <summary>
    /// Null when <paramref name="content"/> is the namespace as <paramref name="want"/> names it: that revision, that hash
    /// (when the index has one: checkpoints of earlier versions do not), and content that is what its hash says. Else why
    /// not. Two contents under one revision (which no writer gives, but a lost journal or a second writer could leave)
    /// are told apart here and never taken for each other.
    /// </summary>
    private string? Mismatch(NamespaceContent content, NamespaceRevision want)
    {
        if (content.Revision != want.Revision) return $"its route table holds revision {content.Revision}, {names} {want.Revision}";
        // A large answer's resources are decoded here, on first read, not in remoting's reader (ProtocolSerializer).
        try
        {
            _ = content.Resources.Count;
        }
        catch (System.Runtime.Serialization.SerializationException e)
        {
            return $"its route table's revision {content.Revision} does not decode here ({e.Message})";
        }
        if (want.Hash is { } hash && ModelJson.Differ(content.Hash, hash))
            return $"its route table holds revision {content.Revision} with other content (hash {content.Hash}, {names} {hash})";
        // Only a hash of this version can be made again here; one of another version (an upgrade) is trusted by its revision.
        return ModelJson.VersionOf(content.Hash) switch
        {
            null => $"its route table's revision {content.Revision} does not read back (it could not read its journal)",
            ModelJson.HashVersion when ModelJson.Hash(content.Resources) != content.Hash =>
                $"its route table's revision {content.Revision} does not read back (its content is not what its hash says)",
            _ => null,
        };
    }
}
