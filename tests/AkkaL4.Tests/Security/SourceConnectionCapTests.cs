using AkkaL4.Node.Echo;
using AkkaL4.Tests.DataPlane;
using static AkkaL4.Tests.DataPlane.Kit;

namespace AkkaL4.Tests.Security;

/// <summary>
/// max-connections-per-source: one client address holds at most that many of a listener's connections, others are
/// served meanwhile, and a closed connection gives its place back. Addresses: 127.150.5.x.
/// </summary>
[Trait("Category", "EndToEnd")]
public sealed class SourceConnectionCapTests
{
    [Fact]
    public async Task One_client_address_holds_at_most_its_share_of_a_listener()
    {
        await using var upstream = new EchoServer(At("127.150.5.11", 9000), "up:");
        await using var router = TestRouter.Start("per-source", settings: "akkal4.data-plane.max-connections-per-source = 2");
        await router.ApplyAsync(1, Service("capped", "127.150.5.1", 9000, 9000, "capped"), WorkloadEntry("capped-1", "127.150.5.11", "{app: capped}"));
        var vip = At("127.150.5.1", 9000);
        var before = router.Metrics["envoy_listener_downstream_cx_overflow"];

        await using var first = await TestClient.ConnectAsync("127.150.5.100", vip);
        await using var second = await TestClient.ConnectAsync("127.150.5.100", vip);
        Assert.Equal("up: 1", await first.AskAsync("1"));
        Assert.Equal("up: 2", await second.AskAsync("2"));

        await using (var third = await TestClient.ConnectAsync("127.150.5.100", vip))
        {
            await third.SendLineAsync("3");
            Assert.True((await third.ReadToCloseAsync()).NoData);
        }
        await router.Metrics.WaitForAsync("envoy_listener_downstream_cx_overflow", before + 1);
        Assert.Equal("up: other", (await TestClient.OneLineAsync("127.150.5.101", vip, "other")).Reply);

        // The first closes: its place is the client's again (once the listener has seen it end).
        first.ShutdownSend();
        await first.ReadToCloseAsync();
        await EventuallyAsync(async () =>
        {
            await using var again = await TestClient.ConnectAsync("127.150.5.100", vip);
            await again.SendLineAsync("again");
            try { return await again.ReadLineAsync() == "up: again"; }
            catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or InvalidOperationException) { return false; }
        }, "a connection from the client after one of its own ended");
        Assert.Equal("up: still", await second.AskAsync("still"));
    }
}
