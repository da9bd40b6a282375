using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace AkkaL4.Actors.DataPlane;

/// <summary>
/// The data plane's metrics, named and labelled as Envoy's Prometheus output names its TCP proxy
/// (<c>envoy_tcp_*{envoy_tcp_prefix}</c>), listener (<c>envoy_listener_*{envoy_listener_address}</c>) and cluster
/// (<c>envoy_cluster_*{envoy_cluster_name}</c>) stats, plus Istio's standard TCP metrics (<c>istio_tcp_*</c>). Gauges
/// and byte counters are observed when scraped, so bytes count as they flow. One instance per node (its meter
/// carries the node name so several nodes in one process stay apart; the exporter does not print it).
/// </summary>
public sealed class DataPlaneMetrics : IDisposable
{
    public const string MeterName = "AkkaL4.DataPlane";

    /// <summary>Envoy's default histogram buckets, in milliseconds.</summary>
    private static readonly double[] EnvoyBuckets = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000];

    private readonly Meter _meter;
    public Meter Meter => _meter;
    public Counter<long> DownstreamTotal { get; }
    public Counter<long> DownstreamNoRoute { get; }
    public Counter<long> DownstreamOverflow { get; }
    public Counter<long> AcceptPausedCount { get; }
    public Counter<long> IdleTimeout { get; }
    public Counter<long> MaxDurationReached { get; }
    public Counter<long> UpstreamTotal { get; }
    public Counter<long> UpstreamConnectFail { get; }
    public Counter<long> UpstreamConnectTimeout { get; }
    public Counter<long> UpstreamOverflow { get; }
    public Counter<long> UpstreamNoneHealthy { get; }
    public Counter<long> OutlierEjections { get; }
    public Counter<long> OutlierEjectionsOverflow { get; }
    public Counter<long> HealthCheckAttempts { get; }
    public Counter<long> HealthCheckFailures { get; }
    public Counter<long> IstioClosed { get; }
    private readonly Histogram<double> _connectMs;
    private readonly Histogram<double> _upstreamLengthMs;
    private readonly Histogram<double> _downstreamLengthMs;

    /// <summary>Istio's TCP metrics, one series per label set: bytes of open connections count at once.</summary>
    private readonly ConcurrentDictionary<IstioLabels, Traffic> _istio = new();
    // What was read before routing (Envoy's tls_inspector and listener filter stats).
    public Counter<long> SniFound { get; }
    public Counter<long> SniNotFound { get; }
    public Counter<long> TlsNotFound { get; }
    public Counter<long> ClientHelloMalformed { get; }
    public Counter<long> PreambleTimeout { get; }
    public Counter<long> ProxyProtocolError { get; }

    public DataPlaneMetrics(string node)
    {
        _meter = new Meter(MeterName, null, [new KeyValuePair<string, object?>("node", node)]);
        var m = _meter;
        DownstreamTotal = m.CreateCounter<long>("envoy_tcp_downstream_cx_total", description: "Connections accepted");
        DownstreamNoRoute = m.CreateCounter<long>("envoy_tcp_downstream_cx_no_route", description: "Connections closed for want of a route (NR)");
        IdleTimeout = m.CreateCounter<long>("envoy_tcp_idle_timeout", description: "Connections closed by idleTimeout");
        MaxDurationReached = m.CreateCounter<long>("envoy_tcp_max_downstream_connection_duration", description: "Connections closed by maxConnectionDuration");
        m.CreateObservableCounter("envoy_tcp_downstream_cx_rx_bytes_total", () => Observe(Listeners, t => t.BytesIn, TcpPrefix), description: "Bytes received from clients");
        m.CreateObservableCounter("envoy_tcp_downstream_cx_tx_bytes_total", () => Observe(Listeners, t => t.BytesOut, TcpPrefix), description: "Bytes sent to clients");

        m.CreateObservableCounter("envoy_listener_downstream_cx_total", () => Observe(Listeners, t => t.Total, ListenerAddress), description: "Connections accepted");
        m.CreateObservableGauge("envoy_listener_downstream_cx_active", () => Observe(Listeners, t => t.Active, ListenerAddress), description: "Connections open");
        DownstreamOverflow = m.CreateCounter<long>("envoy_listener_downstream_cx_overflow", description: "Connections closed at once by a listener or node connection cap");
        AcceptPausedCount = m.CreateCounter<long>("akkal4_listener_accept_paused_total", description: "Times a listener stopped accepting because the process was out of descriptors (EMFILE/ENFILE) until some were free");
        _downstreamLengthMs = m.CreateHistogram("envoy_listener_downstream_cx_length_ms", "ms", "Connection length", advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = EnvoyBuckets });

        UpstreamTotal = m.CreateCounter<long>("envoy_cluster_upstream_cx_total", description: "Upstream connections established");
        m.CreateObservableGauge("envoy_cluster_upstream_cx_active", () => Observe(Clusters, t => t.Active, ClusterName), description: "Upstream connections open");
        UpstreamConnectFail = m.CreateCounter<long>("envoy_cluster_upstream_cx_connect_fail", description: "Upstream connect attempts that failed (UF)");
        UpstreamConnectTimeout = m.CreateCounter<long>("envoy_cluster_upstream_cx_connect_timeout", description: "Upstream connect attempts that timed out");
        UpstreamOverflow = m.CreateCounter<long>("envoy_cluster_upstream_cx_overflow", description: "Connections refused by maxConnections (UO)");
        UpstreamNoneHealthy = m.CreateCounter<long>("envoy_cluster_upstream_cx_none_healthy", description: "Connections with no healthy endpoint (UH)");
        // Envoy counts a cluster's bytes from the upstream's side: rx from the upstream (to the client), tx to it.
        m.CreateObservableCounter("envoy_cluster_upstream_cx_rx_bytes_total", () => Observe(Clusters, t => t.BytesOut, ClusterName), description: "Bytes received from upstreams");
        m.CreateObservableCounter("envoy_cluster_upstream_cx_tx_bytes_total", () => Observe(Clusters, t => t.BytesIn, ClusterName), description: "Bytes sent to upstreams");
        _connectMs = m.CreateHistogram("envoy_cluster_upstream_cx_connect_ms", "ms", "Upstream connect time", advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = EnvoyBuckets });
        _upstreamLengthMs = m.CreateHistogram("envoy_cluster_upstream_cx_length_ms", "ms", "Upstream connection length", advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = EnvoyBuckets });
        OutlierEjections = m.CreateCounter<long>("envoy_cluster_outlier_detection_ejections_enforced_total", description: "Endpoints ejected by outlier detection");
        OutlierEjectionsOverflow = m.CreateCounter<long>("envoy_cluster_outlier_detection_ejections_overflow", description: "Ejections maxEjectionPercent did not allow");
        HealthCheckAttempts = m.CreateCounter<long>("envoy_cluster_health_check_attempt", description: "Active health checks started");
        HealthCheckFailures = m.CreateCounter<long>("envoy_cluster_health_check_failure", description: "Active health checks that failed");

        m.CreateObservableCounter("istio_tcp_connections_opened_total", () => Observe(_istio, t => t.Total, l => l.Tags()), description: "TCP connections opened");
        IstioClosed = m.CreateCounter<long>("istio_tcp_connections_closed_total", description: "TCP connections closed");
        m.CreateObservableCounter("istio_tcp_received_bytes_total", () => Observe(_istio, t => t.BytesIn, l => l.Tags()), description: "Bytes received from clients (request side)");
        m.CreateObservableCounter("istio_tcp_sent_bytes_total", () => Observe(_istio, t => t.BytesOut, l => l.Tags()), description: "Bytes sent to clients (response side)");
        SniFound = m.CreateCounter<long>("envoy_tls_inspector_sni_found", description: "ClientHellos read with a server name");
        SniNotFound = m.CreateCounter<long>("envoy_tls_inspector_sni_not_found", description: "ClientHellos read without a server name (NR where refused)");
        TlsNotFound = m.CreateCounter<long>("envoy_tls_inspector_tls_not_found", description: "Connections on an SNI listener that did not start with TLS (NR where refused)");
        ClientHelloMalformed = m.CreateCounter<long>("envoy_tls_inspector_client_hello_malformed", description: "Malformed or oversized ClientHellos (DPE where refused)");
        PreambleTimeout = m.CreateCounter<long>("envoy_listener_downstream_pre_cx_timeout", description: "PROXY headers or ClientHellos that did not arrive within preamble-timeout");
        ProxyProtocolError = m.CreateCounter<long>("envoy_listener_downstream_cx_proxy_proto_error", description: "Connections refused for a missing or malformed PROXY header (DPE)");
    }

    private static IEnumerable<Measurement<long>> Observe<TKey>(ConcurrentDictionary<TKey, Traffic> series, Func<Traffic, long> value, Func<TKey, TagList> tags)
        where TKey : notnull =>
        series.Select(s => new Measurement<long>(value(s.Value), tags(s.Key)));

    /// <summary>Envoy's spelling of a listener address in a label: <c>127.0.0.1_19000</c>.</summary>
    public static string EnvoyAddress(string listener)
    {
        var colon = listener.LastIndexOf(':');
        return colon < 0 ? listener : $"{listener[..colon]}_{listener[(colon + 1)..]}";
    }

    private static TagList TcpPrefix(string listener) => new() { { "envoy_tcp_prefix", EnvoyAddress(listener) } };
    private static TagList ListenerAddress(string listener) => new() { { "envoy_listener_address", EnvoyAddress(listener) } };
    private static TagList ClusterName(string cluster) => new() { { "envoy_cluster_name", cluster } };

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
        ListenerTraffic(listener).Opened(null);
    }

    /// <summary>A connection closed at once by a listener or node cap.</summary>
    public void Overflowed(string listener)
    {
        DownstreamOverflow.Add(1, ListenerAddress(listener));
        ListenerTraffic(listener).Refused();
    }

    /// <summary>A listener paused accepting: the process is out of descriptors.</summary>
    public void AcceptPaused(string listener) => AcceptPausedCount.Add(1, ListenerAddress(listener));

    /// <summary>An upstream connection is open (after <paramref name="connectTime"/>) and relays through <paramref name="relay"/>.</summary>
    internal void UpstreamConnected(string listener, string cluster, string endpoint, RelayStage.Control relay, TimeSpan connectTime, IstioLabels istio)
    {
        UpstreamTotal.Add(1, Cluster(cluster));
        _connectMs.Record(connectTime.TotalMilliseconds, Cluster(cluster));
        ListenerTraffic(listener).Relaying(relay);
        ClusterTraffic(cluster).Opened(relay);
        EndpointTraffic(cluster, endpoint).Opened(relay);
        _istio.GetOrAdd(istio, _ => new Traffic()).Opened(relay);
    }

    public void UpstreamConnectFailed(string cluster, string endpoint, bool timedOut, string error)
    {
        UpstreamConnectFail.Add(1, Cluster(cluster));
        if (timedOut) UpstreamConnectTimeout.Add(1, Cluster(cluster));
        ClusterTraffic(cluster).Failed(error);
        EndpointTraffic(cluster, endpoint).Failed(error);
    }

    /// <summary>
    /// The connection ended after <paramref name="length"/>: <paramref name="relay"/> (null: it never relayed) carried its
    /// bytes; <paramref name="error"/> is why it ended badly, if it did. <paramref name="opened"/> is the Istio series it was
    /// counted in when it opened (null: it never reached an upstream, and opens and closes here, in <paramref name="closed"/>'s).
    /// </summary>
    internal void Closed(string listener, string? cluster, string? endpoint, RelayStage.Control? relay, string? error, TimeSpan length,
        IstioLabels? opened, IstioLabels closed)
    {
        _downstreamLengthMs.Record(length.TotalMilliseconds, ListenerAddress(listener));
        ListenerTraffic(listener).Closed(relay, null);
        if (opened is { } series) _istio.GetOrAdd(series, _ => new Traffic()).Closed(relay, null);
        else
        {
            var refused = _istio.GetOrAdd(closed, _ => new Traffic());
            refused.Opened(null);
            refused.Closed(null, null);
        }
        if (cluster is not null && relay is not null)
        {
            _upstreamLengthMs.Record(length.TotalMilliseconds, Cluster(cluster));
            ClusterTraffic(cluster).Closed(relay, error);
            if (endpoint is not null) EndpointTraffic(cluster, endpoint).Closed(relay, error);
        }
        // Last: once a scrape sees the connection closed, it sees every other figure of its close too.
        IstioClosed.Add(1, closed.Tags());
    }

    /// <summary>The TCP proxy's tag: <c>envoy_tcp_prefix</c>, the listener's address.</summary>
    public static TagList Listener(string listener) => TcpPrefix(listener);
    /// <summary>A cluster stat's tag: <c>envoy_cluster_name</c>.</summary>
    public static TagList Cluster(string cluster) => ClusterName(cluster);

    public void Dispose() => _meter.Dispose();
}

