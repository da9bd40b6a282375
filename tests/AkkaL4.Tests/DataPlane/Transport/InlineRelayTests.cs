using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Akka.Actor;
using Akka.Dispatch;
using Akka.Streams;
using AkkaL4.Actors;
using AkkaL4.Actors.DataPlane;
using AkkaL4.Actors.DataPlane.Transport;
using AkkaL4.Tests.Support;

namespace AkkaL4.Tests.DataPlane.Transport;

/// <summary>
/// A relayed message is read and written on the thread its socket's completion runs on: the relay's sockets complete on the
/// runtime's event thread (<see cref="InlineCompletions"/>, as the node's <c>relay-inline-completions</c> says), and a relay
/// host woken by a completion's callback runs its turn inside that callback (<see cref="WakeInline"/>, cluster.hocon's
/// <c>akkal4.relay-dispatcher</c>); every other wake-up, and whatever that turn itself wakes, goes to the thread pool as on
/// Akka's default dispatcher.
/// </summary>
[Trait("Category", TestCategories.EndToEnd)]
[Trait(TestCategories.TransportTrait, TestCategories.TransportNamed)]
public sealed class InlineRelayTests : IDisposable
{
    private readonly ActorSystem _system = ActorSystem.Create("wake-inline", BuiltInHocon.RelayDispatcher());

    /// <summary>Set on a thread only while <see cref="Calling"/> runs its call there.</summary>
    [ThreadStatic] private static bool _insideCall;

    public void Dispose() => _system.Dispose();

    /// <summary>Records, for each message, whether it was handled inside a <see cref="Calling"/> call on the caller's thread.</summary>
    private sealed class Recorder : ReceiveActor
    {
        public sealed record Forward(IActorRef Next);

        public Recorder(List<(string Message, bool Inside)> seen)
        {
            Receive<string>(s =>
            {
                lock (seen) seen.Add((s, _insideCall));
            });
            Receive<Forward>(f =>
            {
                lock (seen) seen.Add(("forwarding", _insideCall));
                f.Next.Tell("forwarded");
            });
        }
    }

    private IActorRef Started(List<(string, bool)> seen, string dispatcher)
    {
        var actor = _system.ActorOf(Props.Create(() => new Recorder(seen)).WithDispatcher(dispatcher));
        actor.Tell("started");
        return actor;
    }

    /// <summary>Runs <paramref name="call"/> on a thread-pool thread, where socket completions run, marked as inside the call.</summary>
    private static Task Calling(Action call) =>
        Task.Run(() =>
        {
            _insideCall = true;
            try
            {
                call();
            }
            finally
            {
                _insideCall = false;
            }
        });

    [UnsafeAccessor(UnsafeAccessorKind.Method, Name = "get_Mailbox")]
    private static extern Mailbox MailboxOf(ActorCell cell);

    [UnsafeAccessor(UnsafeAccessorKind.Method, Name = "IsScheduled")]
    private static extern bool IsScheduled(Mailbox mailbox);

    /// <summary>
    /// Until the actors' mailboxes are between runs: a message handled does not yet mean its run is over, and a mailbox still
    /// scheduled takes the next message in that run (or reschedules itself from the pool) instead of being woken by its sender.
    /// </summary>
    private static Task Idle(params IActorRef[] actors) =>
        EventuallyAsync(() => actors.All(a => !IsScheduled(MailboxOf((ActorCell)((ActorRefWithCell)a).Underlying))), "the mailboxes idle");

    private static async Task<List<(string Message, bool Inside)>> Until(List<(string, bool)> seen, int count)
    {
        await EventuallyAsync(() => { lock (seen) return seen.Count >= count; }, $"{count} messages handled");
        lock (seen) return [.. seen];
    }

    [Fact]
    public async Task A_host_woken_by_a_completion_callback_runs_its_turn_inside_the_callback()
    {
        var seen = new List<(string, bool)>();
        var host = Started(seen, Relays.Dispatcher);
        // Its first turn (the actor's creation) is over, so the wake below is the mailbox's next scheduling.
        await Until(seen, 1);
        await Idle(host);

        await Calling(() => WakeInline.Call<string>(m => host.Tell(m), "woken"));

        Assert.Equal(("woken", true), (await Until(seen, 2))[1]);
    }

