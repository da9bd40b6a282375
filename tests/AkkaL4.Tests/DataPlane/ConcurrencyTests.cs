using System.Diagnostics;
using Akka.Actor;
using AkkaL4.Actors.DataPlane;
using AkkaL4.Actors.Upstreams;
using AkkaL4.Actors.Upstreams.Health;
using AkkaL4.Node.Echo;
using Xunit.Abstractions;
using static AkkaL4.Tests.DataPlane.Kit;

namespace AkkaL4.Tests.DataPlane;

/// <summary>Many connections open at once, each answered on its own. Addresses: 127.1.10.x.</summary>
[Trait("Category", "EndToEnd")]
public sealed class ConcurrencyTests(ITestOutputHelper output)
{
    private const string Client = "127.1.10.30";

    [Fact]
    public async Task Thousand_concurrent_connections_are_all_answered_correctly()
    {
        const int count = 1000, batch = 100;
        await using var pod = new EchoServer(At("127.1.10.11", 9000), "many");
        // It tests concurrency, not overload: a connection that waits for a thread past pending-timeout on a loaded machine
        // would be closed OM (PendingTimeoutTests covers that). At most 1,000 are pending, below max-pending-connections.
        await using var router = TestRouter.Start("concurrency", settings: "akkal4.data-plane.pending-timeout = 0");
        await router.ApplyAsync(1, Service("many", "127.1.10.1", 19000, 9000, "many"), WorkloadEntry("many-pod", "127.1.10.11", "{app: many}"));
        var service = At("127.1.10.1", 19000);
        var clock = Stopwatch.StartNew();

        var clients = new List<TestClient>(count);
        try
        {
            // Open all of them, a batch at a time, and keep them open.
            for (var i = 0; i < count; i += batch)
                clients.AddRange(await Task.WhenAll(Enumerable.Range(0, batch).Select(_ => TestClient.ConnectAsync(Client, service))));
            output.WriteLine($"{count} connected after {clock.Elapsed}");

            // Every one talks at the same time and hears its own answer; those that did not, with what the router logged.
            var asked = clients.Select((c, i) => c.AskAsync($"c{i}")).ToList();
            await Task.WhenAll(asked).ContinueWith(_ => { }, TaskScheduler.Default);
            output.WriteLine($"{count} answered after {clock.Elapsed}");
            var wrong = Enumerable.Range(0, count).Where(i => !asked[i].IsCompletedSuccessfully || asked[i].Result != $"many c{i}").ToList();
            if (wrong.Count > 0) Assert.Fail(await WhyAsync(router, clients, asked, wrong));

            // All of them are open at the router at once.
            Assert.Equal(count, router.Metrics["envoy_listener_downstream_cx_active"]);
            var state = await router.Node.Routers.Ask<ClusterHealthSnapshot>(new GetClusterHealth(router.ClusterId(Fqdn("many"))), Patience);
            Assert.Equal(count, state.Endpoints.Single().Active);
            Assert.Equal(count, pod.Connections);

            foreach (var c in clients) c.ShutdownSend();
            var ends = await Task.WhenAll(clients.Select(c => c.ReadToCloseAsync()));
            Assert.All(ends, e => Assert.False(e.Reset || !e.NoData, $"expected a clean close with no more data, got reset={e.Reset} '{e.Text}'"));
            output.WriteLine($"{count} closed after {clock.Elapsed}");
        }
        finally
        {
            foreach (var c in clients) await c.DisposeAsync();
        }

        await EventuallyAsync(() => router.Log.Entries.Count == count, $"{count} access-log entries");
        // Each flagged entry with what it says happened (a connect that failed and was retried leaves UF on a connection that worked).
        var flagged = router.Log.Entries.Where(e => e.Flags != ResponseFlags.None).Select(e => $"{e.Source}: {e.Flags} ({e.Detail})").ToList();
        Assert.True(flagged.Count == 0, $"{flagged.Count} of {count} connections flagged (load {File.ReadAllText("/proc/loadavg").Trim()}):\n{string.Join("\n", flagged.Take(20))}");
        await router.Metrics.WaitForAsync("envoy_listener_downstream_cx_active", 0);
    }

    /// <summary>
    /// What the clients that got no answer (or a wrong one) saw, and the router's access-log entry for each (its flags say
    /// why it closed one: OM, UF, DC ...), the first 20 of them.
    /// </summary>
    private static async Task<string> WhyAsync(TestRouter router, List<TestClient> clients, List<Task<string>> asked, List<int> wrong)
    {
        var lines = new List<string>();
        foreach (var i in wrong.Take(20))
        {
            var seen = asked[i].IsCompletedSuccessfully ? $"'{asked[i].Result}'" : asked[i].Exception?.GetBaseException().Message;
            string logged;
            try
            {
                var entry = await router.Log.ForAsync(clients[i].Id, TimeSpan.FromSeconds(1));
                logged = $"{ResponseFlagNames.Format(entry.Flags)} ({entry.Detail})";
            }
            catch (TimeoutException)
            {
                logged = "no access-log entry yet (still open at the router)";
            }
            lines.Add($"c{i} from {clients[i].Local}: {seen}; router: {logged}");
        }
        return $"{wrong.Count} of {clients.Count} clients not answered (load {File.ReadAllText("/proc/loadavg").Trim()}):\n{string.Join("\n", lines)}";
    }
}
