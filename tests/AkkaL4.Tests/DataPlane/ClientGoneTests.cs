using AkkaL4.Actors.DataPlane;
using AkkaL4.Tests.Support;
using static AkkaL4.Tests.DataPlane.Kit;

namespace AkkaL4.Tests.DataPlane;

/// <summary>
/// A client that resets its connection while the node dials for it gets nothing more dialled (DC): under overload a
/// connection can wait past its client's patience, and each further attempt (up to max-connect-attempts) would be work
/// for nobody. A client that only half-closed is not gone (see UpstreamFailureTests: three attempts). Addresses: block 212.
/// </summary>
[Trait("Category", "EndToEnd")]
public sealed class ClientGoneTests
{
    private static readonly AddressBlock Block = AddressBlocks.Of(212);

    // The stock transport's connections hold no socket the node could ask (ITcpTransport.PeerReset answers false there).
    [OwnTransportFact("it cannot see a client's reset before the relay starts")]
    public async Task A_client_that_reset_while_its_upstream_was_dialled_gets_no_further_attempt()
    {
        using var upstream = await Unanswering.StartAsync(Block.At(1, 11, 9000));
        await using var router = TestRouter.Start("client-gone");
        await router.ApplyAsync(1,
            Service("gone", Block.Host(1, 1), 19000, 9000, "gone"),
            WorkloadEntry("gone-1", Block.Host(1, 11), "{app: gone}"),
            TrafficPolicy("gone", "{connectionPool: {tcp: {connectTimeout: 1s}}}"));

        var client = await TestClient.ConnectAsync(Block.Host(1, 30), Block.At(1, 1, 19000));
        await client.SendLineAsync("anyone there?");
        var id = client.Id;
        // Gone while the first attempt waits for the unanswering upstream (or before the node took the connection).
        client.Reset();

        var entry = await router.Log.ForAsync(id);
        Assert.True(entry.Flags.HasFlag(ResponseFlags.DownstreamConnectionTermination), $"flags {ResponseFlagNames.Format(entry.Flags)}: {entry.Detail}");
        Assert.False(entry.Flags.HasFlag(ResponseFlags.UpstreamRetryLimitExceeded), entry.Detail);
        Assert.Contains("DC", ResponseFlagNames.Format(entry.Flags), StringComparison.Ordinal);
        // At most the attempt in flight when the client left (max-connect-attempts is 3).
        Assert.InRange(router.Metrics["envoy_cluster_upstream_cx_connect_fail"], 0, 1);
    }
}
