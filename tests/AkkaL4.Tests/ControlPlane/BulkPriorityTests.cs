// big21: during a 4 MiB write the heartbeat sender's threads were runnable but not running (CPU) while the control plane's
// threads decoded, encoded and compiled the configuration at the same priority: heartbeats 2.8-4.5 s late in
// WriteChaosTests, members unreachable. The bulk threads now run at a lower priority (nice ControlPlaneWork.BulkNice);
// timings are WriteChaosTests' heartbeat-late-max (bench/README.md, session 22); this checks which threads are lowered.
using System.Globalization;
using Akka.Cluster;
using AkkaL4.Actors;
using AkkaL4.Actors.ControlPlane;
using static AkkaL4.Tests.ControlPlane.ControlPlaneKit;

namespace AkkaL4.Tests.ControlPlane;

/// <summary>Addresses: remoting on 127.218.0.1 (AddressBlocks.Of(218)); no data-plane address is bound.</summary>
[Trait("Category", "EndToEnd")]
public class BulkPriorityTests
{
    [Fact]
    public async Task The_control_planes_threads_run_below_the_heartbeats_and_the_pool_keeps_its_priority()
    {
        await using var node = RouterNode.Start(new RouterNodeOptions
        {
            Name = $"bulk-priority-{Guid.NewGuid():N}",
            Overrides = "akka.loglevel = ERROR\nakka.stdout-loglevel = ERROR\nakka.remote.dot-netty.tcp.hostname = 127.218.0.1",
        });
        var system = node.ClusterSystem;
        await EventuallyAsync(() => Cluster.Get(system).SelfMember.Status == MemberStatus.Up, "the node is Up", TimeSpan.FromSeconds(30));
        // The kernel keeps 15 bytes of a thread's name: "akkal4.control-", "akkal4.config-w", "akkal4.config-c", "akkal4.membersh".
        string[] bulk = [ControlPlaneWork.Dispatcher[..15], ControlPlaneWork.WriterDispatcher[..15], ControlPlaneWork.ClientDispatcher[..15]];
        await EventuallyAsync(() =>
        {
            var threads = Threads();
            // The writer (a singleton, here on this node), the route cache and the client have each made their thread.
            return Task.FromResult(bulk.All(name => threads.Any(t => t.Name == name && t.Nice == ControlPlaneWork.BulkNice)));
        }, () => "every bulk thread at nice " + ControlPlaneWork.BulkNice + ": " + string.Join(", ", Threads().Where(t => t.Name.StartsWith("akkal4.", StringComparison.Ordinal))), TimeSpan.FromSeconds(30));
        var all = Threads();
        Assert.All(all.Where(t => bulk.Contains(t.Name)), t => Assert.Equal(ControlPlaneWork.BulkNice, t.Nice));
        var membership = all.Where(t => t.Name == "akkal4.membersh").ToList();
        Assert.NotEmpty(membership);
        Assert.All(membership, t => Assert.Equal(0, t.Nice));
        // A pool thread keeps its priority (YieldToHeartbeats lowers only the named dedicated threads).
        var poolNice = await Task.Run(() => { ControlPlaneWork.YieldToHeartbeats(); return NiceOf("thread-self"); });
        Assert.Equal(0, poolNice);
    }

    private static List<(string Name, int Nice)> Threads()
    {
        var found = new List<(string, int)>();
        foreach (var task in Directory.EnumerateDirectories("/proc/self/task"))
        {
            try
            {
                found.Add((File.ReadAllText(Path.Combine(task, "comm")).TrimEnd('\n'), NiceOf(Path.Combine("self/task", Path.GetFileName(task)))));
            }
            catch (IOException)
            {
                // The thread ended meanwhile.
            }
        }
        return found;
    }

    // /proc/PID/task/TID/stat: the name in parentheses may hold spaces; after it, field 19 (nice) is the 17th.
    private static int NiceOf(string procPath)
    {
        var stat = File.ReadAllText(Path.Combine("/proc", procPath, "stat"));
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return int.Parse(fields[16], CultureInfo.InvariantCulture);
    }
}
