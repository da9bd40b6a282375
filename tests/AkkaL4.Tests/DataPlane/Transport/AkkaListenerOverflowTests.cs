using System.Net;
using System.Net.Sockets;
using AkkaL4.Tests.Support;
using static AkkaL4.Tests.DataPlane.Kit;

namespace AkkaL4.Tests.DataPlane.Transport;

/// <summary>
/// The stock transport's listener closes what it accepted beyond the listen backlog while its ListenerActor asks for
/// nothing (out of descriptor places): each is counted in <c>envoy_listener_downstream_cx_overflow</c>, as a connection a
/// cap closes is, not only logged. Addresses 127.202.2.x.
/// </summary>
[Trait("Category", TestCategories.EndToEnd)]
public sealed class AkkaListenerOverflowTests
{
    private static readonly AddressBlock Block = AddressBlocks.Of(202);

    [Fact]
    public async Task Connections_closed_beyond_the_backlog_are_counted_as_overflow()
    {
        const int backlog = 4;
        await using var upstream = new ByteEchoServer(Block.At(2, 100, 9000));
        // Room for the accept stream's place and one connection's: once that one is relayed the listener asks for no more.
        await using var router = TestRouter.Start("akka-overflow", descriptors: FixedRoom(2),
            settings: $"akkal4.data-plane.transport = akka-streams\nakkal4.data-plane.listen-backlog = {backlog}");
        await router.ApplyAsync(1, Service("ovf", Block.Host(2, 1), 9443, 9000, "ovf-up"), WorkloadEntry("ovf-up", Block.Host(2, 100), "{app: ovf-up}"));
        var vip = Block.At(2, 1, 9443);
        await using var held = await TestClient.ConnectAsync(Block.Host(2, 200), vip);
        Assert.Equal("held", await held.AskAsync("held"));
        Assert.Equal(0, router.Metrics["envoy_listener_downstream_cx_overflow"]);

        var clients = new List<Socket>();
        try
        {
            for (var i = 0; i < 30; i++)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                clients.Add(socket);
                socket.Bind(new IPEndPoint(IPAddress.Parse(Block.Host(2, 201)), 0));
                await socket.ConnectAsync(vip).WaitAsync(Patience);
            }
            // Closed by the node (a FIN to read), the rest held for the listener: the closed ones are the overflow, each counted.
            int Closed() => clients.Count(c => c.Poll(0, SelectMode.SelectRead));
            await EventuallyAsync(() => Task.FromResult(Closed() >= clients.Count - backlog - 4 && router.Metrics["envoy_listener_downstream_cx_overflow"] == Closed()),
                () => $"{Closed()} of {clients.Count} closed beyond the backlog ({backlog}), overflow counted {router.Metrics["envoy_listener_downstream_cx_overflow"]}");
        }
        finally
        {
            foreach (var client in clients) client.Dispose();
        }
    }
}
