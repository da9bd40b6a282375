using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using AkkaL4.Actors.Routing;

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
    public Counter<long> PendingFullCount { get; }
    public Counter<long> PendingTimeout { get; }
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
    public Counter<long> ProxyProtocolUntrusted { get; }

    /// <summary>The node's remoting gate (<see cref="RemotingGate"/>): connections to the cluster port that did not authenticate.</summary>
    public void Observe(RemotingGateCounts gate)
    {
        _meter.CreateObservableCounter("akkal4_remoting_unauthenticated_closed_total", () => gate.Closed,
            description: "Connections to the cluster remoting port closed here before they authenticated, over akkal4.remoting.max-unauthenticated-per-source or max-unauthenticated");
        _meter.CreateObservableCounter("akkal4_remoting_unauthenticated_ended_total", () => gate.Ended,
            description: "Connections to the cluster remoting port that ended before they authenticated: a refused certificate, a failed TLS handshake, plain remoting to a TLS node, Akka's handshake timeout, or a peer that closed");
        _meter.CreateObservableGauge("akkal4_remoting_unauthenticated_pending", () => gate.Pending,
            description: "Connections to the cluster remoting port accepted and not authenticated yet");
    }

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
        AcceptPausedCount = m.CreateCounter<long>("akkal4_listener_accept_paused_total", description: "Shortages in which a listener stopped accepting until descriptors were free (one within 10 s of the last continues it): its connections had taken all but akkal4.data-plane.descriptor-reserve, or the process was out of them (EMFILE/ENFILE)");
        PendingFullCount = m.CreateCounter<long>("akkal4_listener_pending_full_total", description: "Times a listener stopped accepting because akkal4.data-plane.max-pending-connections of its connections were pending (accepted, not yet dialling); it accepts the next as one leaves, the rest wait in the kernel's queue");
        PendingTimeout = m.CreateCounter<long>("akkal4_listener_pending_timeout_total", description: "Connections closed without dialling (OM) because they waited in the node longer than akkal4.data-plane.pending-timeout before it took them up");
        m.CreateObservableGauge("akkal4_listener_pending_connections", () => _pending.Select(p => new Measurement<long>(p.Value.Count, ListenerAddress(p.Key))),
            description: "Connections accepted and not yet dialling nor reading what their client sends first (waiting for a thread, deciding, picking)");
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
        ProxyProtocolUntrusted = m.CreateCounter<long>("akkal4_listener_proxy_protocol_untrusted_total", description: "Connections refused on a listener expecting a PROXY header because their peer is not among proxy-protocol-trusted-sources (DPE)");
    }

    private static IEnumerable<Measurement<long>> Observe<TKey>(ConcurrentDictionary<TKey, Traffic> series, Func<Traffic, long> value, Func<TKey, TagList> tags)
        where TKey : notnull =>
        series.Select(s => new Measurement<long>(value(s.Value), tags(s.Key)));

    /// <summary>
    /// Envoy's spelling of a listener address in a label: <c>127.0.0.1_19000</c>. Spelled once per listener: it was three
    /// strings on every metric of every connection (bench/README.md, session 7).
    /// </summary>
    public static string EnvoyAddress(string listener) => Memo.Get(EnvoyAddresses, listener, static listener =>
    {
        var colon = listener.LastIndexOf(':');
        return colon < 0 ? listener : $"{listener[..colon]}_{listener[(colon + 1)..]}";
    });

    private static readonly ConcurrentDictionary<string, string> EnvoyAddresses = new(StringComparer.Ordinal);

    /// <summary>An Istio series' tags as one array, made once per series rather than once per closed connection.</summary>
    private KeyValuePair<string, object?>[] IstioTags(IstioLabels labels) => Memo.Get(_istioTags, labels, static l => l.Tags().ToArray());

    private readonly ConcurrentDictionary<IstioLabels, KeyValuePair<string, object?>[]> _istioTags = new();

    private static TagList TcpPrefix(string listener) => new() { { "envoy_tcp_prefix", EnvoyAddress(listener) } };
    private static TagList ListenerAddress(string listener) => new() { { "envoy_listener_address", EnvoyAddress(listener) } };
    private static TagList ClusterName(string cluster) => new() { { "envoy_cluster_name", cluster } };

    /// <summary>
    /// Per listener, per upstream cluster and per endpoint (<c>cluster endpoint</c>): what the status page shows. A series the
    /// configuration in force no longer has goes once no open connection counts in it (Envoy drops a removed cluster's
    /// stats too), so endpoint churn does not grow them, nor the exporter's series (<see cref="LiveSeries"/>).
    /// </summary>
    public ConcurrentDictionary<string, Traffic> Listeners { get; } = new();
    public ConcurrentDictionary<string, Traffic> Clusters { get; } = new();
    public ConcurrentDictionary<(string Cluster, string Endpoint), Traffic> Endpoints { get; } = new();

    /// <summary>What the configuration in force has (null: none yet, everything stays).</summary>
    private volatile Wanted? _wanted;

    internal sealed class Wanted(RouteSnapshot snapshot)
    {
        public readonly HashSet<string> Listeners = snapshot.Listeners.Select(l => l.Address.ToString()).ToHashSet(StringComparer.Ordinal);
        public readonly HashSet<string> Clusters = snapshot.Clusters.Select(c => c.Name).ToHashSet(StringComparer.Ordinal);
        public readonly HashSet<(string, string)> Endpoints = snapshot.Clusters.SelectMany(c => c.Endpoints.Select(e => (c.Name, e.ToString()))).ToHashSet();
        // Istio's series are per source and destination workload: those the configuration has, and anyone unknown.
        public readonly HashSet<IstioLabels.Source> Sources = snapshot.Catalog.Workloads
            .Select(w => IstioLabels.Of(new ClientIdentity(w.Name, w.Namespace, w.Labels), null, null, ResponseFlags.None).From)
            .Append(IstioLabels.Of(ClientIdentity.Unknown, null, null, ResponseFlags.None).From).ToHashSet();
        public readonly HashSet<IstioLabels.Destination> Destinations = snapshot.Clusters
            .SelectMany(c => c.Endpoints.Select(e => IstioLabels.Of(ClientIdentity.Unknown, c.Host, e, ResponseFlags.None).To)
                .Append(IstioLabels.Of(ClientIdentity.Unknown, c.Host, null, ResponseFlags.None).To))
            .Append(IstioLabels.Of(ClientIdentity.Unknown, null, null, ResponseFlags.None).To).ToHashSet();

        public bool Has(IstioLabels labels) => Sources.Contains(labels.From) && Destinations.Contains(labels.To);
    }

    /// <summary>The configuration now in force: what it no longer has goes now, or when its last connection closes.</summary>
    public void Retain(RouteSnapshot snapshot)
    {
        var wanted = _wanted = new Wanted(snapshot);
        foreach (var (key, traffic) in Listeners) Settle(Listeners, key, traffic, wanted.Listeners.Contains(key));
        foreach (var (key, traffic) in Clusters) Settle(Clusters, key, traffic, wanted.Clusters.Contains(key));
        foreach (var (key, traffic) in Endpoints) Settle(Endpoints, key, traffic, wanted.Endpoints.Contains(key));
        foreach (var (key, traffic) in _istio) Settle(_istio, key, traffic, wanted.Has(key));
    }

    /// <summary>A series the configuration does not have goes once no connection is open in it.</summary>
    private static void Settle<TKey>(ConcurrentDictionary<TKey, Traffic> series, TKey key, Traffic traffic, bool wanted) where TKey : notnull
    {
        if (!wanted && traffic.TryRetire()) series.TryRemove(new KeyValuePair<TKey, Traffic>(key, traffic));
    }

    private void SettleListener(string listener, Traffic t) { if (_wanted is { } w) Settle(Listeners, listener, t, w.Listeners.Contains(listener)); }
    private void SettleCluster(string cluster, Traffic t) { if (_wanted is { } w) Settle(Clusters, cluster, t, w.Clusters.Contains(cluster)); }
    private void SettleEndpoint((string, string) endpoint, Traffic t) { if (_wanted is { } w) Settle(Endpoints, endpoint, t, w.Endpoints.Contains(endpoint)); }

    /// <summary>One connection fewer open in <paramref name="key"/>'s series; <paramref name="wanted"/>: does the configuration have it (null: no configuration yet).</summary>
    private static void CloseIn<TKey>(ConcurrentDictionary<TKey, Traffic> series, TKey key, RelayStage.Control? relay, string? error, bool? wanted) where TKey : notnull
    {
        if (!series.TryGetValue(key, out var traffic)) return;
        traffic.Closed(relay, error);
        if (wanted is false) Settle(series, key, traffic, false);
    }

    /// <summary>The series of <paramref name="key"/> with one more connection open in it (a retired one is replaced).</summary>
    private static Traffic Open<TKey>(ConcurrentDictionary<TKey, Traffic> series, TKey key, RelayStage.Control? relay, int kind) where TKey : notnull
    {
        while (true)
        {
            var traffic = series.GetOrAdd(key, static (_, kind) => new Traffic(kind), kind);
            if (traffic.TryOpen(relay)) return traffic;
            series.TryRemove(new KeyValuePair<TKey, Traffic>(key, traffic));
        }
    }

    /// <summary>The series of <paramref name="key"/>, not retired (to count in without opening a connection).</summary>
    private static Traffic Live<TKey>(ConcurrentDictionary<TKey, Traffic> series, TKey key, int kind) where TKey : notnull
    {
        while (true)
        {
            var traffic = series.GetOrAdd(key, static (_, kind) => new Traffic(kind), kind);
            if (!traffic.Retired) return traffic;
            series.TryRemove(new KeyValuePair<TKey, Traffic>(key, traffic));
        }
    }

    /// <summary>
    /// The label sets of the data plane's series worth exporting now: those of the configuration in force and those
    /// still counting open connections (a counter or histogram of a removed cluster goes with it).
    /// </summary>
    public LiveSeries Exported() => new(this, _wanted);

    public sealed class LiveSeries
    {
        private readonly HashSet<string>? _listeners, _clusters;
        private readonly HashSet<IstioLabels.Source>? _sources;
        private readonly HashSet<IstioLabels.Destination>? _destinations;

        internal LiveSeries(DataPlaneMetrics metrics, Wanted? wanted)
        {
            if (wanted is null) return;
            _listeners = wanted.Listeners.Concat(metrics.Listeners.Select(l => l.Key)).Select(EnvoyAddress).ToHashSet(StringComparer.Ordinal);
            _clusters = wanted.Clusters.Concat(metrics.Clusters.Select(c => c.Key)).ToHashSet(StringComparer.Ordinal);
            _sources = wanted.Sources.Concat(metrics._istio.Select(i => i.Key.From)).ToHashSet();
            _destinations = wanted.Destinations.Concat(metrics._istio.Select(i => i.Key.To)).ToHashSet();
        }

        /// <summary>Does a series with these tags (listener, cluster or Istio's) stay?</summary>
        public bool Has(ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            if (_listeners is null) return true;
            foreach (var (key, value) in tags)
            {
                switch (key)
                {
                    case "envoy_listener_address" or "envoy_tcp_prefix": return _listeners.Contains(value as string ?? "");
                    case "envoy_cluster_name": return _clusters!.Contains(value as string ?? "");
                    case "reporter":
                        var istio = IstioLabels.FromTags(tags);
                        return _sources!.Contains(istio.From) && _destinations!.Contains(istio.To);
                }
            }
            return true;
        }
    }

    public Traffic ListenerTraffic(string listener) => Live(Listeners, listener, Traffic.ListenerKind);
    public Traffic ClusterTraffic(string cluster) => Live(Clusters, cluster, Traffic.ClusterKind);
    public Traffic EndpointTraffic(string cluster, string endpoint) => Live(Endpoints, (cluster, endpoint), Traffic.EndpointKind);

    /// <summary>A connection accepted by <paramref name="listener"/>.</summary>
    public void Accepted(string listener)
    {
        DownstreamTotal.Add(1, Listener(listener));
        Open(Listeners, listener, null, Traffic.ListenerKind);
    }

    /// <summary>A connection closed at once by a listener or node cap.</summary>
    public void Overflowed(string listener)
    {
        DownstreamOverflow.Add(1, ListenerAddress(listener));
        var traffic = ListenerTraffic(listener);
        traffic.Refused();
        SettleListener(listener, traffic);
    }

    /// <summary>One warning per listener per 10 s about untrusted PROXY senders.</summary>
    internal WarningThrottle UntrustedProxyWarnings { get; set; } = new(TimeSpan.FromSeconds(10));

    /// <summary>
    /// Counts a connection refused for an untrusted PROXY sender; returns how many the listener refused since its last
    /// warning when one is due now (see <see cref="UntrustedProxyWarnings"/>), else 0.
    /// </summary>
    public long ProxyProtocolUntrustedPeer(string listener)
    {
        ProxyProtocolUntrusted.Add(1, Listener(listener));
        return UntrustedProxyWarnings.Count(listener);
    }

    /// <summary>Gauges of the node's descriptors: the limit, the reserve, what the connections and the rest of the process hold.</summary>
    public void Observe(ConnectionBudget connections)
    {
        var descriptors = connections.Descriptors;
        _meter.CreateObservableGauge("akkal4_descriptors_limit", () => descriptors.Limit == long.MaxValue ? -1 : descriptors.Limit,
            description: "The process's descriptor limit (soft RLIMIT_NOFILE, ulimit -n) as last read, -1 if none is known");
        _meter.CreateObservableGauge("akkal4_descriptors_reserve", () => descriptors.Reserve,
            description: "Descriptors the connections leave free (akkal4.data-plane.descriptor-reserve)");
        _meter.CreateObservableGauge("akkal4_descriptors_connections", () => connections.Open * DescriptorBudget.PerConnection,
            description: "Descriptors the data plane's connections hold (two each: its own and its upstream's)");
        _meter.CreateObservableGauge("akkal4_descriptors_other", () => descriptors.Others,
            description: "Descriptors the rest of the process held when last counted");
    }

    /// <summary>Each running listener's pending connections, by address (the gauge's source).</summary>
    private readonly ConcurrentDictionary<string, PendingConnections> _pending = new(StringComparer.Ordinal);

    /// <summary>A listener (instance) started: its pending connections are the gauge's for its address.</summary>
    public void PendingOf(string listener, PendingConnections pending) => _pending[listener] = pending;

    /// <summary>A listener (instance) stopped: its address leaves the gauge unless a successor took it over.</summary>
    public void PendingGone(string listener, PendingConnections pending) => _pending.TryRemove(new KeyValuePair<string, PendingConnections>(listener, pending));

    /// <summary>One warning per listener per 10 s about connections closed at pending-timeout.</summary>
    internal WarningThrottle PendingTimeoutWarnings { get; set; } = new(TimeSpan.FromSeconds(10));

    /// <summary>
    /// Counts a connection closed at pending-timeout (OM); returns how many the listener closed so since its last warning
    /// when one is due now (see <see cref="PendingTimeoutWarnings"/>), else 0.
    /// </summary>
    public long PendingTimedOut(string listener)
    {
        PendingTimeout.Add(1, ListenerAddress(listener));
        return PendingTimeoutWarnings.Count(listener);
    }

    /// <summary>A listener stopped accepting at max-pending-connections.</summary>
    public void PendingFull(string listener) => PendingFullCount.Add(1, ListenerAddress(listener));

    /// <summary>A listener paused accepting: the descriptors leave no room for another connection.</summary>
    public void AcceptPaused(string listener) => AcceptPausedCount.Add(1, ListenerAddress(listener));

    /// <summary>An upstream connection is open (after <paramref name="connectTime"/>) and relays through <paramref name="relay"/>.</summary>
    internal void UpstreamConnected(string listener, string cluster, string endpoint, RelayStage.Control relay, TimeSpan connectTime, IstioLabels istio)
    {
        UpstreamTotal.Add(1, Cluster(cluster));
        _connectMs.Record(connectTime.TotalMilliseconds, Cluster(cluster));
        ListenerTraffic(listener).Relaying(relay);
        Open(Clusters, cluster, relay, Traffic.ClusterKind);
        Open(Endpoints, (cluster, endpoint), relay, Traffic.EndpointKind);
        Open(_istio, istio, relay, Traffic.IstioKind);
    }

    public void UpstreamConnectFailed(string cluster, string endpoint, bool timedOut, string error)
    {
        UpstreamConnectFail.Add(1, Cluster(cluster));
        if (timedOut) UpstreamConnectTimeout.Add(1, Cluster(cluster));
        var clusterTraffic = ClusterTraffic(cluster);
        clusterTraffic.Failed(error);
        SettleCluster(cluster, clusterTraffic);
        var endpointTraffic = EndpointTraffic(cluster, endpoint);
        endpointTraffic.Failed(error);
        SettleEndpoint((cluster, endpoint), endpointTraffic);
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
        // Each series this connection opened is open (so not retired) until closed here.
        CloseIn(Listeners, listener, relay, null, _wanted?.Listeners.Contains(listener));
        if (opened is { } series) CloseIn(_istio, series, relay, null, _wanted?.Has(series));
        else
        {
            var refused = Open(_istio, closed, null, Traffic.IstioKind);
            refused.Closed(null, null);
            if (_wanted is { } w) Settle(_istio, closed, refused, w.Has(closed));
        }
        if (cluster is not null && relay is not null)
        {
            _upstreamLengthMs.Record(length.TotalMilliseconds, Cluster(cluster));
            CloseIn(Clusters, cluster, relay, error, _wanted?.Clusters.Contains(cluster));
            if (endpoint is not null) CloseIn(Endpoints, (cluster, endpoint), relay, error, _wanted?.Endpoints.Contains((cluster, endpoint)));
        }
        // Last: once a scrape sees the connection closed, it sees every other figure of its close too (the exporter reads
        // this counter first, PrometheusExporter.Scrape).
        IstioClosed.Add(1, IstioTags(closed));
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

    /// <summary>Who the series is from: a workload (or no one known).</summary>
    public readonly record struct Source(string Workload, string Namespace, string App, string Version);
    /// <summary>Where the series goes: a service and one of its workloads (or no one known).</summary>
    public readonly record struct Destination(string Workload, string Namespace, string App, string Version, string Service, string ServiceName, string ServiceNamespace);

    public Source From => new(SourceWorkload, SourceNamespace, SourceApp, SourceVersion);
    public Destination To => new(DestinationWorkload, DestinationNamespace, DestinationApp, DestinationVersion, DestinationService, DestinationServiceName, DestinationServiceNamespace);

    /// <summary>The labels back from <see cref="Tags"/>.</summary>
    public static IstioLabels FromTags(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var l = new IstioLabels(Unknown, Unknown, Unknown, Unknown, Unknown, Unknown, Unknown, Unknown, Unknown, Unknown, Unknown, "");
        foreach (var (key, value) in tags)
        {
            var v = value as string ?? Unknown;
            l = key switch
            {
                "source_workload" => l with { SourceWorkload = v },
                "source_workload_namespace" => l with { SourceNamespace = v },
                "source_app" => l with { SourceApp = v },
                "source_version" => l with { SourceVersion = v },
                "destination_workload" => l with { DestinationWorkload = v },
                "destination_workload_namespace" => l with { DestinationNamespace = v },
                "destination_app" => l with { DestinationApp = v },
                "destination_version" => l with { DestinationVersion = v },
                "destination_service" => l with { DestinationService = v },
                "destination_service_name" => l with { DestinationServiceName = v },
                "destination_service_namespace" => l with { DestinationServiceNamespace = v },
                "response_flags" => l with { ResponseFlags = v },
                _ => l,
            };
        }
        return l;
    }

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
        var (service, serviceName, serviceNamespace) = host is null ? (false, Unknown, Unknown) : Memo.Get(Hosts, host, HostParts);
        var (workload, workloadNamespace) = endpoint is { Workload.Length: > 0 } e ? Memo.Get(Workloads, e.Workload, WorkloadParts) : (Unknown, null);
        return new IstioLabels(
            client.Name ?? Unknown, client.Namespace ?? Unknown, client.Labels.GetValueOrDefault("app") ?? Unknown, client.Labels.GetValueOrDefault("version") ?? Unknown,
            workload, workloadNamespace ?? (service ? serviceNamespace : Unknown),
            endpoint?.Labels.GetValueOrDefault("app") ?? Unknown, endpoint?.Labels.GetValueOrDefault("version") ?? Unknown,
            host ?? Unknown, service ? serviceName : host ?? Unknown, service ? serviceNamespace : Unknown,
            ResponseFlagNames.Format(flags));
    }

    // Split once per host and workload, not twice per connection (bench/README.md, session 7).
    private static readonly ConcurrentDictionary<string, (bool, string, string)> Hosts = new(StringComparer.Ordinal);
    private static readonly ConcurrentDictionary<string, (string, string?)> Workloads = new(StringComparer.Ordinal);

    /// <summary>A Service host is name.namespace.svc.cluster.local; a ServiceEntry host has no such parts.</summary>
    private static (bool Service, string Name, string Namespace) HostParts(string host)
    {
        var parts = host.Split('.');
        return parts.Length >= 3 && parts[2] == "svc" ? (true, parts[0], parts[1]) : (false, Unknown, Unknown);
    }

    /// <summary>A WorkloadEntry's workload is namespace/name (or a name alone).</summary>
    private static (string Name, string? Namespace) WorkloadParts(string workload)
    {
        var parts = workload.Split('/');
        return (parts[^1], parts.Length > 1 ? parts[0] : null);
    }
}

