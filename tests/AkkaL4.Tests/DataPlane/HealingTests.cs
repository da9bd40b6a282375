using System.Net;
using System.Text.Json;
using AkkaL4.Actors.DataPlane;
using AkkaL4.Actors.Upstreams.Health;
using AkkaL4.Node.Admin;
using AkkaL4.Node.Echo;
using static AkkaL4.Tests.DataPlane.Kit;

namespace AkkaL4.Tests.DataPlane;

/// <summary>
/// Health that heals, end to end on real sockets: an upstream that dies is taken out (by outlier detection,
/// or by active checks), comes back, and is returned with no connection picking it; /v1/status shows each
/// step. Addresses: 127.70.1.x (the health block).
/// </summary>
[Trait("Category", "EndToEnd")]
public sealed class HealingTests
{
    private const string Client = "127.70.1.30";

    /// <summary>The endpoints of one cluster as GET /v1/status shows them, by address.</summary>
    private static async Task<Dictionary<string, JsonElement>> StatusAsync(HttpClient http, string host)
    {
        using var doc = JsonDocument.Parse(await http.GetStringAsync("/v1/status"));
        var cluster = doc.RootElement.GetProperty("upstreams").EnumerateArray()
            .Single(c => c.GetProperty("cluster").GetString()!.EndsWith("|" + Fqdn(host), StringComparison.Ordinal));
        return cluster.GetProperty("endpoints").EnumerateArray()
            .ToDictionary(e => e.GetProperty("endpoint").GetString()!, e => e.Clone());
    }

    private static string Status(Dictionary<string, JsonElement> endpoints, string endpoint) => endpoints[endpoint].GetProperty("status").GetString()!;

    /// <summary>A router for service <paramref name="name"/> on 127.70.1.N:19000 with two pods (127.70.1.1N and 1N+1, port 9000) and its admin API.</summary>
    private sealed class World : IAsyncDisposable
    {
        public required TestRouter Router { get; init; }
        public required AdminServer Api { get; init; }
        public required HttpClient Http { get; init; }

        public static async Task<World> StartAsync(string name, int n, string trafficPolicy, string? healthCheck = null)
        {
            var router = TestRouter.Start("heal-" + name);
            await router.ApplyAsync(1,
                Service(name, $"127.70.1.{n}", 19000, 9000, name),
                WorkloadEntry($"{name}-live", $"127.70.1.1{n}", $"{{app: {name}}}"),
                WorkloadEntry($"{name}-flaky", $"127.70.1.1{n + 1}", $"{{app: {name}}}"),
                TrafficPolicy(name, trafficPolicy, healthCheck));
            var api = await AdminServer.StartAsync(router.Node, new IPEndPoint(IPAddress.Parse($"127.70.1.10{n}"), 0), null);
            return new World { Router = router, Api = api, Http = new HttpClient { BaseAddress = new Uri(api.Url), Timeout = Patience } };
        }

        public async ValueTask DisposeAsync()
        {
            Http.Dispose();
            await Api.DisposeAsync();
            await Router.DisposeAsync();
        }
    }

