// rel17: a big write's CPU (the writer's check, the route cache's decode and compile) ran on the .NET thread pool, where
// Akka's heartbeats, remoting and distributed data waited behind it for a thread; it runs on a thread of its own now
// (ControlPlaneWork). Timings are bench/'s (`lag`); this checks where the work runs, by the thread each step logs from.
using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Event;
using AkkaL4.Actors;
using AkkaL4.Actors.ControlPlane;
using AkkaL4.Messages.Commands;
using static AkkaL4.Tests.ControlPlane.ControlPlaneKit;

namespace AkkaL4.Tests.ControlPlane;

/// <summary>Addresses: remoting on 127.210.0.1 (AddressBlocks.Of(210)); the Service's address 127.210.1.1 is data only.</summary>
[Trait("Category", "EndToEnd")]
public class ControlPlaneDispatcherTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    /// <summary>Every log line of a system with the thread it was logged on (Akka notes it in each event).</summary>
    private sealed class LogThreads : ReceiveActor
    {
        public LogThreads(ConcurrentQueue<(string Message, Thread Thread)> lines) =>
            Receive<LogEvent>(e => lines.Enqueue((e.Message?.ToString() ?? "", e.Thread)));
    }

    [Fact]
    public async Task A_write_is_checked_by_the_writer_and_put_in_force_by_the_route_cache_each_on_a_control_plane_thread_of_its_own()
    {
        var lines = new ConcurrentQueue<(string Message, Thread Thread)>();
        await using var node = RouterNode.Start(new RouterNodeOptions
        {
            Name = $"dispatcher-{Guid.NewGuid():N}",
            // Info for the line each step logs; stdout quiet.
            Overrides = "akka.loglevel = INFO\nakka.stdout-loglevel = OFF\nakka.loggers = []\nakka.remote.dot-netty.tcp.hostname = 127.210.0.1",
        });
        foreach (var system in new[] { node.System, node.ClusterSystem })
            system.EventStream.Subscribe(system.ActorOf(Props.Create(() => new LogThreads(lines))), typeof(Info));

        var reply = await node.AskWriterAsync(new ApplyConfig(Decode(Service("dispatched", "rel17", "127.210.1.1"))), Wait);
        var revision = Assert.IsType<ConfigAccepted>(reply).Revision;
        Assert.True(await node.WaitForRevisionAsync(revision, Wait), $"revision {revision} in force");

        // The writer's line after it checked and journaled the write (ChangeSummary), and the node's once the route cache swapped it in.
        var checkedBy = await LoggedAsync(lines, $"config revision {revision}: ");
        var appliedBy = await LoggedAsync(lines, $"config revision {revision} in force");
        foreach (var (step, thread, dispatcher) in new[] { ("the writer", checkedBy, ControlPlaneWork.WriterDispatcher), ("the route cache", appliedBy, ControlPlaneWork.Dispatcher) })
        {
            Assert.False(thread.IsThreadPoolThread, $"{step} ran on a thread-pool thread ({thread.Name})");
            Assert.StartsWith(dispatcher, thread.Name ?? "", StringComparison.Ordinal);
        }
        // rel18: apart, so the writer never waits behind a compile (WriterBesideCompileTests).
        Assert.NotSame(checkedBy, appliedBy);
        // rel19, rel20: the node's door to the writer (it measures and encodes each write, reads its answer) on a thread of its own.
        Assert.Equal(ControlPlaneWork.ClientDispatcher, (await DispatcherOfAsync(node.ClusterSystem, "/user/config-client")).Id);
    }

    private static async Task<Thread> LoggedAsync(ConcurrentQueue<(string Message, Thread Thread)> lines, string start)
    {
        Thread? found = null;
        await EventuallyAsync(() => Task.FromResult((found = lines.FirstOrDefault(l => l.Message.StartsWith(start, StringComparison.Ordinal)).Thread) is not null),
            () => $"a log line starting '{start}' (seen: {string.Join(" | ", lines.Select(l => l.Message))})", Wait);
        return found!;
    }
}
