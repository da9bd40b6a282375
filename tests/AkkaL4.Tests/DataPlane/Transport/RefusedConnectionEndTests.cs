using System.Net;
using System.Net.Sockets;
using AkkaL4.Actors.DataPlane;
using AkkaL4.Tests.Support;
using static AkkaL4.Tests.DataPlane.Kit;

namespace AkkaL4.Tests.DataPlane.Transport;

/// <summary>
/// A connection the node closes without relaying it (here: no cluster for its route, NC) is let go of at once, whatever
/// its client does next, on the transport of this run (CI runs it on both). On the stock transport the close ended the
/// sending side and the reading side of Akka.IO's connection from two streams at once: when the sending side's end came
/// first, Akka.IO half-closed and waited for the client's FIN without reading (a close asked then is ignored), so a
/// client that kept its connection open held the node's socket for as long as it liked. 127.209.3.x.
/// </summary>
[Trait("Category", "EndToEnd")]
public sealed class RefusedConnectionEndTests
{
    private static readonly AddressBlock Block = AddressBlocks.Of(209);

    [Fact]
    public async Task Refused_connections_whose_clients_never_close_are_let_go_of()
    {
        const int Clients = 40;
        var service = Block.At(3, 1, 19000);
        await using var router = TestRouter.Start("refused-end");
        await router.ApplyAsync(1,
            Service("refused", service.Address.ToString(), 19000, 9000, "nothing"),
            VirtualService("to-nowhere", "default", """
            hosts: [refused]
            tcp:
            - route: [{destination: {host: nowhere}}]
            """));

        var clients = new List<Socket>();
        try
        {
            for (var i = 0; i < Clients; i++)
            {
                var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                clients.Add(client);
                client.Bind(new IPEndPoint(IPAddress.Parse(Block.Host(3, 30)), 0));
                await client.ConnectAsync(service);
            }
            foreach (var client in clients)
            {
                var at = ((IPEndPoint)client.LocalEndPoint!).ToString();
                var entry = await router.Log.WaitAsync(e => e.Source == at, $"the access-log line of {at}");
                Assert.Equal(ResponseFlags.NoClusterFound, entry.Flags);
            }

            // The clients neither read nor close: the node's side of each must go all the same.
            string Held() => string.Join(", ", clients.Select(c => (IPEndPoint)c.LocalEndPoint!)
                .Select(c => (Client: c, Line: TransportKit.Held(service, c))).Where(h => h.Line is not null)
                .Select(h => $"{h.Client} ({h.Line})"));
            await EventuallyAsync(() => Task.FromResult(Held().Length == 0), () => $"the node to let go of every refused connection; it holds {Held()}");
        }
        finally
        {
            foreach (var client in clients) client.Dispose();
        }
    }
}
