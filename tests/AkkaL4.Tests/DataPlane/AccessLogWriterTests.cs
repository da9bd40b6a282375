using System.Collections.Concurrent;
using System.Text;
using Akka.Actor;
using Akka.Event;
using AkkaL4.Actors.DataPlane;
using AkkaL4.Tests.Support;

namespace AkkaL4.Tests.DataPlane;

[Trait("Category", "Unit")]
[Trait(TestCategories.TransportTrait, TestCategories.TransportNamed)]
public sealed class AccessLogWriterTests
{
    private static AccessLogEntry Entry(int n) => new(DateTimeOffset.UnixEpoch, TimeSpan.FromMilliseconds(n), new System.Net.IPEndPoint(System.Net.IPAddress.Parse("127.0.30.1"), 40000 + n % 20000),
        new System.Net.IPEndPoint(System.Net.IPAddress.Parse("127.0.20.1"), 19000), "0.0.0.0:19000", null, "default/vs", 0, "outbound|19000||echo.default.svc.cluster.local", "127.0.10.1:9000", n, 2 * n, ResponseFlags.None, "closed");

    /// <summary>An output read and written from different threads: TextWriter's other overloads all end in these two
    /// locked writes, so no write the sink makes (Write(char[], int, int) now) reaches the text unlocked (review2-s10 #5).</summary>
    private class Captured : TextWriter
    {
        private readonly StringBuilder _text = new();
        public override Encoding Encoding => Encoding.UTF8;
        public override void Write(char value) { lock (_text) _text.Append(value); }
        public override void Write(char[] buffer, int index, int count) { lock (_text) _text.Append(buffer, index, count); }
        public string Text { get { lock (_text) return _text.ToString(); } }
        public string[] Lines => Text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    /// <summary>The node's warnings and errors, as text.</summary>
    private static ConcurrentQueue<string> Logged(ActorSystem system)
    {
        var logged = new ConcurrentQueue<string>();
        var tap = system.ActorOf(Props.Create(() => new EventTap<LogEvent>(e => logged.Enqueue($"{e.LogLevel()} {e.Message}"))), "test-log");
        system.EventStream.Subscribe(tap, typeof(Warning));
        system.EventStream.Subscribe(tap, typeof(Error));
        return logged;
    }

    /// <summary>Longer than <see cref="Waits.Patience"/>: some waits here follow thousands of lines through the writer.</summary>
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    private static Task Until(Func<bool> condition, string what) => EventuallyAsync(condition, what, Patience);

    [Fact]
    public async Task Every_entry_becomes_one_line_in_order_written_soon_after()
    {
        var output = new Captured();
        using var system = ActorSystem.Create("access-log", "akka.loglevel = INFO\nakka.stdout-loglevel = OFF");
        var sink = new AccessLogSink(new AccessLogOutput(output, AccessLogFormat.Envoy)).Start(system);
        for (var n = 1; n <= 3; n++) sink.Add(Entry(n));

        await Until(() => output.Text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length >= 3, "three lines written");

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

        await Until(() => output.Text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length >= 4000, "4,000 lines written");

        var lines = output.Text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(4000, observed);
        Assert.Equal(Enumerable.Range(1, 4000).Select(n => Entry(n).ToEnvoy()).Order(), lines.Order());
    }

    /// <summary>A file on a full disk until <see cref="Broken"/> is cleared: every write fails.</summary>
    private sealed class FullDisk : Captured
    {
        public volatile bool Broken = true;
        public int Failures;
        public override void Write(char[] buffer, int index, int count)
        {
            if (!Broken)
            {
                base.Write(buffer, index, count);
                return;
            }
            Interlocked.Increment(ref Failures);
            throw new IOException("No space left on device");
        }
    }

    [Fact]
    public async Task Lines_whose_write_failed_are_dropped_not_held_and_counted_in_one_error_and_one_report()
    {
        var output = new FullDisk();
        using var system = ActorSystem.Create("access-log-full-disk", "akka.loglevel = WARNING\nakka.stdout-loglevel = OFF");
        var logged = Logged(system);
        var sink = new AccessLogSink(new AccessLogOutput(output, AccessLogFormat.Envoy)).Start(system);
        for (var round = 0; round < 20; round++)
        {
            var failures = output.Failures;
            for (var n = 0; n < 100; n++) sink.Add(Entry(round * 100 + n));
            await Until(() => output.Failures > failures, $"a failed write in round {round}");
            // Each failed batch is dropped: before, every line since the disk filled was held (and copied again each 100 ms).
            Assert.True(sink.Held < 4 * AccessLogSink.FlushAt, $"{sink.Held} chars held after {output.Failures} failed writes");
        }
        await Until(() => sink.Held == 0, "every batch taken and dropped");
        Assert.Equal(0, sink.Held);

        output.Broken = false;
        sink.Add(Entry(5000));
        await Until(() => logged.Any(l => l.Contains("line(s) not written", StringComparison.Ordinal)), "the streak's report");
        // Written once the disk has room, alone: none of the failed lines comes back later.
        Assert.Equal([Entry(5000).ToEnvoy()], output.Lines);
        var error = Assert.Single(logged, l => l.StartsWith("Error", StringComparison.Ordinal));
        Assert.Contains("IOException: No space left on device", error);
        var report = Assert.Single(logged, l => l.Contains("line(s) not written", StringComparison.Ordinal));
        Assert.Contains("2000 line(s) not written", report);
        Assert.Contains("2000 in writes that failed, 0 while the output was not keeping up", report);
        Assert.Equal(2, logged.Count);
    }

