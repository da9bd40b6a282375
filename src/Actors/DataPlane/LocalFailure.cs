using AkkaL4.Actors.DataPlane.Transport;

namespace AkkaL4.Actors.DataPlane;

/// <summary>Connect failures that are this node's doing, not the endpoint's: outlier detection does not count them.</summary>
internal static class LocalFailure
{
    /// <summary>Out of descriptors (noted as a shortage), or a DestinationRule this node cannot use.</summary>
    public static bool Is(Exception failure) =>
        failure is UpstreamTlsConfigurationException || Descriptors.Exhausted(failure);
}
