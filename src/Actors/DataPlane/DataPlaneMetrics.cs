using System.Collections.Concurrent;
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
        OutlierEjections = _meter.CreateCounter<long>("outlier_detection_ejections_enforced_total", description: "Endpoints ejected by outlier detection");
        OutlierEjectionsOverflow = _meter.CreateCounter<long>("outlier_detection_ejections_overflow", description: "Ejections maxEjectionPercent did not allow");
        HealthCheckAttempts = _meter.CreateCounter<long>("health_check_attempt", description: "Active health checks started");
        HealthCheckFailures = _meter.CreateCounter<long>("health_check_failure", description: "Active health checks that failed");
        SniFound = _meter.CreateCounter<long>("tls_inspector_sni_found", description: "ClientHellos read with a server name");
        SniNotFound = _meter.CreateCounter<long>("tls_inspector_sni_not_found", description: "ClientHellos read without a server name (NSNI where refused)");
        TlsNotFound = _meter.CreateCounter<long>("tls_inspector_tls_not_found", description: "Connections on an SNI listener that did not start with TLS (NTLS where refused)");
        ClientHelloMalformed = _meter.CreateCounter<long>("tls_inspector_client_hello_malformed", description: "Malformed or oversized ClientHellos (DPE where refused)");
        PreambleTimeout = _meter.CreateCounter<long>("downstream_pre_cx_timeout", description: "PROXY headers or ClientHellos that did not arrive within preamble-timeout (LFT where refused)");
        ProxyProtocolError = _meter.CreateCounter<long>("downstream_cx_proxy_proto_error", description: "Connections refused for a missing or malformed PROXY header (PPE)");
    }

    /// <summary>Per listener, per upstream cluster and per endpoint (<c>cluster endpoint</c>): what the status page shows.</summary>
    public ConcurrentDictionary<string, Traffic> Listeners { get; } = new();
    public ConcurrentDictionary<string, Traffic> Clusters { get; } = new();
    public ConcurrentDictionary<(string Cluster, string Endpoint), Traffic> Endpoints { get; } = new();

    public Traffic ListenerTraffic(string listener) => Listeners.GetOrAdd(listener, _ => new Traffic());
    public Traffic ClusterTraffic(string cluster) => Clusters.GetOrAdd(cluster, _ => new Traffic());
    public Traffic EndpointTraffic(string cluster, string endpoint) => Endpoints.GetOrAdd((cluster, endpoint), _ => new Traffic());

    /// <summary>A connection accepted by <paramref name="listener"/>.</summary>
    public void Accepted(string listener)
    {
        DownstreamTotal.Add(1, Listener(listener));
        DownstreamActive.Add(1, Listener(listener));
        ListenerTraffic(listener).Opened(null);
    }

    /// <summary>A connection closed at once by a listener or node cap.</summary>
    public void Overflowed(string listener)
    {
        DownstreamOverflow.Add(1, Listener(listener));
        ListenerTraffic(listener).Refused();
    }

    /// <summary>An upstream connection is open and relaying through <paramref name="relay"/>.</summary>
    internal void UpstreamConnected(string listener, string cluster, string endpoint, RelayStage.Control relay)
    {
        UpstreamTotal.Add(1, Cluster(cluster));
        ListenerTraffic(listener).Relaying(relay);
        ClusterTraffic(cluster).Opened(relay);
        EndpointTraffic(cluster, endpoint).Opened(relay);
    }

    public void UpstreamConnectFailed(string cluster, string endpoint, bool timedOut, string error)
    {
        UpstreamConnectFail.Add(1, Cluster(cluster));
        if (timedOut) UpstreamConnectTimeout.Add(1, Cluster(cluster));
        ClusterTraffic(cluster).Failed(error);
        EndpointTraffic(cluster, endpoint).Failed(error);
    }

    /// <summary>
    /// The connection ended: <paramref name="relay"/> (null: it never relayed) carried its bytes; <paramref name="error"/>
    /// is why it ended badly, if it did.
    /// </summary>
    internal void Closed(string listener, string? cluster, string? endpoint, RelayStage.Control? relay, string? error)
    {
        var rx = relay?.BytesFromClient ?? 0;
        var tx = relay?.BytesToClient ?? 0;
        DownstreamActive.Add(-1, Listener(listener));
        DownstreamRxBytes.Add(rx, Listener(listener));
        DownstreamTxBytes.Add(tx, Listener(listener));
        ListenerTraffic(listener).Closed(relay, null);
        if (cluster is null || relay is null) return;
        ClusterTraffic(cluster).Closed(relay, error);
        if (endpoint is not null) EndpointTraffic(cluster, endpoint).Closed(relay, error);
    }

    public static TagList Listener(string listener) => new() { { "listener", listener } };
    public static TagList Cluster(string cluster) => new() { { "cluster", cluster } };

    public void Dispose() => _meter.Dispose();
}

/// <summary>
/// Connections and bytes of one listener, cluster or endpoint. Bytes count as they flow: those of connections
/// still open are read from their relays when asked (a day-long connection shows its bytes at once).
/// </summary>
public sealed class Traffic
{
    private long _total, _active, _refused, _failures, _closedRx, _closedTx;
    private readonly ConcurrentDictionary<RelayStage.Control, byte> _live = new();

    public long Total => Interlocked.Read(ref _total);
    public long Active => Interlocked.Read(ref _active);
    /// <summary>Connections refused at a cap (listeners).</summary>
    public long RefusedCount => Interlocked.Read(ref _refused);
    /// <summary>Connect attempts that failed (clusters, endpoints).</summary>
    public long Failures => Interlocked.Read(ref _failures);
    /// <summary>Received from clients.</summary>
    public long BytesIn => Interlocked.Read(ref _closedRx) + _live.Keys.Sum(r => r.BytesFromClient);
    /// <summary>Sent to clients.</summary>
    public long BytesOut => Interlocked.Read(ref _closedTx) + _live.Keys.Sum(r => r.BytesToClient);
    public (string Error, DateTimeOffset At)? LastError => Volatile.Read(ref _lastErrorBox)?.Value;

    private sealed record Box((string Error, DateTimeOffset At)? Value);
    private Box? _lastErrorBox;

    internal void Opened(RelayStage.Control? relay)
    {
        Interlocked.Increment(ref _total);
        Interlocked.Increment(ref _active);
        if (relay is not null) _live.TryAdd(relay, 0);
    }

    internal void Relaying(RelayStage.Control relay) => _live.TryAdd(relay, 0);

    internal void Refused() => Interlocked.Increment(ref _refused);

    internal void Failed(string error)
    {
        Interlocked.Increment(ref _failures);
        Volatile.Write(ref _lastErrorBox, new Box((error, DateTimeOffset.UtcNow)));
    }

    internal void Closed(RelayStage.Control? relay, string? error)
    {
        Interlocked.Decrement(ref _active);
        if (relay is not null && _live.TryRemove(relay, out _))
        {
            Interlocked.Add(ref _closedRx, relay.BytesFromClient);
            Interlocked.Add(ref _closedTx, relay.BytesToClient);
        }
        if (error is not null) Volatile.Write(ref _lastErrorBox, new Box((error, DateTimeOffset.UtcNow)));
    }
}
