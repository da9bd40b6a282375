// rel18: the config writer and the route cache shared one thread (akkal4.control-plane-dispatcher), so on the writer's node a
// write's answer, its journal callback or the writer's stop at a hand-over waited behind a compile of the route cache
// (seconds for a big configuration). The writer has a thread of its own now (ControlPlaneWork.WriterDispatcher).
using Akka.Actor;
using AkkaL4.Actors;
using AkkaL4.Actors.ControlPlane;
using AkkaL4.Messages.Commands;
using AkkaL4.Tests.Support;
using static AkkaL4.Tests.ControlPlane.ControlPlaneKit;

namespace AkkaL4.Tests.ControlPlane;

/// <summary>Addresses: remoting on 127.211.0.1, the Services on 127.211.1.x (AddressBlocks.Of(211)).</summary>
[Trait("Category", "EndToEnd")]
public class WriterBesideCompileTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    private static readonly AddressBlock Block = AddressBlocks.Of(211);

    [Fact]
    public async Task The_writer_acknowledges_a_write_while_the_route_cache_is_still_compiling_the_one_before()
    {
        // The route cache's first replicated revision is held, as a long compile holds its thread, until the test lets it go.
        using var compiling = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var hold = 1;
        await using var node = RouterNode.Start(new RouterNodeOptions
        {
            Name = $"beside-{Guid.NewGuid():N}",
            Overrides = $"akka.loglevel = ERROR\nakka.stdout-loglevel = ERROR\nakka.remote.dot-netty.tcp.hostname = {Block.Host(0, 1)}",
            ApplyingReplicated = _ =>
            {
                if (Interlocked.Exchange(ref hold, 0) == 0) return;
                compiling.Set();
                release.Wait();
            },
        });
        try
        {
            var first = Assert.IsType<ConfigAccepted>(await node.AskWriterAsync(new ApplyConfig(Decode(Service("first", "rel18", Block.Host(1, 1)))), Wait));
            await EventuallyAsync(() => Task.FromResult(compiling.IsSet), () => $"the route cache takes revision {first.Revision}", Wait);

            // One ask, no retry: the writer answers it while the route cache is held, or not at all.
            var second = await node.Writer.Ask<object>(new ApplyConfig(Decode(Service("second", "rel18", Block.Host(1, 2)))), Wait);
            Assert.IsType<ConfigAccepted>(second);
            Assert.Null(node.Applied);

            release.Set();
            Assert.True(await node.WaitForRevisionAsync(((ConfigAccepted)second).Revision, Wait), "the second revision in force once the compile ends");
        }
        finally
        {
            release.Set();
        }
    }
}
