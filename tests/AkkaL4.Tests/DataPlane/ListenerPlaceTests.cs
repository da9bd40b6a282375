using System.Net;
using Akka.Actor;
using Akka.Configuration;
using Akka.Streams;
using Akka.Streams.Dsl;
using AkkaL4.Actors;
using AkkaL4.Actors.DataPlane;
using AkkaL4.Actors.DataPlane.Transport;
using AkkaL4.Tests.Support;
using static AkkaL4.Tests.DataPlane.Kit;
using static AkkaL4.Tests.Support.Manifests;

namespace AkkaL4.Tests.DataPlane;

/// <summary>
/// A listener's descriptor place bookkeeping through a real node: a paused listener whose accept stream fails and
/// binds again must not lose (leak) the place it takes for its next connection (review3-s8 #1), nor its stream's place to
/// another listener's connections before it binds again (review1-s9 #2a). 127.120.60.x, 127.200.41.x.
/// </summary>
[Trait("Category", TestCategories.EndToEnd)]
public sealed class ListenerPlaceTests
{
    private static readonly AddressBlock Block = AddressBlocks.Of(120);
    private const int Places = 20;

    [Fact]
    public async Task Paused_listener_whose_stream_fails_and_rebinds_keeps_no_place()
    {
        await using var transport = new FailingOnceTransport();
        // The node's room from a fixed limit and count: the test process's own descriptors (other tests' sockets, opened
        // and closed beside this one) would move it, and a place freed could then be no room for the listener. Room for
        // exactly Places connections and the listener's accept stream (its socket and the connection it accepts ahead).
        // Its clock counts the looks for room: each is a place asked for (the listener's relief timer asks once per wait).
        var looks = 0;
        await using var node = TestRouter.Start("listener-places", settings: "akkal4.data-plane.bind-retry = 300ms", transport: transport,
            descriptors: FixedRoom(() => Places + 1, () => { Interlocked.Increment(ref looks); return Environment.TickCount64; }));
        var budget = node.Node.Connections;
        transport.Budget = budget;
        // The node "full": this test holds every place but the accept stream's, so the listener binds and pauses at its first ask.
        var mine = 0;
        for (; mine < Places; mine++) Assert.True(budget.TryReserve());
        Assert.Equal(mine, budget.Places);
        node.Node.Apply(Resources(
            Service("leak", Block.Host(60, 2), 9443, 9000, "leak-upstream"),
            WorkloadEntry("leak-upstream", Block.Host(60, 10), "{app: leak-upstream}"),
            VirtualService("leak", "default", """
                hosts: [leak]
                tcp:
                - route: [{destination: {host: leak, port: {number: 9443}}}]
                """)).ToList(), 1);
        await EventuallyAsync(() => transport.Binds >= 1 && transport.Switches.Count >= 1, "first bind");
        // The listener pauses (StreamInit -> Next finds no place), and its relief timer asks again after 50 ms, then each wait
        // doubled: five more asks put its next one 800 ms or more away, so it is pending when the stream fails.
        var bound = Volatile.Read(ref looks);
        await EventuallyAsync(() => Task.FromResult(Volatile.Read(ref looks) >= bound + 6), () => $"the paused listener asked for a place six times (asked {Volatile.Read(ref looks) - bound})");
        transport.Switches[0].Abort(new IOException("accept stream failed (test)"));
        // The second bind frees one of mine (as another listener's connection ending would): the new stream takes it.
        await EventuallyAsync(() => transport.Binds >= 2, "second bind", TimeSpan.FromSeconds(10));
        await EventuallyAsync(() => budget.Places == mine + 1, "the rebound listener took the freed place (and its stream's)", TimeSpan.FromSeconds(10));
        // The relief timer pending from before would fire within 1 s (its longest wait): it must not take (and lose) a second place.
        await HoldsThroughoutAsync(() => budget.Places == mine + 1, ListenerReliefWait, () => $"places {budget.Places}, expected {mine + 1}");
        for (var i = 0; i < mine - 1; i++) budget.Unreserve();
        await EventuallyAsync(() => budget.Places - budget.Open == 2, "the listener holds its stream's place and one for its next connection", TimeSpan.FromSeconds(10));
        await HoldsThroughoutAsync(() => budget.Places - budget.Open <= 2, ListenerReliefWait,
            () => $"places {budget.Places} - open {budget.Open} > 2 for one running listener");
        // Unbind everything: the listener stops and gives back what it holds.
        node.Node.Apply([], 2);
        await EventuallyAsync(() => budget.Places == 0, () => $"every place given back after the drain (places {budget.Places})", TimeSpan.FromSeconds(15));
    }

