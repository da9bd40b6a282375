namespace AkkaL4.Actors.DataPlane;

/// <summary>
/// What went wrong with a connection, with Envoy's response flags (and only those); used by access logs and metrics alike.
/// An idle timeout is not among them: Envoy's TCP proxy sets no flag for it (its close reason says it), nor does AkkaL4.
/// </summary>
[Flags]
public enum ResponseFlags
{
    None = 0,
    /// <summary>NR: no route: no rule of a Gateway's VirtualServices matched (Envoy: no matching filter chain or route).</summary>
    NoRoute = 1,
    /// <summary>UH: no healthy endpoint in the upstream cluster.</summary>
    NoHealthyUpstream = 2,
    /// <summary>UF: an upstream connect attempt failed.</summary>
    UpstreamConnectFailure = 4,
    /// <summary>UO: the cluster's maxConnections was reached.</summary>
    UpstreamOverflow = 8,
    /// <summary>URX: connect attempts exhausted.</summary>
    UpstreamRetryLimitExceeded = 16,
    /// <summary>NC: the upstream cluster was not found (unknown host, undeclared subset).</summary>
    NoClusterFound = 32,
    /// <summary>DT: maxConnectionDuration reached.</summary>
    DurationTimeout = 64,
}

public static class ResponseFlagNames
{
    private static readonly (ResponseFlags Flag, string Name)[] Names =
    [
        (ResponseFlags.NoRoute, "NR"), (ResponseFlags.NoClusterFound, "NC"), (ResponseFlags.NoHealthyUpstream, "UH"),
        (ResponseFlags.UpstreamConnectFailure, "UF"), (ResponseFlags.UpstreamOverflow, "UO"),
        (ResponseFlags.UpstreamRetryLimitExceeded, "URX"), (ResponseFlags.DurationTimeout, "DT"),
    ];

    /// <summary>Envoy style: <c>-</c> when none, else the short names joined by commas.</summary>
    public static string Format(ResponseFlags flags)
    {
        if (flags == ResponseFlags.None) return "-";
        return string.Join(",", Names.Where(n => flags.HasFlag(n.Flag)).Select(n => n.Name));
    }
}
