using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Dispatch;
using Akka.Dispatch.MessageQueues;
using AkkaL4.Tests.Support;
using static AkkaL4.Tests.DataPlane.Kit;
using static AkkaL4.Tests.Support.Manifests;

namespace AkkaL4.Tests.DataPlane;

/// <summary>
/// The upstream's connect hands the connection straight to the relay: its completion starts the relay where it ran, with no
/// message to the connection's actor and no turn of it in between (one hand-off per connection fewer; bench/README.md,
/// session 18). Shown with the connection actors' messages held back (<see cref="HeldConnectionMailbox"/>): bytes flow both
/// ways all the same, and once the messages are let through the connection ends and is logged as any. 127.226.20.x.
/// </summary>
[Trait("Category", TestCategories.EndToEnd)]
public sealed class ConnectHandOffTests
{
    private static readonly AddressBlock Block = AddressBlocks.Of(226);

    [Fact]
    public async Task A_connection_relays_once_its_upstream_is_connected_without_a_turn_of_its_actor()
    {
        await using var upstream = new ByteEchoServer(Block.At(20, 100, 9000));
        var name = $"connect-hand-off-{Guid.NewGuid():N}";
        await using var router = TestRouter.Start(name,
            settings: $"akkal4.connection-mailbox.mailbox-type = \"{typeof(HeldConnectionMailbox).AssemblyQualifiedName}\"");
        var held = HeldConnectionMailbox.Gate(router.Node.System);
        try
        {
            await router.ApplyAsync(Resources(
                Service("hand-off", Block.Host(20, 1), 9443, 9000, "hand-off-up"),
                WorkloadEntry("hand-off-up", Block.Host(20, 100), "{app: hand-off-up}")), 1);
            // One connection with nothing held: the cluster's picker is published by then, so a connection picks on its own
            // thread (a pick through the router supervisor would be a message to the actor).
            var (first, _) = await TestClient.OneLineAsync(Block.Host(20, 200), Block.At(20, 1, 9443), "first");
            Assert.Equal("first", first);

            held.Hold();
            await using (var client = await TestClient.ConnectAsync(Block.Host(20, 201), Block.At(20, 1, 9443)))
            {
                Assert.Equal("while held", await client.AskAsync("while held"));
                held.Release();
                client.ShutdownSend();
                var end = await client.ReadToCloseAsync();
                Assert.False(end.Reset, "closed with a FIN, as a relay that ran its course");
                var entry = await router.Log.ForAsync(client.Id);
                Assert.Equal(AkkaL4.Actors.DataPlane.ResponseFlags.None, entry.Flags);
                Assert.Equal("while held\n".Length, entry.BytesReceived);
            }
        }
        finally
        {
            held.Release();
            HeldConnectionMailbox.Forget(router.Node.System);
        }
    }
}

/// <summary>
/// A connection actor's mailbox (tests only) whose user messages wait, while its system's gate holds them, where no turn of
/// the actor takes them; system messages (its creation, its stop) go through as ever.
/// </summary>
public sealed class HeldConnectionMailbox(Akka.Actor.Settings settings, Akka.Configuration.Config config)
    : MailboxType(settings, config), IProducesMessageQueue<HeldConnectionMailbox.Queue>
{
    private static readonly ConcurrentDictionary<ActorSystem, Holding> Gates = new();

    public static Holding Gate(ActorSystem system) => Gates.GetOrAdd(system, _ => new Holding());

    internal static void Forget(ActorSystem system) => Gates.TryRemove(system, out _);

    public override IMessageQueue Create(IActorRef owner, ActorSystem system) => new Queue(Gate(system));

    public sealed class Holding
    {
        private volatile bool _held;

        public bool Held => _held;

        public void Hold() => _held = true;

        /// <summary>Lets them through: each queue's next message (the relay's end, say) finds its actor run again.</summary>
        public void Release() => _held = false;
    }

    public sealed class Queue(Holding gate) : IMessageQueue, IUnboundedMessageQueueSemantics
    {
        private readonly ConcurrentQueue<Envelope> _queue = new();

        public bool HasMessages => !gate.Held && !_queue.IsEmpty;

        public int Count => _queue.Count;

        public void Enqueue(IActorRef receiver, Envelope envelope) => _queue.Enqueue(envelope);

        public bool TryDequeue(out Envelope envelope)
        {
            if (!gate.Held) return _queue.TryDequeue(out envelope);
            envelope = default;
            return false;
        }

        public void CleanUp(IActorRef owner, IMessageQueue deadletters)
        {
            while (_queue.TryDequeue(out var envelope)) deadletters.Enqueue(owner, envelope);
        }
    }
}
