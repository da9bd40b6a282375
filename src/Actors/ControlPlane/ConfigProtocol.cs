using AkkaL4.Messages.Model;

namespace AkkaL4.Actors.ControlPlane;

/// <summary>kubectl apply: create or update each resource by kind/namespace/name, all or nothing.</summary>
public sealed record ApplyConfig(IReadOnlyList<Resource> Resources);

public sealed record DeleteResource(ResourceKey Key);

public sealed record GetConfig(string? Kind = null, string? Namespace = null);

public enum ChangeAction { Created, Updated, Unchanged, Deleted }

public sealed record ResourceChange(ResourceKey Key, ChangeAction Action);

/// <summary>The write was accepted as revision <see cref="Revision"/>.</summary>
public sealed record ConfigAccepted(long Revision, IReadOnlyList<ResourceChange> Changes, IReadOnlyList<Diagnostic> Warnings);

/// <summary>The write was refused; nothing changed.</summary>
public sealed record ConfigRejected(IReadOnlyList<Diagnostic> Errors, bool Conflict = false, bool NotFound = false);

/// <summary>The stored configuration at <see cref="Revision"/>, each resource carrying its resourceVersion.</summary>
public sealed record ConfigContent(long Revision, IReadOnlyList<Resource> Resources);

/// <summary>
/// The write's outcome is not known: it may be (or, with <see cref="Revision"/>, is) journaled and then happens,
/// or it may never happen. Applying the same content again is safe: it is then accepted, or reported unchanged.
/// </summary>
public sealed record ConfigUncertain(long? Revision, string Reason);

/// <summary>The write was certainly not applied (no majority reachable, or the writer dropped it unread); try again later.</summary>
public sealed record ConfigUnavailable(string Reason);
