using System.Net;
using System.Net.Sockets;
using AkkaL4.Tests.Support;
using static AkkaL4.Tests.DataPlane.Kit;

namespace AkkaL4.Tests.DataPlane.Transport;

/// <summary>
/// The stock transport's listener closes what it accepted beyond the listen backlog while its ListenerActor asks for
/// nothing (out of descriptor places): each is counted in <c>envoy_listener_downstream_cx_overflow</c>, as a connection a
/// cap closes is, not only logged; and it queues for the listener only what a place of the node's descriptors holds.
/// Addresses 127.202.2.x, 127.208.2.x.
/// </summary>
[Trait("Category", TestCategories.EndToEnd)]
public sealed class AkkaListenerOverflowTests
{
    private static readonly AddressBlock Block = AddressBlocks.Of(202);
    private static readonly AddressBlock Rel16 = AddressBlocks.Of(208);

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
            await ConnectAsync(clients, Block.Host(2, 201), vip);
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

    /// <summary>
    /// A node at its room holds no connection for its listener beyond the one its stream's place covers, whatever the
    /// listen backlog (1024 by default, against a descriptor reserve of 512): each would be a descriptor the budget does
    /// not count, and a node at its room would take them out of the reserve until EMFILE. Before the queue took places,
    /// all 30 here waited open in the listener's queue.
    /// </summary>
    [Fact]
    public async Task At_its_room_a_listener_queues_no_connection_whatever_the_backlog()
    {
        await using var upstream = new ByteEchoServer(Rel16.At(2, 100, 9000));
        await using var router = TestRouter.Start("akka-ahead", descriptors: FixedRoom(2), settings: "akkal4.data-plane.transport = akka-streams");
        await router.ApplyAsync(1, Service("ahead", Rel16.Host(2, 1), 9443, 9000, "ahead-up"), WorkloadEntry("ahead-up", Rel16.Host(2, 100), "{app: ahead-up}"));
        var vip = Rel16.At(2, 1, 9443);
        // The accept stream's place and this connection's: the node's room.
        await using var held = await TestClient.ConnectAsync(Rel16.Host(2, 200), vip);
        Assert.Equal("held", await held.AskAsync("held"));

        var clients = new List<Socket>();
        try
        {
            await ConnectAsync(clients, Rel16.Host(2, 201), vip);
            // Closed by the node (a FIN to read) but the one the stream's place covers (accepted ahead into its sink).
            int Closed() => clients.Count(c => c.Poll(0, SelectMode.SelectRead));
            await EventuallyAsync(() => Task.FromResult(Closed() >= clients.Count - 1 && router.Metrics["envoy_listener_downstream_cx_overflow"] == Closed()),
                () => $"{Closed()} of {clients.Count} closed at the node's room, overflow counted {router.Metrics["envoy_listener_downstream_cx_overflow"]}, "
                      + $"places {router.Node.Connections.Places}");
            Assert.Equal(2, router.Node.Connections.Places);
        }
        finally
        {
            foreach (var client in clients) client.Dispose();
        }
        // The held one still relays.
        Assert.Equal("still", await held.AskAsync("still"));
    }

    /// <summary>30 clients from <paramref name="from"/> connected to <paramref name="vip"/> (added to <paramref name="clients"/> as made, for the caller to dispose).</summary>
    private static async Task ConnectAsync(List<Socket> clients, string from, IPEndPoint vip)
    {
        for (var i = 0; i < 30; i++)
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            clients.Add(socket);
            socket.Bind(new IPEndPoint(IPAddress.Parse(from), 0));
            await socket.ConnectAsync(vip).WaitAsync(Patience);
        }
    }
}
