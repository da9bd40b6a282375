using System.Net;
using Akka.Actor;
using Akka.IO;
using Akka.Streams;
using Akka.Streams.Dsl;
using AkkaL4.Actors.DataPlane.Transport;
using static AkkaL4.Tests.DataPlane.Kit;
using AkkaL4.Tests.Support;

namespace AkkaL4.Tests.DataPlane.Transport;

/// <summary>
/// The stock transport's listener behind a busy consumer, on 127.200.101.x. Akka.IO (1.5.73) accepts whatever arrives and
/// queues what nobody asked for; an accepted connection not registered within <c>akka.io.tcp.register-timeout</c> is stopped
/// and reset. A node's listener takes its connections one at a time, each acknowledged by its actor: a burst of connects
/// larger than it could take within that timeout was reset (ConcurrencyTests' thousand connections, at times).
/// </summary>
[Trait("Category", "EndToEnd")]
[Trait(TestCategories.TransportTrait, TestCategories.TransportNamed)]
public sealed class AkkaListenerRegistrationTests
{
    [Fact]
    public async Task Connections_accepted_while_the_listener_is_busy_are_registered_at_once_and_still_work()
    {
        // Long: a registration the machine's load made slow resets nothing (300 ms failed once at load 25, and a sleep past
        // the timeout let the load decide). Whether a connection is left to the timeout is read from Akka.IO's actors
        // instead (AkkaIoConnections): registered, none is stopped by it, however short it is.
        var system = ActorSystem.Create("t", "akka.loglevel = WARNING\nakka.io.tcp.register-timeout = 10m");
        try
        {
            var materializer = system.Materializer();
            var at = new IPEndPoint(IPAddress.Parse("127.200.101.1"), 62220);
            // One connection at a time, as a node's listener takes them (Sink.ActorRefWithAck, input buffer 1).
            var (bound, accepted) = new AkkaTcpTransport(system).Bind(at, 16)
                .ToMaterialized(Sink.Queue<TcpConnection>().WithAttributes(Attributes.CreateInputBuffer(1, 1)), Keep.Both).Run(materializer);
            await WithinAsync(bound, "bind " + at);
            var clients = new List<Wire>();
            try
            {
                for (var i = 0; i < 4; i++) clients.Add(await Wire.ConnectAsync(at, from: "127.200.101.3"));
                // The listener is busy (a burst ahead of these, a loaded machine) and asks for none of them: each is
                // registered all the same.
                await EventuallyAsync(() => Task.FromResult(AkkaIoConnections.Accepted(system) == clients.Count && AkkaIoConnections.Unregistered(system) == 0),
                    () => $"Akka.IO accepted all {clients.Count} connections and registered each ({AkkaIoConnections.Accepted(system)} accepted, "
                          + $"{AkkaIoConnections.Unregistered(system)} still wait for the register-timeout)");
                for (var i = 0; i < clients.Count; i++)
                {
                    var next = await WithinAsync(accepted.PullAsync(), "an accepted connection");
                    Assert.True(next.HasValue, "the listener ended");
                    next.Value.Flow.Join(Flow.Create<ByteString>()).Run(materializer);
                }
                for (var i = 0; i < clients.Count; i++)
                {
                    await clients[i].SendAsync($"c{i}");
                    Assert.Equal($"c{i}", await clients[i].ReadAsync(2));
                }
            }
            finally
            {
                foreach (var client in clients) client.Dispose();
            }
        }
        finally
        {
            await system.Terminate().WaitAsync(Patience);
        }
    }
}