/// <summary>
/// Values computed once per key and kept, for the few keys a configuration has (listeners, hosts, series); past
/// <see cref="Limit"/> keys they are computed each time instead, so churn cannot grow them without bound.
/// </summary>
internal static class Memo
{
    public const int Limit = 4096;

    public static TValue Get<TKey, TValue>(ConcurrentDictionary<TKey, TValue> memo, TKey key, Func<TKey, TValue> compute) where TKey : notnull
    {
        if (memo.TryGetValue(key, out var value)) return value;
        value = compute(key);
        if (memo.Count < Limit) memo.TryAdd(key, value);
        return value;
    }
}

/// <summary>
/// Connections and bytes of one listener, cluster or endpoint. Bytes count as they flow: those of connections
/// still open are read from their relays when asked (a day-long connection shows its bytes at once).
/// </summary>
public sealed class Traffic
{
    /// <summary><see cref="_active"/> of a series that has been dropped: nothing opens in it again.</summary>
    private const long RetiredMark = long.MinValue;

    /// <summary>Which of a relay's <see cref="Links"/> a series of this kind uses: a relay counts in one series of each kind.</summary>
    internal const int ListenerKind = 0, ClusterKind = 1, EndpointKind = 2, IstioKind = 3;

    private long _total, _active, _refused, _failures, _closedRx, _closedTx, _reportedRx, _reportedTx;
    private readonly int _kind;
    /// <summary>
    /// Guards <see cref="_head"/> and the links: taken by a relay opening or closing here and by a reading's walk of the
    /// open relays (<see cref="Monotonic"/>), so a scrape holds up this series' opens and closes for one walk. Private:
    /// this type is public, and a lock on the instance could be taken by anyone holding one (STYLE.md).
    /// </summary>
    private readonly object _gate = new();
    /// <summary>
    /// The open relays counting here, a list through their own <see cref="RelayStage.Control.Series"/> (under <see cref="_gate"/>):
    /// a dictionary of them held a node per relay in each of its four series, ~160 B of every open connection
    /// (bench/README.md, session 13).
    /// </summary>
    private RelayStage.Control? _head;

