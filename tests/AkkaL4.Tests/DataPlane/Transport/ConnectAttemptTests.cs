using System.Net;
using System.Net.Sockets;
using Akka;
using Akka.Actor;
using Akka.IO;
using Akka.Streams.Dsl;
using AkkaL4.Actors.DataPlane.Transport;

namespace AkkaL4.Tests.DataPlane.Transport;

/// <summary>
/// <see cref="ConnectAttempt"/>, the callback a connection actor dials with: one outcome reported at most, nothing after
/// it is abandoned, and no connection left open whichever comes first. Then the socket transport's dial through it, on
/// real loopback sockets at 127.120.1.x.
/// </summary>
[Trait("Category", "EndToEnd")]
public sealed class ConnectAttemptTests
{
    private sealed class Recording : ConnectAttempt
    {
        public readonly List<object> Told = [];
        protected override void OnConnected(TcpConnection connection) => Told.Add(connection);
        protected override void OnFailed(Exception cause) => Told.Add(cause);
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
    public async Task The_socket_transport_dials_through_the_attempt_and_an_abandoned_dial_reports_nothing()
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

        // Abandoned before the transport began: no socket is opened and nothing is told, not even the timeout.
        var abandoned = new Recording();
        abandoned.Abandon();
        transport.Connect(at, new ConnectOptions(TimeSpan.FromMilliseconds(50), null), abandoned);
        await Task.Delay(TimeSpan.FromMilliseconds(500));
        Assert.Empty(abandoned.Told);
        Assert.False(listener.Pending(), "a connection was opened for an abandoned attempt");
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
        Assert.IsNotType<TcpConnection>(attempt.Told[0]);
        Assert.False(listener.Pending(), "a connection was opened for an attempt that could not be timed");
    }
}
