using AkkaL4.Node.Echo;
using static AkkaL4.Tests.DataPlane.Kit;

namespace AkkaL4.Tests.DataPlane;

/// <summary>
/// Weighted destinations (istio-l4-semantics.md, "Destinations and weights"): AkkaL4's smooth weighted
/// round robin makes an 80/20 split exact — one connection in every five reaches the 20.
/// Addresses: 127.1.2.x.
/// </summary>
[Trait("Category", "EndToEnd")]
public sealed class WeightedSplitTests
{
    private const string Client = "127.1.2.30";

    /// <summary>Service echo on 127.1.2.{n}:19000 with a prod and a gray pod; a VS splits 80 prod / 20 gray.</summary>
    private static string[] World(int n) =>
    [
        Service("echo", $"127.1.2.{n}", 19000, 9000, "echo"),
        WorkloadEntry("echo-prod", $"127.1.2.{10 + 2 * n}", "{app: echo, version: prod}"),
        WorkloadEntry("echo-gray", $"127.1.2.{11 + 2 * n}", "{app: echo, version: gray}"),
        """
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: echo-versions, namespace: default}
        spec:
          host: echo
          subsets:
          - {name: prod, labels: {version: prod}}
          - {name: gray, labels: {version: gray}}
        """,
        """
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: echo-split, namespace: default}
        spec:
          hosts: [echo]
          tcp:
          - route:
            - {destination: {host: echo, subset: prod}, weight: 80}
            - {destination: {host: echo, subset: gray}, weight: 20}
        """,
    ];

    private static async Task<List<string>> SequentialReplies(int n, int connections)
    {
        await using var prod = new EchoServer(At($"127.1.2.{10 + 2 * n}", 9000), "prod");
        await using var gray = new EchoServer(At($"127.1.2.{11 + 2 * n}", 9000), "gray");
        await using var router = TestRouter.Start("weights");
        await router.ApplyAsync(1, World(n));

        var replies = new List<string>(connections);
        for (var i = 0; i < connections; i++)
            replies.Add((await TestClient.OneLineAsync(Client, At($"127.1.2.{n}", 19000), "test")).Reply);

        // The upstreams saw exactly the connections the replies say.
        Assert.Equal(replies.Count(r => r == "gray test"), gray.Connections);
        Assert.Equal(replies.Count(r => r == "prod test"), prod.Connections);
        await router.Metrics.WaitForAsync("envoy_tcp_downstream_cx_total", connections);
        return replies;
    }

    [Fact]
    public async Task Five_connections_give_four_prod_and_one_gray()
    {
        var replies = await SequentialReplies(1, 5);

        Assert.Equal(4, replies.Count(r => r == "prod test"));
        Assert.Equal(1, replies.Count(r => r == "gray test"));
    }

    [Fact]
    public async Task Thousand_connections_give_exactly_200_to_gray_one_in_every_five()
    {
        var replies = await SequentialReplies(2, 1000);

        Assert.All(replies, r => Assert.Contains(r, new[] { "prod test", "gray test" }));
        Assert.Equal(200, replies.Count(r => r == "gray test"));
        Assert.Equal(800, replies.Count(r => r == "prod test"));
        // Exact over every five connections, not just on average.
        for (var block = 0; block < 1000; block += 5)
            Assert.True(replies.Skip(block).Take(5).Count(r => r == "gray test") == 1, $"connections {block + 1}..{block + 5}: {string.Join(", ", replies.Skip(block).Take(5))}");
    }

    [Fact]
    public async Task Reapplying_an_unchanged_configuration_keeps_the_split_exact()
    {
        const int n = 3;
        await using var prod = new EchoServer(At($"127.1.2.{10 + 2 * n}", 9000), "prod");
        await using var gray = new EchoServer(At($"127.1.2.{11 + 2 * n}", 9000), "gray");
        await using var router = TestRouter.Start("weights-reapplied");
        var resources = Resources(World(n));
        await router.ApplyAsync(resources, 1);

        // A control plane re-sends configuration often (any change anywhere); the rule here never changes.
        var replies = new List<string>();
        for (var i = 0; i < 20; i++)
        {
            if (i > 0 && i % 2 == 0) await router.ApplyAsync(resources, 1 + i / 2);
            replies.Add((await TestClient.OneLineAsync(Client, At($"127.1.2.{n}", 19000), "test")).Reply);
        }

        Assert.True(replies.Count(r => r == "gray test") == 4, "20 connections under one unchanged 80/20 rule: " + string.Join(", ", replies));
    }
}
