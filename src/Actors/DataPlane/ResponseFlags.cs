namespace AkkaL4.Actors.DataPlane;

/// <summary>What went wrong with a connection, named as Envoy names them; used by access logs and metrics alike.</summary>
[Flags]
public enum ResponseFlags
{
    None = 0,
    /// <summary>NC: no route (no rule matched at a gateway, unknown host, undeclared subset).</summary>
    NoRoute = 1,
    /// <summary>UH: no healthy endpoint in the upstream cluster.</summary>
    NoHealthyUpstream = 2,
    /// <summary>UF: an upstream connect attempt failed.</summary>
    UpstreamConnectFailure = 4,
    /// <summary>UO: the cluster's maxConnections was reached.</summary>
    UpstreamOverflow = 8,
    /// <summary>URX: connect attempts exhausted.</summary>
    UpstreamRetryLimitExceeded = 16,
    /// <summary>IT: idleTimeout passed with no bytes either way.</summary>
    IdleTimeout = 32,
    /// <summary>DT: maxConnectionDuration reached.</summary>
    DurationTimeout = 64,
    /// <summary>NSNI (ours): the ClientHello named no server, and the listener routes only by SNI.</summary>
    NoSni = 128,
    /// <summary>NTLS (ours): the client did not start with TLS on a listener that routes only by SNI.</summary>
    NotTls = 256,
    /// <summary>DPE (Envoy's downstream protocol error): a malformed or oversized ClientHello.</summary>
    MalformedClientHello = 512,
    /// <summary>LFT (ours, after Envoy's listener_filters_timeout): the PROXY header or ClientHello did not arrive in time.</summary>
    PreambleTimeout = 1024,
    /// <summary>PPE (ours): a PROXY protocol header was expected and is missing or malformed.</summary>
    ProxyProtocolError = 2048,
}

public static class ResponseFlagNames
{
    private static readonly (ResponseFlags Flag, string Name)[] Names =
    [
        (ResponseFlags.NoRoute, "NC"), (ResponseFlags.NoHealthyUpstream, "UH"), (ResponseFlags.UpstreamConnectFailure, "UF"),
        (ResponseFlags.UpstreamOverflow, "UO"), (ResponseFlags.UpstreamRetryLimitExceeded, "URX"),
        (ResponseFlags.IdleTimeout, "IT"), (ResponseFlags.DurationTimeout, "DT"),
        (ResponseFlags.NoSni, "NSNI"), (ResponseFlags.NotTls, "NTLS"), (ResponseFlags.MalformedClientHello, "DPE"),
        (ResponseFlags.PreambleTimeout, "LFT"), (ResponseFlags.ProxyProtocolError, "PPE"),
    ];

    /// <summary>Envoy style: <c>-</c> when none, else the short names joined by commas.</summary>
    public static string Format(ResponseFlags flags)
    {
        if (flags == ResponseFlags.None) return "-";
        return string.Join(",", Names.Where(n => flags.HasFlag(n.Flag)).Select(n => n.Name));
    }
}