    [Fact]
    public async Task What_the_inline_turn_wakes_and_a_wake_outside_a_callback_go_to_the_pool()
    {
        var seen = new List<(string, bool)>();
        var first = Started(seen, Relays.Dispatcher);
        var second = Started(seen, Relays.Dispatcher);
        await Until(seen, 2);
        await Idle(first, second);

        // The inline turn tells a second actor of the same dispatcher: that one does not run inside the first's turn.
        await Calling(() => WakeInline.Call<object>(m => first.Tell(m), new Recorder.Forward(second)));
        var handled = await Until(seen, 4);
        Assert.Equal(("forwarding", true), handled[2]);
        Assert.Equal(("forwarded", false), handled[3]);

        await Calling(() => first.Tell("plain"));
        Assert.Equal(("plain", false), (await Until(seen, 5))[4]);
    }

    [Fact]
    public async Task A_completion_callback_that_wakes_no_host_leaves_nothing_armed_on_its_thread()
    {
        var seen = new List<(string, bool)>();
        var host = Started(seen, Relays.Dispatcher);
        await Until(seen, 1);

        await Calling(() =>
        {
            WakeInline.Call<int>(_ => { }, 0);
            host.Tell("later");
        });
        Assert.Equal(("later", false), (await Until(seen, 2))[1]);
    }

    [Fact]
    public async Task An_actor_on_another_dispatcher_is_not_run_inline()
    {
        var seen = new List<(string, bool)>();
        var other = Started(seen, "akka.actor.default-dispatcher");
        await Until(seen, 1);

        await Calling(() => WakeInline.Call<string>(m => other.Tell(m), "woken"));
        Assert.Equal(("woken", false), (await Until(seen, 2))[1]);
    }

