using System.Buffers.Binary;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Akka.Actor;
using Akka.Configuration;
using Akka.IO;
using Akka.Streams;
using Akka.Streams.Dsl;
using AkkaL4.Actors.DataPlane;
using AkkaL4.Actors.DataPlane.Transport;
using Xunit.Abstractions;
using static AkkaL4.Tests.DataPlane.Kit;
using static AkkaL4.Tests.DataPlane.Transport.TransportKit;
using AkkaL4.Tests.Support;

namespace AkkaL4.Tests.DataPlane.Transport;

/// <summary>
/// The transport seam on its own, with real loopback sockets and no router: what <see cref="ITcpTransport"/>
/// promises, checked on both transports where they agree and on the socket transport alone where the stock
/// one differs. Addresses: 127.0.60.x, ports 62xxx (outside the ephemeral range), one pair per test.
/// </summary>
[Trait("Category", "EndToEnd")]
[Trait(TestCategories.TransportTrait, TestCategories.TransportNamed)]
public sealed class SocketTransportTests(ITestOutputHelper output)
{
    // ---- 1. bind, accept, echo; dial ----

    [Theory]
    [InlineData(TcpTransports.Sockets)]
    [InlineData(TcpTransports.AkkaStreams)]
    public async Task Bind_accepts_a_connection_whose_flow_echoes(string transport)
    {
        await using var rig = new Rig(transport);
        var at = Address(1, 62001, transport);
        var listener = await rig.BindAsync(at);
        Assert.Equal(at, listener.Binding.LocalAddress);

        using var client = await Wire.ConnectAsync(at);
        var connection = await listener.AcceptAsync();
        Assert.Equal(at, connection.Local);
        Assert.Equal(client.Local, connection.Remote);

        connection.Flow.Join(Flow.Create<ByteString>()).Run(rig.Materializer);
        await client.SendAsync("hello");
        Assert.Equal("hello", await client.ReadAsync(5));
        await client.SendAsync("and again");
        Assert.Equal("and again", await client.ReadAsync(9));

        client.ShutdownSend();
        var end = await client.ReadToEndAsync();
        Assert.False(end.Reset, "the echo was reset instead of closed");
        Assert.Empty(end.Data);
    }

    [Theory]
    [InlineData(TcpTransports.Sockets)]
    [InlineData(TcpTransports.AkkaStreams)]
    public async Task ConnectAsync_dials_a_connection_that_carries_bytes_both_ways(string transport)
    {
        await using var rig = new Rig(transport);
        var at = Address(2, 62011, transport);
        using var backend = PlainListener(at);

        var dial = rig.ConnectAsync(at);
        using var accepted = new Wire(await WithinAsync(backend.AcceptAsync(), "the backend to accept"));
        var connection = await WithinAsync(dial, "ConnectAsync");
        Assert.Equal(at, connection.Remote);
        // The stock transport dials from a dual-mode socket, which reports its address as [::ffff:127.0.0.1].
        Assert.Equal(accepted.Remote, transport == TcpTransports.Sockets ? connection.Local : Plain(connection.Local));

        var (toBackend, fromBackend) = connection.Flow.RunWith(Source.Queue<ByteString>(16, OverflowStrategy.Backpressure), Sink.Seq<ByteString>(), rig.Materializer);
        await toBackend.OfferAsync(ByteString.FromString("ping"));
        Assert.Equal("ping", await accepted.ReadAsync(4));
        await accepted.SendAsync("pong");
        accepted.ShutdownSend();
        Assert.Equal("pong", Text(await WithinAsync(fromBackend, "the outlet to complete at the backend's FIN")));

        toBackend.Complete();
        var end = await accepted.ReadToEndAsync();
        Assert.False(end.Reset, "the dialled connection was reset instead of closed");
        Assert.Empty(end.Data);
    }

    // ---- 2. half-close both ways ----

    [Theory]
    [InlineData(TcpTransports.Sockets)]
    [InlineData(TcpTransports.AkkaStreams)]
    public async Task Client_half_close_completes_the_outlet_and_replies_still_reach_the_client(string transport)
    {
        await using var rig = new Rig(transport);
        var at = Address(3, 62021, transport);
        var listener = await rig.BindAsync(at);
        using var client = await Wire.ConnectAsync(at);
        var connection = await listener.AcceptAsync();
        var (replies, requests) = connection.Flow.RunWith(Source.Queue<ByteString>(16, OverflowStrategy.Backpressure), Sink.Seq<ByteString>(), rig.Materializer);

        await client.SendAsync("request");
        client.ShutdownSend();
        Assert.Equal("request", Text(await WithinAsync(requests, "the outlet to complete after the client's FIN")));

        // The read side is done; the write side is not.
        await replies.OfferAsync(ByteString.FromString("reply one,"));
        Assert.Equal("reply one,", await client.ReadAsync(10));
        await replies.OfferAsync(ByteString.FromString("reply two"));
        replies.Complete();
        var end = await client.ReadToEndAsync();
        Assert.False(end.Reset, "the client saw a reset, not end of stream");
        Assert.Equal("reply two", Encoding.UTF8.GetString(end.Data));
    }

