using System.Net.Sockets;
using AkkaL4.Actors.DataPlane.Transport;
using AkkaL4.Tests.Support;
using static AkkaL4.Tests.DataPlane.Kit;

namespace AkkaL4.Tests.DataPlane.Transport;

/// <summary>
/// A relay that fails resets the other side too, over real loopback sockets on 127.228.2.x, in the case where the runtime's
/// close would not do it for us: the socket has shut down sending already (a half-close passed on), so closing it without
/// SO_LINGER 0 would end nothing more than the FIN already sent. The relay resets with <c>Close(0)</c> (bench/README.md,
/// session 20); set it a plain close and the backend here stays half-open.
/// </summary>
[Trait("Category", "EndToEnd")]
[Trait(TestCategories.TransportTrait, TestCategories.TransportNamed)]
public sealed class RelayResetTests
{
    private static readonly AddressBlock Block = AddressBlocks.Of(228);

    // The socket relay only: a relay of two SocketStages (TLS origination's) ends the upstream with its FIN here, on this
    // code as before it (a failure's cancel of the upstream's reading counts as reading done; bench/README.md, session 20).
    [Fact]
    public async Task A_client_reset_after_its_half_close_resets_the_backend()
    {
        await using var r = await RelayKit.RelayAsync(TcpTransports.Sockets, Block.At(2, 11, 62811), Block.At(2, 21, 62821), Block.Host(2, 31));
        await r.Client.SendAsync("ping");
        Assert.Equal("ping", await r.Backend.ReadAsync(4));
        await r.Backend.SendAsync("pong");
        Assert.Equal("pong", await r.Client.ReadAsync(4));

        // The client's FIN is passed on: the relay's socket to the backend has shut down sending.
        r.Client.ShutdownSend();
        var (data, reset) = await r.Backend.ReadToEndAsync();
        Assert.Empty(data);
        Assert.False(reset, "the client's FIN reached the backend as a reset");
        // Then the client resets; the relay finds out when it next writes to it, and fails.
        r.Client.Socket.LingerState = new LingerOption(true, 0);
        r.Client.Dispose();
        await r.Backend.SendAsync("after");
        var ended = await WithinAsync(r.Ended, "RelayEnded");
        Assert.NotNull(ended.Second.Failure);

        // A reset, not the FIN it already had: the backend's socket is closed (TCP_CLOSE), not left half-open (CLOSE_WAIT).
        await EventuallyAsync(() => TcpState(r.Backend.Socket) == TcpClose, "the backend's connection reset");
    }

    private const byte TcpClose = 7;

    /// <summary>The socket's TCP state (Linux' tcp_states.h), from TCP_INFO's first byte; 0 once closed.</summary>
    private static byte TcpState(Socket socket)
    {
        Span<byte> info = stackalloc byte[8];
        try
        {
            return socket.GetRawSocketOption(6, 11, info) >= 1 ? info[0] : (byte)0;
        }
        catch (ObjectDisposedException)
        {
            return 0;
        }
    }
}
