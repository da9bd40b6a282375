using AkkaL4.Messages.Protocol;

namespace AkkaL4.Messages.Model;
/// <summary>
/// A whole configuration at <see cref="Revision"/>, each resource carrying its resourceVersion: what the writer replicates
/// to every node (the value of its Akka.DistributedData register) and what a node puts in force.
/// </summary>
public sealed record ConfigContent(long Revision, IReadOnlyList<Resource> Resources) : IClusterMessage;
