using System.Net;
using System.Net.Sockets;
using AkkaL4.Actors;
using AkkaL4.Actors.ControlPlane;
using AkkaL4.Messages.Model;
using AkkaL4.Tests.Support;
using static AkkaL4.Tests.ControlPlane.ControlPlaneKit;

namespace AkkaL4.Tests.Node;

/// <summary>
/// A node whose start fails after its data plane is up (its remoting port is taken, here) says why, in bounded time,
/// and lets go of what it bound: the listeners of its last-known-good configuration and the remoting port (127.201.5.x).
/// </summary>
[Trait("Category", TestCategories.EndToEnd)]
public sealed class RouterNodeFailedStartTests : IDisposable
{
    private static readonly AddressBlock Block = AddressBlocks.Of(201);
    private readonly string _directory = TempDirectory();

    public void Dispose() => DeleteDirectory(_directory);

    [Fact]
    public async Task A_node_whose_remoting_port_is_taken_fails_its_start_promptly_and_frees_its_listeners()
    {
        var host = Block.Host(5, 1);
        var listener = Block.At(5, 2, 19000);
        // A configuration on disk with a listener: the node binds it from its data directory before the cluster side starts.
        new LastKnownGood(_directory).Save(new ConfigContent(1, Decode(Service("web", "failed-start", listener.Address.ToString()))));
        using var taken = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        taken.Bind(new IPEndPoint(IPAddress.Parse(host), 0));
        taken.Listen();
        var port = ((IPEndPoint)taken.LocalEndPoint!).Port;

        var start = Task.Run(() => RouterNode.Start(new RouterNodeOptions
        {
            Name = "failed-start",
            DataDirectory = _directory,
            Overrides = $"akka.loglevel = OFF\nakka.stdout-loglevel = OFF\nakka.remote.dot-netty.tcp {{ hostname = \"{host}\", port = {port} }}",
        }));
        var failure = await Assert.ThrowsAnyAsync<Exception>(() => start.WaitAsync(TimeSpan.FromSeconds(60)));
        Assert.IsNotType<TimeoutException>(failure);
        // The reason names the address that could not be bound.
        var reason = string.Join(" / ", Chain(failure).Select(e => e.Message));
        Assert.Contains($"{port}", reason);

        // Nothing of the node is left bound: its listener's address is free for an exclusive bind (a listener still open,
        // SO_REUSEPORT or not, would refuse it).
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(listener);
        probe.Listen();
    }

    private static IEnumerable<Exception> Chain(Exception e)
    {
        for (Exception? x = e; x is not null; x = x.InnerException)
        {
            yield return x;
            if (x is AggregateException aggregate)
                foreach (var inner in aggregate.InnerExceptions.SelectMany(Chain)) yield return inner;
        }
    }
}
