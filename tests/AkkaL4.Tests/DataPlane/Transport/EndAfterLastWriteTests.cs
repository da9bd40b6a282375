using Akka.IO;
using Akka.Streams;
using Akka.Streams.Dsl;
using Akka.Streams.TestKit;
using AkkaL4.Actors.DataPlane.Transport;
using AkkaL4.Tests.Support;

namespace AkkaL4.Tests.DataPlane.Transport;

/// <summary>
/// <see cref="EndAfterLastWrite"/>'s contract, element by element with Akka.Streams' TestKit probes in place of the relay
/// (upstream) and Akka.IO's TCP stage (downstream, which asks for the next element only once its last write is
/// acknowledged): the upstream's completion is held until the downstream asks for more, and passes at once when it already
/// has; failures pass straight through; a cancel passes upstream (review1-s16 R7).
/// </summary>
/// <remarks>
/// That something has NOT reached the downstream is checked without waiting for time to pass: a second line through the
/// same interpreter (one actor, fused) carries a marker sent after the signal under test, and the probes record what the
/// interpreter tells them as it tells them (their actors run on the calling thread), so once the marker is out everything
/// the signal caused is out too. The marker's line needs a stage of its own for that: two probes with nothing between
/// them are joined directly, past the interpreter, and the marker then proves nothing (review1-s18 R4: each row passed
/// on broken code some of the time).
/// </remarks>
[Trait("Category", "Unit")]
[Trait(TestCategories.TransportTrait, TestCategories.TransportNamed)]
public sealed class EndAfterLastWriteTests : Akka.TestKit.Xunit2.TestKit
{
    private sealed record Line(
        TestPublisher.Probe<ByteString> Relay, TestSubscriber.Probe<ByteString> Socket,
        TestPublisher.Probe<int> MarkerIn, TestSubscriber.Probe<int> MarkerOut)
    {
        private int _markers;

        /// <summary>Returns once the interpreter has handled everything the test sent it before.</summary>
        public void Settled()
        {
            MarkerOut.Request(1);
            MarkerIn.SendNext(++_markers);
            MarkerOut.ExpectNext(_markers);
        }
    }

    private Line Run()
    {
        var graph = RunnableGraph.FromGraph(GraphDsl.Create(
            this.SourceProbe<ByteString>(), this.SinkProbe<ByteString>(), this.SourceProbe<int>(), this.SinkProbe<int>(),
            (relay, socket, markerIn, markerOut) => new Line(relay, socket, markerIn, markerOut),
            (b, relay, socket, markerIn, markerOut) =>
            {
                var stage = b.Add(EndAfterLastWrite.Instance);
                b.From(relay).Via(stage).To(socket);
                b.From(markerIn).Via(Flow.Create<int>().Select(marker => marker)).To(markerOut);
                return ClosedShape.Instance;
            }));
        var line = graph.Run(Sys.Materializer());
        // Subscribed before anything is checked: the subscription is the probes' first message.
        line.Socket.EnsureSubscription();
        line.MarkerOut.EnsureSubscription();
        return line;
    }

    private static readonly ByteString Last = ByteString.FromString("last");

    /// <summary>The socket's stage has taken the last element and asked for nothing since: its write is not acknowledged yet.</summary>
    private static void LastWritePending(Line line)
    {
        line.Socket.Request(1);
        line.Relay.SendNext(Last);
        line.Socket.ExpectNext(Last);
    }

    /// <summary>
    /// Held while the last write is pending, and before any element too (nothing written yet, and the socket's stage has
    /// not asked): the end reaches the socket's stage only once it asks for more.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void The_upstreams_completion_waits_until_the_socket_asks_for_more(bool lastWritePending)
    {
        var line = Run();
        if (lastWritePending) LastWritePending(line);

        line.Relay.SendComplete();
        line.Settled();
        line.Socket.ExpectNoMsg(TimeSpan.Zero);

        // The write's acknowledgement (or the first ask): the socket's stage asks for more, and gets the end.
        line.Socket.Request(1);
        line.Socket.ExpectComplete();
    }

    [Fact]
    public void The_upstreams_completion_passes_at_once_when_no_write_is_pending()
    {
        var line = Run();
        LastWritePending(line);
        // Acknowledged: the socket's stage has asked for the next element before the end comes.
        line.Socket.Request(1);
        line.Settled();

        line.Relay.SendComplete();
        line.Socket.ExpectComplete();
    }

    [Fact]
    public void A_failure_passes_straight_through_while_a_write_is_pending()
    {
        var line = Run();
        LastWritePending(line);

        var failure = new IOException("the relay failed");
        line.Relay.SendError(failure);
        Assert.Same(failure, line.Socket.ExpectError());
    }

    [Fact]
    public void A_cancel_from_the_socket_passes_upstream()
    {
        var line = Run();
        LastWritePending(line);

        line.Socket.Cancel();
        line.Relay.ExpectCancellation();
    }
}
