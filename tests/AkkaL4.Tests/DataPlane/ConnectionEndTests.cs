using System.Net;
using Akka.Actor;
using Akka.Event;
using Akka.IO;
using Akka.Streams.Dsl;
using AkkaL4.Actors.DataPlane.Transport;
using AkkaL4.Tests.Support;
using static AkkaL4.Tests.DataPlane.Kit;
using static AkkaL4.Tests.Support.Manifests;

namespace AkkaL4.Tests.DataPlane;

/// <summary>
/// A listener counts a connection's end however its actor ended: from Akka's own word that a child ended (which comes for
/// every child, as a system message), not from a message the connection sends as it stops, which an actor that failed as
/// Akka created it never sends; and its socket is closed. 127.226.10.x.
/// </summary>
[Trait("Category", TestCategories.EndToEnd)]
public sealed class ConnectionEndTests
{
    private static readonly AddressBlock Block = AddressBlocks.Of(226);

    [Fact]
    public async Task A_connection_whose_actor_fails_as_Akka_creates_it_gives_back_its_place()
    {
        await using var router = TestRouter.Start("connection-create-fails", descriptors: FixedRoom(8));
        await router.ApplyAsync(Resources(
            Service("create-fails", Block.Host(10, 1), 9443, 9000, "create-fails-up"),
            WorkloadEntry("create-fails-up", Block.Host(10, 100), "{app: create-fails-up}")), 1);
        var budget = router.Node.Connections;
        await EventuallyAsync(() => budget.Open == 0, "no connection open before");

        var failed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Action<Error> seen = e =>
        {
            if (e.Cause is ActorInitializationException) failed.TrySetResult();
        };
        var tap = router.Node.System.ActorOf(Props.Create(() => new EventTap<Error>(seen)));
        router.Node.System.EventStream.Subscribe(tap, typeof(Error));

        // A connection with neither a socket nor a local address: its actor's constructor throws as it reads where the client
        // connected to, so no instance of it ever runs PostStop. Handed to the listener as a connection from an accept stream
        // not its own (one of its instance before a restart): started with a place, as any.
        var closed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var broken = new TcpConnection(null, new IPEndPoint(IPAddress.Parse(Block.Host(10, 200)), 40000), () => Flow.Create<ByteString>(),
            () => closed.TrySetResult(), (_, _) => ValueTask.FromResult(0));
        router.Node.System.ActorSelection("/user/listeners/*").Tell(broken);

        await failed.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await EventuallyAsync(() => Task.FromResult(budget.Open == 0), () => $"the connection's place given back (open {budget.Open}, places {budget.Places})");
        // No instance ran, so no PostStop closed it: the client's socket is closed all the same, not left open.
        await WithinAsync(closed.Task.ContinueWith(_ => true), "the connection whose actor failed as Akka created it closed");
        tap.Tell(PoisonPill.Instance);
    }
}
