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
    public Counter<long> OutlierEjections { get; }
    public Counter<long> OutlierEjectionsOverflow { get; }
    public Counter<long> HealthCheckAttempts { get; }
    public Counter<long> HealthCheckFailures { get; }

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
        OutlierEjections = _meter.CreateCounter<long>("outlier_detection_ejections_enforced_total", description: "Endpoints ejected by outlier detection");
        OutlierEjectionsOverflow = _meter.CreateCounter<long>("outlier_detection_ejections_overflow", description: "Ejections maxEjectionPercent did not allow");
        HealthCheckAttempts = _meter.CreateCounter<long>("health_check_attempt", description: "Active health checks started");
        HealthCheckFailures = _meter.CreateCounter<long>("health_check_failure", description: "Active health checks that failed");
    }

    public static TagList Listener(string listener) => new() { { "listener", listener } };
    public static TagList Cluster(string cluster) => new() { { "cluster", cluster } };

    public void Dispose() => _meter.Dispose();
}
