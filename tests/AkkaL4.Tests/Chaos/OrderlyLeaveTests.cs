using AkkaL4.Tests.ControlPlane;
using AkkaL4.Tests.Support;
using Xunit.Abstractions;
using static AkkaL4.Tests.Chaos.ChaosCluster;

namespace AkkaL4.Tests.Chaos;

/// <summary>
/// What a staying node's log says when another leaves (real <c>akkal4 run</c> processes, 127.201.0.x): an orderly leave
/// is not an error, a crash still is. Node 1 stays; node 2 leaves on SIGTERM; node 3 is killed while Up.
/// </summary>
[Collection(ProcessesCollection.Name)]
[Trait("Category", TestCategories.Chaos)]
public sealed class OrderlyLeaveTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_member_that_leaves_in_order_leaves_no_error_in_the_staying_nodes_log_and_a_crashed_one_does()
    {
        await using var cluster = new ChaosCluster(output, block: 201) { Seeds = [1] };
        cluster.Start(1);
        await cluster.EventuallyAsync(async () => await cluster.InClusterAsync(1), "node 1 founds the cluster");
        cluster.Start(2);
        cluster.Start(3);
        await cluster.EventuallyAsync(async () => await cluster.UpMembersAsync(1) == 3, "nodes 2 and 3 join");

        // Node 2 leaves in order. Its process may end before remoting's goodbye reaches node 1 (CoordinatedShutdown goes
        // on after its exiting phase's timeout, a flush can time out on a loaded host): killed once node 1 has moved it
        // to Exiting (it has handed everything over), its connection closes as it then does, with no goodbye.
        var leaving = cluster.AddressOf(2);
        cluster.Signal(2, SigTerm);
        await cluster.EventuallyAsync(async () => await cluster.MemberStatusAsync(1, leaving) is null or "Exiting", "node 1 moves node 2 to Exiting");
        if (!cluster[2].HasExited) await cluster.KillAsync(2);
        await cluster.EventuallyAsync(async () => await cluster.MemberStatusAsync(1, leaving) is null, "node 2 is removed");

        // Node 3 crashes: that stays in the log, as Akka writes it.
        await cluster.KillAsync(3);
        var crashed = cluster.AddressOf(3)["akka.tcp://akkal4@".Length..];
        // (Which lines depends on how the connection ended: the writer's "Disassociated" error, or only "UNREACHABLE" and
        // association warnings; never nothing.)
        await cluster.EventuallyAsync(() => Task.FromResult(cluster.OutputOf(1).Any(l => IsWarningOrError(l) && l.Contains(crashed, StringComparison.Ordinal))),
            "node 1 logs node 3's crash as a warning or an error");

        // Everything node 1 logged about node 2 (its lines up to node 3's crash are all in by now).
        var left = cluster.AddressOf(2)["akka.tcp://akkal4@".Length..];
        var about = cluster.OutputOf(1).Where(l => l.Contains(left, StringComparison.Ordinal)).ToList();
        Assert.True(about.Count > 0, "node 1 logged nothing about node 2 at all (is its log at INFO?)");
        var failures = about.Where(l => l.StartsWith("[ERROR]", StringComparison.Ordinal) || IsRemotingFailure(l)).ToList();
        Assert.True(failures.Count == 0, $"node 1 logged node 2's orderly leave as a failure:\n{string.Join("\n", failures)}\n--- nodes\n{cluster.Output()}");
    }

    private static bool IsWarningOrError(string line) =>
        line.StartsWith("[WARNING]", StringComparison.Ordinal) || line.StartsWith("[ERROR]", StringComparison.Ordinal);

    /// <summary>Akka.Remote's lines for a connection lost without a goodbye: the writer's error and the address gated.</summary>
    private static bool IsRemotingFailure(string line) =>
        (line.StartsWith("[ERROR]", StringComparison.Ordinal) && line.Contains("endpointWriter", StringComparison.Ordinal))
        || (line.StartsWith("[WARNING]", StringComparison.Ordinal) && line.Contains("Association with remote system", StringComparison.Ordinal) && line.Contains("Disassociated", StringComparison.Ordinal));
}
