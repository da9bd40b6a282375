using Akka.IO;
using Akka.Streams;
using Akka.Streams.Dsl;
using AkkaL4.Actors.DataPlane;
using AkkaL4.Tests.Support;

namespace AkkaL4.Tests.DataPlane.Transport;

/// <summary>
/// <see cref="TlsOrigination.FlowStream"/> (a stock-transport connection as the stream a TLS session is made over): once
/// the peer's end or a failure has been read, every later read answers the same at once. SslStream reads again after a
/// zero-byte read met the end; the stream pulled its finished queue again, which fails (as here) or, racing the queue's
/// stop, never returns (as there), so a TLS session
/// whose upstream closed after the client's half-close never ended (TlsResetAfterHalfCloseTests on the stock transport,
/// session 26). Each read is given <see cref="Waits.Patience"/>: a read that hangs fails the test with a timeout.
/// </summary>
[Trait("Category", "Unit")]
[Trait(TestCategories.TransportTrait, TestCategories.TransportNamed)]
public sealed class FlowStreamTests : Akka.TestKit.Xunit2.TestKit
{
    private TlsOrigination.FlowStream Over(Source<ByteString, Akka.NotUsed> fromPeer) =>
        new(Flow.FromSinkAndSource(Sink.Ignore<ByteString>().MapMaterializedValue(_ => Akka.NotUsed.Instance), fromPeer), Sys.Materializer());

    private static Task<int> Read(Stream stream, int size) =>
        stream.ReadAsync(new byte[size]).AsTask().WaitAsync(Waits.Patience);

    [Fact]
    public async Task Reads_after_the_end_of_the_stream_answer_it_again_a_zero_byte_read_first_as_SslStream_makes_them()
    {
        await using var stream = Over(Source.Single(ByteString.FromString("hi")));
        Assert.Equal(2, await Read(stream, 16));
        // The zero-byte read that meets the end, then the read SslStream makes after it, then one more.
        Assert.Equal(0, await Read(stream, 0));
        Assert.Equal(0, await Read(stream, 16));
        Assert.Equal(0, await Read(stream, 16));
    }

    [Fact]
    public async Task Reads_after_a_failure_fail_again_with_it()
    {
        await using var stream = Over(Source.Failed<ByteString>(new IOException("the peer reset")));
        var first = await Assert.ThrowsAnyAsync<Exception>(() => Read(stream, 16));
        var again = await Assert.ThrowsAnyAsync<Exception>(() => Read(stream, 16));
        Assert.IsNotType<TimeoutException>(first);
        Assert.IsNotType<TimeoutException>(again);
        Assert.Contains("the peer reset", again.ToString());
    }
}