    [Theory]
    [InlineData(TcpTransports.Sockets)]
    [InlineData(TcpTransports.AkkaStreams)]
    public async Task Inlet_completion_shuts_down_sending_and_the_client_can_still_send(string transport)
    {
        await using var rig = new Rig(transport);
        var at = Address(4, 62031, transport);
        var listener = await rig.BindAsync(at);
        using var client = await Wire.ConnectAsync(at);
        var connection = await listener.AcceptAsync();
        var (_, received) = connection.Flow.RunWith(Source.Single(ByteString.FromString("bye")), Sink.Seq<ByteString>(), rig.Materializer);

        var end = await client.ReadToEndAsync();
        Assert.False(end.Reset, "the client saw a reset, not end of stream");
        Assert.Equal("bye", Encoding.UTF8.GetString(end.Data));

        // The client's side is still open: what it sends now still arrives.
        await client.SendAsync("still here");
        client.ShutdownSend();
        Assert.Equal("still here", Text(await WithinAsync(received, "the outlet to deliver what the client sent after the FIN")));
    }

    // ---- 4. multi-buffer ByteStrings ----

    [Theory]
    [InlineData(TcpTransports.Sockets)]
    [InlineData(TcpTransports.AkkaStreams)]
    public async Task Concatenated_and_sliced_ByteStrings_are_written_whole_and_in_order(string transport)
    {
        await using var rig = new Rig(transport);
        var at = Address(7, 62051, transport);
        var listener = await rig.BindAsync(at);
        using var client = await Wire.ConnectAsync(at);
        var connection = await listener.AcceptAsync();

        var elements = new List<ByteString>
        {
            ByteString.FromString("ab") + ByteString.FromString("cd"),
            ByteString.FromString("xxefghxx").Slice(2, 4),
            (ByteString.FromString("ij") + ByteString.FromString("kl") + ByteString.FromString("mn")).Slice(1, 4),
            (ByteString.FromString("n") + ByteString.FromString("opqr")).Slice(0, 4).Slice(1, 3),
        };
        // Then a large element, so that sends go asynchronous and the small ones queue behind it and go out
        // gathered into one send.
        elements.Add((ByteString.FromBytes(Pattern(2 << 20, 1)) + ByteString.FromBytes(Pattern(2 << 20, 2))).Slice(1, (4 << 20) - 2));
        for (var i = 0; i < 2000; i++)
            elements.Add((ByteString.FromString($"<{i}") + ByteString.FromString("|") + ByteString.FromString($"{i}>?")).Slice(0, $"<{i}|{i}>".Length));
        var expected = elements.SelectMany(e => e.ToArray()).ToArray();

        connection.Flow.RunWith(Source.From(elements), Sink.Ignore<ByteString>(), rig.Materializer);
        var end = await client.ReadToEndAsync();

        Assert.False(end.Reset);
        Assert.Equal("abcdefghjklmopq", Encoding.ASCII.GetString(end.Data, 0, Math.Min(15, end.Data.Length)));
        AssertSameBytes(expected, end.Data);
    }

    public static TheoryData<string> ByteStringShapes => new()
    {
        "compact", "compact-at-an-offset", "concatenated", "sliced-within-one-buffer", "sliced-across-buffers",
        "slice-of-a-slice", "concatenated-with-empty", "many-pieces", "empty",
    };

    [Theory]
    [MemberData(nameof(ByteStringShapes))]
    public void AddSegments_gives_the_same_bytes_as_ToArray(string shape)
    {
        var bytes = Shape(shape);
        var segments = new List<ArraySegment<byte>>();
        SocketStage.AddSegments(bytes, segments);
        Assert.Equal(bytes.ToArray(), segments.SelectMany(s => s).ToArray());
    }

    [Fact]
    public void AddSegments_hands_out_the_arrays_under_the_ByteString_without_copying()
    {
        byte[] a = [1, 2, 3, 4], b = [5, 6, 7], c = [8, 9];
        var segments = new List<ArraySegment<byte>>();
        SocketStage.AddSegments((ByteString.FromBytes(a) + ByteString.FromBytes(b) + ByteString.FromBytes(c)).Slice(2, 6), segments);

        Assert.Collection(segments,
            s => Assert.True(s.Array == a && s.Offset == 2 && s.Count == 2, "first piece"),
            s => Assert.True(s.Array == b && s.Offset == 0 && s.Count == 3, "second piece"),
            s => Assert.True(s.Array == c && s.Offset == 0 && s.Count == 1, "third piece"));
    }

