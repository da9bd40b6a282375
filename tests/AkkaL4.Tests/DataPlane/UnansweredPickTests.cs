using Akka.Actor;
using AkkaL4.Actors.DataPlane;
using AkkaL4.Actors.Upstreams;
using AkkaL4.Node.Echo;
using AkkaL4.Tests.Support;

namespace AkkaL4.Tests.DataPlane;

/// <summary>
/// A connection whose cluster's router has not published its picker asks the router supervisor, which forwards the ask to
/// the router; a router stopped with the ask in its mailbox (a reconfiguration, a newer snapshot's router replacing it)
/// answers nothing. The connection asks again, and gives up at the cluster's connect timeout: it does not hang, nor hold
/// one of its listener's pending places, for ever. Here an actor in front of the supervisor loses the asks
/// (<see cref="LosingRouters"/>). Addresses: block 174, third octets 50–99.
/// </summary>
[Trait("Category", "EndToEnd")]
public sealed class UnansweredPickTests
{
    private static readonly AddressBlock Block = AddressBlocks.Of(174);
    private const string Pending = "akkal4_listener_pending_connections";
    private const string Active = "envoy_listener_downstream_cx_active";

    [Fact]
    public async Task A_pick_never_answered_ends_the_connection_at_the_connect_timeout_and_frees_its_pending_place()
    {
        await using var pod = new EchoServer(Block.At(50, 11, 9000), "lost");
        var routers = new LosingRouters(_ => true);
        await using var router = TestRouter.Start("pick-lost", frontOfRouters: routers.InFrontOf, settings: """
            akkal4.data-plane.max-pending-connections = 1
            akkal4.data-plane.pending-timeout = 0
            """);
        await router.ApplyAsync(1,
            Service("lost", Block.Host(50, 1), 19000, 9000, "lost"), WorkloadEntry("lost-1", Block.Host(50, 11), "{app: lost}"),
            TrafficPolicy("lost", "{connectionPool: {tcp: {connectTimeout: 2s}}}"));
        var service = Block.At(50, 1, 19000);

        await using var client = await TestClient.ConnectAsync(Block.Host(50, 30), service);
        await client.SendLineAsync("hello");
        var end = await client.ReadToCloseAsync();
        Assert.True(end.NoData, $"got '{end.Text}' with no answer from the router");
        var entry = await router.Log.ForAsync(client.Id);
        Assert.Equal(ResponseFlags.NoHealthyUpstream, entry.Flags);
        Assert.Contains("did not answer within its connect timeout", entry.Detail, StringComparison.Ordinal);
        // Asked again before giving up (at 1 s; the connect timeout is 2 s).
        Assert.True(routers.Asks >= 2, $"asked {routers.Asks} time(s)");
        await router.Metrics.WaitForAsync(Active, 0);
        await router.Metrics.WaitForAsync(Pending, 0);

        // Its pending place (max-pending-connections 1) is free again: the next client, whose ask arrives, is served.
        routers.Lose = _ => false;
        var (reply, _) = await TestClient.OneLineAsync(Block.Host(50, 31), service, "after");
        Assert.Equal("lost after", reply);
    }

    [Fact]
    public async Task A_lost_pick_is_asked_again_and_the_connection_is_served()
    {
        await using var pod = new EchoServer(Block.At(51, 11, 9000), "again");
        var routers = new LosingRouters(n => n == 1);
        await using var router = TestRouter.Start("pick-again", frontOfRouters: routers.InFrontOf);
        await router.ApplyAsync(1,
            Service("again", Block.Host(51, 1), 19000, 9000, "again"), WorkloadEntry("again-1", Block.Host(51, 11), "{app: again}"));

        var (reply, id) = await TestClient.OneLineAsync(Block.Host(51, 30), Block.At(51, 1, 19000), "hello");
        Assert.Equal("again hello", reply);
        Assert.Equal(ResponseFlags.None, (await router.Log.ForAsync(id)).Flags);
        Assert.True(routers.Asks >= 2, $"asked {routers.Asks} time(s)");
    }
}

/// <summary>
/// In front of a node's router supervisor: holds back its <see cref="ApplyRoutes"/>, so no router starts and none publishes a
/// picker (every connection asks, and the supervisor starts the router on demand), and loses the asks <see cref="Lose"/> picks
/// by their number (from 1), as a router stopped with them in its mailbox would.
/// </summary>
internal sealed class LosingRouters(Func<int, bool> lose)
{
    private int _asks;

    public Func<int, bool> Lose { get; set; } = lose;

    public int Asks => Volatile.Read(ref _asks);

    public Props InFrontOf(Props supervisor) => Props.Create(() => new Front(this, supervisor));

    private sealed class Front : ReceiveActor
    {
        public Front(LosingRouters losing, Props supervisor)
        {
            var routers = Context.ActorOf(supervisor, "supervisor");
            Receive<ApplyRoutes>(_ => { });
            Receive<PickUpstream>(ask =>
            {
                if (!losing.Lose(Interlocked.Increment(ref losing._asks))) routers.Forward(ask);
            });
            ReceiveAny(m => routers.Forward(m));
        }
    }
}
