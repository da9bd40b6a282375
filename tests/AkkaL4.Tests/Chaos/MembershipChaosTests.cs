using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using AkkaL4.Tests.ControlPlane;
using Xunit.Abstractions;
using static AkkaL4.Tests.Chaos.ChaosCluster;

namespace AkkaL4.Tests.Chaos;

/// <summary>
/// Nodes that are killed, paused, restarted and stopped, as real processes: routing never depends on
/// membership, a node out of the cluster rejoins by itself, and a stopping node drains. Each scenario
/// prints one figure line (<c>chaos NAME: connections ok=… failed=… …</c>).
/// </summary>
[Collection(ProcessesCollection.Name)]
public sealed class MembershipChaosTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Two_of_three_killed_the_survivor_never_refuses_a_connection_and_rejoins_when_a_seed_returns()
    {
        await using var cluster = new ChaosCluster(output);
        await cluster.StartThreeAsync();

        await cluster.KillAsync(1);
        await cluster.KillAsync(2);
        // From here only node 3 holds the shared VIP and its gateway: every connection lands on it.
        await using var traffic = new Traffic(() => Vip);
        await using var gateway = new Traffic(() => Gateway(3), clients: 1);

        // Alone, it is a minority: the split-brain resolver downs it. It routes on, and says so.
        await cluster.EventuallyAsync(async () => await cluster.StatusAsync(3) is { } s
            && s.GetProperty("membership").GetProperty("incarnation").GetInt32() >= 1, "node 3's resolver downs it and it starts rejoining");
        var health = await cluster.Http.GetStringAsync(Admin(3) + "/healthz");
        Assert.StartsWith("ok: routing on revision 1, not in a cluster since", health);
        await Task.Delay(TimeSpan.FromSeconds(3)); // keep the traffic going while it is out
        Assert.Equal($"{Prefix} ping", await Line(Gateway(3)));

        // The first seed comes back: it founds the cluster again (no other seed answers) and node 3 joins it.
        var restarted = Stopwatch.StartNew();
        cluster.Start(1);
        await cluster.EventuallyAsync(async () => await cluster.InClusterAsync(3) && await cluster.UpMembersAsync(1) == 2, "node 3 rejoins the first seed");
        var recovery = restarted.Elapsed;

        // Writes work again and reach the survivor.
        long? two = null;
        await cluster.EventuallyAsync(async () => (two = await cluster.PutAsync(3, Manifests + "\n---\n" + Extra("127.20.1.2"))) is not null, "a write after the rejoin");
        await cluster.EventuallyAsync(async () => await Line(IPEndPoint.Parse("127.20.1.2:19000")) == $"{Prefix} ping", "the new listener on node 3");

        await gateway.StopAsync();
        var counts = await traffic.StopAsync();
        cluster.Figure("two-of-three-killed", counts, acked: 1, lost: 0, recovery);
        Assert.True(counts.Failed == 0 && counts.Corrupted == 0, $"the survivor failed {counts.Failed} and corrupted {counts.Corrupted} connections:\n{string.Join("\n", counts.Failures.Take(20))}\n--- nodes\n{cluster.Output()}");
        Assert.True(counts.Ok > 20, $"only {counts.Ok} connections went through");
        Assert.Equal(0, gateway.Now.Failed);
    }

    [Fact]
    public async Task A_node_paused_past_the_resolvers_window_routes_again_when_resumed_and_rejoins()
    {
        await using var cluster = new ChaosCluster(output);
        await cluster.StartThreeAsync();

        cluster.Signal(3, SigStop);
        // The majority downs it and goes on without it.
        await cluster.EventuallyAsync(async () => await cluster.UpMembersAsync(1) == 2, "nodes 1 and 2 down the paused node");
        var resumed = Stopwatch.StartNew();
        cluster.Signal(3, SigCont);

        // Its data plane never stopped: its gateway answers at once (with its last configuration).
        await using var traffic = new Traffic(() => Gateway(3), clients: 2);
        await cluster.EventuallyAsync(async () => await cluster.StatusAsync(3) is { } s
            && s.GetProperty("membership").GetProperty("incarnation").GetInt32() >= 1
            && s.GetProperty("membership").GetProperty("inCluster").GetBoolean()
            && await cluster.UpMembersAsync(1) == 3, "the resumed node rejoins with a fresh membership");
        var recovery = resumed.Elapsed;
        await Task.Delay(TimeSpan.FromSeconds(1));
        var counts = await traffic.StopAsync();

        cluster.Figure("sigstop", counts, acked: 0, lost: 0, recovery);
        Assert.True(counts.Failed == 0 && counts.Corrupted == 0, $"failed {counts.Failed}, corrupted {counts.Corrupted}:\n{string.Join("\n", counts.Failures.Take(20))}\n--- nodes\n{cluster.Output()}");
        Assert.True(counts.Ok > 0);
    }

    [Fact]
    public async Task The_first_seed_restarted_rejoins_the_running_cluster_and_no_second_writer_appears()
    {
        await using var cluster = new ChaosCluster(output);
        await cluster.StartThreeAsync();
        await using var traffic = new Traffic(() => Gateway(2), clients: 2);

        await cluster.KillAsync(1);
        var restarted = Stopwatch.StartNew();
        cluster.Start(1);
        await cluster.EventuallyAsync(async () => await cluster.InClusterAsync(1) && await cluster.UpMembersAsync(2) == 3,
            "the restarted first seed joins nodes 2 and 3");
        var recovery = restarted.Elapsed;

        // One cluster: every node sees the same three members and the same writer.
        var writers = new HashSet<string?>();
        foreach (var n in new[] { 1, 2, 3 })
        {
            await cluster.EventuallyAsync(async () => await cluster.UpMembersAsync(n) == 3, $"node {n} sees three members");
            writers.Add((await cluster.StatusAsync(n))!.Value.GetProperty("configWriter").GetString());
        }
        Assert.Single(writers);
        long? two = null;
        await cluster.EventuallyAsync(async () => (two = await cluster.PutAsync(1, Manifests + "\n---\n" + Extra("127.20.1.3"))) is not null, "a write through the restarted seed");
        Assert.Equal(2, two);
        foreach (var n in new[] { 2, 3 })
            await cluster.EventuallyAsync(async () => (await cluster.StatusAsync(n))?.GetProperty("revision").GetInt64() == 2, $"node {n} routes by revision 2");

        var counts = await traffic.StopAsync();
        cluster.Figure("seed-restart", counts, acked: 1, lost: 0, recovery);
        Assert.True(counts.Failed == 0 && counts.Corrupted == 0, $"failed {counts.Failed}, corrupted {counts.Corrupted}:\n{string.Join("\n", counts.Failures.Take(20))}");
    }

    [Fact]
    public async Task SIGTERM_drains_a_held_connection_until_the_drain_timeout_then_closes_it_with_a_FIN()
    {
        await using var cluster = new ChaosCluster(output);
        var manifest = Path.Combine(Path.GetTempPath(), $"akkal4-drain-{Guid.NewGuid():N}.yaml");
        await File.WriteAllTextAsync(manifest, Manifests);
        try
        {
            var node = cluster.Start(1, "--drain-timeout", "4s", "-f", manifest);
            await cluster.EventuallyAsync(async () => await Line(Gateway(1)) == $"{Prefix} ping", "node 1 routes");

            using var held = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            held.Bind(new IPEndPoint(IPAddress.Parse("127.20.3.2"), 0));
            await held.ConnectAsync(Gateway(1));
            using var stream = new NetworkStream(held);
            using var reader = new StreamReader(stream, Encoding.UTF8);
            async Task<string?> Ask(string line)
            {
                await stream.WriteAsync(Encoding.UTF8.GetBytes(line + "\n"));
                return await reader.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(10));
            }
            Assert.Equal($"{Prefix} before", await Ask("before"));

            var term = Stopwatch.StartNew();
            cluster.Signal(1, SigTerm);
            await cluster.EventuallyAsync(async () =>
            {
                using var ready = await cluster.Http.GetAsync(Admin(1) + "/readyz");
                return ready.StatusCode == HttpStatusCode.ServiceUnavailable && (await ready.Content.ReadAsStringAsync()).Contains("draining");
            }, "/readyz turns 503, draining");
            // New connections are no longer taken (nobody else listens here: refused)...
            await cluster.EventuallyAsync(async () => (await Line(Gateway(1))).Contains("ConnectionRefused"), "the listener stops accepting");
            // ...while the held one still relays.
            Assert.Equal($"{Prefix} during", await Ask("during"));
            Assert.False(node.HasExited);

            // At the drain timeout it is closed with a FIN: end of stream, no reset.
            var end = await reader.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(20));
            var closedAfter = term.Elapsed;
            Assert.Null(end);
            Assert.True(closedAfter >= TimeSpan.FromSeconds(3.5), $"closed after {closedAfter}, before the 4s drain timeout");
            await node.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(0, node.ExitCode);
            cluster.Figure("drain", new Traffic.Counts(2, 0, 0, []), acked: 0, lost: 0, closedAfter);
        }
        finally
        {
            File.Delete(manifest);
        }
    }

    private static string Extra(string vip) => $$"""
        apiVersion: v1
        kind: Service
        metadata: {name: chaos-extra, namespace: default}
        spec:
          clusterIP: {{vip}}
          selector: {app: chaos}
          ports: [{name: tcp, port: 19000, targetPort: 9000}]
        """;
}