    private static ByteString Shape(string shape) => shape switch
    {
        "compact" => ByteString.FromString("compact"),
        "compact-at-an-offset" => ByteString.FromBytes("..at an offset.."u8.ToArray(), 2, 12),
        "concatenated" => ByteString.FromString("ab") + ByteString.FromString("cd"),
        "sliced-within-one-buffer" => (ByteString.FromString("abcdef") + ByteString.FromString("ghij")).Slice(1, 3),
        "sliced-across-buffers" => (ByteString.FromString("abcdef") + ByteString.FromString("ghij") + ByteString.FromString("klm")).Slice(4, 8),
        "slice-of-a-slice" => (ByteString.FromString("abcdef") + ByteString.FromString("ghij") + ByteString.FromString("klm")).Slice(3, 9).Slice(2, 5),
        "concatenated-with-empty" => ByteString.FromString("ab") + ByteString.Empty + ByteString.FromString("cd") + ByteString.Empty,
        "many-pieces" => Enumerable.Range(0, 300).Aggregate(ByteString.Empty, (acc, i) => acc + ByteString.FromString(i.ToString())).Slice(7, 500),
        "empty" => ByteString.Empty,
        _ => throw new ArgumentOutOfRangeException(nameof(shape)),
    };

    // A read allocates what the socket holds, no more: a read buffer sized to Available and then taken, when
    // full, for "more is waiting" made the next read a 64 KiB one, which a few bytes then kept alive.
    [Fact]
    public async Task A_read_holds_a_buffer_the_size_of_what_it_read()
    {
        await using var rig = new Rig(TcpTransports.Sockets);
        var at = Address(21, 62181, TcpTransports.Sockets);
        var listener = await rig.BindAsync(at);
        using var client = await Wire.ConnectAsync(at);
        var connection = await listener.AcceptAsync();
        var (_, reads) = connection.Flow.RunWith(Source.Maybe<ByteString>(), Sink.Queue<ByteString>(), rig.Materializer);

        // One message at a time, each read before the next is sent: every read is of one 300-byte message.
        for (var i = 0; i < 3; i++)
        {
            await client.SendAsync(new string((char)('a' + i), 300));
            var read = await WithinAsync(reads.PullAsync(), $"read {i}");
            Assert.Equal(new string((char)('a' + i), 300), read.Value.ToString());
            var segments = new List<ArraySegment<byte>>();
            SocketStage.AddSegments(read.Value, segments);
            var held = segments.Sum(s => s.Array!.Length);
            Assert.True(held < 4096, $"read {i} of 300 bytes holds a {held}-byte buffer");
        }
    }

    // ---- 5. connect failures ----

    [Theory]
    [InlineData(TcpTransports.Sockets)]
    [InlineData(TcpTransports.AkkaStreams)]
    public async Task Connect_to_a_closed_port_is_refused(string transport)
    {
        await using var rig = new Rig(transport);
        var closed = Address(8, 62061, transport); // nothing listens on 127.0.60.8
        // A minute's connect timeout: a refusal must not be mistaken for one.
        var dial = rig.ConnectAsync(closed, TimeSpan.FromMinutes(1));
        await EndsAsync(dial, "a refused connect");

        var e = await Assert.ThrowsAnyAsync<Exception>(() => dial);
        output.WriteLine($"{transport}: {Describe(e)}");
        if (transport == TcpTransports.Sockets)
            Assert.Equal(SocketError.ConnectionRefused, Assert.IsType<SocketException>(e).SocketErrorCode);
        else
            Assert.IsNotType<TimeoutException>(e);
    }

    [Theory]
    [InlineData(TcpTransports.Sockets)]
    [InlineData(TcpTransports.AkkaStreams)]
    public async Task Connect_that_gets_no_answer_times_out_with_TimeoutException(string transport)
    {
        await using var rig = new Rig(transport);
        var at = Address(9, 62071, transport);
        using var blackhole = await FullBacklog.CreateAsync(at);

        var dial = rig.ConnectAsync(at, TimeSpan.FromMilliseconds(300));
        await EndsAsync(dial, "a connect with a 300 ms timeout");

        Assert.False(dial.IsCompletedSuccessfully, "connected: the full backlog did not hold the SYN back");
        output.WriteLine($"{transport}: {(dial.Exception is { } e ? Describe(e) : dial.Status)}");
        await Assert.ThrowsAsync<TimeoutException>(() => dial);
        await EventuallyAsync(() => SynSentTo(at) == 0, "the timed-out attempt's socket is closed");
    }

    // Cancelling a connect: SocketTransportIsolatedTests (it watches for unobserved task exceptions).

    // ---- 6. failure resets ----

    [Theory]
    [InlineData(TcpTransports.Sockets)]
    [InlineData(TcpTransports.AkkaStreams)]
    public async Task A_failed_inlet_resets_the_connection(string transport)
    {
        await using var rig = new Rig(transport);
        var at = Address(11, 62091, transport);
        var listener = await rig.BindAsync(at);
        using var client = await Wire.ConnectAsync(at);
        var connection = await listener.AcceptAsync();

        var (_, read) = connection.Flow.RunWith(Source.Failed<ByteString>(new InvalidOperationException("upstream broke")), Sink.Ignore<ByteString>(), rig.Materializer);

        var end = await client.ReadToEndAsync();
        Assert.True(end.Reset, "the client saw end of stream, not a reset");
        await SettledAsync(read, "the outlet of the failed connection");
    }

