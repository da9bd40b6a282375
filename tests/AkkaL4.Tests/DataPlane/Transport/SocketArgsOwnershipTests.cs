using System.Net;
using System.Net.Sockets;
using AkkaL4.Actors.DataPlane.Transport;
using AkkaL4.Tests.Support;
using static AkkaL4.Tests.DataPlane.Kit;

namespace AkkaL4.Tests.DataPlane.Transport;

/// <summary>
/// Who disposes a <see cref="SocketStage"/>'s SocketAsyncEventArgs: exactly one of the stage's stop and the operation's
/// completion, in every order they can meet in (review2-s7 #2). Args left undisposed go to the finalizer, which made
/// nearly every collection a gen1. Each case drives a real zero-byte receive on a loopback pair (127.220.1.x) and plays
/// the stage's part itself, so the order is the test's and not the scheduler's.
/// </summary>
[Trait("Category", TestCategories.EndToEnd)]
[Trait(TestCategories.TransportTrait, TestCategories.TransportNamed)]
public sealed class SocketArgsOwnershipTests : IDisposable
{
    private readonly Socket _client;
    private readonly Socket _server;

    public SocketArgsOwnershipTests()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(AddressBlocks.Of(220).At(1, 1, 0));
        listener.Listen(1);
        _client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _client.Connect(listener.LocalEndPoint!);
        _server = listener.Accept();
    }

    public void Dispose()
    {
        _client.Dispose();
        _server.Dispose();
    }

    [Fact]
    public async Task A_stop_while_a_completion_is_on_its_way_to_the_stage_disposes_the_args()
    {
        var (args, calledBack) = PendingWait();
        _client.Send([1]);
        // The completion has called back: in a relay that is an async input the stopped stage will drop, never delivered.
        Assert.Equal(SocketError.Success, await WithinAsync(calledBack.Task, "the wait's completion"));

        // The stage stops with its wait still counted as pending (it has not seen the completion).
        args.Stop(pending: true);

        Assert.True(IsDisposed(args), "a completion the stage never sees leaves its args to the finalizer");
    }

    [Fact]
    public async Task A_stop_with_the_operation_in_flight_leaves_the_args_to_its_completion_which_calls_nothing_back()
    {
        var (args, calledBack) = PendingWait();

        args.Stop(pending: true);
        Assert.False(IsDisposed(args), "disposed under an operation in flight");
        _server.Dispose(); // the close aborts the wait

        await EventuallyAsync(() => IsDisposed(args), "the aborted wait's completion disposes its args");
        Assert.False(calledBack.Task.IsCompleted, "a completion called back into a stopped stage");
    }

    [Fact]
    public async Task A_stop_after_the_stage_has_seen_the_completion_disposes_the_args()
    {
        var (args, calledBack) = PendingWait();
        _client.Send([1]);
        await WithinAsync(calledBack.Task, "the wait's completion");
        args.Delivered();

        args.Stop(pending: false);

        Assert.True(IsDisposed(args), "a stopped stage's idle args are not disposed");
    }

    /// <summary>A zero-byte receive in flight on the server's socket, its callback recorded.</summary>
    private (SocketStage.Args<SocketError> Args, TaskCompletionSource<SocketError> CalledBack) PendingWait()
    {
        var calledBack = new TaskCompletionSource<SocketError>(TaskCreationOptions.RunContinuationsAsynchronously);
        var args = new SocketStage.Args<SocketError>(e => e.SocketError) { Callback = e => calledBack.TrySetResult(e) };
        args.SetBuffer(Memory<byte>.Empty);
        Assert.True(_server.ReceiveAsync(args), "the wait completed at once: nothing was sent yet");
        return (args, calledBack);
    }

    /// <summary>Disposed args refuse to be configured; free ones take a buffer (an empty one changes nothing).</summary>
    private static bool IsDisposed(SocketAsyncEventArgs args)
    {
        try
        {
            args.SetBuffer(Memory<byte>.Empty);
            return false;
        }
        catch (ObjectDisposedException)
        {
            return true;
        }
        catch (InvalidOperationException)
        {
            return false; // an operation is in flight
        }
    }
}
