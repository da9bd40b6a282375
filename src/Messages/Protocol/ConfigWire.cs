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

/// <summary>
/// From the config writer, before its final answer: the write is journaled as <see cref="Revision"/>. From here on
/// the write happens (by this writer or its successor) unless the journal itself is lost; a client that hears
/// nothing more knows the revision its outcome hangs on.
/// </summary>
public sealed record WriteJournaled(long Revision) : IClusterMessage;

/// <summary>
/// The config writer's answer when the outcome of a write is not certain: journaled as <see cref="Revision"/> but not
/// confirmed on a majority of nodes (it spreads as nodes become reachable), or (null) the journal write failed in a way
/// that does not say whether it was stored.
/// </summary>
public sealed record WriteUncertain(long? Revision, string Reason) : IClusterMessage;

/// <summary>The config writer's answer to a write it did not read (it arrived after its deadline): certainly not applied.</summary>
public sealed record WriteDropped(string Reason) : IClusterMessage;

/// <summary>
/// Replicated per member (Akka.DistributedData): the revision the member routes by, and the newest revision it
/// could not put in force (0: none since) with why. A member that cannot apply a revision keeps the last good one.
/// </summary>
public sealed record MemberRevision(long InForce, long Failed, string? Error) : IClusterMessage;

/// <summary>The configuration at a revision, as manifests (YAML).</summary>
public sealed record ConfigAtRevision(long Revision, string Manifests) : IClusterMessage;

/// <summary>
/// The whole configuration at a revision (the text of <c>LastKnownGood.Format</c>): the config writer's
/// snapshot, and the journal event it writes when it starts from a newer configuration than its journal
/// holds. Journals written before <see cref="BatchCommitted"/> existed hold one per revision.
/// </summary>
public sealed record ConfigCommitted(long Revision, string Manifests) : IClusterMessage;
