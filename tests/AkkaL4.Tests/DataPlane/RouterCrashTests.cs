using Akka.Actor;
using AkkaL4.Actors.Upstreams;
using AkkaL4.Actors.Upstreams.Health;
using AkkaL4.Node.Echo;
using static AkkaL4.Tests.DataPlane.Kit;

namespace AkkaL4.Tests.DataPlane;

/// <summary>A router actor that crashes is restarted; other clusters never notice. Addresses: 127.1.12.x.</summary>
[Trait("Category", "EndToEnd")]
public sealed class RouterCrashTests
{
    private const string Client = "127.1.12.30";

    [Fact]
    public async Task A_crashed_router_restarts_and_other_clusters_keep_serving_during_and_after()
    {
        await using var p = new EchoServer(At("127.1.12.11", 9000), "p");
        await using var q = new EchoServer(At("127.1.12.12", 9000), "q");
        await using var router = TestRouter.Start("crash");
        await router.ApplyAsync(1,
            Service("p", "127.1.12.1", 19000, 9000, "p"), WorkloadEntry("p-pod", "127.1.12.11", "{app: p}"),
            Service("q", "127.1.12.2", 19000, 9000, "q"), WorkloadEntry("q-pod", "127.1.12.12", "{app: q}"));
        var pService = At("127.1.12.1", 19000);
        var qService = At("127.1.12.2", 19000);
        var pCluster = router.ClusterId(Fqdn("p"));
        var qCluster = router.ClusterId(Fqdn("q"));

        var crashed = new TaskCompletionSource<Akka.Event.Error>(TaskCreationOptions.RunContinuationsAsynchronously);
        Action<Akka.Event.Error> onError = e =>
        {
            if (e.Cause?.Message.Contains("fault injected", StringComparison.Ordinal) == true) crashed.TrySetResult(e);
        };
        var tap = router.Node.System.ActorOf(Props.Create(() => new EventTap<Akka.Event.Error>(onError)), "test-errors");
        router.Node.System.EventStream.Subscribe(tap, typeof(Akka.Event.Error));

        await using var longQ = await TestClient.ConnectAsync(Client, qService);
        Assert.Equal("q l1", await longQ.AskAsync("l1"));
        await using var longP = await TestClient.ConnectAsync(Client, pService);
        Assert.Equal("p l1", await longP.AskAsync("l1"));

        router.Node.Routers.Tell(new FailRouter(pCluster));
        // During the restart: new connections to both clusters.
        var during = await Task.WhenAll(Enumerable.Range(0, 20).SelectMany(i => new[]
        {
            TestClient.OneLineAsync(Client, qService, $"q{i}"),
            TestClient.OneLineAsync(Client, pService, $"p{i}"),
        }));
        Assert.Equal(
            Enumerable.Range(0, 20).SelectMany(i => new[] { $"q q{i}", $"p p{i}" }),
            during.Select(d => d.Reply));

        var error = await WithinAsync(crashed.Task, "the router's crash in the log");
        Assert.Contains(pCluster, error.Cause!.Message, StringComparison.Ordinal);

        // After: open connections of both clusters still talk, and both clusters take new ones.
        Assert.Equal("q l2", await longQ.AskAsync("l2"));
        Assert.Equal("p l2", await longP.AskAsync("l2"));
        Assert.Equal("p after", (await TestClient.OneLineAsync(Client, pService, "after")).Reply);
        var qAfter = await TestClient.OneLineAsync(Client, qService, "after");
        Assert.Equal("q after", qAfter.Reply);

        // The restarted router answers; the sibling kept its state (the long connection to q is still counted
        // once every short one has ended).
        foreach (var (_, id) in during) await router.Log.ForAsync(id);
        await router.Log.ForAsync(qAfter.Id);
        var pState = await router.Node.Routers.Ask<ClusterHealthSnapshot>(new GetClusterHealth(pCluster), Patience);
        Assert.Equal("127.1.12.11:9000", pState.Endpoints.Single().Endpoint);
        var qState = await router.Node.Routers.Ask<ClusterHealthSnapshot>(new GetClusterHealth(qCluster), Patience);
        Assert.Equal(1, qState.Endpoints.Single().Active);
    }

    [Fact]
    public async Task A_restarted_router_still_enforces_max_connections_for_connections_open_before_the_crash()
    {
        await using var p = new EchoServer(At("127.1.12.13", 9000), "p");
        await using var router = TestRouter.Start("crash-limit");
        await router.ApplyAsync(1,
            Service("limited", "127.1.12.3", 19000, 9000, "limited"), WorkloadEntry("limited-pod", "127.1.12.13", "{app: limited}"),
            """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: limited, namespace: default}
            spec:
              host: limited
              trafficPolicy: {connectionPool: {tcp: {maxConnections: 1}}}
            """);
        var service = At("127.1.12.3", 19000);
        var cluster = router.ClusterId(Fqdn("limited"));
        var crashed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Action<Akka.Event.Error> onError = e =>
        {
            if (e.Cause?.Message.Contains("fault injected", StringComparison.Ordinal) == true) crashed.TrySetResult();
        };
        var tap = router.Node.System.ActorOf(Props.Create(() => new EventTap<Akka.Event.Error>(onError)), "test-errors");
        router.Node.System.EventStream.Subscribe(tap, typeof(Akka.Event.Error));

        await using var first = await TestClient.ConnectAsync(Client, service);
        Assert.Equal("p one", await first.AskAsync("one"));

        router.Node.Routers.Tell(new FailRouter(cluster));
        await crashed.Task.WaitAsync(Patience);
        var state = await router.Node.Routers.Ask<ClusterHealthSnapshot>(new GetClusterHealth(cluster), Patience);

        // The first connection is still open, so the limit of one is still reached.
        await using var second = await TestClient.ConnectAsync(Client, service);
        await second.SendLineAsync("two");
        second.ShutdownSend();
        var end = await second.ReadToCloseAsync();
        Assert.True(end.NoData, $"a second connection got through maxConnections 1 after the router restarted: '{end.Text}' "
                                + $"(router state after restart: active {state.Endpoints.Single().Active})");
        Assert.Equal(AkkaL4.Actors.DataPlane.ResponseFlags.UpstreamOverflow, (await router.Log.ForAsync(second.Id)).Flags);
    }
}
