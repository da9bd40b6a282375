using AkkaL4.Messages.Protocol;

namespace AkkaL4.Messages.Events;

/// <summary>
/// An event (or snapshot) the control plane journals: the config writer's and the RouteTable entities'. Configurations in
/// them are manifests (YAML), the form every reader decodes.
/// </summary>
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

/// <summary>The revision at which a namespace last changed (its RouteTable entity holds the namespace as of it).</summary>
public sealed record NamespaceRevision(string Namespace, long Revision);

/// <summary>
/// The config writer's snapshot, after which its journal before it is deleted: the revision and, for each namespace with
/// resources, the revision it last changed at. Without <see cref="Manifests"/> (a journal shared by every host, every
/// entity having confirmed what it was sent) the configuration itself is in the entities. With it (the whole
/// configuration, as <c>LastKnownGood.Format</c> writes it: a per-host journal, where an entity's confirmation is not
/// durable cluster-wide, or entities that have not confirmed for many batches) recovery needs no entity, and
/// <see cref="Unconfirmed"/> names the namespaces still to be sent to theirs.
/// </summary>
public sealed record WriterCheckpoint(long Revision, IReadOnlyList<NamespaceRevision> Namespaces, string? Manifests = null,
    IReadOnlyList<string>? Unconfirmed = null) : IConfigEvent;

/// <summary>A RouteTable entity's event (and snapshot): its namespace's whole content as of <see cref="Revision"/>.</summary>
public sealed record NamespaceWritten(long Revision, string Namespace, string Manifests) : IConfigEvent;
