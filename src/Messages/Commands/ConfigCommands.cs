using AkkaL4.Messages.Model;
using AkkaL4.Messages.Protocol;

namespace AkkaL4.Messages.Commands;

/// <summary>
/// A command to the config writer singleton. It answers with exactly one of <see cref="ConfigAccepted"/>,
/// <see cref="ConfigRejected"/>, <see cref="ConfigUncertain"/> or <see cref="ConfigUnavailable"/>, a change first
/// announced by <see cref="WriteJournaled"/>. A command that reaches the writer after its deadline is dropped unread
/// (<see cref="ConfigUnavailable"/>): its sender has already given up on it.
/// </summary>
public interface IConfigCommand : IClusterMessage
{
    DateTimeOffset Deadline { get; }
}

/// <summary>
/// kubectl apply of these resources (the sender's node decoded and validated the user's text): create or update each
/// resource, all or nothing.
/// <see cref="DryRun"/>: checked and compiled by the writer against the stored configuration exactly as a write is, and
/// answered with what would change, but nothing is journaled or replicated (kubectl's <c>--dry-run=server</c>).
/// </summary>
public sealed record WriteConfig(IReadOnlyList<Resource> Resources, DateTimeOffset Deadline, bool DryRun = false) : IConfigCommand;

/// <summary>Delete one resource (a writer of every version takes it).</summary>
public sealed record RemoveResource(string Kind, string Namespace, string Name, DateTimeOffset Deadline) : IConfigCommand;

/// <summary>
/// kubectl delete -f: delete every one of these resources in one revision, all or nothing. Nothing is deleted when any of
/// them is not stored, or named twice, or when the configuration left would be refused as a write's would be (validation,
/// the nodes' compiler). A writer before it does not read it (an unknown manifest): a client asks the writer's
/// <see cref="Queries.WriterStatus.Protocol"/> first.
/// </summary>
public sealed record RemoveResources(IReadOnlyList<ResourceKey> Keys, DateTimeOffset Deadline) : IConfigCommand;

public enum ChangeAction { Created, Updated, Unchanged, Deleted }

public sealed record ResourceChange(ResourceKey Key, ChangeAction Action);

/// <summary>Journaled as <see cref="Revision"/> and on a majority of nodes (or nothing changed: every change <see cref="ChangeAction.Unchanged"/>).</summary>
/// <param name="Warnings">Every warning of the configuration as the write leaves it.</param>
/// <param name="New">One flag per warning, in their order: true for those this write brought (the configuration before it
/// did not have them). Written after the lists a node reads later, so a node of an earlier version, which does not know
/// it, reads the rest as before; from a writer of that version it is null or, read later, empty: see <see cref="IsNew"/>.</param>
public sealed record ConfigAccepted(long Revision, IReadOnlyList<ResourceChange> Changes, IReadOnlyList<Diagnostic> Warnings, IReadOnlyList<bool>? New = null)
    : IClusterMessage
{
    /// <summary>Whether warning <paramref name="index"/> came with this write; null when the writer did not say (an earlier version).</summary>
    public bool? IsNew(int index) => New is { } flags && flags.Count == Warnings.Count ? flags[index] : null;
}

/// <summary>Refused; nothing changed.</summary>
public sealed record ConfigRejected(IReadOnlyList<Diagnostic> Errors, bool Conflict = false, bool NotFound = false) : IClusterMessage;

/// <summary>
/// Before the final answer: the change is journaled as <see cref="Revision"/>. From here on it happens (by this writer
/// or its successor) unless the journal itself is lost; a client that hears nothing more knows the revision its
/// outcome hangs on.
/// </summary>
/// <param name="Replicating">How long the writer may still take to confirm it on a majority (null from a writer that does not say).</param>
public sealed record WriteJournaled(long Revision, TimeSpan? Replicating = null) : IClusterMessage;

/// <summary>
/// The outcome is not known: journaled as <see cref="Revision"/> but not confirmed on a majority of nodes (it spreads as
/// nodes become reachable), or (null) no answer in time or a journal write that failed without saying whether it was
/// stored. Applying the same content again is safe: it is then accepted, or reported unchanged.
/// </summary>
public sealed record ConfigUncertain(long? Revision, string Reason) : IClusterMessage;

/// <summary>
/// Certainly not applied (no majority reachable, the writer dropped it unread, or it is recovering or refusing writes);
/// try again later. Also the writer's answer to a query it cannot answer now (<c>ReadIndex</c>), with why.
/// </summary>
public sealed record ConfigUnavailable(string Reason) : IClusterMessage;

/// <summary>
/// From the config writer to a namespace's RouteTable entity: its whole content (empty when its last resource went) as of
/// <see cref="Revision"/>, and the content's <see cref="Serialization.ModelJson.Hash"/>. Answered with
/// <see cref="NamespaceStored"/>; an entity that already holds this revision or a newer one keeps what it has and answers
/// with what that is, so the writer sends again as often as it needs to.
/// </summary>
public sealed record StoreNamespace(string Namespace, long Revision, IReadOnlyList<Resource> Resources, string Hash) : INamespaceMessage;

/// <summary>
/// A RouteTable entity holds its namespace as of <see cref="Revision"/> (journaled), with content of this
/// <see cref="Hash"/>: the writer takes it as confirmed only when both are what it sent.
/// </summary>
public sealed record NamespaceStored(string Namespace, long Revision, string Hash) : IClusterMessage;

/// <summary>
/// To the config writer, from a reader that found a RouteTable entity behind the writer's index (its host moved, or its
/// journal is another host's): send that namespace to its entity again now rather than at the next re-send.
/// </summary>
public sealed record RedeliverNamespace(string Namespace, long Held) : IClusterMessage;
