using System.Net.Sockets;
using Akka.Actor;
using Akka.IO;
using Akka.Streams;
using Akka.Streams.Dsl;
using AkkaL4.Actors.DataPlane.Transport;
using AkkaL4.Tests.Support;
using Reactive.Streams;
using static AkkaL4.Tests.DataPlane.Kit;

namespace AkkaL4.Tests.DataPlane.Transport;

/// <summary>
/// <see cref="SocketStage.Reset"/> (a relay's flush deadline) disposes the socket from another thread while its stage runs:
/// a call the stage then makes on the socket fails it as a reset (<see cref="SocketError.OperationAborted"/>, what an
/// operation in flight reports), not with an <see cref="ObjectDisposedException"/>. Reached deterministically by resetting
/// before the stage's first read (downstream has asked for nothing yet). The same race inside ReceiveAsync or SendAsync
/// (after Available or Send succeeded) cannot be forced from outside; those share the handling. Addresses: 127.200.200.x.
/// </summary>
[Trait("Category", TestCategories.EndToEnd)]
[Trait(TestCategories.TransportTrait, TestCategories.TransportNamed)]
public sealed class SocketStageResetTests
{
    private static readonly AddressBlock Block = AddressBlocks.Of(200);

    [Fact]
    public async Task A_read_after_a_reset_fails_the_stage_as_aborted()
    {
        using var system = ActorSystem.Create("socket-stage-reset");
        var (client, server) = await PairAsync(1);
        using var _ = server;
        var downstream = new Subscriber();
        Source.Never<ByteString>().Via(new SocketStage(client)).RunWith(Sink.FromSubscriber(downstream), system.Materializer());
        var subscription = await downstream.Subscribed.Task.WaitAsync(Patience);

        SocketStage.Reset(client);
        subscription.Request(1);

        AssertAborted(await downstream.Failed.Task.WaitAsync(Patience));
    }

    [Fact]
    public async Task Upstream_ending_after_a_reset_does_not_fail_the_stage_with_a_disposed_socket()
    {
        using var system = ActorSystem.Create("socket-stage-reset");
        var (client, server) = await PairAsync(2);
        using var _ = server;
        var downstream = new Subscriber();
        var upstream = Source.Queue<ByteString>(1, OverflowStrategy.Backpressure)
            .Via(new SocketStage(client)).ToMaterialized(Sink.FromSubscriber(downstream), Keep.Left).Run(system.Materializer());
        var subscription = await downstream.Subscribed.Task.WaitAsync(Patience);

        SocketStage.Reset(client);
        // Shutting down sending on the disposed socket (it failed the stage with ObjectDisposedException) is nothing left to
        // tell the peer; the read that follows reports the reset.
        upstream.Complete();
        subscription.Request(1);

        AssertAborted(await downstream.Failed.Task.WaitAsync(Patience));
    }

    private static void AssertAborted(Exception failure) =>
        Assert.Equal(SocketError.OperationAborted, Assert.IsAssignableFrom<SocketException>(failure).SocketErrorCode);

    private static async Task<(Socket Client, Socket Server)> PairAsync(int fourth)
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(Block.At(200, fourth, 0));
        listener.Listen(1);
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(listener.LocalEndPoint!);
        return (client, await listener.AcceptAsync());
    }

    /// <summary>Asks for nothing until the test does, and records how the stream ended.</summary>
    private sealed class Subscriber : ISubscriber<ByteString>
    {
        public readonly TaskCompletionSource<ISubscription> Subscribed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public readonly TaskCompletionSource<Exception> Failed = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void OnSubscribe(ISubscription subscription) => Subscribed.TrySetResult(subscription);
        public void OnNext(ByteString element) => Failed.TrySetException(new InvalidOperationException($"read {element.Count} bytes from a reset socket"));
        public void OnError(Exception cause) => Failed.TrySetResult(cause);
        public void OnComplete() => Failed.TrySetException(new InvalidOperationException("completed instead of failing"));
    }
}