    /// <summary>A series of a kind (<see cref="ListenerKind"/>, ...): a relay is in at most one series of each.</summary>
    public Traffic(int kind = ListenerKind)
    {
        if ((uint)kind >= Links.Kinds) throw new ArgumentOutOfRangeException(nameof(kind));
        _kind = kind;
    }

    /// <summary>A relay's place in the open-relay list of one series of each kind.</summary>
    [System.Runtime.CompilerServices.InlineArray(Kinds)]
    internal struct Links
    {
        public const int Kinds = 4;
        private Link _first;
    }

    /// <summary>The relay's neighbours in the one series of a kind it is in (both null, and not the head: in none).</summary>
    internal struct Link
    {
        public RelayStage.Control? Previous, Next;
    }

    public long Total => Interlocked.Read(ref _total);
    public long Active => Math.Max(0, Interlocked.Read(ref _active));
    internal bool Retired => Interlocked.Read(ref _active) == RetiredMark;
    /// <summary>Connections refused at a cap (listeners).</summary>
    public long RefusedCount => Interlocked.Read(ref _refused);
    /// <summary>Connect attempts that failed (clusters, endpoints).</summary>
    public long Failures => Interlocked.Read(ref _failures);
    /// <summary>Received from clients; never less than it was last read (a counter).</summary>
    public long BytesIn => Monotonic(ref _reportedRx, ref _closedRx, static r => r.BytesFromClient);
    /// <summary>Sent to clients; never less than it was last read (a counter).</summary>
    public long BytesOut => Monotonic(ref _reportedTx, ref _closedTx, static r => r.BytesToClient);
    public (string Error, DateTimeOffset At)? LastError => Volatile.Read(ref _lastErrorBox)?.Value;

