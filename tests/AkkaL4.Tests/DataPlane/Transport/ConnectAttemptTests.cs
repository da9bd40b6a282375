using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Akka;
using Akka.Actor;
using Akka.IO;
using Akka.Streams.Dsl;
using AkkaL4.Actors.DataPlane.Transport;
using Xunit.Abstractions;
using static AkkaL4.Tests.DataPlane.Kit;
using AkkaL4.Tests.Support;

namespace AkkaL4.Tests.DataPlane.Transport;

/// <summary>
/// <see cref="ConnectAttempt"/>, the callback a connection actor dials with: one outcome reported at most, nothing after
/// it is abandoned, and no connection left open whichever comes first. Then the socket transport's dial through it, on
/// real loopback sockets at 127.120.1.x and 127.150.3.x: its timeout, abandon and completion racing one another.
/// </summary>
[Trait("Category", "EndToEnd")]
[Trait(TestCategories.TransportTrait, TestCategories.TransportNamed)]
public sealed class ConnectAttemptTests(ITestOutputHelper output)
{
    /// <summary>What an attempt was told, from whichever thread told it.</summary>
    private sealed class Recording : ConnectAttempt
    {
        public readonly ConcurrentQueue<object> Told = new();
        protected override void OnConnected(TcpConnection connection) => Told.Enqueue(connection);
        protected override void OnFailed(Exception cause) => Told.Enqueue(cause);
    }

    private sealed class Aborts : IConnecting
    {
        public int Count;
        public void Abort() => Count++;
    }

    private static (TcpConnection Connection, Func<int> Closed) Connection()
    {
        var closed = 0;
        var at = new IPEndPoint(IPAddress.Loopback, 1);
        var connection = new TcpConnection(at, at, () => Flow.Create<ByteString>(), () => closed++, (_, _) => ValueTask.FromResult(0));
        return (connection, () => closed);
    }

    /// <summary>Arrives at once, then cancels the caller's token: a cancel landing just after the connection was handed over.</summary>
    private sealed class ArrivesThenCancels(TcpConnection connection, CancellationTokenSource cancel) : ITcpTransport
    {
        public Source<TcpConnection, Task<IListenerBinding>> Bind(IPEndPoint address, int backlog) => throw new NotSupportedException();

        public void Connect(EndPoint remote, ConnectOptions options, ConnectAttempt attempt)
        {
            attempt.Arrive(connection);
            cancel.Cancel();
        }
    }

    [Fact]
    public async Task ConnectAsync_never_hands_back_a_connection_a_late_cancel_closed()
    {
        var (connection, closed) = Connection();
        using var cancel = new CancellationTokenSource();
        var transport = new ArrivesThenCancels(connection, cancel);
        var got = await transport.ConnectAsync(connection.Remote, new ConnectOptions(TimeSpan.FromSeconds(5), null), cancel.Token);
        Assert.Same(connection, got);
        Assert.Equal(0, closed());
    }

    [Fact]
    public void A_connection_that_arrives_after_the_attempt_was_abandoned_is_closed_and_not_reported()
    {
        var attempt = new Recording();
        var inFlight = new Aborts();
        Assert.True(attempt.Begin(inFlight));
        attempt.Abandon();
        Assert.Equal(1, inFlight.Count);

        var (late, closed) = Connection();
        attempt.Arrive(late);
        attempt.Fail(new TimeoutException());
        Assert.Empty(attempt.Told);
        Assert.Equal(1, closed());
        Assert.False(attempt.Begin(new Aborts()), "an abandoned attempt starts nothing more");
    }

    [Fact]
    public void A_connect_cancelled_from_inside_the_akka_transport_is_reported_as_a_failure_unless_abandoned()
    {
        var cancelled = Task.FromCanceled<TcpConnection>(new CancellationToken(true));
        var attempt = new Recording();
        Assert.True(attempt.Begin(new Aborts()));
        AkkaTcpTransport.Report(cancelled, attempt);
        Assert.IsAssignableFrom<OperationCanceledException>(Assert.Single(attempt.Told));

        var abandoned = new Recording();
        Assert.True(abandoned.Begin(new Aborts()));
        abandoned.Abandon();
        AkkaTcpTransport.Report(cancelled, abandoned);
        Assert.Empty(abandoned.Told);
    }

    [Fact]
    public void Only_the_first_outcome_is_reported_and_a_second_connection_is_closed()
    {
        var attempt = new Recording();
        var failure = new SocketException((int)SocketError.ConnectionRefused);
        attempt.Fail(failure);
        var (late, closed) = Connection();
        attempt.Arrive(late);
        Assert.Equal([failure], attempt.Told);
        Assert.Equal(1, closed());
    }

