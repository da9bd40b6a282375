namespace AkkaL4.Messages.Protocol;

/// <summary>
/// Marker of every message that crosses between nodes or is journaled: all go through
/// <see cref="Serialization.ProtocolSerializer"/> (bound to this interface in cluster.hocon). The vocabulary is split
/// as the cluster uses it: <c>Commands</c> to the config writer and its answers, the <c>Events</c> it journals, and
/// <c>Queries</c> of what is stored and in force.
/// </summary>
public interface IClusterMessage;
