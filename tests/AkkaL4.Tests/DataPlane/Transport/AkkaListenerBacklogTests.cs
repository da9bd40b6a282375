using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Streams;
using Akka.Streams.Dsl;
using AkkaL4.Actors.DataPlane.Transport;
using AkkaL4.Tests.Support;
using static AkkaL4.Tests.DataPlane.Kit;

namespace AkkaL4.Tests.DataPlane.Transport;

/// <summary>
/// The stock transport's listener when its consumer stops asking (a ListenerActor without a descriptor place), on
/// 127.190.200.x (review1-s12 M2). Its Gate takes every connection Akka.IO accepts, so that none is reset by Akka.IO's
/// register-timeout (<see cref="AkkaListenerRegistrationTests"/>), but keeps at most the listen backlog of them waiting:
/// the rest are closed, as a full kernel queue drops them, instead of each holding a descriptor until EMFILE.
/// </summary>
[Trait("Category", TestCategories.EndToEnd)]
[Trait(TestCategories.TransportTrait, TestCategories.TransportNamed)]
public sealed class AkkaListenerBacklogTests
{
    [Fact]
    public async Task A_listener_that_asks_for_nothing_does_not_hold_more_connections_than_its_backlog()
    {
        // Long: a registration the machine's load made slow resets nothing (with 300 ms, registrations 500 ms late left 0 of
        // the 200 connections open). Whether one is left to the timeout is read from Akka.IO's actors instead (AkkaIoConnections).
        var system = ActorSystem.Create("t", "akka.loglevel = WARNING\nakka.io.tcp.register-timeout = 10m");
        var clients = new List<Socket>();
        try
        {
            var materializer = system.Materializer();
            var at = new IPEndPoint(IPAddress.Parse(AddressBlocks.Of(190).Host(200, 1)), 62230);
            const int backlog = 16;
            // The listener took one connection and asks for no more.
            var (bound, _) = new AkkaTcpTransport(system).Bind(at, backlog)
                .ToMaterialized(Sink.Queue<TcpConnection>().WithAttributes(Attributes.CreateInputBuffer(1, 1)), Keep.Both).Run(materializer);
            await WithinAsync(bound, "bind " + at);
            for (var i = 0; i < 200; i++)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                clients.Add(socket);
                socket.Bind(new IPEndPoint(IPAddress.Parse(AddressBlocks.Of(190).Host(200, 3)), 0));
                await socket.ConnectAsync(at);
            }

            // Held: established and neither reset nor closed by the node (nothing to read, no error). The backlog waits,
            // plus what the consumer's buffer took; the rest is closed.
            const int most = backlog + 4;
            int Held() => clients.Count(c => !c.Poll(0, SelectMode.SelectRead));
            await EventuallyAsync(() => Task.FromResult(Held() <= most),
                () => $"at most {most} of {clients.Count} connections are held open by a listener that asked for none of them (backlog {backlog}; {Held()} held)");
            // The backlog's worth still waits for the listener: not closed, and not left to Akka.IO's register-timeout
            // (each registered, its timeout cleared).
            await EventuallyAsync(() => Task.FromResult(AkkaIoConnections.Unregistered(system) == 0),
                () => $"every connection Akka.IO accepted is registered ({AkkaIoConnections.Unregistered(system)} of {AkkaIoConnections.Accepted(system)} still wait for the register-timeout)");
            Assert.True(Held() >= backlog, $"{Held()} of {clients.Count} connections still wait, fewer than the backlog ({backlog})");
        }
        finally
        {
            foreach (var client in clients) client.Dispose();
            await system.Terminate().WaitAsync(Patience);
        }
    }
}
