using Akka.Actor;
using AkkaL4.Actors.DataPlane;

namespace AkkaL4.Tests.DataPlane;

[Trait("Category", "Unit")]
public sealed class AccessLogWriterTests
{
    private static AccessLogEntry Entry(int n) => new(DateTimeOffset.UnixEpoch, TimeSpan.FromMilliseconds(n), new System.Net.IPEndPoint(System.Net.IPAddress.Parse("127.0.30.1"), 40000 + n),
        new System.Net.IPEndPoint(System.Net.IPAddress.Parse("127.0.20.1"), 19000), "0.0.0.0:19000", null, "default/vs", 0, "outbound|19000||echo.default.svc.cluster.local", "127.0.10.1:9000", n, 2 * n, ResponseFlags.None, "closed");

    /// <summary>A StringWriter read and written from different threads.</summary>
    private sealed class Captured : StringWriter
    {
        private readonly object _gate = new();
        public override void Write(string? value) { lock (_gate) base.Write(value); }
        public string Text { get { lock (_gate) return ToString(); } }
    }

    [Fact]
    public async Task Every_entry_becomes_one_line_in_order_written_soon_after()
    {
        var output = new Captured();
        using var system = ActorSystem.Create("access-log", "akka.loglevel = INFO\nakka.stdout-loglevel = OFF");
        var sink = new AccessLogSink(new AccessLogOutput(output, AccessLogFormat.Envoy)).Start(system);
        for (var n = 1; n <= 3; n++) sink.Add(Entry(n));

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (output.Text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length < 3 && DateTime.UtcNow < deadline) await Task.Delay(20);

        var lines = output.Text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal([Entry(1).ToString(), Entry(2).ToString(), Entry(3).ToString()], lines);
        Assert.Equal("[1970-01-01T00:00:00.000Z] \"- - -\" 0 - 1 2 1 - \"-\" \"-\" \"-\" \"-\" \"127.0.10.1:9000\"", lines[0]);
    }

    [Fact]
    public async Task The_access_log_does_not_depend_on_the_log_level()
    {
        var output = new Captured();
        using var system = ActorSystem.Create("access-log-level", "akka.loglevel = WARNING\nakka.stdout-loglevel = OFF");
        var sink = new AccessLogSink(new AccessLogOutput(output, AccessLogFormat.Envoy)).Start(system);
        sink.Add(Entry(1));
        await sink.Writer!.GracefulStop(TimeSpan.FromSeconds(5));
        Assert.Equal(Entry(1).ToEnvoy() + "\n", output.Text);
    }

    [Fact]
    public void Json_lines_escape_their_values_and_carry_Envoy_s_keys()
    {
        var entry = Entry(3) with { Detail = "upstream said \"no\"\nthen \\ closed", Flags = ResponseFlags.UpstreamConnectFailure | ResponseFlags.UpstreamRetryLimitExceeded };

        var json = System.Text.Json.JsonDocument.Parse(entry.ToJson()).RootElement;

        Assert.DoesNotContain('\n', entry.ToJson());
        Assert.Equal("upstream said \"no\"\nthen \\ closed", json.GetProperty("connection_termination_details").GetString());
        Assert.Equal("UF,URX", json.GetProperty("response_flags").GetString());
        Assert.Equal(3, json.GetProperty("bytes_received").GetInt64());
        Assert.Equal(6, json.GetProperty("bytes_sent").GetInt64());
        Assert.Equal("127.0.10.1:9000", json.GetProperty("upstream_host").GetString());
        Assert.Equal("outbound|19000||echo.default.svc.cluster.local", json.GetProperty("upstream_cluster").GetString());
        Assert.Equal("127.0.30.1:40003", json.GetProperty("downstream_remote_address").GetString());
        // The address the client dialled, not the name of a listener bound to 0.0.0.0.
        Assert.Equal("127.0.20.1:19000", json.GetProperty("downstream_local_address").GetString());
        Assert.Equal("1970-01-01T00:00:00.000Z", json.GetProperty("start_time").GetString());
    }

    [Fact]
    public void Envoy_lines_escape_quotes_in_quoted_values()
    {
        var line = (Entry(1) with { Upstream = "a\"b" }).ToEnvoy();

        Assert.EndsWith("\"a\\\"b\"", line);
    }

    [Fact]
    public async Task Pending_lines_are_written_when_the_writer_stops()
    {
        var output = new Captured();
        using var system = ActorSystem.Create("access-log-stop", "akka.loglevel = INFO\nakka.stdout-loglevel = OFF");
        var sink = new AccessLogSink(new AccessLogOutput(output, AccessLogFormat.Envoy)).Start(system);
        sink.Add(Entry(7));
        // Well within the 100 ms the writer waits, so the line is pending when it stops.
        await sink.Writer!.GracefulStop(TimeSpan.FromSeconds(5));
        Assert.Equal(Entry(7).ToEnvoy() + "\n", output.Text);
    }

    [Fact]
    public async Task Entries_added_from_many_threads_past_a_flush_are_each_written_whole_and_observed()
    {
        var output = new Captured();
        using var system = ActorSystem.Create("access-log-many", "akka.loglevel = INFO\nakka.stdout-loglevel = OFF");
        var sink = new AccessLogSink(new AccessLogOutput(output, AccessLogFormat.Envoy)).Start(system);
        var observed = 0;
        sink.Observe(_ => Interlocked.Increment(ref observed));
        // About 100 bytes a line: 4 x 1,000 lines pass the 32 KiB at which the writer writes at once, several times over.
        await Task.WhenAll(Enumerable.Range(0, 4).Select(t => Task.Run(() =>
        {
            for (var n = 1; n <= 1000; n++) sink.Add(Entry(t * 1000 + n));
        })));

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (output.Text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length < 4000 && DateTime.UtcNow < deadline) await Task.Delay(20);

        var lines = output.Text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(4000, observed);
        Assert.Equal(Enumerable.Range(1, 4000).Select(n => Entry(n).ToEnvoy()).Order(), lines.Order());
    }
}