    /// <summary>
    /// The completion of a real zero-byte receive (what a relay waits on) on loopback, 127.242.1.<paramref name="host"/>: what
    /// <paramref name="observe"/> reads in its stage's callback. <paramref name="preferInline"/>: the socket prefers inline
    /// completions first (on this runtime the setting exists: were it gone, relays would quietly hand every completion over again).
    /// </summary>
    private static async Task<T> CompletionAsync<T>(int host, bool preferInline, Func<T> observe)
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(AddressBlocks.Of(242).At(1, host, 0));
        listener.Listen(1);
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(listener.LocalEndPoint!);
        using var server = await listener.AcceptAsync();
        if (preferInline) Assert.True(InlineCompletions.Prefer(server));
        var observed = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var args = new SocketStage.Args<object>(e => e) { Callback = _ => observed.TrySetResult(observe()) };
        args.SetBuffer(Memory<byte>.Empty);
        Assert.True(server.ReceiveAsync(args), "the zero-byte receive went asynchronous");
        await client.SendAsync(new byte[] { 1 });
        return await observed.Task.WaitAsync(Waits.Patience);
    }

    [Fact]
    public async Task A_socket_completion_calls_its_stage_back_armed_and_the_relay_hosts_run_on_the_inline_dispatcher()
    {
        Assert.True(await CompletionAsync(1, preferInline: false, () => WakeInline.Armed));

        // And the hosts that those callbacks wake are made on the dispatcher that runs them inline.
        var relays = new Relays(_system.Materializer(), 1, _system.Log);
        IActorRef? host = null;
        await EventuallyAsync(async () =>
        {
            // The materializer's supervisor, then its one stream: the host's interpreter.
            host = (await _system.ActorSelection("/user/*/*").Ask<ActorIdentity>(new Identify(null), Waits.Patience)).Subject;
            return host is not null;
        }, "the relay host's actor");
        Assert.Equal(Relays.Dispatcher, Assert.IsAssignableFrom<ActorRefWithCell>(host).Underlying.Props.Dispatcher);
        GC.KeepAlive(relays);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_socket_preferring_inline_completions_completes_on_the_runtimes_event_thread(bool prefer)
    {
        Assert.Equal(!prefer, await CompletionAsync(prefer ? 2 : 3, prefer, () => Thread.CurrentThread.IsThreadPoolThread));
    }

    [UnsafeAccessor(UnsafeAccessorKind.Method, Name = "get_PreferInlineCompletions")]
    private static extern bool PrefersInline(SafeSocketHandle handle);

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_socket_relay_sets_both_sockets_to_complete_inline_as_its_node_is_set(bool inline)
    {
        var block = AddressBlocks.Of(242);
        var third = inline ? 4 : 5;
        await using var r = await RelayKit.RelayAsync(TcpTransports.Sockets, block.At(third, 1, 9000), block.At(third, 2, 9000), block.Host(third, 3),
            inlineCompletions: inline);
        // Bytes through both ways: the relay has started, and its sockets carry on whatever the setting.
        await r.Client.SendAsync("ping");
        Assert.Equal("ping", await r.Backend.ReadAsync(4));
        await r.Backend.SendAsync("pong");
        Assert.Equal("pong", await r.Client.ReadAsync(4));

        Assert.Equal((inline, inline), (PrefersInline(r.Parts.Client!.SafeHandle), PrefersInline(r.Parts.Upstream!.SafeHandle)));
    }

    /// <summary>
    /// Where a connect's completion told it: inside the <see cref="Calling"/> call that began it (a connect that completed at
    /// once, as a loopback one sometimes does), on which kind of thread, and whether a relay host it woke would run there.
    /// </summary>
    private sealed class WhereConnected : ConnectAttempt
    {
        public readonly TaskCompletionSource<(TcpConnection Connection, bool AtOnce, bool PoolThread, bool Armed)> Told =
            new(TaskCreationOptions.RunContinuationsAsynchronously);

        protected override void OnConnected(TcpConnection connection) =>
            Told.TrySetResult((connection, _insideCall, Thread.CurrentThread.IsThreadPoolThread, WakeInline.Armed));

        protected override void OnFailed(Exception cause) => Told.TrySetException(cause);
    }

    /// <summary>
    /// A connect whose options allow it (a plain upstream: what follows is the relay's start) completes on the event thread and
    /// starts its relay's host there, when the node's relays complete inline; a TLS upstream's (its handshake follows) and any
    /// with the setting off complete on the pool, as before. Connects that complete at once are retried: they show no completion.
    /// </summary>
    [Theory]
    [InlineData(true, true)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public async Task A_plain_connect_completes_on_the_event_thread_when_the_node_completes_inline(bool node, bool plain)
    {
        var inline = node && plain;
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(AddressBlocks.Of(242).At(6, (node ? 1 : 0) + (plain ? 2 : 0), 0));
        listener.Listen(1);
        var transport = new SocketTransport(_system.Scheduler, node);
        for (var tries = 0; ; tries++)
        {
            var attempt = new WhereConnected();
            await Calling(() => transport.Connect(listener.LocalEndPoint!, new ConnectOptions(Waits.Patience, null, plain), attempt));
            var (connection, atOnce, poolThread, armed) = await attempt.Told.Task.WaitAsync(Waits.Patience);
            using var accepted = await listener.AcceptAsync();
            using var socket = connection.Socket!;
            Assert.Equal(inline, PrefersInline(socket.SafeHandle));
            if (atOnce && tries < 500) continue;
            Assert.False(atOnce, $"{tries} connects in a row completed at once");
            Assert.Equal((inline, inline), (!poolThread, armed));
            return;
        }
    }

    /// <summary>The listener of a node whose relays complete inline accepts inline too: an accept's completion only tells the listener.</summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_listener_accepts_inline_when_the_node_completes_inline(bool node)
    {
        // Bound and listening once Listen returns; what the pump tells its listener is not looked at here.
        var listener = _system.ActorOf(Props.Create(() => new Recorder(new List<(string, bool)>())));
        var pump = (AcceptPump)new SocketTransport(_system.Scheduler, node).Listen(AddressBlocks.Of(242).At(7, node ? 1 : 2, 19000), 16, listener,
            "init", "done", e => e.Message, _system.Log);
        Assert.Equal(node, PrefersInline(pump.Handle));
        // Its listener gone, the pump closes its socket.
        _system.Stop(listener);
        await EventuallyAsync(() => pump.Handle.IsClosed, "the listening socket closed");
    }

    /// <summary>Calls back through <see cref="WakeInline"/> from inside its own turn, marked as inside the call.</summary>
    private sealed class CallsFromItsTurn : ReceiveActor
    {
        public CallsFromItsTurn(IActorRef host) =>
            Receive<string>(m =>
            {
                _insideCall = true;
                try
                {
                    WakeInline.Call<string>(x => host.Tell(x), m);
                }
                finally
                {
                    _insideCall = false;
                }
            });
    }

    [Fact]
    public async Task A_callback_inside_another_actors_turn_does_not_run_a_host_there()
    {
        var seen = new List<(string, bool)>();
        var host = Started(seen, Relays.Dispatcher);
        await Until(seen, 1);

        _system.ActorOf(Props.Create(() => new CallsFromItsTurn(host))).Tell("from a turn");
        Assert.Equal(("from a turn", false), (await Until(seen, 2))[1]);
    }
}

/// <summary>The node's setting for <see cref="InlineRelayTests"/>' behaviour: on unless turned off (no transport trait: it reads the settings).</summary>
[Trait("Category", "Unit")]
public sealed class RelayInlineCompletionsSettingTests
{
    [Fact]
    public void Relays_complete_inline_unless_the_node_turns_it_off()
    {
        Assert.True(DataPlaneSettings.From(RouterNode.Layered([])).RelayInlineCompletions);
        Assert.False(DataPlaneSettings.From(RouterNode.Layered(["akkal4.data-plane.relay-inline-completions = off"])).RelayInlineCompletions);
    }
}
