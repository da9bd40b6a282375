// rel19 put every node's config client, with its requests and reads, on the write path's one thread (off the pool, where
// heartbeats wait); on the writer's node the writer's answers, journal callbacks and hand-over stop then waited behind the
// client's measure and encode of the next write (4 MiB: 0.2-1.0 s under load; review1-s19 R7). The client has a thread of
// its own now (ControlPlaneWork.ClientDispatcher).
using System.Collections;
using Akka.Actor;
using AkkaL4.Actors;
using AkkaL4.Actors.ControlPlane;
using AkkaL4.Messages.Commands;
using AkkaL4.Messages.Model;
using AkkaL4.Tests.Support;
using static AkkaL4.Tests.ControlPlane.ControlPlaneKit;

namespace AkkaL4.Tests.ControlPlane;

/// <summary>Addresses: remoting on 127.215.0.1, the Services on 127.215.1.x (AddressBlocks.Of(215)); one node, its own writer.</summary>
[Trait("Category", "EndToEnd")]
public class ConfigClientBesideWriterTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    private static readonly AddressBlock Block = AddressBlocks.Of(215);

    /// <summary>
    /// A write's resources whose every walk (the client's measure of the write as JSON, the request's encode) holds the
    /// walking thread until <paramref name="release"/> is set, as a big write's measure and encode hold it.
    /// </summary>
    private sealed class HeldResources(IReadOnlyList<Resource> resources, ManualResetEventSlim walking, ManualResetEventSlim release) : IReadOnlyList<Resource>
    {
        public int Count => resources.Count;
        public Resource this[int index] => resources[index];

        public IEnumerator<Resource> GetEnumerator()
        {
            walking.Set();
            release.Wait();
            return resources.GetEnumerator();
        }

        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
    }

    /// <summary>The first answer past the writer's <see cref="WriteJournaled"/> note.</summary>
    private static async Task<object> AnswerAsync(Inbox inbox, string what)
    {
        try
        {
            object answer;
            do answer = await inbox.ReceiveAsync(Wait); while (answer is WriteJournaled);
            return answer;
        }
        catch (TimeoutException)
        {
            throw new Xunit.Sdk.XunitException($"no answer within {Wait.TotalSeconds:0}s: {what}");
        }
    }

    [Fact]
    public async Task The_writer_answers_a_write_while_its_nodes_config_client_is_busy_with_a_big_one()
    {
        using var walking = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        await using var node = RouterNode.Start(new RouterNodeOptions
        {
            Name = $"client-beside-{Guid.NewGuid():N}",
            Overrides = $"akka.loglevel = ERROR\nakka.stdout-loglevel = ERROR\nakka.remote.dot-netty.tcp.hostname = {Block.Host(0, 1)}",
        });
        try
        {
            // Through the client, once the writer serves.
            Assert.IsType<ConfigAccepted>(await node.AskWriterAsync(new ApplyConfig(Decode(Service("first", "rel20", Block.Host(1, 1)))), Wait));

            // The client takes a write and walks it: its thread is held from here on.
            var big = Inbox.Create(node.ClusterSystem);
            big.Send(node.Writer, new ApplyConfig(new HeldResources(Decode(Service("big", "rel20", Block.Host(1, 2))), walking, release)));
            await EventuallyAsync(() => Task.FromResult(walking.IsSet), () => "the config client walks the big write's resources", Wait);

            // One write straight to the writer (its singleton proxy), no retry: it answers while the client is held, or not at all.
            var direct = Inbox.Create(node.ClusterSystem);
            var writer = await node.ClusterSystem.ActorSelection("/user/config-writer-proxy").ResolveOne(Wait);
            direct.Send(writer, new WriteConfig(Decode(Service("direct", "rel20", Block.Host(1, 3))), DateTimeOffset.UtcNow + Wait));
            Assert.IsType<ConfigAccepted>(await AnswerAsync(direct, "the writer's answer to a write sent while the config client is busy"));

            release.Set();
            Assert.IsType<ConfigAccepted>(await AnswerAsync(big, "the big write's answer once the client is let go"));
        }
        finally
        {
            release.Set();
        }
    }
}
