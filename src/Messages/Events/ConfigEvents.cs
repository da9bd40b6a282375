using AkkaL4.Messages.Protocol;

namespace AkkaL4.Messages.Events;

/// <summary>An event the config writer journals; configurations in them are manifests (YAML), the form every reader decodes.</summary>
public interface IConfigEvent : IClusterMessage
{
    long Revision { get; }
}

/// <summary>One namespace's whole content (manifests; empty when its last resource went).</summary>
public sealed record NamespaceManifests(string Namespace, string Manifests);

/// <summary>
/// A batch, journaled before anything else happens to it (write-ahead): the revision and the whole new content of each
/// namespace it changed. A writer that crashes after journaling it leaves its replication to its successor.
/// </summary>
public sealed record BatchCommitted(long Revision, IReadOnlyList<NamespaceManifests> Namespaces) : IConfigEvent;

/// <summary>
/// The whole configuration at a revision (revision header and manifests, as <c>LastKnownGood.Format</c> writes it): the
/// writer's snapshot, and its event when it starts from a newer configuration than its journal holds. Journals written
/// before <see cref="BatchCommitted"/> existed hold one per revision.
/// </summary>
public sealed record ConfigCommitted(long Revision, string Manifests) : IConfigEvent;
