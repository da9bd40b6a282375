using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Akka.Actor;
using AkkaL4.Actors;
using AkkaL4.Node.Admin;
using AkkaL4.Tests.ControlPlane;
using AkkaL4.Tests.DataPlane;
using static AkkaL4.Tests.ControlPlane.ControlPlaneKit;

namespace AkkaL4.Tests.Security;

/// <summary>
/// One client address holds at most AdminServer.MaxConnectionsPerClient of the admin API's connections, so one client
/// (no token needed: the slots are taken first) cannot lock everyone else out, probes included; all of loopback is one
/// client. Addresses: 127.150.4.x.
/// </summary>
[Collection(ProcessesCollection.Name)]
[Trait("Category", "EndToEnd")]
public sealed class AdminConnectionShareTests
{
    private static readonly IPAddress Greedy = IPAddress.Parse("127.150.4.10");
    private static readonly IPAddress Other = IPAddress.Parse("127.150.4.11");

    /// <summary>A connection from <paramref name="from"/> that asks for /healthz; the reply's status line, or null when closed or reset unanswered.</summary>
    private static async Task<(Socket Socket, string? Status)> HealthAsync(IPAddress from, IPEndPoint api)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(from, 0));
        var head = new StringBuilder();
        try
        {
            // Inside: the API resets a refused connection as soon as it is accepted, and a client whose connect is
            // completed late (a loaded machine) finds the reset already there and the connect failed (CI, session 22).
            await socket.ConnectAsync(api);
            await socket.SendAsync(Encoding.ASCII.GetBytes($"GET /healthz HTTP/1.1\r\nHost: {api}\r\n\r\n"));
            var buffer = new byte[4096];
            using var timeout = new CancellationTokenSource(Patience);
            while (!head.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
            {
                var read = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
                if (read == 0) return (socket, null);
                head.Append(Encoding.ASCII.GetString(buffer, 0, read));
            }
        }
        catch (SocketException)
        {
            return (socket, null); // reset: refused as well
        }
        return (socket, head.ToString().Split("\r\n")[0]);
    }

    [Fact]
    public async Task One_client_cannot_take_every_connection_of_the_admin_API()
    {
        await using var node = RouterNode.Start(new RouterNodeOptions
        {
            Name = "admin-share",
            Overrides = "akka.loglevel = WARNING\nakka.stdout-loglevel = ERROR\nakka.remote.dot-netty.tcp { hostname = \"127.150.4.1\", port = 0 }",
        });
        var warnings = new ConcurrentQueue<string>();
        var tap = node.System.ActorOf(Props.Create(() => new EventTap<Akka.Event.Warning>(w => warnings.Enqueue(w.Message.ToString() ?? ""))));
        node.System.EventStream.Subscribe(tap, typeof(Akka.Event.Warning));
        await using var api = await AdminServer.StartAsync(node, new IPEndPoint(IPAddress.Parse("127.150.4.2"), 0), null);
        var held = new List<Socket>();
        try
        {
            // Each answered, so each is counted; kept open (keep-alive).
            for (var i = 0; i < AdminServer.MaxConnectionsPerClient; i++)
            {
                var (socket, status) = await HealthAsync(Greedy, api.Address);
                held.Add(socket);
                Assert.Equal("HTTP/1.1 200 OK", status);
            }
            var (over, overStatus) = await HealthAsync(Greedy, api.Address);
            held.Add(over);
            Assert.Null(overStatus);

            // Another loopback address is the same client (any local process can send from any 127.x): refused as well.
            // Other hosts' clients are told apart (ClientNetworkTests: no second host here).
            var (other, otherStatus) = await HealthAsync(Other, api.Address);
            held.Add(other);
            Assert.Null(otherStatus);
            await EventuallyAsync(() => Task.FromResult(warnings.Any(w => w.Contains("admin API: refused a connection from 127.0.0.1 (loopback)"))), "the refusal is logged");

            // A connection closed gives its place back.
            held[0].Dispose();
            await EventuallyAsync(async () =>
            {
                var (again, status) = await HealthAsync(Greedy, api.Address);
                held.Add(again);
                return status == "HTTP/1.1 200 OK";
            }, "a new connection from the client once one of its own closed");
        }
        finally
        {
            foreach (var socket in held) socket.Dispose();
        }
    }
}