    [Theory]
    [InlineData(TcpTransports.Sockets)]
    [InlineData(TcpTransports.AkkaStreams)]
    public async Task A_failure_after_data_has_flowed_resets_the_connection(string transport)
    {
        await using var rig = new Rig(transport);
        var at = Address(12, 62101, transport);
        var listener = await rig.BindAsync(at);
        using var client = await Wire.ConnectAsync(at);
        var connection = await listener.AcceptAsync();
        var (toClient, read) = connection.Flow.RunWith(Source.Queue<ByteString>(16, OverflowStrategy.Backpressure), Sink.Ignore<ByteString>(), rig.Materializer);

        await toClient.OfferAsync(ByteString.FromString("hello"));
        Assert.Equal("hello", await client.ReadAsync(5));
        toClient.Fail(new InvalidOperationException("upstream broke"));

        var end = await client.ReadToEndAsync();
        Assert.True(end.Reset, "the client saw end of stream, not a reset");
        await SettledAsync(read, "the outlet of the failed connection");
    }

    [Theory]
    [InlineData(TcpTransports.Sockets)]
    [InlineData(TcpTransports.AkkaStreams)]
    public async Task A_stage_failing_in_the_joined_flow_resets_the_connection(string transport)
    {
        await using var rig = new Rig(transport);
        var at = Address(13, 62111, transport);
        var listener = await rig.BindAsync(at);
        using var client = await Wire.ConnectAsync(at);
        var connection = await listener.AcceptAsync();
        // An echo that breaks on '!' (one byte, so it cannot be split across reads).
        connection.Flow.Join(Flow.Create<ByteString>().Select(b =>
            b.IndexOf((byte)'!') >= 0 ? throw new InvalidOperationException("boom") : b)).Run(rig.Materializer);

        await client.SendAsync("fine");
        Assert.Equal("fine", await client.ReadAsync(4));
        await client.SendAsync("!");

        var end = await client.ReadToEndAsync();
        Assert.True(end.Reset, "the client saw end of stream, not a reset");
    }

    // ---- 7. unbind ----

    [Fact]
    public async Task Unbind_refuses_new_connections_and_leaves_accepted_ones_working()
    {
        await using var rig = new Rig(TcpTransports.Sockets);
        var at = Address(14, 62121, TcpTransports.Sockets);
        var listener = await rig.BindAsync(at);

        using var running = await Wire.ConnectAsync(at);
        (await listener.AcceptAsync()).Flow.Join(Flow.Create<ByteString>()).Run(rig.Materializer);
        await running.SendAsync("one");
        Assert.Equal("one", await running.ReadAsync(3));
        using var waiting = await Wire.ConnectAsync(at);
        var notYetJoined = await listener.AcceptAsync();

        await listener.Binding.Unbind().WaitAsync(Patience);

        var refused = await Assert.ThrowsAsync<SocketException>(() => Wire.ConnectAsync(at));
        Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);

        await running.SendAsync("two");
        Assert.Equal("two", await running.ReadAsync(3));
        notYetJoined.Flow.Join(Flow.Create<ByteString>()).Run(rig.Materializer);
        await waiting.SendAsync("three");
        Assert.Equal("three", await waiting.ReadAsync(5));

        running.ShutdownSend();
        var end = await running.ReadToEndAsync();
        Assert.False(end.Reset, "the accepted connection was reset after unbind");
    }

    // ---- 8. never joined ----

    [Theory]
    [InlineData(TcpTransports.Sockets)]
    [InlineData(TcpTransports.AkkaStreams)]
    public async Task Close_on_an_accepted_connection_that_was_never_joined_ends_it(string transport)
    {
        await using var rig = new Rig(transport);
        var at = Address(15, 62131, transport);
        var listener = await rig.BindAsync(at);
        using var client = await Wire.ConnectAsync(at);
        var connection = await listener.AcceptAsync();

        connection.Close();

        var end = await client.ReadToEndAsync();
        Assert.Empty(end.Data);
    }

    [Theory]
    [InlineData(TcpTransports.Sockets)]
    [InlineData(TcpTransports.AkkaStreams)]
    public async Task Close_on_a_dialled_connection_that_was_never_joined_ends_it(string transport)
    {
        await using var rig = new Rig(transport);
        var at = Address(16, 62141, transport);
        using var backend = PlainListener(at);
        var dial = rig.ConnectAsync(at);
        using var accepted = new Wire(await WithinAsync(backend.AcceptAsync(), "the backend to accept"));
        var connection = await WithinAsync(dial, "ConnectAsync");

        connection.Close();

        var end = await accepted.ReadToEndAsync();
        Assert.Empty(end.Data);
    }
}

/// <summary>
/// Tests that measure the managed heap or watch for unobserved task exceptions, so nothing else may run beside them.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class IsolatedCollection
{
    public const string Name = "transport tests that run alone";
}

/// <summary>Bulk data and many connections with the live managed heap watched, and process-wide checks.</summary>
[Collection(IsolatedCollection.Name)]
[Trait("Category", "EndToEnd")]
[Trait(TestCategories.TransportTrait, TestCategories.TransportNamed)]
public sealed class SocketTransportIsolatedTests(ITestOutputHelper output)
{
    // ---- 5. cancelling a connect ----

