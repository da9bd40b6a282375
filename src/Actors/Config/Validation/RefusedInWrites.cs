using AkkaL4.Actors.DataPlane;
using AkkaL4.Messages.Model;

namespace AkkaL4.Actors.Config.Validation;

/// <summary>
/// What the config writer refuses in a write but a stored revision keeps: TLS files outside the roots (sec15) and addresses
/// a person reads as one IP and the node as another (sec18). Refused for what a write brings only (<see cref="InWrite"/>),
/// so that revisions stored before still load; such a revision is put in force with a note for each finding
/// (<see cref="Notes"/>), in the node's log and /v1/status, once when it is applied, not first at a connection.
/// </summary>
internal static class RefusedInWrites
{
    /// <summary>One kind of finding: how it is found, what its note adds, and the line for those past <see cref="MaxNoted"/>.</summary>
    private sealed record Kind(
        Func<IEnumerable<Resource>, IReadOnlyList<string>, List<Diagnostic>> Find, string InForce, Func<int, string> More);

    private static readonly Kind[] Kinds =
    [
        new((resources, roots) => DestinationRuleValidator.FilesOutside(resources, roots),
            "; its connections are refused (NC) until then, the rest of the configuration routes",
            more => $"and {more} more TLS file(s) outside {TlsFileRoots.Key}"),
        new((resources, _) => MisreadAddresses.InWrite(resources),
            " (stored before the config writer refused such addresses: in force as the node reads it)",
            more => $"and {more} more address(es) not written as they are read"),
    ];

    /// <summary>Notes a revision carries of each kind, at most this many (the status page polls them every second).</summary>
    private const int MaxNoted = 20;

    /// <summary>
    /// The config writer's check of <paramref name="resources"/> (a write) against <paramref name="roots"/>: the errors of
    /// the first kind that has any, none when the write may be stored.
    /// </summary>
    public static List<Diagnostic> InWrite(IEnumerable<Resource> resources, IReadOnlyList<string> roots)
    {
        foreach (var kind in Kinds)
            if (kind.Find(resources, roots) is { Count: > 0 } errors) return errors;
        return [];
    }

    /// <summary>
    /// The notes for a stored revision of <paramref name="resources"/> on a node reading TLS files under
    /// <paramref name="roots"/>: it loads and routes as it did (by the address the parser reads; a rule's files outside the
    /// roots refuse its connections), and the node says so when it puts the revision in force.
    /// </summary>
    public static List<string> Notes(IEnumerable<Resource> resources, IReadOnlyList<string> roots)
    {
        var notes = new List<string>();
        foreach (var kind in Kinds)
        {
            var found = kind.Find(resources, roots);
            notes.AddRange(found.Take(MaxNoted).Select(d => $"{d.Resource} {d.Field}: {d.Message}{kind.InForce}"));
            if (found.Count > MaxNoted) notes.Add(kind.More(found.Count - MaxNoted));
        }
        return notes;
    }
}
