using AkkaL4.Actors.DataPlane;
using AkkaL4.Actors.Routing;
using AkkaL4.Node.Admin;
using static AkkaL4.Tests.Routing.RoutingFixtures;
using AkkaL4.Tests.Support;

namespace AkkaL4.Tests.DataPlane;

/// <summary>
/// The data plane's series over configuration changes and concurrent closes: what the configuration no longer has goes
/// once no connection is open in it (from the dictionaries and from /metrics), and byte counters never go down.
/// In process, no sockets (addresses 127.140.0.x appear only as configuration).
/// </summary>
[Trait("Category", "Unit")]
[Trait(TestCategories.TransportTrait, TestCategories.TransportNamed)]
public sealed class MetricsLifecycleTests
{
    /// <summary>One ServiceEntry per generation, each with its own host and <paramref name="endpoints"/> endpoints.</summary>
    private static RouteSnapshot Generation(int generation, int endpoints) => Compile($$"""
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: db-{{generation}}, namespace: data}
        spec:
          hosts: [db-{{generation}}.example.com]
          addresses: [127.140.0.1]
          ports: [{number: 5432, name: tcp, protocol: TCP}]
          resolution: STATIC
          endpoints:
        {{string.Join("\n", Enumerable.Range(0, endpoints).Select(i => $"  - {{address: 10.{generation}.{i / 250}.{i % 250 + 1}, labels: {{app: db, version: g{generation}-{i}}}}}"))}}
        """);

    /// <summary>A connection to every endpoint of the snapshot, closed at once unless <paramref name="keepOpen"/>; one failed connect each.</summary>
    private static List<Action> Traffic(DataPlaneMetrics metrics, RouteSnapshot snapshot, bool keepOpen = false)
    {
        var open = new List<Action>();
        var listener = snapshot.Listeners.Single().Address.ToString();
        foreach (var cluster in snapshot.Clusters)
        {
            metrics.UpstreamConnectFailed(cluster.Name, cluster.Endpoints[0].ToString(), timedOut: false, "refused");
            foreach (var endpoint in cluster.Endpoints)
            {
                metrics.Accepted(listener);
                var relay = new RelayStage.Control { FromClient = 10, ToClient = 20 };
                var istio = IstioLabels.Of(ClientIdentity.Unknown, cluster.Host, endpoint, ResponseFlags.None);
                metrics.UpstreamConnected(listener, cluster.Name, endpoint.ToString(), relay, TimeSpan.FromMilliseconds(1), istio);
                void Close() => metrics.Closed(listener, cluster.Name, endpoint.ToString(), relay, null, TimeSpan.FromMilliseconds(5), istio, istio);
                if (keepOpen) open.Add(Close);
                else Close();
            }
        }
        return open;
    }

    /// <summary>The data plane's series in a scrape: names and labels, without values.</summary>
    private static HashSet<string> Series(PrometheusExporter exporter) => exporter.Scrape().Split('\n')
        .Where(l => l.StartsWith("envoy_", StringComparison.Ordinal) || l.StartsWith("istio_", StringComparison.Ordinal))
        .Select(l => l[..l.LastIndexOf(' ')]).ToHashSet();

    [Fact]
    public void Endpoint_churn_through_configurations_leaves_only_the_series_the_configuration_in_force_needs()
    {
        using var metrics = new DataPlaneMetrics("churn");
        using var exporter = new PrometheusExporter(metrics, null);
        // A connection of the first generation stays open through every change: its series stay while it is open.
        var first = Generation(0, 1);
        metrics.Retain(first);
        var held = Traffic(metrics, first, keepOpen: true);
        // 1,000 endpoints in ten generations, each generation's traffic scraped while it is in force.
        for (var generation = 1; generation <= 10; generation++)
        {
            var snapshot = Generation(generation, 100);
            metrics.Retain(snapshot);
            Traffic(metrics, snapshot);
            Assert.Contains(Series(exporter), s => s.Contains($"db-{generation}.example.com"));
        }
        var last = Generation(11, 2);
        metrics.Retain(last);
        Traffic(metrics, last);

        var held0 = Series(exporter);
        Assert.Contains(held0, s => s.Contains("outbound|5432||db-0.example.com"));
        Assert.Equal(2, metrics.Clusters.Count); // db-0's, open, and the one in force
        foreach (var close in held) close();

        // What a node that only ever had the last configuration and its traffic exports.
        using var fresh = new DataPlaneMetrics("fresh");
        using var freshExporter = new PrometheusExporter(fresh, null);
        fresh.Retain(last);
        Traffic(fresh, last);
        var expected = Series(freshExporter);
        var actual = Series(exporter);
        Assert.Equal(expected.Order(StringComparer.Ordinal), actual.Order(StringComparer.Ordinal));
        Assert.Equal(["outbound|5432||db-11.example.com"], metrics.Clusters.Keys);
        Assert.Equal(2, metrics.Endpoints.Count);
        Assert.Single(metrics.Listeners);
    }

    [Fact]
    public void A_byte_counter_never_goes_down_while_connections_close_beside_a_scrape()
    {
        var traffic = new Traffic();
        // Hundreds of connections open at any time, one closing as the next opens: a reading is long enough, and sees
        // enough open connections, for some to close within it.
        var closing = Task.Run(() =>
        {
            var open = new Queue<RelayStage.Control>();
            for (var i = 0; i < 200_000; i++)
            {
                var relay = new RelayStage.Control { FromClient = 1_000 };
                traffic.TryOpen(relay);
                open.Enqueue(relay);
                if (open.Count > 500) traffic.Closed(open.Dequeue(), null);
            }
            while (open.Count > 0) traffic.Closed(open.Dequeue(), null);
        });
        long last = 0, readings = 0;
        var dips = new List<string>();
        while (!closing.IsCompleted)
        {
            var now = traffic.BytesIn;
            if (now < last) dips.Add($"{last} then {now}");
            last = now;
            readings++;
        }
        Assert.True(readings > 10, $"only {readings} readings");
        Assert.Empty(dips);
        Assert.Equal(200_000L * 1_000, traffic.BytesIn);
    }

    [Fact]
    public void A_scrape_that_shows_a_connection_closed_shows_it_no_longer_open()
    {
        using var metrics = new DataPlaneMetrics("consistent");
        using var exporter = new PrometheusExporter(metrics, null);
        var snapshot = Generation(1, 1);
        metrics.Retain(snapshot);
        var close = Assert.Single(Traffic(metrics, snapshot, keepOpen: true));
        // The close lands inside the scrape, as the observable instruments are read (this gauge is observed last).
        var closed = false;
        metrics.Meter.CreateObservableGauge("akkal4_test_close_hook", () =>
        {
            if (!closed) close();
            closed = true;
            return 0L;
        });

        // A family's value in a scrape (its one series here; 0 before it has one).
        static double Value(string text, string family) => text.Split('\n').Where(l => l.StartsWith(family + "{", StringComparison.Ordinal))
            .Sum(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture));
        foreach (var scrape in new[] { exporter.Scrape(), exporter.Scrape() })
        {
            if (Value(scrape, "istio_tcp_connections_closed_total") == 0) continue;
            Assert.Equal(0, Value(scrape, "envoy_cluster_upstream_cx_active"));
            Assert.Equal(0, Value(scrape, "envoy_listener_downstream_cx_active"));
            Assert.Equal(1, Value(scrape, "envoy_cluster_upstream_cx_length_ms_count"));
        }
        Assert.True(closed, "the close ran within the first scrape");
        Assert.Equal(1, Value(exporter.Scrape(), "istio_tcp_connections_closed_total"));
    }
}
