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
    /// <summary>The ClientHello named no server, and the listener routes only by SNI (logged as Envoy's NR).</summary>
    NoSni = 128,
    /// <summary>The client did not start with TLS on a listener that routes only by SNI (logged as Envoy's NR).</summary>
    NotTls = 256,
    /// <summary>DPE (Envoy's downstream protocol error): a malformed or oversized ClientHello.</summary>
    MalformedClientHello = 512,
    /// <summary>The PROXY header or ClientHello did not arrive in time (Envoy's listener_filters_timeout: no flag, the detail says it).</summary>
    PreambleTimeout = 1024,
    /// <summary>A PROXY protocol header was expected and is missing or malformed (logged as Envoy's DPE).</summary>
    ProxyProtocolError = 2048,
    /// <summary>
    /// DC: the client reset its connection before an upstream was connected for it; nothing more is dialled. Under more load
    /// than a node can take, connections wait past their clients' patience: dialling for one whose client is gone is work
    /// nobody receives (up to max-connect-attempts dials), taken from connections still waiting.
    /// </summary>
    DownstreamConnectionTermination = 4096,
    /// <summary>
    /// OM (Envoy's overload manager): the connection waited in the node longer than pending-timeout before the node took it
    /// up, so it was closed without dialling: past most clients' patience, its work would go to one that may have left,
    /// ahead of connections still waiting.
    /// </summary>
    Overload = 8192,
}

public static class ResponseFlagNames
{
    private static readonly (ResponseFlags Flag, string Name)[] Names =
    [
        (ResponseFlags.NoRoute, "NR"), (ResponseFlags.NoClusterFound, "NC"), (ResponseFlags.NoHealthyUpstream, "UH"),
        (ResponseFlags.UpstreamConnectFailure, "UF"), (ResponseFlags.UpstreamOverflow, "UO"),
        (ResponseFlags.UpstreamRetryLimitExceeded, "URX"), (ResponseFlags.DurationTimeout, "DT"),
        // Envoy has no flags of its own for these: an SNI-only listener that finds no SNI (or no TLS) has no filter
        // chain that matches (NR); a bad ClientHello or PROXY header is a downstream protocol error (DPE). A listener
        // filter timeout sets no flag in Envoy: the detail says it.
        (ResponseFlags.NoSni, "NR"), (ResponseFlags.NotTls, "NR"), (ResponseFlags.MalformedClientHello, "DPE"),
        (ResponseFlags.ProxyProtocolError, "DPE"), (ResponseFlags.DownstreamConnectionTermination, "DC"), (ResponseFlags.Overload, "OM"),
    ];

    /// <summary>Envoy style: <c>-</c> when none, else the short names joined by commas.</summary>
    public static string Format(ResponseFlags flags)
    {
        if (flags == ResponseFlags.None) return "-";
        var names = Names.Where(n => flags.HasFlag(n.Flag)).Select(n => n.Name).Distinct().ToList();
        return names.Count == 0 ? "-" : string.Join(",", names);
    }
}
