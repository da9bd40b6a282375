using System.Net;
using AkkaL4.Actors.DataPlane.Transport;
using AkkaL4.Tests.Support;
using static AkkaL4.Tests.DataPlane.Kit;

namespace AkkaL4.Tests.DataPlane.Transport;

/// <summary>
/// What the socket relay asks its sockets, over real loopback sockets on 127.227.1.x: after a message (a read of a few bytes)
/// it waits for the next instead of reading an empty socket, a system call for nothing that made up a good part of a short
/// connection's cost (bench/README.md, session 19). Bytes and ends are RelayTests' and RelayStopFlushTests'.
/// </summary>
[Trait("Category", "EndToEnd")]
[Trait(TestCategories.TransportTrait, TestCategories.TransportNamed)]
public sealed class RelayReadsTests
{
    private static readonly AddressBlock Block = AddressBlocks.Of(227);

    [Fact]
    public async Task Request_and_answer_exchanges_read_no_empty_socket()
    {
        await using var r = await RelayKit.RelayAsync(TcpTransports.Sockets, Block.At(1, 1, 9000), Block.At(1, 2, 9000), Block.Host(1, 3));

        for (var i = 0; i < 10; i++)
        {
            var request = $"request {i:D2} ".PadRight(64, '.');
            await r.Client.SendAsync(request);
            Assert.Equal(request, await r.Backend.ReadAsync(64));
            var answer = $"answer {i:D2} ".PadRight(64, '.');
            await r.Backend.SendAsync(answer);
            Assert.Equal(answer, await r.Client.ReadAsync(64));
        }
        r.Client.ShutdownSend();
        Assert.Empty((await r.Backend.ReadToEndAsync()).Data);
        r.Backend.ShutdownSend();
        Assert.Empty((await r.Client.ReadToEndAsync()).Data);
        var ended = await WithinAsync(r.Ended, "RelayEnded");

        Assert.Null(ended.First.Failure);
        Assert.Null(ended.Second.Failure);
        Assert.Equal(640, r.Parts.Control.BytesFromClient);
        Assert.Equal(640, r.Parts.Control.BytesToClient);
        // Reading again after each message found the socket empty: two such reads per exchange and one for the fresh
        // upstream (31 here). Only the relay's very first read may find nothing, when it starts before the client's bytes come.
        Assert.InRange(r.Parts.Control.EmptyReads, 0, 1);
    }
}