    [Theory]
    [InlineData(TcpTransports.Sockets)]
    [InlineData(TcpTransports.AkkaStreams, Skip = StockCancelLimit)]
    public async Task Cancelling_a_connect_abandons_the_attempt_and_leaks_no_exception(string transport)
    {
        var at = Address(10, 62081, transport);
        using var blackhole = await FullBacklog.CreateAsync(at);
        using var leaks = new UnobservedExceptions();
        var rig = new Rig(transport);
        try
        {
            using var cancel = new CancellationTokenSource();
            var dial = rig.ConnectAsync(at, TimeSpan.FromMinutes(1), cancel.Token);
            await EventuallyAsync(() => SynSentTo(at) == 1, "the connect attempt is under way");
            cancel.Cancel();
            await EndsAsync(dial, "a cancelled connect");

            Assert.True(dial.IsCanceled, $"the task is {dial.Status}: {dial.Exception}");
            await EventuallyAsync(() => SynSentTo(at) == 0, "the abandoned attempt's socket is closed (not left to its minute's timeout)");
        }
        finally
        {
            await rig.DisposeAsync();
        }
        // Whatever the attempt left behind has ended with the actor system; none of it may fail unobserved.
        leaks.AssertNone();
    }

    public const string StockCancelLimit =
        "a known limit of the stock transport: cancelling ends the stream, but Akka.IO's outgoing-connection actor keeps the SYN "
        + "going until its own connect timeout";

    // ---- 3. large transfer with backpressure ----

