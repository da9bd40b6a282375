namespace AkkaL4.Messages.Events;

// The events of versions that carried configurations as YAML manifests. Nothing journals them any more; they stay
// readable (their manifests are kept) so a journal written by such a version recovers: the writer and the RouteTable
// entities decode their YAML once, at recovery.

/// <summary>One namespace's whole content as YAML manifests (in <see cref="ManifestBatchCommitted"/>).</summary>
public sealed record NamespaceManifests(string Namespace, string Manifests);

/// <summary>What <see cref="BatchCommitted"/> was: the new content of each changed namespace, as YAML.</summary>
public sealed record ManifestBatchCommitted(long Revision, IReadOnlyList<NamespaceManifests> Namespaces) : IConfigEvent;

/// <summary>What <see cref="ConfigCommitted"/> was: the whole configuration as a last-known-good text (revision header and YAML).</summary>
public sealed record ManifestConfigCommitted(long Revision, string Manifests) : IConfigEvent;

/// <summary>What <see cref="WriterCheckpoint"/> was: the whole configuration, when there, as a last-known-good text.</summary>
public sealed record ManifestWriterCheckpoint(long Revision, IReadOnlyList<NamespaceRevision> Namespaces, string? Manifests = null,
    IReadOnlyList<string>? Unconfirmed = null) : IConfigEvent;

/// <summary>What <see cref="NamespaceWritten"/> was: a RouteTable entity's namespace as YAML, without a hash.</summary>
public sealed record ManifestNamespaceWritten(long Revision, string Namespace, string Manifests) : IConfigEvent;
