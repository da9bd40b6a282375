using System.Net;
using System.Net.Sockets;
using AkkaL4.Actors;
using AkkaL4.Tests.Support;

namespace AkkaL4.Tests.Node;

/// <summary>
/// review1-s10 #6: a start that fails after the cluster side's actor system is up (here: a seed that is not an address,
/// read only as the node joins) left that system running, its remoting port bound: a retry in the same process (or the
/// next process) could not bind it. 127.200.72.1.
/// </summary>
[Trait("Category", TestCategories.EndToEnd)]
public sealed class RouterNodeStartTests
{
    private static readonly AddressBlock Block = AddressBlocks.Of(200);

    [Fact]
    public async Task A_start_that_fails_after_remoting_bound_frees_the_remoting_port()
    {
        var host = Block.Host(72, 1);
        var port = FreePort(host);
        var remoting = $"akka.loglevel = WARNING\nakka.remote.dot-netty.tcp {{ hostname = \"{host}\", port = {port} }}";

        var failed = Assert.ThrowsAny<Exception>(() => RouterNode.Start(new RouterNodeOptions { Name = "start-fails", Seeds = ["not an address"], Overrides = remoting }));
        Assert.DoesNotContain("bind", failed.Message, StringComparison.OrdinalIgnoreCase);

        // The port is free again: another socket binds it, and a start in this process, on the same port, succeeds.
        using (var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            probe.Bind(new IPEndPoint(IPAddress.Parse(host), port));
        }
        await using var node = RouterNode.Start(new RouterNodeOptions { Name = "start-again", Overrides = remoting });
        Assert.EndsWith($"@{host}:{port}", node.ClusterAddress);
    }

    private static int FreePort(string host)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Parse(host), 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }
}