    [Theory]
    [InlineData(TcpTransports.Sockets, false)]
    [InlineData(TcpTransports.AkkaStreams, false)]
    [InlineData(TcpTransports.Sockets, true)]
    [InlineData(TcpTransports.AkkaStreams, true)]
    public async Task Sixty_four_MiB_through_a_relay_to_a_slow_reader_arrive_in_order_without_piling_up(string transport, bool relayed)
    {
        const long total = 64L << 20;
        const int chunk = 1 << 20;
        // What may be held in the process while the reader lags: both transports stay near 3 MiB. A relay that
        // queued whatever it read (SocketStage with MaxQueued = int.MaxValue, or a Buffer stage between the two
        // connections) holds some 60 MiB: the kernel buffers only a few MiB of the 64.
        const long bound = 16L << 20;

        await using var rig = new Rig(transport);
        // Relayed: as a connection actor runs it (Relays.Run; two sockets of the socket transport: one SocketRelayStage).
        var relayAt = Address(17, relayed ? 62153 : 62151, transport);
        var backendAt = Address(18, relayed ? 62153 : 62151, transport);
        using var backend = PlainListener(backendAt, receiveBuffer: 64 << 10);
        var listener = await rig.BindAsync(relayAt);

        using var client = await Wire.ConnectAsync(relayAt, sendBuffer: 64 << 10);
        var accepted = await listener.AcceptAsync();
        var dial = rig.ConnectAsync(backendAt);
        using var sink = new Wire(await WithinAsync(backend.AcceptAsync(), "the backend to accept"));
        var upstream = await WithinAsync(dial, "ConnectAsync to the backend");
        if (relayed) new Relays(rig.Materializer, 1, rig.System.Log).Run(accepted, upstream, new RelayParts(null, _ => { }));
        else accepted.Flow.Join(upstream.Flow).Run(rig.Materializer);

        using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var heap = new HeapWatch();
        var send = Task.Run(async () =>
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var random = new Random(60);
            var buffer = new byte[chunk];
            for (long block = 0; block * chunk < total; block++)
            {
                random.NextBytes(buffer);
                BinaryPrimitives.WriteInt64LittleEndian(buffer, block);
                hash.AppendData(buffer);
                await client.SendAsync(buffer, deadline.Token);
            }
            client.ShutdownSend();
            return hash.GetHashAndReset();
        });
        var receive = Task.Run(async () =>
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var buffer = new byte[64 << 10];
            long received = 0;
            int n;
            while ((n = await sink.Socket.ReceiveAsync(buffer, SocketFlags.None, deadline.Token)) > 0)
            {
                hash.AppendData(buffer, 0, n);
                received += n;
                await Task.Delay(1, deadline.Token); // the slow reader
            }
            sink.Socket.Shutdown(SocketShutdown.Send);
            return (received, hash.GetHashAndReset());
        });

        var sent = await send;
        var (receivedBytes, receivedHash) = await receive;
        var growth = await heap.StopAsync();
        output.WriteLine($"{transport}{(relayed ? ", relayed" : "")}: live heap grew by at most {growth / 1024} KiB while 64 MiB went through");

        Assert.Equal(total, receivedBytes);
        Assert.Equal(Convert.ToHexString(sent), Convert.ToHexString(receivedHash));
        var end = await client.ReadToEndAsync();
        Assert.False(end.Reset, "the relay reset the client after the backend closed");
        Assert.True(growth < bound, $"the live heap grew by {growth / 1024} KiB (bound {bound / 1024} KiB): the relay buffers what the reader has not taken");
    }

    // ---- 9. idle connections ----

    // An idle connection waits for data without a buffer. One that held a read buffer (up to 64 KiB) would show
    // tens of MiB over a thousand connections; the graph, actor and socket of one take about 9 KiB.
    private const long IdleBoundPerConnection = 24 << 10;

    [Fact]
    public async Task A_thousand_idle_connections_hold_no_read_buffers_and_all_still_echo()
    {
        var afterEcho = await IdleEchoAsync(Address(19, 62161, TcpTransports.Sockets), count: 1000, messageBytes: 16);

        Assert.True(afterEcho < IdleBoundPerConnection, $"a connection idle after echoing 16 bytes holds {afterEcho} bytes of live heap");
    }

    [Fact]
    public async Task Connections_idle_after_a_kilobyte_message_hold_no_read_buffers()
    {
        var afterEcho = await IdleEchoAsync(Address(20, 62171, TcpTransports.Sockets), count: 1000, messageBytes: 1000);

        Assert.True(afterEcho < IdleBoundPerConnection, $"a connection idle after echoing 1000 bytes holds {afterEcho} bytes of live heap");
    }

    /// <summary>
    /// <paramref name="count"/> echo connections, accepted and idle (checked to hold no read buffer), then each
    /// echoing one message of <paramref name="messageBytes"/>: the live heap per connection once idle again.
    /// </summary>
    private async Task<long> IdleEchoAsync(IPEndPoint at, int count, int messageBytes)
    {
        await using var rig = new Rig(TcpTransports.Sockets);
        var accepted = 0;
        var remotes = new System.Collections.Concurrent.ConcurrentBag<IPEndPoint>();
        var bound = rig.Transport.Bind(at, 1024)
            .To(Sink.ForEach<TcpConnection>(c =>
            {
                remotes.Add(c.Remote);
                c.Flow.Join(Flow.Create<ByteString>()).Run(rig.Materializer);
                Interlocked.Increment(ref accepted);
            }))
            .Run(rig.Materializer);
        await WithinAsync(bound, "bind");

        var before = HeapWatch.LiveBytes();
        var clients = new List<Wire>();
        try
        {
            for (var i = 0; i < count; i++) clients.Add(await Wire.ConnectAsync(at, from: "127.0.60.201"));
            await EventuallyAsync(() => Volatile.Read(ref accepted) == count, () => $"{count} connections are accepted and joined (so far {Volatile.Read(ref accepted)})", TimeSpan.FromSeconds(30));
            var idle = (HeapWatch.LiveBytes() - before) / count;
            // Checked before any echo: a connection that held a read buffer while idle may not echo at all.
            Assert.True(idle < IdleBoundPerConnection, $"an idle connection holds {idle} bytes of live heap");
            Assert.Equal(clients.Select(c => c.Local.ToString()).Order(), remotes.Select(r => r.ToString()).Order());

            await Task.WhenAll(clients.Select(async (client, i) =>
            {
                var message = $"{i:D4}".PadRight(messageBytes, '.');
                await client.SendAsync(message);
                Assert.Equal(message, await client.ReadAsync(message.Length));
            }));
            var afterEcho = (HeapWatch.LiveBytes() - before) / count;
            output.WriteLine($"{count} echo connections: {idle} bytes of live heap each when idle, {afterEcho} after echoing {messageBytes} bytes");
            return afterEcho;
        }
        finally
        {
            foreach (var client in clients) client.Dispose();
        }
    }
}

/// <summary>Helpers of the transport tests.</summary>
internal static class TransportKit
{
    /// <summary>127.0.60.<paramref name="host"/>, on <paramref name="port"/> for the socket transport and the next port for the stock one.</summary>
    public static IPEndPoint Address(int host, int port, string transport) =>
        new(IPAddress.Parse($"127.0.60.{host}"), transport == TcpTransports.Sockets ? port : port + 1);

    public const string ClientAddress = "127.0.60.200";

    public static string Text(IEnumerable<ByteString> chunks) => string.Concat(chunks.Select(c => c.ToString()));