    [Fact]
    public void Abandoning_closes_a_connection_that_arrived_unless_it_was_taken_over()
    {
        var waiting = new Recording();
        var (first, firstClosed) = Connection();
        waiting.Arrive(first);
        waiting.Abandon();
        Assert.Equal(1, firstClosed());

        var joined = new Recording();
        var (second, secondClosed) = Connection();
        joined.Arrive(second);
        joined.TakenOver();
        joined.Abandon();
        Assert.Equal(0, secondClosed());
        Assert.Equal([second], joined.Told);
    }

    [Fact]
    public async Task The_socket_transport_dials_through_the_attempt_and_one_abandoned_before_it_began_reports_nothing()
    {
        using var system = ActorSystem.Create("connect-attempt");
        var transport = new SocketTransport(system.Scheduler);
        using var listener = new TcpListener(IPAddress.Parse("127.120.1.1"), 0);
        listener.Start();
        var at = (IPEndPoint)listener.LocalEndpoint;

        var connected = await transport.ConnectAsync(at, new ConnectOptions(TimeSpan.FromSeconds(30), null));
        using var accepted = await listener.AcceptSocketAsync();
        Assert.Equal(at, connected.Remote);
        Assert.Equal(accepted.RemoteEndPoint, connected.Local);
        connected.Close();

        // Abandoned before the transport began: no socket is opened and nothing is told, not even the timeout. A later
        // attempt with a longer timeout marks the moment the abandoned one's timeout would have come and gone.
        using var silent = await Unanswering.StartAsync("127.150.3.4");
        var abandoned = new Recording();
        abandoned.Abandon();
        transport.Connect(at, new ConnectOptions(TimeSpan.FromMilliseconds(50), null), abandoned);
        Assert.False(listener.Pending(), "a connection was opened for an abandoned attempt");
        var later = new Recording();
        transport.Connect(silent.At, new ConnectOptions(TimeSpan.FromMilliseconds(250), null), later);
        await EventuallyAsync(() => !later.Told.IsEmpty, "the later attempt timed out");
        Assert.Empty(abandoned.Told);
    }

    [Fact]
    public async Task A_connect_never_answered_times_out_once_with_its_socket_closed()
    {
        using var system = ActorSystem.Create("connect-timeout");
        var transport = new SocketTransport(system.Scheduler);
        using var silent = await Unanswering.StartAsync("127.150.3.1");
        var random = new Random(31);
        var attempts = Enumerable.Range(0, 30).Select(_ => new Recording()).ToArray();
        foreach (var attempt in attempts)
            transport.Connect(silent.At, new ConnectOptions(TimeSpan.FromMilliseconds(random.Next(100, 150)), null), attempt);

        await EventuallyAsync(() => attempts.All(a => !a.Told.IsEmpty), "every attempt reported");
        await EventuallyAsync(() => Sockets.To(silent.At, Sockets.SynSent) == 0, "no socket still connecting");
        Assert.All(attempts, a => Assert.IsType<TimeoutException>(Assert.Single(a.Told)));
    }

    [Fact]
    public async Task A_connect_abandoned_in_flight_closes_its_socket_and_reports_nothing_not_even_its_timeout()
    {
        using var system = ActorSystem.Create("connect-abandon");
        var transport = new SocketTransport(system.Scheduler);
        using var silent = await Unanswering.StartAsync("127.150.3.2");
        var abandoned = Enumerable.Range(0, 20).Select(_ => new Recording()).ToArray();
        // Their timeout long enough that each is abandoned before it (seeing 20 connects in flight can take a while on a
        // busy machine: with 200 ms, one timed out first once in CI).
        var timeout = TimeSpan.FromSeconds(3);
        foreach (var attempt in abandoned) transport.Connect(silent.At, new ConnectOptions(timeout, null), attempt);
        await EventuallyAsync(() => Sockets.To(silent.At, Sockets.SynSent) == abandoned.Length, "every connect in flight");

        foreach (var attempt in abandoned) attempt.Abandon();
        await EventuallyAsync(() => Sockets.To(silent.At, Sockets.SynSent) == 0, "the abandoned connects' sockets closed");
        // Once a later attempt with a longer timeout has timed out, the abandoned ones' timeouts have come and gone.
        var later = new Recording();
        transport.Connect(silent.At, new ConnectOptions(timeout + TimeSpan.FromMilliseconds(200), null), later);
        await EventuallyAsync(() => !later.Told.IsEmpty, "the later attempt timed out");
        Assert.IsType<TimeoutException>(Assert.Single(later.Told));
        Assert.All(abandoned, a => Assert.Empty(a.Told));
    }