    [Fact]
    public async Task An_upstream_that_dies_is_ejected_and_once_back_returns_at_the_sweep_without_any_connection_picking_it()
    {
        const string live = "127.70.1.11:9000", flaky = "127.70.1.12:9000";
        await using var pod = new EchoServer(At("127.70.1.11", 9000), "live");
        var back = new EchoServer(At("127.70.1.12", 9000), "back");
        await using var world = await World.StartAsync("heal", 1, "{loadBalancer: {simple: ROUND_ROBIN}, "
            + "outlierDetection: {consecutive5xxErrors: 1, interval: 1s, baseEjectionTime: 3s, maxEjectionPercent: 50}}");
        var (router, http) = (world.Router, world.Http);
        Assert.All((await StatusAsync(http, "heal")).Values, e => Assert.Equal("healthy", e.GetProperty("status").GetString()));

        await back.DisposeAsync(); // it dies
        AccessLogEntry? failure = null;
        for (var i = 0; i < 2 && failure is null; i++)
        {
            var (reply, id) = await TestClient.OneLineAsync(Client, At("127.70.1.1", 19000), $"d{i}");
            Assert.Equal($"live d{i}", reply);
            var entry = await router.Log.ForAsync(id);
            if (entry.Flags.HasFlag(ResponseFlags.UpstreamConnectFailure)) failure = entry;
        }
        Assert.NotNull(failure);
        // The connection tells the cluster's router of the failed connect and goes on to the other endpoint; the router ejects
        // when it reads that, which on a loaded machine can be after the connection ended and logged.
        EndpointHealthSnapshot ejected = null!;
        await EventuallyAsync(() => (ejected = router.Node.Health.Snapshot(router.Node.Routes.Current).Single().Endpoints.Single(e => e.Endpoint == flaky))
            .Status == "ejected", "the endpoint that refused a connection is ejected");
        Assert.Equal("ejected", ejected.Status);
        Assert.NotNull(ejected.EjectedUntil);
        await router.Metrics.WaitForAsync("envoy_cluster_outlier_detection_ejections_enforced_total", 1);

        back = new EchoServer(At("127.70.1.12", 9000), "back"); // it comes back
        await using var _ = back;
        var logged = router.Log.Entries.Count;
        Dictionary<string, JsonElement> status = [];
        await EventuallyAsync(async () => Status(status = await StatusAsync(http, "heal"), flaky) == "healthy",
            "the endpoint returns after its ejection time", TimeSpan.FromSeconds(20));
        Assert.Equal(1, status[flaky].GetProperty("timesEjected").GetInt32());
        // The failure the access log reported (both transports word a refused connect their own way).
        var lastError = status[flaky].GetProperty("lastError").GetString();
        Assert.False(string.IsNullOrEmpty(lastError));
        Assert.Contains(lastError, failure.Detail, StringComparison.Ordinal);
        Assert.Equal("healthy", Status(status, live));
        // Returned by the timer: nothing connected in the meantime, least of all to the returned endpoint.
        Assert.Equal(logged, router.Log.Entries.Count);
        Assert.Equal(0, back.Connections);

        var replies = new List<string>();
        for (var i = 0; i < 2; i++) replies.Add((await TestClient.OneLineAsync(Client, At("127.70.1.1", 19000), $"r{i}")).Reply);
        Assert.Contains(replies, r => r.StartsWith("back r", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Active_health_checks_take_a_dead_upstream_out_and_bring_it_back_with_no_client_traffic()
    {
        const string flaky = "127.70.1.14:9000";
        await using var pod = new EchoServer(At("127.70.1.13", 9000), "live");
        var back = new EchoServer(At("127.70.1.14", 9000), "back");
        await using var world = await World.StartAsync("checked", 3, "{loadBalancer: {simple: ROUND_ROBIN}}", "interval=300ms,timeout=300ms,unhealthy=2,healthy=2");
        var (router, http) = (world.Router, world.Http);

        Dictionary<string, JsonElement> status = [];
        await EventuallyAsync(async () => (status = await StatusAsync(http, "checked")).Values.All(e => e.GetProperty("check").GetString() == "healthy"),
            "both endpoints pass their first check");

        await back.DisposeAsync(); // it dies
        await EventuallyAsync(async () => Status(status = await StatusAsync(http, "checked"), flaky) == "unhealthy",
            "the checks find the dead endpoint");
        Assert.StartsWith("health check: ", status[flaky].GetProperty("lastError").GetString(), StringComparison.Ordinal);
        Assert.Empty(router.Log.Entries); // no client connection was needed to find out
        using (var explained = JsonDocument.Parse(await http.GetStringAsync($"/v1/explain?source={Client}&destination=127.70.1.3:19000")))
        {
            var health = explained.RootElement.GetProperty("destinations")[0].GetProperty("health");
            var endpoint = health.GetProperty("endpoints").EnumerateArray().Single(e => e.GetProperty("endpoint").GetString() == flaky);
            Assert.Equal("unhealthy", endpoint.GetProperty("status").GetString());
            Assert.Equal("interval=300ms,timeout=300ms,unhealthy=2,healthy=2", health.GetProperty("healthCheck").GetString());
        }
        for (var i = 0; i < 4; i++)
        {
            var (reply, id) = await TestClient.OneLineAsync(Client, At("127.70.1.3", 19000), $"d{i}");
            Assert.Equal($"live d{i}", reply);
            Assert.Equal(ResponseFlags.None, (await router.Log.ForAsync(id)).Flags);
        }

        back = new EchoServer(At("127.70.1.14", 9000), "back"); // it comes back
        await using var _ = back;
        var logged = router.Log.Entries.Count;
        await EventuallyAsync(async () => Status(await StatusAsync(http, "checked"), flaky) == "healthy", "the checks find it back");
        Assert.Equal(logged, router.Log.Entries.Count);
        var replies = new List<string>();
        for (var i = 0; i < 2; i++) replies.Add((await TestClient.OneLineAsync(Client, At("127.70.1.3", 19000), $"r{i}")).Reply);
        Assert.Contains(replies, r => r.StartsWith("back r", StringComparison.Ordinal));
        Assert.True(router.Metrics["envoy_cluster_health_check_failure"] >= 2);
    }
}
