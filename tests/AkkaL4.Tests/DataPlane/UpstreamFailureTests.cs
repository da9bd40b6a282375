using System.Diagnostics;
using Akka.Actor;
using AkkaL4.Actors.DataPlane;
using AkkaL4.Actors.Upstreams;
using AkkaL4.Actors.Upstreams.Health;
using AkkaL4.Node.Echo;
using static AkkaL4.Tests.DataPlane.Kit;

namespace AkkaL4.Tests.DataPlane;

/// <summary>
/// Upstreams that refuse connections: retry on another endpoint (UF), give up after
/// max-connect-attempts (UF+URX), and outlier ejection. Nothing listens on the "dead" pod addresses.
/// Addresses: 127.1.4.x.
/// </summary>
[Trait("Category", "EndToEnd")]
public sealed class UpstreamFailureTests
{
    private const string Client = "127.1.4.30";

    [Fact]
    public async Task One_endpoint_down_every_connection_is_still_answered_by_the_other_with_UF_logged()
    {
        const string live = "127.1.4.11:9000", dead = "127.1.4.12:9000";
        await using var pod = new EchoServer(At("127.1.4.11", 9000), "live");
        await using var router = TestRouter.Start("one-down");
        await router.ApplyAsync(1,
            Service("half", "127.1.4.1", 19000, 9000, "half"),
            WorkloadEntry("half-live", "127.1.4.11", "{app: half}"),
            WorkloadEntry("half-dead", "127.1.4.12", "{app: half}"),
            TrafficPolicy("half", "{loadBalancer: {simple: ROUND_ROBIN}}"));

        var entries = new List<AccessLogEntry>();
        for (var i = 0; i < 6; i++)
        {
            var (reply, local) = await TestClient.OneLineAsync(Client, At("127.1.4.1", 19000), $"t{i}");
            Assert.Equal($"live t{i}", reply);
            entries.Add(await router.Log.ForAsync(local));
        }

        Assert.All(entries, e => Assert.Equal(live, e.Upstream));
        var failedOver = entries.Where(e => e.Flags == ResponseFlags.UpstreamConnectFailure).ToList();
        Assert.All(entries.Except(failedOver), e => Assert.Equal(ResponseFlags.None, e.Flags));
        // Round robin over two endpoints sends every other first attempt to the dead one.
        Assert.Equal(3, failedOver.Count);
        Assert.All(failedOver, e => Assert.Contains(dead, e.Detail, StringComparison.Ordinal));
        await router.Metrics.WaitForAsync("envoy_cluster_upstream_cx_connect_fail", 3);
        Assert.Equal(6, pod.Connections);
    }

    [Fact]
    public async Task All_endpoints_down_the_client_sees_the_close_with_UF_and_URX()
    {
        await using var router = TestRouter.Start("all-down");
        await router.ApplyAsync(1,
            Service("dead", "127.1.4.2", 19000, 9000, "dead"),
            WorkloadEntry("dead-1", "127.1.4.13", "{app: dead}"),
            WorkloadEntry("dead-2", "127.1.4.14", "{app: dead}"),
            TrafficPolicy("dead", "{loadBalancer: {simple: ROUND_ROBIN}}"));

        await using var client = await TestClient.ConnectAsync(Client, At("127.1.4.2", 19000));
        await client.SendLineAsync("test");
        client.ShutdownSend();
        var end = await client.ReadToCloseAsync();

        Assert.True(end.NoData, $"expected the connection closed with no data, got '{end.Text}'");
        var entry = await router.Log.ForAsync(client.Id);
        Assert.Equal(ResponseFlags.UpstreamConnectFailure | ResponseFlags.UpstreamRetryLimitExceeded, entry.Flags);
        Assert.Equal($"outbound|19000||{Fqdn("dead")}", entry.Cluster);
        Assert.Equal(0, entry.BytesSent);
        // akkal4.data-plane.max-connect-attempts = 3: three attempts, three connect failures.
        await router.Metrics.WaitForAsync("envoy_cluster_upstream_cx_connect_fail", 3);
        Assert.Equal(1, router.Metrics["envoy_tcp_downstream_cx_total"]);
    }

    [Fact]
    public async Task Outlier_detection_ejects_a_dead_endpoint_until_the_ejection_time_has_passed()
    {
        const string dead = "127.1.4.16:9000";
        var ejection = TimeSpan.FromSeconds(4); // long enough for a few connections on a loaded machine
        await using var pod = new EchoServer(At("127.1.4.15", 9000), "live");
        await using var router = TestRouter.Start("outlier");
        await router.ApplyAsync(1,
            Service("flaky", "127.1.4.3", 19000, 9000, "flaky"),
            WorkloadEntry("flaky-live", "127.1.4.15", "{app: flaky}"),
            WorkloadEntry("flaky-dead", "127.1.4.16", "{app: flaky}"),
            TrafficPolicy("flaky", "{loadBalancer: {simple: ROUND_ROBIN}, "
                                     + "outlierDetection: {consecutive5xxErrors: 1, interval: 1s, baseEjectionTime: 4s, maxEjectionPercent: 100}}"));
        var clusterId = router.ClusterId(Fqdn("flaky"));

        async Task<(AccessLogEntry Entry, Stopwatch Started)> Connect(string line)
        {
            var started = Stopwatch.StartNew();
            var (reply, local) = await TestClient.OneLineAsync(Client, At("127.1.4.3", 19000), line);
            Assert.Equal($"live {line}", reply);
            return (await router.Log.ForAsync(local), started);
        }

        // Round robin reaches the dead endpoint within two connections; one failure ejects it.
        Stopwatch? sinceFailure = null;
        for (var i = 0; i < 2 && sinceFailure is null; i++)
        {
            var (entry, started) = await Connect($"first{i}");
            if (entry.Flags.HasFlag(ResponseFlags.UpstreamConnectFailure)) sinceFailure = started;
        }
        Assert.NotNull(sinceFailure);
        var state = await router.Node.Routers.Ask<ClusterHealthSnapshot>(new GetClusterHealth(clusterId), Patience);
        Assert.True(state.Endpoints.Single(e => e.Endpoint == dead).Ejected, "the dead endpoint is ejected after one connect failure");

        // While ejected (the ejection began after sinceFailure started), nothing tries the dead endpoint.
        var inWindow = 0;
        for (var i = 0; i < 6; i++)
        {
            var (entry, _) = await Connect($"ejected{i}");
            if (sinceFailure.Elapsed >= ejection) break;
            Assert.Equal(ResponseFlags.None, entry.Flags);
            inWindow++;
        }
        Assert.True(inWindow >= 2, $"only {inWindow} connection(s) fit in the {ejection} ejection; too slow to tell");

        // Once the ejection time has passed, the endpoint returns: a connection tries it again (UF) and is
        // still answered by the live one. (The ejection began a little after sinceFailure started, so poll.)
        await EventuallyAsync(() => sinceFailure.Elapsed >= ejection, "the ejection time has passed", ejection + Patience);
        var after = 0;
        await EventuallyAsync(async () =>
        {
            var (entry, _) = await Connect($"after{after++}");
            return entry.Flags.HasFlag(ResponseFlags.UpstreamConnectFailure) && entry.Detail.Contains(dead, StringComparison.Ordinal);
        }, "the dead endpoint is tried again after its ejection time");
        // It failed again, so it is ejected again.
        state = await router.Node.Routers.Ask<ClusterHealthSnapshot>(new GetClusterHealth(clusterId), Patience);
        Assert.True(state.Endpoints.Single(e => e.Endpoint == dead).Ejected);
    }
}