/// <summary>
/// The labels of Istio's standard TCP metrics for one connection (<c>unknown</c> where AkkaL4 does not know a value).
/// AkkaL4 is the client's proxy (mesh) or a gateway: Istio reports both as <c>reporter="source"</c>.
/// </summary>
public readonly record struct IstioLabels(
    string SourceWorkload, string SourceNamespace, string SourceApp, string SourceVersion,
    string DestinationWorkload, string DestinationNamespace, string DestinationApp, string DestinationVersion,
    string DestinationService, string DestinationServiceName, string DestinationServiceNamespace, string ResponseFlags)
{
    public const string Unknown = "unknown";

    public TagList Tags() => new()
    {
        { "reporter", "source" },
        { "source_workload", SourceWorkload }, { "source_workload_namespace", SourceNamespace },
        { "source_principal", Unknown }, { "source_app", SourceApp }, { "source_version", SourceVersion }, { "source_cluster", Unknown },
        { "destination_workload", DestinationWorkload }, { "destination_workload_namespace", DestinationNamespace },
        { "destination_principal", Unknown }, { "destination_app", DestinationApp }, { "destination_version", DestinationVersion },
        { "destination_service", DestinationService }, { "destination_service_name", DestinationServiceName },
        { "destination_service_namespace", DestinationServiceNamespace }, { "destination_cluster", Unknown },
        { "request_protocol", "tcp" }, { "response_flags", ResponseFlags }, { "connection_security_policy", "none" },
    };

    /// <summary>
    /// <paramref name="client"/>: who connected (its WorkloadEntry, if its address is one's); <paramref name="host"/> and
    /// <paramref name="endpoint"/>: the service and endpoint it reached, if it reached one.
    /// </summary>
    public static IstioLabels Of(Routing.ClientIdentity client, string? host, Routing.UpstreamEndpoint? endpoint, ResponseFlags flags)
    {
        // A Service host is name.namespace.svc.cluster.local; a ServiceEntry host has no such parts.
        var parts = host?.Split('.') ?? [];
        var service = parts.Length >= 3 && parts[2] == "svc";
        return new IstioLabels(
            client.Name ?? Unknown, client.Namespace ?? Unknown, client.Labels.GetValueOrDefault("app") ?? Unknown, client.Labels.GetValueOrDefault("version") ?? Unknown,
            endpoint is { Workload.Length: > 0 } e ? e.Workload.Split('/')[^1] : Unknown,
            endpoint is { Workload.Length: > 0 } w && w.Workload.Contains('/') ? w.Workload.Split('/')[0] : service ? parts[1] : Unknown,
            endpoint?.Labels.GetValueOrDefault("app") ?? Unknown, endpoint?.Labels.GetValueOrDefault("version") ?? Unknown,
            host ?? Unknown, service ? parts[0] : host ?? Unknown, service ? parts[1] : Unknown,
            ResponseFlagNames.Format(flags));
    }
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
