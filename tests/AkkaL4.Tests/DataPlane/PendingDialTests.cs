using AkkaL4.Actors.DataPlane;
using AkkaL4.Messages.Model;
using AkkaL4.Tests.Support;
using static AkkaL4.Tests.DataPlane.Kit;

namespace AkkaL4.Tests.DataPlane;

/// <summary>
/// What max-pending-connections counts: the node's own work on a connection (a thread, the decision, the pick), not its
/// dials, which wait on upstreams. A black-holed endpoint (SYNs dropped: each connect waits out its timeout) among healthy
/// ones must not stop the listener for them (review1-s19 R1: it did, once its dials filled the cap). And every connection
/// refused before or after dialling leaves the count, so at max-pending-connections = 1 the next client is served
/// (review1-s19 R6). Addresses: block 216.
/// </summary>
[Trait("Category", "EndToEnd")]
public sealed class PendingDialTests
{
    private static readonly AddressBlock Block = AddressBlocks.Of(216);
    private const string Pending = "akkal4_listener_pending_connections";
    private const string Accepted = "envoy_listener_downstream_cx_total";
    private const string Connected = "envoy_cluster_upstream_cx_total";

    [Fact]
    public async Task A_black_holed_endpoint_does_not_stop_the_listener_for_the_healthy_one()
    {
        using var dead = await Unanswering.StartAsync(Block.At(1, 11, 9000));
        await using var healthy = new ByteEchoServer(Block.At(1, 12, 9000));
        await using var router = TestRouter.Start("pending-black-hole", settings: """
            akkal4.data-plane.max-pending-connections = 2
            akkal4.data-plane.pending-timeout = 0
            """);
        var listening = Block.At(1, 1, 19000);
        await router.ApplyAsync(1,
            Service("bh", Block.Host(1, 1), 19000, 9000, "bh"),
            WorkloadEntry("bh-dead", Block.Host(1, 11), "{app: bh}"),
            WorkloadEntry("bh-healthy", Block.Host(1, 12), "{app: bh}"),
            TrafficPolicy("bh", "{loadBalancer: {simple: ROUND_ROBIN}, connectionPool: {tcp: {connectTimeout: 60s}}}"));

        var clients = new List<TestClient>();
        try
        {
            // Round robin sends every other one to the black hole: three dial it (for up to 60 s), more than the cap.
            for (var i = 0; i < 6; i++)
            {
                clients.Add(await TestClient.ConnectAsync(Block.Host(1, 30 + i), listening));
                await clients[i].SendLineAsync($"client {i}");
            }
            await EventuallyAsync(() => Task.FromResult(router.Metrics[Accepted] == 6 && router.Metrics[Connected] == 3 && router.Metrics[Pending] == 0),
                () => $"all six accepted, three relaying to the healthy endpoint, none pending (accepted {router.Metrics[Accepted]}, " +
                      $"connected {router.Metrics[Connected]}, pending {router.Metrics[Pending]})");

            // The black hole answers: its three dials complete at their next SYN, and every client hears its line.
            dead.Answer();
            for (var i = 0; i < clients.Count; i++) Assert.Equal($"client {i}", await clients[i].ReadLineAsync());
        }
        finally
        {
            foreach (var client in clients) await client.DisposeAsync();
        }
        // Every connection ended first: a leave counted twice at an end would show as a pending count below 0 (review1-s20 P3).
        await router.Metrics.WaitForAsync("envoy_listener_downstream_cx_active", 0);
        await router.Metrics.WaitForAsync(Pending, 0);
    }

    [Fact]
    public async Task At_max_pending_connections_1_a_connection_refused_before_or_after_dialling_lets_the_next_in()
    {
        await using var healthy = new ByteEchoServer(Block.At(2, 12, 9000));
        await using var router = TestRouter.Start("pending-refused", Labels.Of(("istio", "edge")), settings: """
            akkal4.data-plane.max-pending-connections = 1
            akkal4.data-plane.pending-timeout = 0
            """);
        // One gateway listener for all three revisions, so they share its pending count.
        var listening = Block.At(2, 1, 19000);
        var gateway = Gateway("edge", "default", $$"""
            selector: {istio: edge}
            servers:
            - port: {number: 19000, name: tcp, protocol: TCP}
              bind: {{Block.Host(2, 1)}}
              hosts: ["*"]
            """);
        string Routed(string endpoint) => Manifests.Join(
            Service("dest", Block.Host(2, 2), 19000, 9000, "dest"),
            WorkloadEntry("dest-1", endpoint, "{app: dest}"),
            VirtualService("edge-to-dest", "default", """
            hosts: ["*"]
            gateways: [edge]
            tcp:
            - route: [{destination: {host: dest, port: {number: 19000}}}]
            """));

        // No rule for the port: refused before anything is dialled (NR).
        await router.ApplyAsync(1, gateway);
        Assert.Equal(ResponseFlags.NoRoute, await RefusedAsync(router, Block.Host(2, 30), listening));
        await router.Metrics.WaitForAsync(Pending, 0);

        // An endpoint where nothing listens: every connect refused, given up after max-connect-attempts (UF, URX).
        await router.ApplyAsync(2, gateway, Routed(Block.Host(2, 11)));
        Assert.True((await RefusedAsync(router, Block.Host(2, 31), listening)).HasFlag(ResponseFlags.UpstreamConnectFailure));
        await router.Metrics.WaitForAsync(Pending, 0);

        // A live endpoint: the listener took this one, so neither refusal is still counted pending.
        await router.ApplyAsync(3, gateway, Routed(Block.Host(2, 12)));
        var (reply, _) = await TestClient.OneLineAsync(Block.Host(2, 32), listening, "served");
        Assert.Equal("served", reply);
        await router.Metrics.WaitForAsync(Pending, 0);
    }

    /// <summary>A client the router closes with no data: the flags its access-log entry gives.</summary>
    private static async Task<ResponseFlags> RefusedAsync(TestRouter router, string source, System.Net.IPEndPoint listening)
    {
        await using var client = await TestClient.ConnectAsync(source, listening);
        await client.SendLineAsync("refused");
        var end = await client.ReadToCloseAsync();
        Assert.True(end.NoData, $"expected the connection closed with no data, got '{end.Text}'");
        return (await router.Log.ForAsync(client.Id)).Flags;
    }
}
