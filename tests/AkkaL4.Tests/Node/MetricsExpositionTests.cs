using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using AkkaL4.Node.Admin;
using AkkaL4.Node.Echo;
using static AkkaL4.Tests.ControlPlane.ControlPlaneKit;

namespace AkkaL4.Tests.Node;

/// <summary>
/// <c>/metrics</c> read by Prometheus' own text parser (Debian's python3-prometheus-client, run by /usr/bin/python3; .ci/run installs it):
/// Envoy's TCP proxy, listener and cluster stats and Istio's TCP metrics with their names, types and labels; bytes
/// of a connection that is still open already counted; the .NET runtime's and Kestrel's metrics; no OpenTelemetry
/// scope labels. Addresses: 127.80.4.x (service), 127.80.5.x (upstream), 127.80.6.x (client), admin on 127.80.0.4.
/// </summary>
[Trait("Category", "EndToEnd")]
public sealed class MetricsExpositionTests
{
    private sealed record Sample(string Name, Dictionary<string, string> Labels, double Value);
    private sealed record Family(string Name, string Type, List<Sample> Samples);

    /// <summary>Parses with prometheus_client's parser; a text it rejects fails the test with the parser's words.</summary>
    private static async Task<Dictionary<string, Family>> ParseAsync(string text)
    {
        const string script = """
            import sys, json
            from prometheus_client.parser import text_string_to_metric_families
            out = [{"name": f.name, "type": f.type, "samples": [{"name": s.name, "labels": s.labels, "value": s.value} for s in f.samples]}
                   for f in text_string_to_metric_families(sys.stdin.read())]
            json.dump(out, sys.stdout)
            """;
        var start = new ProcessStartInfo("/usr/bin/python3", ["-c", script]) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        using var python = Process.Start(start)!;
        await python.StandardInput.WriteAsync(text);
        python.StandardInput.Close();
        var stdout = python.StandardOutput.ReadToEndAsync();
        var stderr = await python.StandardError.ReadToEndAsync();
        await python.WaitForExitAsync();
        Assert.True(python.ExitCode == 0, $"prometheus_client could not parse /metrics (apt-get install python3-prometheus-client): {stderr}");
        var families = JsonSerializer.Deserialize<List<JsonElement>>(await stdout)!;
        return families.Select(f => new Family(f.GetProperty("name").GetString()!, f.GetProperty("type").GetString()!,
                f.GetProperty("samples").EnumerateArray().Select(s => new Sample(s.GetProperty("name").GetString()!,
                    s.GetProperty("labels").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!), s.GetProperty("value").GetDouble())).ToList()))
            .ToDictionary(f => f.Name);
    }

    private static readonly string[] IstioLabels =
    [
        "reporter", "source_workload", "source_workload_namespace", "source_principal", "source_app", "source_version", "source_cluster",
        "destination_workload", "destination_workload_namespace", "destination_principal", "destination_app", "destination_version",
        "destination_service", "destination_service_name", "destination_service_namespace", "destination_cluster",
        "request_protocol", "response_flags", "connection_security_policy",
    ];

    [Fact]
    public async Task Metrics_carry_Envoy_and_Istio_names_types_and_labels_and_count_bytes_as_they_flow()
    {
        await using var node = await StartNodeAsync("metrics");
        await using var admin = await AdminServer.StartAsync(node, new IPEndPoint(IPAddress.Parse("127.80.0.4"), 0), null);
        await using var echo = new EchoServer(new IPEndPoint(IPAddress.Parse("127.80.5.1"), 9000), "met");
        using var http = new HttpClient { BaseAddress = new Uri(admin.Url), Timeout = Patience };
        await ApplyAsync(node, Service("met-a", "met", "127.80.4.1"), Workload("met-a-1", "met", "127.80.5.1", "met-a", "v7"),
            Workload("client-1", "met", "127.80.6.1", "client", "v2"));
        await BoundAsync(node);
        const string cluster = "outbound|19000||met-a.met.svc.cluster.local";

        using var client = new TcpClient(new IPEndPoint(IPAddress.Parse("127.80.6.1"), 0));
        await client.ConnectAsync(IPAddress.Parse("127.80.4.1"), 19000);
        var stream = client.GetStream();
        await stream.WriteAsync("hello\n"u8.ToArray());
        var reply = new byte[64];
        Assert.True(await stream.ReadAsync(reply) > 0, "the echo server answers through the node");

        // Still open: its bytes are already counted.
        Dictionary<string, Family> open = [];
        await EventuallyAsync(async () =>
        {
            open = await ParseAsync(await http.GetStringAsync("/metrics"));
            return open.TryGetValue("istio_tcp_received_bytes", out var received) && received.Samples.Any(s => s.Value >= 6);
        }, () => $"istio_tcp_received_bytes_total counts the 6 bytes of the open connection (families: {string.Join(", ", open.Keys)})");

        void Has(Dictionary<string, Family> families, string name, string type, string label, string value, Func<double, bool>? check = null)
        {
            Assert.True(families.TryGetValue(name, out var family), $"no family {name}");
            Assert.Equal(type, family.Type);
            Assert.Contains(family.Samples, s => s.Labels.GetValueOrDefault(label) == value && (check is null || check(s.Value)));
        }
        // prometheus_client names a counter's family without its _total (its samples keep it).
        Has(open, "envoy_tcp_downstream_cx", "counter", "envoy_tcp_prefix", "127.80.4.1_19000", v => v == 1);
        Has(open, "envoy_tcp_downstream_cx_rx_bytes", "counter", "envoy_tcp_prefix", "127.80.4.1_19000", v => v == 6);
        Has(open, "envoy_listener_downstream_cx_active", "gauge", "envoy_listener_address", "127.80.4.1_19000", v => v == 1);
        Has(open, "envoy_cluster_upstream_cx", "counter", "envoy_cluster_name", cluster, v => v == 1);
        Has(open, "envoy_cluster_upstream_cx_active", "gauge", "envoy_cluster_name", cluster, v => v == 1);
        Has(open, "envoy_cluster_upstream_cx_tx_bytes", "counter", "envoy_cluster_name", cluster, v => v == 6);
        Has(open, "envoy_cluster_upstream_cx_rx_bytes", "counter", "envoy_cluster_name", cluster, v => v >= 6);
        Has(open, "envoy_cluster_upstream_cx_connect_ms", "histogram", "envoy_cluster_name", cluster);
        Assert.Contains(open["envoy_cluster_upstream_cx_connect_ms"].Samples, s => s.Name == "envoy_cluster_upstream_cx_connect_ms_count" && s.Value == 1);
        Assert.Contains(open["envoy_cluster_upstream_cx_connect_ms"].Samples, s => s.Labels.GetValueOrDefault("le") == "+Inf");
        var opened = Assert.Single(open["istio_tcp_connections_opened"].Samples, s => s.Labels["destination_service"] == "met-a.met.svc.cluster.local");
        Assert.Equal(IstioLabels.Order(), opened.Labels.Keys.Where(k => k != "le").Order());
        Assert.Equal(("source", "client-1", "met", "client", "v2"), (opened.Labels["reporter"], opened.Labels["source_workload"],
            opened.Labels["source_workload_namespace"], opened.Labels["source_app"], opened.Labels["source_version"]));
        Assert.Equal(("met-a-1", "met", "met-a", "v7", "met-a", "met", "tcp", "-"), (opened.Labels["destination_workload"],
            opened.Labels["destination_workload_namespace"], opened.Labels["destination_app"], opened.Labels["destination_version"],
            opened.Labels["destination_service_name"], opened.Labels["destination_service_namespace"], opened.Labels["request_protocol"], opened.Labels["response_flags"]));

        client.Dispose();
        Dictionary<string, Family> closed = [];
        await EventuallyAsync(async () =>
        {
            closed = await ParseAsync(await http.GetStringAsync("/metrics"));
            return closed.TryGetValue("istio_tcp_connections_closed", out var family) && family.Samples.Any(s => s.Value == 1);
        }, "istio_tcp_connections_closed_total counts the connection once it is closed");
        Has(closed, "envoy_cluster_upstream_cx_active", "gauge", "envoy_cluster_name", cluster, v => v == 0);
        Has(closed, "envoy_cluster_upstream_cx_length_ms", "histogram", "envoy_cluster_name", cluster);
        Has(closed, "envoy_listener_downstream_cx_length_ms", "histogram", "envoy_listener_address", "127.80.4.1_19000");
        Has(closed, "istio_tcp_sent_bytes", "counter", "destination_service", "met-a.met.svc.cluster.local", v => v >= 6);

        // The runtime's and Kestrel's own metrics; no OpenTelemetry scope labels, no per-meter node label.
        Assert.Contains(closed.Values, f => f.Name.StartsWith("dotnet_gc_", StringComparison.Ordinal));
        Assert.Contains(closed.Values, f => f.Name.StartsWith("kestrel_", StringComparison.Ordinal));
        Assert.DoesNotContain(closed.Values.SelectMany(f => f.Samples).SelectMany(s => s.Labels.Keys), k => k.StartsWith("otel_scope", StringComparison.Ordinal) || k == "node");
    }
}
