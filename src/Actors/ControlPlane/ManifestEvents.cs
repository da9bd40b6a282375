using AkkaL4.Actors.Config;
using AkkaL4.Messages.Model;

namespace AkkaL4.Actors.ControlPlane;

/// <summary>
/// Reads the YAML that journals of earlier versions hold (<c>Messages/Events/ManifestEvents.cs</c>): the cluster's own
/// text, so decoded without the admin API's limits and not validated again (it was, before it was journaled).
/// </summary>
internal static class ManifestEvents
{
    /// <summary>One namespace's manifests; null with the first error when they do not decode.</summary>
    public static IReadOnlyList<Resource>? Decode(string manifests, string source, out string? problem)
    {
        var decoded = ManifestDecoder.Decode(manifests, source, LastKnownGood.Stored);
        problem = decoded.Ok ? null : decoded.Errors[0].ToString();
        return decoded.Ok ? decoded.Resources.Select(d => d.Resource).ToList() : null;
    }

    /// <summary>A whole configuration as a last-known-good text (revision header, then manifests).</summary>
    public static IReadOnlyList<Resource>? DecodeWhole(string text, string source, out string? problem) =>
        LastKnownGood.Decode(text, source, out _, out problem)?.Resources;
}
