using AkkaL4.Messages.Protocol;

namespace AkkaL4.Messages.Queries;

/// <summary>A question about the configuration: what is stored, what each member has in force.</summary>
public interface IConfigQuery : IClusterMessage;

/// <summary>To the config writer singleton: the stored configuration, optionally filtered; answered with <see cref="ConfigAtRevision"/>.</summary>
public sealed record ReadConfig(string? Kind = null, string? Namespace = null) : IConfigQuery;

/// <summary>The configuration at a revision, as manifests (YAML).</summary>
public sealed record ConfigAtRevision(long Revision, string Manifests) : IClusterMessage;

/// <summary>
/// What a member reports about itself (replicated with Akka.DistributedData, read by <c>/v1/status</c>): the revision
/// it routes by, and the newest revision it could not put in force (0: none since) with why. A member that cannot
/// apply a revision keeps the last good one.
/// </summary>
public sealed record MemberRevision(long InForce, long Failed, string? Error) : IClusterMessage;
