using AkkaL4.Messages.Events;
using AkkaL4.Messages.Model;
using AkkaL4.Messages.Protocol;

namespace AkkaL4.Messages.Queries;

/// <summary>A question about the configuration: what is stored, what each member has in force.</summary>
public interface IConfigQuery : IClusterMessage;

/// <summary>
/// To a node's config client: the stored configuration, optionally filtered. It is read from the RouteTable entities at the
/// revisions the writer's <see cref="ConfigIndex"/> names.
/// </summary>
public sealed record ReadConfig(string? Kind = null, string? Namespace = null) : IConfigQuery;

/// <summary>
/// To the config writer singleton: which revision of each namespace makes up the stored configuration; answered with
/// <see cref="ConfigIndex"/>, or at once with <see cref="Commands.ConfigUnavailable"/> (why) while the writer cannot name
/// it: recovering, refusing writes, or starting without a majority.
/// </summary>
public sealed record ReadIndex : IConfigQuery
{
    public static readonly ReadIndex Instance = new();
}

/// <summary>To the config writer singleton: what it is doing; answered at once with <see cref="WriterStatus"/>, whatever that is.</summary>
public sealed record ReadWriterStatus : IConfigQuery
{
    public static readonly ReadWriterStatus Instance = new();
}

/// <summary>
/// The config writer's state (<c>/v1/status</c>): <c>serving</c> (takes writes), <c>starting</c> (waiting for a majority
/// to answer its read), <c>recovering</c> (waiting for route tables) or <c>refusing</c> (its journal does not read back),
/// with the revision it stands at and, for all but serving, why.
/// </summary>
/// <param name="Protocol">What the writer takes beyond what every version does: 1, <see cref="Commands.RemoveResources"/>
/// (0 from a writer before it, which does not send it).</param>
public sealed record WriterStatus(string State, long Revision, string? Reason, int Protocol = 0) : IClusterMessage;

/// <summary>The stored configuration's revision and, for each namespace with resources, the revision and hash of its content.</summary>
public sealed record ConfigIndex(long Revision, IReadOnlyList<NamespaceRevision> Namespaces) : IClusterMessage;

/// <summary>To a namespace's RouteTable entity: what it holds; answered with <see cref="NamespaceContent"/>.</summary>
public sealed record ReadNamespace(string Namespace) : IConfigQuery, INamespaceMessage;

/// <summary>
/// A RouteTable entity's content: the namespace's resources as of <see cref="Revision"/> (0 and empty: never written) and
/// the hash it was stored with. A reader takes it only when the hash is the one its index names and the content's own.
/// </summary>
public sealed record NamespaceContent(string Namespace, long Revision, IReadOnlyList<Resource> Resources, string Hash) : IClusterMessage;


/// <summary>
/// What a member reports about itself (replicated with Akka.DistributedData, read by <c>/v1/status</c>): the revision
/// it routes by, and the newest revision it could not put in force (0: none since) with why. A member that cannot
/// apply a revision keeps the last good one.
/// </summary>
public sealed record MemberRevision(long InForce, long Failed, string? Error) : IClusterMessage;