    public static byte[] Pattern(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    public static void AssertSameBytes(byte[] expected, byte[] actual)
    {
        var common = Math.Min(expected.Length, actual.Length);
        var first = expected.AsSpan(0, common).CommonPrefixLength(actual.AsSpan(0, common));
        Assert.True(first == common && expected.Length == actual.Length,
            $"expected {expected.Length} bytes, got {actual.Length}; first difference at byte {first}");
    }

    /// <summary>A plain listening socket (a backend).</summary>
    public static Socket PlainListener(IPEndPoint at, int? receiveBuffer = null)
    {
        var socket = new Socket(at.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            // Set before listening, so accepted sockets start with it (and advertise a window to match).
            if (receiveBuffer is { } size) socket.ReceiveBufferSize = size;
            // The port may still have connections in TIME_WAIT from the run before (CI runs these tests twice).
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            socket.Bind(at);
            socket.Listen(64);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Waits until <paramref name="task"/> has ended (whichever way), failing the test at the deadline.</summary>
    public static async Task EndsAsync(Task task, string what)
    {
        // Not WaitAsync: its TimeoutException would pass for the transport's.
        if (await Task.WhenAny(task, Task.Delay(Patience)) != task) Assert.Fail($"{what} still had not ended after {Patience}");
    }

    /// <summary>Types and messages down the chain of inner exceptions.</summary>
    public static string Describe(Exception e) =>
        e.GetType().Name + ": " + e.Message + (e.InnerException is { } inner ? " ---> " + Describe(inner) : "");

    /// <summary>Waits until <paramref name="task"/> has ended and marks a failure of it observed.</summary>
    public static async Task SettledAsync(Task task, string what)
    {
        await EndsAsync(task, what);
        _ = task.Exception;
    }

    /// <summary>How many sockets of this process's host are in SYN_SENT towards <paramref name="to"/>.</summary>
    public static int SynSentTo(IPEndPoint to) =>
        IPGlobalProperties.GetIPGlobalProperties().GetActiveTcpConnections().Count(c => c.State == TcpState.SynSent && Plain(c.RemoteEndPoint).Equals(to));

    /// <summary>
    /// The kernel's line for the connection from <paramref name="local"/> to <paramref name="remote"/> while a socket of a
    /// process still holds it (null once none does): /proc/net/tcp shows inode 0 for one that is only the kernel's after its
    /// close (TIME_WAIT, or FIN_WAIT_2 waiting for the peer's FIN), whatever the TCP state says.
    /// </summary>
    public static string? Held(IPEndPoint local, IPEndPoint remote)
    {
        // Addresses as the kernel prints them: the 32-bit address in host (little-endian) order, then the port, in hex.
        static string Hex(IPEndPoint at) => $"{BitConverter.ToUInt32(at.Address.GetAddressBytes()):X8}:{at.Port:X4}";
        var (from, to) = (Hex(local), Hex(remote));
        // sl, local_address, rem_address, st, tx_queue:rx_queue, tr:tm->when, retrnsmt, uid, timeout, inode.
        return File.ReadLines("/proc/net/tcp").Skip(1)
            .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(f => f[1] == from && f[2] == to && f[9] != "0")
            .Select(f => $"state {f[3]}, queues {f[4]}")
            .FirstOrDefault();
    }

    /// <summary>The IPv4 address of an IPv4-mapped IPv6 end point (dual-mode sockets report those).</summary>
    public static IPEndPoint Plain(IPEndPoint endPoint) =>
        endPoint.Address.IsIPv4MappedToIPv6 ? new IPEndPoint(endPoint.Address.MapToIPv4(), endPoint.Port) : endPoint;
}

/// <summary>One test's actor system and the transport under test; terminated at the end.</summary>
internal sealed class Rig : IAsyncDisposable
{
    public Rig(string transport)
    {
        // The relay hosts' dispatcher as a node has it (cluster.hocon), so relays here wake as they do there.
        System = ActorSystem.Create("t", ConfigurationFactory.ParseString("akka.loglevel=WARNING").WithFallback(BuiltInHocon.RelayDispatcher()));
        Materializer = System.Materializer();
        Transport = TcpTransports.Create(System, transport);
    }

    public ActorSystem System { get; }
    public IMaterializer Materializer { get; }
    public ITcpTransport Transport { get; }

    public async Task<Listener> BindAsync(IPEndPoint at, int backlog = 16)
    {
        var (bound, accepted) = Transport.Bind(at, backlog).ToMaterialized(Sink.Queue<TcpConnection>(), Keep.Both).Run(Materializer);
        return new Listener(await WithinAsync(bound, "bind " + at), accepted);
    }

    public Task<TcpConnection> ConnectAsync(IPEndPoint to, TimeSpan? timeout = null, CancellationToken cancel = default) =>
        Transport.ConnectAsync(to, new ConnectOptions(timeout ?? Patience, null), cancel);

    public async ValueTask DisposeAsync()
    {
        await System.Terminate().WaitAsync(Patience);
        System.Dispose();
    }
}

/// <summary>A bound listener and the connections it accepts, one at a time.</summary>
internal sealed record Listener(IListenerBinding Binding, ISinkQueue<TcpConnection> Queue)
{
    public async Task<TcpConnection> AcceptAsync()
    {
        var next = await WithinAsync(Queue.PullAsync(), "an accepted connection");
        Assert.True(next.HasValue, "the listener ended");
        return next.Value;
    }
}

/// <summary>A plain socket end of a connection (client or backend).</summary>
internal sealed class Wire(Socket socket) : IDisposable
{
    public Socket Socket => socket;
    public IPEndPoint Local { get; } = (IPEndPoint)socket.LocalEndPoint!;
    public IPEndPoint Remote { get; } = (IPEndPoint)socket.RemoteEndPoint!;

    public static async Task<Wire> ConnectAsync(IPEndPoint to, string from = ClientAddress, int? sendBuffer = null)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            if (sendBuffer is { } size) socket.SendBufferSize = size;
            socket.Bind(new IPEndPoint(IPAddress.Parse(from), 0));
            using var deadline = new CancellationTokenSource(Patience);
            await socket.ConnectAsync(to, deadline.Token);
            return new Wire(socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public Task SendAsync(string text) => SendAsync(Encoding.UTF8.GetBytes(text));

    public async Task SendAsync(ReadOnlyMemory<byte> data, CancellationToken cancel = default)
    {
        using var deadline = cancel.CanBeCanceled ? null : new CancellationTokenSource(Patience);
        var token = deadline?.Token ?? cancel;
        while (!data.IsEmpty) data = data[await socket.SendAsync(data, SocketFlags.None, token)..];
    }

    public void ShutdownSend() => socket.Shutdown(SocketShutdown.Send);

    /// <summary>Exactly <paramref name="count"/> bytes as text; fails at end of stream or the deadline.</summary>
    public async Task<string> ReadAsync(int count)
    {
        var buffer = new byte[count];
        using var deadline = new CancellationTokenSource(Patience);
        for (var read = 0; read < count;)
        {
            var n = await socket.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None, deadline.Token);
            if (n == 0) throw new IOException($"end of stream after {read} of {count} bytes ('{Encoding.UTF8.GetString(buffer, 0, read)}')");
            read += n;
        }
        return Encoding.UTF8.GetString(buffer);
    }

    /// <summary>Everything until the peer ends the stream, and whether it ended with a reset; fails at the deadline.</summary>
    public async Task<(byte[] Data, bool Reset)> ReadToEndAsync()
    {
        var received = new MemoryStream();
        var buffer = new byte[64 << 10];
        using var deadline = new CancellationTokenSource(Patience);
        try
        {
            int n;
            while ((n = await socket.ReceiveAsync(buffer, SocketFlags.None, deadline.Token)) > 0) received.Write(buffer, 0, n);
            return (received.ToArray(), false);
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionReset)
        {
            return (received.ToArray(), true);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"the connection {Local} → {Remote} had not ended after {Patience} ({received.Length} bytes received)");
        }
    }

    public void Dispose() => socket.Dispose();
}

/// <summary>
/// A listener whose accept queue is full, so that further SYNs get no answer and connects to it hang: backlog
/// 1, never accepted, two connections queued (Linux queues backlog + 1 and then drops SYNs).
/// </summary>
internal sealed class FullBacklog : IDisposable
{
    private readonly Socket _listener;
    private readonly List<Socket> _queued = [];

    private FullBacklog(IPEndPoint at)
    {
        _listener = new Socket(at.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        _listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        _listener.Bind(at);
        _listener.Listen(1);
    }

    public static async Task<FullBacklog> CreateAsync(IPEndPoint at)
    {
        var full = new FullBacklog(at);
        try
        {
            for (var i = 0; i < 2; i++)
            {
                var socket = new Socket(at.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
                full._queued.Add(socket);
                using var deadline = new CancellationTokenSource(Patience);
                await socket.ConnectAsync(at, deadline.Token);
            }
            return full;
        }
        catch
        {
            full.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        foreach (var socket in _queued) socket.Dispose();
        _listener.Dispose();
    }
}

/// <summary>Task exceptions nobody observed while this was in use (after a full collection).</summary>
internal sealed class UnobservedExceptions : IDisposable
{
    private readonly List<Exception> _seen = [];

    public UnobservedExceptions()
    {
        // What earlier tests left behind is reported now, before listening.
        Collect();
        TaskScheduler.UnobservedTaskException += OnUnobserved;
    }

    private static void Collect()
    {
        for (var i = 0; i < 2; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }
    }

    private void OnUnobserved(object? sender, UnobservedTaskExceptionEventArgs e)
    {
        lock (_seen) _seen.Add(e.Exception);
    }

    public void AssertNone()
    {
        Collect();
        lock (_seen) Assert.True(_seen.Count == 0, "unobserved task exceptions: " + string.Join("; ", _seen.Select(e => e.ToString())));
    }

    public void Dispose() => TaskScheduler.UnobservedTaskException -= OnUnobserved;
}

/// <summary>The peak of the live managed heap (after full collections) over a stretch of a test.</summary>
internal sealed class HeapWatch
{
    private readonly CancellationTokenSource _stop = new();
    private readonly long _baseline;
    private readonly Task _sampling;
    private long _peak;

    public HeapWatch()
    {
        _baseline = LiveBytes();
        _peak = _baseline;
        _sampling = Task.Run(SampleAsync);
    }

    public static long LiveBytes()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        return GC.GetTotalMemory(false);
    }

    private async Task SampleAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            GC.Collect();
            _peak = Math.Max(_peak, GC.GetTotalMemory(false));
            try { await Task.Delay(50, _stop.Token); }
            catch (OperationCanceledException) { }
        }
    }

    /// <summary>How far above where it started the live heap went.</summary>
    public async Task<long> StopAsync()
    {
        await _stop.CancelAsync();
        await _sampling;
        _stop.Dispose();
        return Math.Max(_peak, LiveBytes()) - _baseline;
    }
}