    [Fact]
    public async Task Timeouts_and_abandons_racing_connects_report_each_attempt_at_most_once_and_leave_no_connection_open()
    {
        using var system = ActorSystem.Create("connect-race");
        var transport = new SocketTransport(system.Scheduler);
        using var listener = new TcpListener(IPAddress.Parse("127.150.3.3"), 0);
        listener.Start(1024);
        var at = (IPEndPoint)listener.LocalEndpoint;
        using var stop = new CancellationTokenSource();
        var serving = ServeUntilEofAsync(listener, stop.Token);

        // Timeouts of 1-2 ms fire at the timer wheel's next tick (10 ms), some before a loopback connect completes, some
        // after; a third of the attempts are also abandoned at once, before, during or after their connect.
        var random = new Random(33);
        const int count = 600;
        var attempts = new Recording[count];
        var abandon = new bool[count];
        for (var i = 0; i < count; i++)
        {
            attempts[i] = new Recording();
            abandon[i] = random.Next(3) == 0;
            transport.Connect(at, new ConnectOptions(TimeSpan.FromMilliseconds(random.Next(1, 3)), null), attempts[i]);
            if (abandon[i]) attempts[i].Abandon();
            if (i % 50 == 49) await Task.Delay(5);
        }

        await EventuallyAsync(() => Enumerable.Range(0, count).All(i => abandon[i] || !attempts[i].Told.IsEmpty), "every attempt not abandoned reported");
        // The owner closes what it was handed; an abandoned attempt closed its own.
        foreach (var (attempt, i) in attempts.Select((a, i) => (a, i)))
            if (!abandon[i] && attempt.Told.TryPeek(out var told) && told is TcpConnection connection) connection.Close();
        await EventuallyAsync(() => Sockets.To(at, Sockets.Established, Sockets.SynSent, Sockets.CloseWait) == 0, "no dialled socket left open");

        Assert.All(attempts, a => Assert.True(a.Told.Count <= 1, $"reported {a.Told.Count} times: {string.Join(", ", a.Told)}"));
        Assert.All(attempts.SelectMany(a => a.Told), told => Assert.True(told is TcpConnection or TimeoutException, $"unexpected outcome {told}"));
        var outcomes = attempts.Select((a, i) => (abandon[i] ? "abandoned, " : "") + (a.Told.TryPeek(out var t) ? t.GetType().Name : "nothing"));
        output.WriteLine(string.Join("; ", outcomes.GroupBy(o => o).OrderBy(g => g.Key).Select(g => $"{g.Key}: {g.Count()}")));
        await stop.CancelAsync();
        listener.Stop();
        await serving;
    }

    /// <summary>Accepts and reads each connection until its end, so a dialled socket left open stays established.</summary>
    private static async Task ServeUntilEofAsync(TcpListener listener, CancellationToken stop)
    {
        var serving = new List<Task>();
        try
        {
            while (true)
            {
                var socket = await listener.AcceptSocketAsync(stop);
                serving.Add(Task.Run(async () =>
                {
                    using var _ = socket;
                    var buffer = new byte[64];
                    try { while (await socket.ReceiveAsync(buffer, SocketFlags.None, stop) > 0) { } }
                    catch (Exception e) when (e is SocketException or OperationCanceledException) { }
                }, CancellationToken.None));
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException) { }
        await Task.WhenAll(serving);
    }

    /// <summary>This network namespace's IPv4 TCP sockets, from /proc/net/tcp.</summary>
    private static class Sockets
    {
        public const string Established = "01", SynSent = "02", CloseWait = "08";

        /// <summary>How many sockets connected or connecting to <paramref name="remote"/> are in one of <paramref name="states"/>.</summary>
        public static int To(IPEndPoint remote, params string[] states)
        {
            // Addresses as the kernel prints them: the 32-bit address in host (little-endian) order, then the port, in hex.
            var wanted = $"{BitConverter.ToUInt32(remote.Address.GetAddressBytes()):X8}:{remote.Port:X4}";
            return File.ReadLines("/proc/net/tcp").Skip(1)
                .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                .Count(fields => fields[2] == wanted && states.Contains(fields[3]));
        }
    }

    [Fact]
    public async Task A_dial_after_the_scheduler_shut_down_fails_the_attempt_instead_of_throwing()
    {
        var system = ActorSystem.Create("connect-after-shutdown");
        var transport = new SocketTransport(system.Scheduler);
        await system.Terminate();
        using var listener = new TcpListener(IPAddress.Parse("127.120.200.1"), 0);
        listener.Start();

        var attempt = new Recording();
        transport.Connect(listener.LocalEndpoint, new ConnectOptions(TimeSpan.FromSeconds(30), null), attempt);
        Assert.IsAssignableFrom<Exception>(Assert.Single(attempt.Told));
        Assert.False(listener.Pending(), "a connection was opened for an attempt that could not be timed");
    }
}