    private sealed record Box((string Error, DateTimeOffset At)? Value);
    private Box? _lastErrorBox;

    /// <summary>
    /// Closed bytes, then the open relays' (walked under the list's lock): a relay closing meanwhile may be counted in
    /// neither, never in both, and the shortfall is made up at the next reading, so what was reported is the floor.
    /// </summary>
    private long Monotonic(ref long reported, ref long closed, Func<RelayStage.Control, long> bytes)
    {
        var now = Interlocked.Read(ref closed);
        lock (_gate)
        {
            for (var relay = _head; relay is not null; relay = relay.Series[_kind].Next) now += bytes(relay);
        }
        while (true)
        {
            var last = Interlocked.Read(ref reported);
            if (now <= last) return last;
            if (Interlocked.CompareExchange(ref reported, now, last) == last) return now;
        }
    }

    /// <summary>One more connection open here; false if this series was retired (the caller takes a new one).</summary>
    internal bool TryOpen(RelayStage.Control? relay)
    {
        while (true)
        {
            var active = Interlocked.Read(ref _active);
            if (active == RetiredMark) return false;
            if (Interlocked.CompareExchange(ref _active, active + 1, active) == active) break;
        }
        Interlocked.Increment(ref _total);
        if (relay is not null) Add(relay);
        return true;
    }

