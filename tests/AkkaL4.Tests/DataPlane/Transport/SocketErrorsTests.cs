using System.Collections.Concurrent;
using System.Net.Sockets;
using Akka.Actor;
using AkkaL4.Actors.DataPlane;
using AkkaL4.Actors.DataPlane.Transport;
using AkkaL4.Node.Echo;
using AkkaL4.Tests.Support;
using Xunit.Abstractions;
using static AkkaL4.Tests.DataPlane.Kit;

namespace AkkaL4.Tests.DataPlane.Transport;

/// <summary>
/// A reset or refused connection is routine for a proxy: the socket transport reports it with one exception per error code
/// for the whole process (<see cref="SocketErrors"/>), and the connection's detail built from it once, not per connection.
/// Such an exception is never thrown: a task (ConnectAsync) gets its own. A client's reset is the client side's failure (it
/// used to read "upstream side" on the socket transport: the reset cancels the upstream-to-client direction first).
/// Addresses: 127.120.90.x.
/// </summary>
[Trait("Category", TestCategories.EndToEnd)]
public sealed class SocketErrorsTests(ITestOutputHelper output)
{
    private static readonly AddressBlock Block = AddressBlocks.Of(120);

    private sealed class Recording : ConnectAttempt
    {
        public readonly BlockingCollection<Exception> Failures = new();
        protected override void OnConnected(TcpConnection connection) => connection.Close();
        protected override void OnFailed(Exception cause) => Failures.Add(cause);
    }

    [Fact]
    public async Task Refused_connects_share_one_exception_but_a_task_gets_its_own()
    {
        using var system = ActorSystem.Create("socket-errors");
        var transport = new SocketTransport(system.Scheduler);
        // Nothing listens there: the kernel answers the SYN with a reset.
        var closed = Block.At(90, 9, 1);
        var options = new ConnectOptions(TimeSpan.FromSeconds(5), null);

        var first = new Recording();
        var second = new Recording();
        transport.Connect(closed, options, first);
        transport.Connect(closed, options, second);
        Assert.True(first.Failures.TryTake(out var one, Patience), "the first connect reported nothing");
        Assert.True(second.Failures.TryTake(out var two, Patience), "the second connect reported nothing");
        Assert.Equal(SocketError.ConnectionRefused, Assert.IsAssignableFrom<SocketException>(one).SocketErrorCode);
        Assert.Same(one, two);

        var thrown = await Assert.ThrowsAsync<SocketException>(() => transport.ConnectAsync(closed, options));
        Assert.Equal(SocketError.ConnectionRefused, thrown.SocketErrorCode);
        Assert.NotSame(one, thrown);
    }

    [Fact]
    public async Task Clients_that_reset_are_each_logged_with_the_client_side_reset_and_on_sockets_one_detail_string()
    {
        var upstream = Block.At(90, 11, 9000);
        await using var pod = new EchoServer(upstream, "resets");
        await using var router = TestRouter.Start("socket-errors");
        var service = Block.At(90, 1, 19000);
        await router.ApplyAsync(1, Service("resets", service.Address.ToString()), WorkloadEntry("resets-pod", upstream.Address.ToString(), "{app: resets}"));

        var details = new List<AccessLogEntry>();
        for (var i = 0; i < 2; i++)
        {
            await using var client = await TestClient.ConnectAsync(Block.Host(90, 30), service);
            Assert.Equal($"resets r{i}", await client.AskAsync($"r{i}"));
            client.Reset();
            details.Add(await router.Log.ForAsync(client.Id));
            output.WriteLine($"connection {i}: {details[^1].Flags}, {details[^1].Detail}");
        }

        Assert.All(details, entry =>
        {
            Assert.Equal(ResponseFlags.None, entry.Flags);
            Assert.StartsWith("client side: ", entry.Detail);
        });
        Assert.Equal(details[0].Detail, details[1].Detail);
        // The socket transport's reset is one shared exception, its detail built once for every connection it ends.
        var transport = Environment.GetEnvironmentVariable(DataPlaneSettings.TransportVariable);
        if (string.IsNullOrEmpty(transport) || transport == TcpTransports.Sockets) Assert.Same(details[0].Detail, details[1].Detail);
    }
}
