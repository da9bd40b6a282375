using AkkaL4.Messages.Events;
using AkkaL4.Messages.Queries;
using AkkaL4.Messages.Serialization;

namespace AkkaL4.Actors.ControlPlane;

/// <summary>Reading namespaces from their <see cref="RouteTable"/> entities at the revisions (and hashes) an index names.</summary>
internal static class RouteTableRead
{
    /// <summary>
    /// Null when <paramref name="content"/> is the namespace as <paramref name="wanted"/> names it: that revision, that
    /// hash (when the index has one: checkpoints of earlier versions do not), and content that is what its hash says.
    /// Else why not, for the reader's message. Two contents under one revision (which no writer gives, but a lost
    /// journal or a second writer could leave) are told apart here and never taken for each other.
    /// </summary>
    public static string? Mismatch(NamespaceContent content, NamespaceRevision wanted, string names)
    {
        if (content.Revision != wanted.Revision) return $"its route table holds revision {content.Revision}, {names} {wanted.Revision}";
        if (wanted.Hash is { } hash && content.Hash != hash)
            return $"its route table holds revision {content.Revision} with other content (hash {content.Hash}, {names} {hash})";
        return ModelJson.Hash(content.Resources) == content.Hash ? null : $"its route table's revision {content.Revision} does not read back (its content is not what its hash says)";
    }
}
