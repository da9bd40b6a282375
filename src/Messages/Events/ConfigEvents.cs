using AkkaL4.Messages.Model;
using AkkaL4.Messages.Protocol;

namespace AkkaL4.Messages.Events;

/// <summary>
/// An event (or snapshot) the control plane journals: the config writer's and the RouteTable entities'. Configurations in
/// them are typed resources; the YAML-carrying forms of earlier versions are in <c>ManifestEvents.cs</c>, read only.
/// </summary>
public interface IConfigEvent : IClusterMessage
{
    long Revision { get; }
}

/// <summary>One namespace's whole content (empty when its last resource went), in the store's order.</summary>
public sealed record NamespaceResources(string Namespace, IReadOnlyList<Resource> Resources);

/// <summary>
/// A batch, journaled before anything else happens to it (write-ahead): the revision and the whole new content of each
/// namespace it changed. A writer that crashes after journaling it leaves its replication to its successor.
/// </summary>
public sealed record BatchCommitted(long Revision, IReadOnlyList<NamespaceResources> Namespaces) : IConfigEvent;

/// <summary>
/// The whole configuration at a revision: the writer's event when it starts from a newer configuration than its journal
/// holds (the batches that follow build on it).
/// </summary>
public sealed record ConfigCommitted(long Revision, IReadOnlyList<Resource> Resources) : IConfigEvent;

/// <summary>
/// The revision at which a namespace last changed (its RouteTable entity holds the namespace as of it) and the hash of
/// that content (<see cref="Serialization.ModelJson.Hash"/>; null in checkpoints of versions before it).
/// </summary>
public sealed record NamespaceRevision(string Namespace, long Revision, string? Hash = null);

/// <summary>
/// The config writer's snapshot, after which its journal before it is deleted: the revision and, for each namespace with
/// resources, the revision it last changed at. Without <see cref="Resources"/> (a journal shared by every host, every
/// entity having confirmed what it was sent) the configuration itself is in the entities. With it (the whole
/// configuration: a per-host journal, where an entity's confirmation is not durable cluster-wide, or entities that have
/// not confirmed for many batches) recovery needs no entity, and <see cref="Unconfirmed"/> names the namespaces still to
/// be sent to theirs.
/// </summary>
public sealed record WriterCheckpoint(long Revision, IReadOnlyList<NamespaceRevision> Namespaces, IReadOnlyList<Resource>? Resources = null,
    IReadOnlyList<string>? Unconfirmed = null) : IConfigEvent;

/// <summary>A RouteTable entity's event (and snapshot): its namespace's whole content as of <see cref="Revision"/>, and its hash.</summary>
public sealed record NamespaceWritten(long Revision, string Namespace, IReadOnlyList<Resource> Resources, string Hash) : IConfigEvent;
