namespace AkkaL4.Messages.Protocol;

/// <summary>Marker of every message that crosses between nodes; all go through <see cref="Serialization.ProtocolSerializer"/>.</summary>
public interface IClusterMessage;

/// <summary>A finding as it travels: resource, field path, message.</summary>
public sealed record WireFinding(string Resource, string Field, string Message);

public sealed record WireChange(string Kind, string Namespace, string Name, string Action);

/// <summary>
/// To the config writer singleton: apply these manifests (YAML), all or nothing. A write that reaches
/// the writer after <see cref="Deadline"/> is dropped: its sender has already been told it was not applied.
/// </summary>
public sealed record WriteConfig(string Manifests, DateTimeOffset Deadline) : IClusterMessage;

/// <summary>To the config writer singleton: delete one resource (dropped after <see cref="Deadline"/>, like <see cref="WriteConfig"/>).</summary>
public sealed record RemoveResource(string Kind, string Namespace, string Name, DateTimeOffset Deadline) : IClusterMessage;

/// <summary>To the config writer singleton: the stored configuration, optionally filtered.</summary>
public sealed record ReadConfig(string? Kind, string? Namespace) : IClusterMessage;

public sealed record WriteAccepted(long Revision, IReadOnlyList<WireChange> Changes, IReadOnlyList<WireFinding> Warnings) : IClusterMessage;

public sealed record WriteRejected(IReadOnlyList<WireFinding> Errors, bool Conflict, bool NotFound) : IClusterMessage;

/// <summary>The configuration at a revision, as manifests (YAML).</summary>
public sealed record ConfigAtRevision(long Revision, string Manifests) : IClusterMessage;

/// <summary>
/// The whole configuration at a revision (the text of <c>LastKnownGood.Format</c>): the config writer's
/// snapshot, and the journal event it writes when it starts from a newer configuration than its journal
/// holds. Journals written before <see cref="BatchCommitted"/> existed hold one per revision.
/// </summary>
public sealed record ConfigCommitted(long Revision, string Manifests) : IClusterMessage;
