using System.Diagnostics;
using AkkaL4.Actors.DataPlane;
using AkkaL4.Node.Echo;
using static AkkaL4.Tests.DataPlane.Kit;

namespace AkkaL4.Tests.DataPlane;

/// <summary>
/// DestinationRule connectionPool.tcp: maxConnections (UO, upstream_cx_overflow) and idleTimeout
/// (IT, idle_timeout). Addresses: 127.1.6.x.
/// </summary>
[Trait("Category", "EndToEnd")]
public sealed class ConnectionPoolTests
{
    private const string Client = "127.1.6.30";

    private static string[] World(string name, string ip, string podIp, string tcp) =>
    [
        Service(name, ip, 19000, 9000, name),
        WorkloadEntry(name + "-pod", podIp, $"{{app: {name}}}"),
        $$$"""
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: {{{name}}}, namespace: default}
        spec:
          host: {{{name}}}
          trafficPolicy: {connectionPool: {tcp: {{{tcp}}}}}
        """,
    ];

    [Fact]
    public async Task Max_connections_1_refuses_a_second_connection_with_UO_until_the_first_closes()
    {
        await using var pod = new EchoServer(At("127.1.6.11", 9000), "pool");
        await using var router = TestRouter.Start("max-connections");
        await router.ApplyAsync(1, World("pool", "127.1.6.1", "127.1.6.11", "{maxConnections: 1}"));
        var service = At("127.1.6.1", 19000);

        await using var first = await TestClient.ConnectAsync(Client, service);
        Assert.Equal("pool a1", await first.AskAsync("a1"));

        await using (var second = await TestClient.ConnectAsync(Client, service))
        {
            await second.SendLineAsync("b1");
            second.ShutdownSend();
            var end = await second.ReadToCloseAsync();
            Assert.True(end.NoData, $"expected the second connection closed with no data, got '{end.Text}'");
            var refused = await router.Log.ForAsync(second.Id);
            Assert.Equal(ResponseFlags.UpstreamOverflow, refused.Flags);
            Assert.Null(refused.Upstream);
            await router.Metrics.WaitForAsync("envoy_cluster_upstream_cx_overflow", 1);
        }

        // The first is untouched, then closes.
        Assert.Equal("pool a2", await first.AskAsync("a2"));
        first.ShutdownSend();
        var firstEnd = await first.ReadToCloseAsync();
        Assert.False(firstEnd.Reset);
        Assert.Equal(ResponseFlags.None, (await router.Log.ForAsync(first.Id)).Flags);

        // Its slot is free again.
        var (reply, third) = await TestClient.OneLineAsync(Client, service, "c1");
        Assert.Equal("pool c1", reply);
        Assert.Equal(ResponseFlags.None, (await router.Log.ForAsync(third)).Flags);
        Assert.Equal(1, router.Metrics["envoy_cluster_upstream_cx_overflow"]);
        Assert.Equal(2, pod.Connections); // the refused one never reached the upstream
    }

    [Fact]
    public async Task Idle_timeout_closes_a_silent_connection_with_a_FIN_and_IT()
    {
        await using var pod = new EchoServer(At("127.1.6.12", 9000), "idle");
        await using var router = TestRouter.Start("idle-timeout");
        await router.ApplyAsync(1, World("idle", "127.1.6.2", "127.1.6.12", "{idleTimeout: 300ms}"));

        await using var client = await TestClient.ConnectAsync(Client, At("127.1.6.2", 19000));
        Assert.Equal("idle x", await client.AskAsync("x"));

        // Then silence: the router closes it after idleTimeout.
        var silent = Stopwatch.StartNew();
        var end = await client.ReadToCloseAsync(TimeSpan.FromSeconds(5));
        Assert.True(end.NoData, $"unexpected data '{end.Text}'");
        Assert.False(end.Reset, "an idle connection is closed with a FIN, not a reset (as Envoy and HAProxy do)");
        Assert.True(silent.Elapsed >= TimeSpan.FromMilliseconds(250), $"closed after only {silent.Elapsed} of silence");

        var entry = await router.Log.ForAsync(client.Id);
        // Envoy's TCP proxy sets no response flag for an idle timeout: the detail says it.
        Assert.Equal(ResponseFlags.None, entry.Flags);
        Assert.StartsWith("idle for", entry.Detail);
        Assert.Equal("127.1.6.12:9000", entry.Upstream);
        await router.Metrics.WaitForAsync("envoy_tcp_idle_timeout", 1);
    }

    [Fact]
    public async Task Idle_timeout_is_reset_by_traffic_so_a_talking_connection_outlives_it()
    {
        await using var pod = new EchoServer(At("127.1.6.13", 9000), "talk");
        await using var router = TestRouter.Start("idle-talking");
        await router.ApplyAsync(1, World("talk", "127.1.6.3", "127.1.6.13", "{idleTimeout: 2s}"));

        await using var client = await TestClient.ConnectAsync(Client, At("127.1.6.3", 19000));
        // Pacing the conversation (not waiting for a condition): a line every 200ms for longer than idleTimeout.
        // The margin (200ms against 2s) holds on a loaded 2-core CI machine.
        var age = Stopwatch.StartNew();
        for (var i = 0; age.Elapsed < TimeSpan.FromSeconds(3); i++)
        {
            if (i > 0) await Task.Delay(200);
            Assert.Equal($"talk x{i}", await client.AskAsync($"x{i}"));
        }
        client.ShutdownSend();
        var end = await client.ReadToCloseAsync();
        Assert.False(end.Reset);

        Assert.Equal(ResponseFlags.None, (await router.Log.ForAsync(client.Id)).Flags);
        Assert.Equal(0, router.Metrics["envoy_tcp_idle_timeout"]);
    }
}
