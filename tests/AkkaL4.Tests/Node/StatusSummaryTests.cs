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
    private static readonly DateTimeOffset Now = new(2026, 12, 1, 10, 0, 0, TimeSpan.Zero);

    [Fact]
    public void An_endpoint_that_recovered_is_listed_while_its_last_error_is_recent_and_not_after()
    {
        // user9 L5: a healthy endpoint with no failures in a row kept its last error for good, so it stayed listed for good.
        using var status = JsonDocument.Parse("""
            {"node": "n1", "upstreams": [{"cluster": "c", "endpoints": [
              {"endpoint": "127.230.9.41:9000", "status": "healthy", "consecutiveFailures": 0, "lastError": "connection refused", "lastErrorAt": "2026-12-01T09:40:00Z"},
              {"endpoint": "127.230.9.42:9000", "status": "healthy", "consecutiveFailures": 0, "lastError": "timed out", "lastErrorAt": "2026-12-01T09:57:30Z"},
              {"endpoint": "127.230.9.43:9000", "status": "ejected", "consecutiveFailures": 0, "lastError": "reset", "lastErrorAt": "2026-12-01T08:00:00Z"},
              {"endpoint": "127.230.9.44:9000", "status": "healthy", "consecutiveFailures": 2, "lastError": "refused", "lastErrorAt": "2026-12-01T07:00:00Z"}]}]}
            """);

        var text = ServerCommands.StatusSummary(status.RootElement, Now);

        Assert.DoesNotContain("127.230.9.41", text); // recovered 20 minutes ago
        Assert.Matches(@"(?m)^c\s+127\.230\.9\.42:9000\s+healthy\s+-\s+0\s+timed out \(2m ago\)$", text);
        Assert.Matches(@"(?m)^c\s+127\.230\.9\.43:9000\s+ejected\s.*reset \(2h ago\)$", text); // failing now, whatever the error's age
        Assert.Matches(@"(?m)^c\s+127\.230\.9\.44:9000\s+healthy\s+-\s+2\s+refused \(3h ago\)$", text);
        Assert.Contains("upstreams: 1 cluster, 4 endpoints, 3 failing or with an error in the last 5 min (-o json for all)\n", text);
        // Five minutes on, the recovered one drops out too.
        Assert.DoesNotContain("127.230.9.42", ServerCommands.StatusSummary(status.RootElement, Now + ServerCommands.RecentError));
    }

    [Fact]
    public void A_member_that_has_reported_no_revision_is_explained()
    {
        // A node reports its revision once it has applied one: before the first write, another member's row has none.
        using var status = JsonDocument.Parse("""
            {"node": "n1", "members": [
              {"address": "akka.tcp://l4@127.233.1.1:2551", "status": "Up", "roles": ["router"], "revision": 0},
              {"address": "akka.tcp://l4@127.233.1.2:2551", "status": "Up", "roles": ["router"], "revision": null}]}
            """);
        using var known = JsonDocument.Parse("""
            {"node": "n1", "members": [{"address": "akka.tcp://l4@127.233.1.1:2551", "status": "Up", "roles": ["router"], "revision": 3}]}
            """);

        var text = ServerCommands.StatusSummary(status.RootElement, Now);

        Assert.Matches(@"(?m)^akka\.tcp://l4@127\.233\.1\.1:2551\s+Up\s+0\s+router$", text);
        Assert.Matches(@"(?m)^akka\.tcp://l4@127\.233\.1\.2:2551\s+Up\s+-\s+router$", text);
        Assert.Contains("REVISION -: that member has reported none yet (a node reports its revision once it has applied one: none before the first write)\n", text);
        Assert.DoesNotContain("REVISION -", ServerCommands.StatusSummary(known.RootElement, Now));
    }

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

        var text = ServerCommands.StatusSummary(status.RootElement, Now);

        Assert.DoesNotContain("127.230.9.11", text);
        Assert.DoesNotContain("127.230.9.21", text);
        Assert.Matches(@"(?m)^outbound\|9000\|\|web\.default\s+127\.230\.9\.12:9000\s+ejected\s+0\s+5\s+connection refused$", text);
        Assert.Matches(@"(?m)^outbound\|9000\|\|web\.default\s+127\.230\.9\.13:9000\s+healthy\s+0\s+1\s+timed out$", text);
        Assert.Matches(@"(?m)^outbound\|9001\|\|db\.default\s+127\.230\.9\.22:9001\s+unhealthy\s", text);
        Assert.Contains("upstreams: 2 clusters, 5 endpoints, 3 failing or with an error in the last 5 min (-o json for all)\n", text);
    }

    /// <summary>/v1/status had lastKnownGood (fix12a); `akkal4 status` printed nothing of it, so a copy not written went unseen.</summary>
    [Fact]
    public void Status_says_what_the_last_known_good_copy_holds_and_a_copy_not_written_plainly()
    {
        using var written = JsonDocument.Parse("""{"node": "n1", "lastKnownGood": {"revision": 4, "failed": null, "error": null}}""");
        using var failed = JsonDocument.Parse("""{"node": "n1", "lastKnownGood": {"revision": 4, "failed": 5, "error": "No space left on device"}}""");
        using var none = JsonDocument.Parse("""{"node": "n1", "lastKnownGood": null}""");

        Assert.Contains("\nlast-known-good copy on disk: revision 4\n", ServerCommands.StatusSummary(written.RootElement, Now));
        Assert.Contains("\nlast-known-good copy NOT WRITTEN: revision 5 failed (No space left on device); the copy on disk holds revision 4, "
                        + "which this node would serve if it restarted now; the write is retried\n", ServerCommands.StatusSummary(failed.RootElement, Now));
        Assert.DoesNotContain("last-known-good", ServerCommands.StatusSummary(none.RootElement, Now));
    }

    [Fact]
    public void Status_with_only_healthy_endpoints_prints_no_endpoint_table()
    {
        using var status = JsonDocument.Parse("""
            {"node": "n1", "upstreams": [{"cluster": "c", "endpoints": [{"endpoint": "127.230.9.31:9000", "status": "healthy", "consecutiveFailures": 0}]}]}
            """);

        var text = ServerCommands.StatusSummary(status.RootElement, Now);

        Assert.DoesNotContain("127.230.9.31", text);
        Assert.DoesNotContain("CLUSTER", text);
        Assert.Contains("upstreams: 1 cluster, 1 endpoint, 0 failing or with an error in the last 5 min (-o json for all)\n", text);
    }
}
