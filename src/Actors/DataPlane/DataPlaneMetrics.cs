using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace AkkaL4.Actors.DataPlane;

/// <summary>
/// The data plane's counters, with Envoy's names, tagged by listener or cluster. One instance per
/// node (its meter carries the node name so several nodes in one process stay apart).
/// </summary>
public sealed class DataPlaneMetrics : IDisposable
{
    public const string MeterName = "AkkaL4.DataPlane";

    private readonly Meter _meter;
    public Counter<long> DownstreamTotal { get; }
    public UpDownCounter<long> DownstreamActive { get; }
    public Counter<long> DownstreamRxBytes { get; }
    public Counter<long> DownstreamTxBytes { get; }
    public Counter<long> DownstreamNoRoute { get; }
    public Counter<long> DownstreamOverflow { get; }
    public Counter<long> UpstreamTotal { get; }
    public Counter<long> UpstreamConnectFail { get; }
    public Counter<long> UpstreamConnectTimeout { get; }
    public Counter<long> UpstreamOverflow { get; }
    public Counter<long> UpstreamNoneHealthy { get; }
    public Counter<long> IdleTimeout { get; }
    // What was read before routing (Envoy's tls_inspector and proxy_protocol listener filter stats).
    public Counter<long> SniFound { get; }
    public Counter<long> SniNotFound { get; }
    public Counter<long> TlsNotFound { get; }
    public Counter<long> ClientHelloMalformed { get; }
    public Counter<long> PreambleTimeout { get; }
    public Counter<long> ProxyProtocolError { get; }

    public DataPlaneMetrics(string node)
    {
        _meter = new Meter(MeterName, null, [new KeyValuePair<string, object?>("node", node)]);
        DownstreamTotal = _meter.CreateCounter<long>("downstream_cx_total", description: "Connections accepted");
        DownstreamActive = _meter.CreateUpDownCounter<long>("downstream_cx_active", description: "Connections open");
        DownstreamRxBytes = _meter.CreateCounter<long>("downstream_cx_rx_bytes_total", "By", "Bytes received from clients");
        DownstreamTxBytes = _meter.CreateCounter<long>("downstream_cx_tx_bytes_total", "By", "Bytes sent to clients");
        DownstreamNoRoute = _meter.CreateCounter<long>("downstream_cx_no_route", description: "Connections closed for want of a route (NC)");
        DownstreamOverflow = _meter.CreateCounter<long>("downstream_cx_overflow", description: "Connections closed at once by a listener or node connection cap");
        UpstreamTotal = _meter.CreateCounter<long>("upstream_cx_total", description: "Upstream connections established");
        UpstreamConnectFail = _meter.CreateCounter<long>("upstream_cx_connect_fail", description: "Upstream connect attempts that failed (UF)");
        UpstreamConnectTimeout = _meter.CreateCounter<long>("upstream_cx_connect_timeout", description: "Upstream connect attempts that timed out");
        UpstreamOverflow = _meter.CreateCounter<long>("upstream_cx_overflow", description: "Connections refused by maxConnections (UO)");
        UpstreamNoneHealthy = _meter.CreateCounter<long>("upstream_cx_none_healthy", description: "Connections with no healthy endpoint (UH)");
        IdleTimeout = _meter.CreateCounter<long>("idle_timeout", description: "Connections closed by idleTimeout");
        SniFound = _meter.CreateCounter<long>("tls_inspector_sni_found", description: "ClientHellos read with a server name");
        SniNotFound = _meter.CreateCounter<long>("tls_inspector_sni_not_found", description: "ClientHellos read without a server name (NSNI where refused)");
        TlsNotFound = _meter.CreateCounter<long>("tls_inspector_tls_not_found", description: "Connections on an SNI listener that did not start with TLS (NTLS where refused)");
        ClientHelloMalformed = _meter.CreateCounter<long>("tls_inspector_client_hello_malformed", description: "Malformed or oversized ClientHellos (DPE where refused)");
        PreambleTimeout = _meter.CreateCounter<long>("downstream_pre_cx_timeout", description: "PROXY headers or ClientHellos that did not arrive within preamble-timeout (LFT where refused)");
        ProxyProtocolError = _meter.CreateCounter<long>("downstream_cx_proxy_proto_error", description: "Connections refused for a missing or malformed PROXY header (PPE)");
    }

    public static TagList Listener(string listener) => new() { { "listener", listener } };
    public static TagList Cluster(string cluster) => new() { { "cluster", cluster } };

    public void Dispose() => _meter.Dispose();
}
