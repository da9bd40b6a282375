using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Cluster;
using Akka.Configuration;
using Akka.Event;
using AkkaL4.Actors;
using AkkaL4.Actors.ControlPlane;
using AkkaL4.Messages.Commands;
using AkkaL4.Tests.Support;
using static AkkaL4.Tests.ControlPlane.ControlPlaneKit;

namespace AkkaL4.Tests.ControlPlane;

/// <summary>
/// What the config writer logs of a write that reaches it past its deadline: nothing to warn of when the write waited for
/// the writer to start (a fresh cluster's `run -f`: its client sent it again meanwhile, and the writer dropped the stale
/// copies with a warning each), a warning when it waited behind a writer already taking writes. Either way its client is
/// told it was not applied. A one-member cluster in process, remoting on 127.203.0.3.
/// </summary>
[Trait("Category", TestCategories.EndToEnd)]
public sealed class WriterDeadlineLogTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private sealed class Collector : ReceiveActor
    {
        public Collector(ConcurrentQueue<LogEvent> events) => Receive<LogEvent>(e => events.Enqueue(e));
    }

    private static IEnumerable<LogEvent> Dropped(ConcurrentQueue<LogEvent> events) =>
        events.Where(e => e.Message?.ToString()?.Contains("config writer: dropped a write", StringComparison.Ordinal) == true);

    [Fact]
    public async Task A_write_that_waited_for_the_writer_to_start_is_dropped_without_a_warning_and_one_behind_a_serving_writer_with_one()
    {
        var data = Path.Combine(Path.GetTempPath(), "akkal4-deadline-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(data);
        try
        {
            var connection = $"\"Data Source={Path.Combine(data, "journal.db")}\"";
            var config = ConfigurationFactory.ParseString($$"""
                    akka.loglevel = DEBUG
                    akka.stdout-loglevel = OFF
                    akka.remote.dot-netty.tcp.hostname = 127.203.0.3
                    akka.remote.dot-netty.tcp.port = 0
                    akka.persistence.journal.light { provider-name = "SQLite.MS", connection-string = {{connection}} }
                    akka.persistence.snapshot-store.light { provider-name = "SQLite.MS", connection-string = {{connection}} }
                    """)
                .WithFallback(ConfigurationFactory.ParseString(RouterNode.BuiltInHocon()));
            using var system = ActorSystem.Create("writer-deadline-log", config);
            var events = new ConcurrentQueue<LogEvent>();
            var collector = system.ActorOf(Props.Create(() => new Collector(events)));
            system.EventStream.Subscribe(collector, typeof(LogEvent));
            var cluster = Cluster.Get(system);
            cluster.Join(cluster.SelfAddress);
            await EventuallyAsync(() => Task.FromResult(cluster.SelfMember.Status == MemberStatus.Up), "the one member is up", Wait);

            var routeTables = system.ActorOf(Props.Empty);
            var writer = system.ActorOf(ConfigWriter.Props(() => null, routeTables, false));
            // Sent as the writer is created: it waits (stashed) while the writer recovers and reads the replicated copy, and
            // its deadline has passed by the time the writer takes writes.
            var early = Inbox.Create(system);
            early.Send(writer, new WriteConfig(Decode(Service("early", "deadline", "127.203.1.1")), DateTimeOffset.UtcNow - TimeSpan.FromSeconds(1)));
            Assert.IsType<ConfigUnavailable>(await early.ReceiveAsync(Wait));
            // The writer serves: a write with time left is taken.
            var ok = Inbox.Create(system);
            ok.Send(writer, new WriteConfig(Decode(Service("ok", "deadline", "127.203.1.2")), DateTimeOffset.UtcNow + Wait));
            object answer;
            do answer = await ok.ReceiveAsync(Wait); while (answer is WriteJournaled);
            Assert.IsType<ConfigAccepted>(answer);
            await EventuallyAsync(() => Task.FromResult(Dropped(events).Any()), "the early write's drop is logged", Wait);
            Assert.All(Dropped(events), e => Assert.Equal(LogLevel.DebugLevel, e.LogLevel()));

            // One that waited behind a writer already serving (here: sent late) is a warning. Its deadline is after the writer
            // began to serve (it had, to accept "ok") and before the write arrives: a deadline a fixed time back could fall
            // before that start when "ok" took less than that time, and the drop would rightly be a debug line.
            var servedAt = DateTimeOffset.UtcNow;
            await EventuallyAsync(() => Task.FromResult(DateTimeOffset.UtcNow > servedAt), "the clock moved past the late write's deadline", Wait);
            var late = Inbox.Create(system);
            late.Send(writer, new WriteConfig(Decode(Service("late", "deadline", "127.203.1.3")), servedAt));
            Assert.IsType<ConfigUnavailable>(await late.ReceiveAsync(Wait));
            await EventuallyAsync(() => Task.FromResult(Dropped(events).Any(e => e.LogLevel() == LogLevel.WarningLevel)), "the late write's drop is a warning", Wait);
            Assert.Single(Dropped(events), e => e.LogLevel() == LogLevel.WarningLevel);
            await system.Terminate();
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }
}
