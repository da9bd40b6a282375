namespace AkkaL4.Messages.Protocol;

/// <summary>A message for one namespace's RouteTable entity: the shard region routes it by <see cref="Namespace"/>.</summary>
public interface INamespaceMessage
{
    string Namespace { get; }
}

/// <summary>
/// From the config writer to a RouteTable entity: the namespace's whole content (manifests, YAML) as of
/// <see cref="Revision"/>. An entity that already holds this revision or a newer one keeps what it has and
/// answers the same way, so the writer can send it again as often as it needs to.
/// </summary>
public sealed record WriteNamespace(long Revision, string Namespace, string Manifests) : IClusterMessage, INamespaceMessage;

/// <summary>A RouteTable entity's answer to <see cref="WriteNamespace"/>: it holds the namespace's content as of <see cref="Revision"/>.</summary>
public sealed record NamespaceStored(string Namespace, long Revision) : IClusterMessage;

/// <summary>To a RouteTable entity: what it holds.</summary>
public sealed record ReadNamespace(string Namespace) : IClusterMessage, INamespaceMessage;

/// <summary>A RouteTable entity's content: the namespace's manifests (YAML) as of <see cref="Revision"/> (0 and empty: never written).</summary>
public sealed record NamespaceContent(string Namespace, long Revision, string Manifests) : IClusterMessage;

/// <summary>A RouteTable entity's journal event (and snapshot): the namespace's whole content as of <see cref="Revision"/>.</summary>
public sealed record NamespaceWritten(long Revision, string Namespace, string Manifests) : IClusterMessage;

/// <summary>One namespace's whole content (manifests, YAML; empty when its last resource went).</summary>
public sealed record NamespaceManifests(string Namespace, string Manifests);

/// <summary>
/// The config writer's journal event for a batch, written before anything else happens to it (write-ahead):
/// the revision and the whole new content of each namespace the batch changed. A writer that crashes after
/// journaling it leaves the rest (RouteTable entities, replication to every node) to its successor.
/// </summary>
public sealed record BatchCommitted(long Revision, IReadOnlyList<NamespaceManifests> Namespaces) : IClusterMessage;
