using System.Collections.Concurrent;
using Akka.Actor;
using AkkaL4.Actors.DataPlane;
using AkkaL4.Node.Admin;
using AkkaL4.Tests.Support;
using static AkkaL4.Tests.DataPlane.Kit;

namespace AkkaL4.Tests.DataPlane;

/// <summary>
/// A cluster whose only endpoint refuses, as a day-one operator meets it: the node's own log says so (once it said
/// nothing; the access log, often off or in a file, was the only sign), throttled per cluster — the first failure at
/// once, then a line of counts per interval (2 s here, 60 s by default) — and each connection's access-log detail says
/// the repeated failure once, with a count. Real sockets: a router on 127.230.2.6, the endpoint 127.230.1.9:9000 with
/// nothing listening, clients from 127.230.3.x.
/// </summary>
[Trait("Category", TestCategories.EndToEnd)]
public sealed class ConnectFailureLogTests
{
    private static readonly AddressBlock Block = AddressBlocks.Of(230);
    private const string Cluster = "outbound|9000||dead.default.svc.cluster.local";

    [Fact]
    public async Task Connect_failures_are_logged_once_per_cluster_then_counted_and_the_detail_says_a_repeat_once()
    {
        await using var router = TestRouter.Start("user9-dead", serveMesh: true, settings: """
            akka.loglevel = WARNING
            akkal4.data-plane.connect-failure-log-interval = 2s
            """);
        var warnings = new ConcurrentQueue<string>();
        var tap = router.Node.System.ActorOf(Props.Create(() => new EventTap<Akka.Event.Warning>(w => warnings.Enqueue(w.Message.ToString() ?? ""))));
        router.Node.System.EventStream.Subscribe(tap, typeof(Akka.Event.Warning));
        // The exposition reads the meter from its start: before the traffic.
        using var exporter = new PrometheusExporter(router.Node.Metrics, null);
        await router.ApplyAsync(1, Service("dead", Block.Host(2, 6), 9000, 9000), WorkloadEntry("dead-0", Block.Host(1, 9), "{app: dead}"));
        var service = Block.At(2, 6, 9000);

        const int clients = 6;
        var entries = await Task.WhenAll(Enumerable.Range(1, clients).Select(async i =>
        {
            await using var client = await TestClient.ConnectAsync(Block.Host(3, i), service);
            Assert.True((await client.ReadToCloseAsync()).NoData);
            return await router.Log.ForAsync(client.Id);
        }));

        // The access log: every attempt failed alike, said once with its count.
        foreach (var entry in entries)
        {
            Assert.Equal("UF,URX", ResponseFlagNames.Format(entry.Flags));
            Assert.Equal($"connect to {Block.Host(1, 9)}:9000 failed: Connection refused (3×); 3 attempt(s), giving up", entry.Detail);
        }

        // The node's log: the first failure at once, naming cluster, endpoint and reason; the rest counted, so the lines
        // account for every failure the exposition counts, in far fewer lines than failures.
        var failures = CounterOf(exporter.Scrape(), $"envoy_cluster_upstream_cx_connect_fail{{envoy_cluster_name=\"{Cluster}\"}}");
        Assert.Equal(3 * clients, failures);
        var first = $"upstream cluster {Cluster}: connect to {Block.Host(1, 9)}:9000 failed: Connection refused (further connect failures of this cluster are counted, one line every 2s)";
        await EventuallyAsync(() => Logged(warnings, first) == failures, $"log lines accounting for all {failures} failures");
        Assert.Equal(first, warnings.First(w => w.StartsWith("upstream cluster", StringComparison.Ordinal)));
        Assert.Contains(warnings, w => w.StartsWith($"upstream cluster {Cluster}: ", StringComparison.Ordinal)
                                       && w.Contains(" connect failure(s) in the last 2s, 0 connection(s) connected; the last: connect to ", StringComparison.Ordinal));
        Assert.True(warnings.Count(w => w.StartsWith("upstream cluster", StringComparison.Ordinal)) < failures / 2, string.Join("\n", warnings));
    }

    /// <summary>Failures the lines account for: 1 per first line, N per count line.</summary>
    private static long Logged(IEnumerable<string> warnings, string first) => warnings.Sum(w =>
        w == first ? 1
        : w.StartsWith($"upstream cluster {Cluster}: ", StringComparison.Ordinal) && w.IndexOf(" connect failure(s) in the last", StringComparison.Ordinal) is var at and > 0
            ? long.Parse(w[$"upstream cluster {Cluster}: ".Length..at])
            : 0);

    private static long CounterOf(string scrape, string series) =>
        scrape.Split('\n').SingleOrDefault(l => l.StartsWith(series + " ", StringComparison.Ordinal)) is { } line
            ? long.Parse(line[(series.Length + 1)..])
            : throw new Xunit.Sdk.XunitException($"no {series} in the scrape:\n{string.Join("\n", scrape.Split('\n').Where(l => l.Contains("connect_fail", StringComparison.Ordinal)))}");

    [Theory]
    [InlineData(new[] { "a" }, "a")]
    [InlineData(new[] { "a", "a" }, "a (2×)")]
    [InlineData(new[] { "a", "a", "a" }, "a (3×)")]
    [InlineData(new[] { "a", "b" }, "a; b")]
    [InlineData(new[] { "a", "b", "b", "a" }, "a; b (2×); a")]
    [InlineData(new[] { "x: b", "b" }, "x: b; b")]
    public void A_repeated_failure_is_said_once_with_its_count(string[] failures, string detail)
    {
        Assert.Equal(detail, failures.Aggregate("", AttemptDetail.Add));
    }
}
