using System.Text.Json;
using AkkaL4.Node.Cli;
using AkkaL4.Tests.Support;

namespace AkkaL4.Tests.Node;

/// <summary>
/// `akkal4 status` without -o: upstream endpoints with failures (or ejected, or failing checks) and a count of the rest. It once
/// listed every endpoint of up to 500 clusters, healthy ones included: the flood the summary exists to avoid.
/// </summary>
[Trait("Category", TestCategories.Unit)]
public class StatusSummaryTests
{
    [Fact]
    public void Status_lists_only_the_endpoints_with_failures_and_counts_the_rest()
    {
        using var status = JsonDocument.Parse("""
            {"node": "n1", "address": "akka.tcp://l4@127.230.9.1:2551", "revision": 3, "configWriter": "n1",
             "upstreams": [
               {"cluster": "outbound|9000||web.default", "endpoints": [
                 {"endpoint": "127.230.9.11:9000", "status": "healthy", "activeConnections": 2, "consecutiveFailures": 0, "lastError": null},
                 {"endpoint": "127.230.9.12:9000", "status": "ejected", "activeConnections": 0, "consecutiveFailures": 5, "lastError": "connection refused"},
                 {"endpoint": "127.230.9.13:9000", "status": "healthy", "activeConnections": 0, "consecutiveFailures": 1, "lastError": "timed out"}]},
               {"cluster": "outbound|9001||db.default", "endpoints": [
                 {"endpoint": "127.230.9.21:9001", "status": "healthy", "activeConnections": 0, "consecutiveFailures": 0, "lastError": null},
                 {"endpoint": "127.230.9.22:9001", "status": "unhealthy", "activeConnections": 0, "consecutiveFailures": 0, "lastError": null}]}]}
            """);

        var text = ServerCommands.StatusSummary(status.RootElement);

        Assert.DoesNotContain("127.230.9.11", text);
        Assert.DoesNotContain("127.230.9.21", text);
        Assert.Matches(@"(?m)^outbound\|9000\|\|web\.default\s+127\.230\.9\.12:9000\s+ejected\s+0\s+5\s+connection refused$", text);
        Assert.Matches(@"(?m)^outbound\|9000\|\|web\.default\s+127\.230\.9\.13:9000\s+healthy\s+0\s+1\s+timed out$", text);
        Assert.Matches(@"(?m)^outbound\|9001\|\|db\.default\s+127\.230\.9\.22:9001\s+unhealthy\s", text);
        Assert.Contains("upstreams: 2 clusters, 5 endpoints, 3 with failures (-o json for all)\n", text);
    }

    [Fact]
    public void Status_with_only_healthy_endpoints_prints_no_endpoint_table()
    {
        using var status = JsonDocument.Parse("""
            {"node": "n1", "upstreams": [{"cluster": "c", "endpoints": [{"endpoint": "127.230.9.31:9000", "status": "healthy", "consecutiveFailures": 0}]}]}
            """);

        var text = ServerCommands.StatusSummary(status.RootElement);

        Assert.DoesNotContain("127.230.9.31", text);
        Assert.DoesNotContain("CLUSTER", text);
        Assert.Contains("upstreams: 1 cluster, 1 endpoint, 0 with failures (-o json for all)\n", text);
    }
}
