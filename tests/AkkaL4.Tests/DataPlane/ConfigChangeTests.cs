using System.Net.Sockets;
using AkkaL4.Actors.DataPlane;
using AkkaL4.Node.Echo;
using AkkaL4.Tests.Support;
using static AkkaL4.Tests.DataPlane.Kit;

namespace AkkaL4.Tests.DataPlane;

/// <summary>
/// A new configuration applies to new connections only: open connections keep the upstream they were
/// given, and a removed listener stops accepting while its open connections drain. Addresses: 127.1.11.x.
/// </summary>
[Trait("Category", "EndToEnd")]
public sealed class ConfigChangeTests
{
    private const string Client = "127.1.11.30";

    private static string FrontTo(string host) => $$$"""
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: front, namespace: default}
        spec:
          hosts: [front]
          tcp:
          - route: [{destination: {host: {{{host}}}}}]
        """;

    /// <summary>Test <paramref name="k"/> (0, 10, 20) uses 127.1.11.k+1 .. k+6.</summary>
    private static string Ip(int k, int n) => $"127.1.11.{k + n}";

    private static string[] World(int k, string frontTo, bool withSide)
    {
        var docs = new List<string>
        {
            Service("front", Ip(k, 1), 19000, 9000, "front"),
            Service("x", Ip(k, 2), 19000, 9000, "x"),
            Service("y", Ip(k, 3), 19000, 9000, "y"),
            WorkloadEntry("x-pod", Ip(k, 5), "{app: x}"),
            WorkloadEntry("y-pod", Ip(k, 6), "{app: y}"),
            FrontTo(frontTo),
        };
        // "side" is one more address for x; the second configuration drops it.
        if (withSide) docs.Add(Service("side", Ip(k, 4), 19000, 9000, "x"));
        return docs.ToArray();
    }

    [Fact]
    public async Task Open_connections_keep_their_upstream_new_ones_follow_the_new_config()
    {
        await using var x = new EchoServer(At(Ip(0, 5), 9000), "x");
        await using var y = new EchoServer(At(Ip(0, 6), 9000), "y");
        await using var router = TestRouter.Start("config-change");
        await router.ApplyAsync(1, World(0, "x", withSide: false));
        var front = At(Ip(0, 1), 19000);

        await using var a = await TestClient.ConnectAsync(Client, front);
        Assert.Equal("x a1", await a.AskAsync("a1"));

        await router.ApplyAsync(2, World(0, "y", withSide: false));

        Assert.Equal("x a2", await a.AskAsync("a2"));
        await using var b = await TestClient.ConnectAsync(Client, front);
        Assert.Equal("y b1", await b.AskAsync("b1"));
        Assert.Equal("x a3", await a.AskAsync("a3"));

        foreach (var c in new[] { a, b })
        {
            c.ShutdownSend();
            var end = await c.ReadToCloseAsync();
            Assert.False(end.Reset);
        }
        var entryA = await router.Log.ForAsync(a.Id);
        var entryB = await router.Log.ForAsync(b.Id);
        Assert.Equal($"outbound|19000||{Fqdn("x")}", entryA.Cluster);
        Assert.Equal($"{Ip(0, 5)}:9000", entryA.Upstream);
        Assert.Equal($"outbound|19000||{Fqdn("y")}", entryB.Cluster);
        Assert.Equal(ResponseFlags.None, entryA.Flags);
        Assert.Equal(ResponseFlags.None, entryB.Flags);
    }

    [Fact]
    public async Task Removed_listener_refuses_new_connections_and_the_others_keep_serving()
    {
        await using var x = new EchoServer(At(Ip(10, 5), 9000), "x");
        await using var router = TestRouter.Start("listener-removed");
        await router.ApplyAsync(1, World(10, "x", withSide: true));
        var side = At(Ip(10, 4), 19000);
        Assert.Equal("x s0", (await TestClient.OneLineAsync(Client, side, "s0")).Reply);

        await router.ApplyAsync(2, World(10, "x", withSide: false));

        await EventuallyAsync(async () => await TestClient.TryConnectAsync(Client, side) == SocketError.ConnectionRefused,
            "the removed listener refuses connections");
        Assert.Equal("x f1", (await TestClient.OneLineAsync(Client, At(Ip(10, 1), 19000), "f1")).Reply);
        Assert.Equal("x x1", (await TestClient.OneLineAsync(Client, At(Ip(10, 2), 19000), "x1")).Reply);
    }

    // On both transports: the stock one's accepted connections are children of Akka.IO's TcpListener actor,
    // which stops on Unbind and took them along, until it was told to unbind only once they had ended (AkkaListener).
    [Fact]
    public async Task Removed_listener_lets_an_open_connection_keep_working()
    {
        await using var x = new EchoServer(At(Ip(20, 5), 9000), "x");
        await using var router = TestRouter.Start("listener-drain");
        await router.ApplyAsync(1, World(20, "x", withSide: true));
        var side = At(Ip(20, 4), 19000);

        await using var open = await TestClient.ConnectAsync(Client, side);
        Assert.Equal("x s1", await open.AskAsync("s1"));

        await router.ApplyAsync(2, World(20, "x", withSide: false));
        await EventuallyAsync(async () => await TestClient.TryConnectAsync(Client, side) == SocketError.ConnectionRefused,
            "the removed listener refuses connections");

        // The open connection drains: it keeps its upstream until the client is done.
        Assert.Equal("x s2", await open.AskAsync("s2"));
        open.ShutdownSend();
        var end = await open.ReadToCloseAsync();
        Assert.False(end.Reset);
        var entry = await router.Log.ForAsync(open.Id);
        Assert.Equal(ResponseFlags.None, entry.Flags);
        Assert.Equal(3 + 3, entry.BytesReceived);
    }
}