    /// <summary>A write that fails once while another connection adds its line.</summary>
    private sealed class FailsOnce(Action during) : Captured
    {
        private int _calls;
        public override void Write(char[] buffer, int index, int count)
        {
            if (Interlocked.Increment(ref _calls) == 1)
            {
                during();
                throw new IOException("transient");
            }
            base.Write(buffer, index, count);
        }
    }

    [Fact]
    public async Task A_batch_whose_write_failed_is_dropped_never_written_after_later_lines()
    {
        AccessLogSink? sink = null;
        var output = new FailsOnce(() => sink!.Add(Entry(2)));
        using var system = ActorSystem.Create("access-log-fails-once", "akka.loglevel = OFF\nakka.stdout-loglevel = OFF");
        sink = new AccessLogSink(new AccessLogOutput(output, AccessLogFormat.Envoy)).Start(system);
        sink.Add(Entry(1));
        await Until(() => output.Text.Contains(Entry(2).ToEnvoy(), StringComparison.Ordinal), "the line added during the failed write");
        sink.Add(Entry(3));
        await Until(() => output.Text.Contains(Entry(3).ToEnvoy(), StringComparison.Ordinal), "a later line");
        // Before: 2, 1, 3 (the failed batch swapped back in behind the line added meanwhile).
        Assert.Equal([Entry(2).ToEnvoy(), Entry(3).ToEnvoy()], output.Lines);
    }

    /// <summary>An output whose first write blocks until released: a full stdout pipe, a stalled disk.</summary>
    private sealed class Stalled : Captured
    {
        private int _calls;
        public readonly ManualResetEventSlim Entered = new(), Released = new();
        public override void Write(char[] buffer, int index, int count)
        {
            if (Interlocked.Increment(ref _calls) == 1)
            {
                Entered.Set();
                Released.Wait(TimeSpan.FromSeconds(60));
            }
            base.Write(buffer, index, count);
        }
    }

    [Fact]
    public async Task While_the_output_stalls_lines_past_the_cap_are_dropped_and_counted_and_the_rest_written_in_order()
    {
        var output = new Stalled();
        using var system = ActorSystem.Create("access-log-stalled", "akka.loglevel = WARNING\nakka.stdout-loglevel = OFF");
        var logged = Logged(system);
        var sink = new AccessLogSink(new AccessLogOutput(output, AccessLogFormat.Envoy)).Start(system);
        const int total = 60_000;
        sink.Add(Entry(0));
        try { await Stall(); }
        finally { output.Released.Set(); }
        await Until(() => sink.Held == 0, "the pending lines written");
        sink.Add(Entry(total + 1));
        await Until(() => logged.Any(l => l.Contains("line(s) not written", StringComparison.Ordinal)), "the streak's report");

        async Task Stall()
        {
            await Until(() => output.Entered.IsSet, "the first write");
            // About 100 chars a line: 60,000 lines are well past the cap while the writer is stuck in its first write.
            for (var n = 1; n <= total; n++) sink.Add(Entry(n));
            Assert.InRange(sink.Held, AccessLogSink.MaxPending - 200, AccessLogSink.MaxPending + 200);
        }

        // What was kept is written once, in order: the first lines up to the cap, then the line added after the stall.
        var lines = output.Lines;
        var kept = lines.Length - 2;
        Assert.True(kept > 30_000 && kept < total, $"{kept} lines kept of {total}");
        Assert.Equal(Enumerable.Range(0, kept + 1).Append(total + 1).Select(n => Entry(n).ToEnvoy()), lines);
        Assert.Contains($"{total - kept} line(s) not written", Assert.Single(logged, l => l.Contains("line(s) not written", StringComparison.Ordinal)));
        Assert.Contains(logged, l => l.Contains("not keeping up (over 8 MiB pending)", StringComparison.Ordinal));
        Assert.Equal(2, logged.Count);
    }
}
