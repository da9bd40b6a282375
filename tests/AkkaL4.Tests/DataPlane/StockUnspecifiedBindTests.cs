using AkkaL4.Tests.Support;
using static AkkaL4.Tests.DataPlane.Kit;

namespace AkkaL4.Tests.DataPlane;

/// <summary>
/// A Gateway server without <c>bind</c> listens on 0.0.0.0:PORT, on the stock transport too: Akka's Tcp().Bind resolved
/// "0.0.0.0" as a host name, which .NET refuses, so the listener never bound and every connection was refused.
/// 0.0.0.0:47207 takes that port on every address: no other test uses it, and the router is stopped at once.
/// Addresses: 127.207.2.x.
/// </summary>
[Trait("Category", "EndToEnd")]
public sealed class StockUnspecifiedBindTests
{
    private static readonly AddressBlock Block = AddressBlocks.Of(207);

    [Fact]
    public async Task A_gateway_server_without_bind_is_served_on_the_stock_transport()
    {
        await using var upstream = new ByteEchoServer(Block.At(2, 11, 9000));
        await using var router = TestRouter.Start("stock-any-bind", AkkaL4.Messages.Model.Labels.Of(("istio", "stock-any")),
            settings: "akkal4.data-plane.transport = akka-streams");
        await router.ApplyAsync(1,
            Service("any-upstream", Block.Host(2, 10), 9000, 9000, "any-upstream"),
            WorkloadEntry("any-upstream", Block.Host(2, 11), "{app: any-upstream}"),
            """
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: any-gw, namespace: default}
            spec:
              selector: {istio: stock-any}
              servers: [{port: {number: 47207, name: tcp, protocol: TCP}, hosts: ["*"]}]
            """,
            """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: any-gw, namespace: default}
            spec:
              hosts: ["*"]
              gateways: [any-gw]
              tcp: [{route: [{destination: {host: any-upstream.default.svc.cluster.local, port: {number: 9000}}}]}]
            """);
        // Bound on the unspecified address, so reached through any local one: here an address of this test's block.
        var (reply, _) = await TestClient.OneLineAsync(Block.Host(2, 100), Block.At(2, 1, 47207), "hello");
        Assert.Equal("hello", reply);
    }
}