    [Fact]
    public async Task A_listener_whose_stream_fails_on_a_full_node_keeps_its_place_and_binds_again()
    {
        var mine = AddressBlocks.Of(200);
        await using var transport = new FailingOnceTransport();
        // Room for the listener's stream and one connection: bound, it takes the second for its next connection.
        await using var node = TestRouter.Start("listener-keeps-place", settings: "akkal4.data-plane.bind-retry = 300ms", transport: transport,
            descriptors: FixedRoom(2));
        var budget = node.Node.Connections;
        node.Node.Apply(Resources(
            Service("keep", mine.Host(41, 2), 9443, 9000, "keep-upstream"),
            WorkloadEntry("keep-upstream", mine.Host(41, 10), "{app: keep-upstream}")).ToList(), 1);
        await EventuallyAsync(async () => transport.Switches.Count >= 1 && (await node.Node.ListenersAsync()) is [{ Bound: true }] && budget.Places == 2,
            () => $"bound, at its room (places {budget.Places})");
        // Other listeners' connections (here: this test) take every place that is freed, as on a busy node at its room.
        using var stop = new CancellationTokenSource();
        var taken = 0;
        var competitor = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                if (budget.TryReserve()) Interlocked.Increment(ref taken);
                await Task.Delay(2);
            }
        });
        transport.Switches[0].Abort(new IOException("accept stream failed (test)"));
        try
        {
            await EventuallyAsync(async () => transport.Binds >= 2 && (await node.Node.ListenersAsync()) is [{ Bound: true }],
                () => $"bound again on the place it kept (binds {transport.Binds}, places {budget.Places}, taken by others {Volatile.Read(ref taken)})",
                TimeSpan.FromSeconds(15));
            Assert.Equal(0, Volatile.Read(ref taken));
        }
        finally
        {
            await stop.CancelAsync();
            await competitor;
            for (var i = 0; i < taken; i++) budget.Unreserve();
        }
        node.Node.Apply([], 2);
        await EventuallyAsync(() => budget.Places == 0 && budget.Streams == 0, () => $"every place given back after the drain (places {budget.Places})", TimeSpan.FromSeconds(15));
    }

    /// <summary>Longer than the listener's longest wait between asks for a place (1 s), with room for a loaded machine.</summary>
    private static readonly TimeSpan ListenerReliefWait = TimeSpan.FromSeconds(2);

    /// <summary>
    /// That nothing takes a place it should not is seen only over time: <paramref name="condition"/> is checked throughout
    /// <paramref name="window"/> (not once after it), and the test fails at the first look that finds it false.
    /// </summary>
    private static async Task HoldsThroughoutAsync(Func<bool> condition, TimeSpan window, Func<string> what)
    {
        var end = DateTime.UtcNow + window;
        do
        {
            Assert.True(condition(), what());
            await Task.Delay(10);
        } while (DateTime.UtcNow < end);
        Assert.True(condition(), what());
    }

    private sealed class FailingOnceTransport : ITcpTransport, IAsyncDisposable
    {
        private readonly ActorSystem _system = ActorSystem.Create("listener-places-transport", "akka.loglevel = ERROR");
        private readonly ITcpTransport _inner;
        public readonly List<UniqueKillSwitch> Switches = [];
        public int Binds;
        public ConnectionBudget? Budget;

        public FailingOnceTransport() =>
            _inner = TcpTransports.Create(_system, DataPlaneSettings.From(ConfigurationFactory.ParseString(RouterNode.BuiltInHocon())).Transport);

        public Source<TcpConnection, Task<IListenerBinding>> Bind(IPEndPoint address, int backlog)
        {
            // The second bind finds room just freed (as another listener's connection ending would free it).
            if (Interlocked.Increment(ref Binds) == 2) Budget?.Unreserve();
            return _inner.Bind(address, backlog).ViaMaterialized(KillSwitches.Single<TcpConnection>(), Keep.Both)
                .MapMaterializedValue(t => { lock (Switches) Switches.Add(t.Item2); return t.Item1; });
        }

        public void Connect(EndPoint remote, ConnectOptions options, ConnectAttempt attempt) => _inner.Connect(remote, options, attempt);

        public async ValueTask DisposeAsync() => await _system.Terminate();
    }
}