    /// <summary>
    /// Into the open relays, unless it is in them. A relay is in at most one series of a kind (it counts as open in the one
    /// it opened in, so that one is not retired and replaced until it closes there), which is what lets its links say
    /// whether it is in this one.
    /// </summary>
    private void Add(RelayStage.Control relay)
    {
        lock (_gate)
        {
            ref var link = ref relay.Series[_kind];
            if (link.Previous is not null || ReferenceEquals(_head, relay)) return;
            link.Next = _head;
            if (_head is not null) _head.Series[_kind].Previous = relay;
            _head = relay;
        }
    }

    /// <summary>Out of the open relays: false if it was not in them.</summary>
    private bool Remove(RelayStage.Control relay)
    {
        lock (_gate)
        {
            ref var link = ref relay.Series[_kind];
            if (link.Previous is null && !ReferenceEquals(_head, relay)) return false;
            if (link.Previous is { } previous) previous.Series[_kind].Next = link.Next;
            else _head = link.Next;
            if (link.Next is { } next) next.Series[_kind].Previous = link.Previous;
            link = default;
            return true;
        }
    }

    /// <summary>Retires the series if no connection is open in it.</summary>
    internal bool TryRetire() => Interlocked.CompareExchange(ref _active, RetiredMark, 0) == 0;

    internal void Relaying(RelayStage.Control relay) => Add(relay);

    internal void Refused() => Interlocked.Increment(ref _refused);

    internal void Failed(string error)
    {
        Interlocked.Increment(ref _failures);
        Volatile.Write(ref _lastErrorBox, new Box((error, DateTimeOffset.UtcNow)));
    }

    internal void Closed(RelayStage.Control? relay, string? error)
    {
        Interlocked.Decrement(ref _active);
        // Out of the open relays before into the closed bytes: a reading in between counts the relay in neither.
        if (relay is not null && Remove(relay))
        {
            Interlocked.Add(ref _closedRx, relay.BytesFromClient);
            Interlocked.Add(ref _closedTx, relay.BytesToClient);
        }
        if (error is not null) Volatile.Write(ref _lastErrorBox, new Box((error, DateTimeOffset.UtcNow)));
    }
}
