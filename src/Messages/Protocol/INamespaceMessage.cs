namespace AkkaL4.Messages.Protocol;

/// <summary>A message for one namespace's RouteTable entity: the shard region routes it by <see cref="Namespace"/> (the entity id).</summary>
public interface INamespaceMessage : IClusterMessage
{
    string Namespace { get; }
}
