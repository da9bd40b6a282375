using AkkaL4.Tests.Support;
using static AkkaL4.Tests.DataPlane.Kit;
using static AkkaL4.Tests.Support.Manifests;

namespace AkkaL4.Tests.DataPlane;

/// <summary>
/// A connection whose actor cannot be started (the failure injected: its mailbox type cannot be loaded, so every
/// <c>ActorOf</c> throws) took a descriptor place and an admission first. Both must come back, and the client must be
/// closed, on that path too: a place lost per failure would leave the node, after a few, with no room for anything.
/// 127.200.71.x.
/// </summary>
[Trait("Category", TestCategories.EndToEnd)]
public sealed class ListenerStartFailureTests
{
    private static readonly AddressBlock Block = AddressBlocks.Of(200);

    [Fact]
    public async Task A_connection_whose_actor_cannot_start_is_closed_and_gives_back_its_place()
    {
        const int room = 6;
        await using var upstream = new ByteEchoServer(Block.At(71, 100, 9000));
        await using var router = TestRouter.Start("connection-start-fails", descriptors: FixedRoom(room),
            settings: "akkal4.connection-mailbox.mailbox-type = \"AkkaL4.Tests.NoSuchMailbox, AkkaL4.Tests\"");
        await router.ApplyAsync(Resources(
            Service("start-fails", Block.Host(71, 1), 9443, 9000, "start-fails-up"),
            WorkloadEntry("start-fails-up", Block.Host(71, 100), "{app: start-fails-up}")), 1);
        var budget = router.Node.Connections;

        // Twice the room: each one that failed to start must have given its place back for the next to be accepted at all.
        for (var i = 0; i < 2 * room; i++)
        {
            await using var client = await TestClient.ConnectAsync(Block.Host(71, 200), Block.At(71, 1, 9443));
            var end = await client.ReadToCloseAsync();
            Assert.True(end.NoData, $"connection {i}: nothing relayed, only closed");
        }
        // Nothing admitted is left, and the places held are the accept stream's and the one taken for its next connection.
        await EventuallyAsync(() => Task.FromResult(budget.Open == 0 && budget.Places <= 2),
            () => $"every failed connection's place given back (open {budget.Open}, places {budget.Places})");
        router.Node.Apply([], 2);
        await EventuallyAsync(() => Task.FromResult(budget.Places == 0 && budget.Streams == 0), () => $"every place given back once unbound (places {budget.Places})");
    }
}
