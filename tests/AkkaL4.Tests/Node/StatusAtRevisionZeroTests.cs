using System.Net;
using AkkaL4.Node.Admin;
using AkkaL4.Tests.Support;
using static AkkaL4.Tests.ControlPlane.ControlPlaneKit;

namespace AkkaL4.Tests.Node;

/// <summary>
/// <c>akkal4 status</c> on a node that has had nothing written yet (revision 0), run as a real process: the node's own row says
/// revision 0, as its config writer line does. It said "-": a node tells the cluster its revision only once it has applied one.
/// </summary>
[Collection(ControlPlane.ProcessesCollection.Name)]
[Trait("Category", "EndToEnd")]
public sealed class StatusAtRevisionZeroTests
{
    [Fact]
    public async Task A_fresh_node_shows_its_own_revision_0_and_the_writer_at_revision_0()
    {
        await using var node = await StartNodeAsync("ops15-status");
        await using var admin = await AdminServer.StartAsync(node, new IPEndPoint(IPAddress.Loopback, FreePort()), null);

        var run = await Akkal4Process.RunAsync(["status", "--server", $"http://{admin.Address}"], timeout: TimeSpan.FromSeconds(60));

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Matches(@"(?m)^config writer: akka\.tcp://\S+, \S+ at revision 0", run.Stdout);
        var member = Assert.Single(run.Lines, l => l.StartsWith("akka.tcp://", StringComparison.Ordinal));
        Assert.Matches(@"^akka\.tcp://\S+\s+Up\s+0\s", member);
        Assert.DoesNotContain("REVISION -", run.Stdout);
    }
}
