using System.Collections.Concurrent;
using System.Net.Sockets;

namespace AkkaL4.Actors.DataPlane.Transport;

/// <summary>
/// One <see cref="SocketException"/> per error code for the whole process, for the socket transport's failures reported as
/// codes (a reset peer, a refused or unreachable upstream). A reset or refused connection is routine for a proxy: a new
/// exception each time cost its object and its message (the C library's text, fetched through an interop call) per
/// connection, and the connection's termination detail built from that message (bench/README.md, session 9). They are
/// never thrown, only handed on (a thrown one would have its stack trace written by every thread that throws it).
/// </summary>
internal static class SocketErrors
{
    private static readonly ConcurrentDictionary<SocketError, Shared> ByCode = new();

    public static SocketException Of(SocketError error) => ByCode.GetOrAdd(error, static code => new Shared(code));

    /// <summary>A failure shared by every connection it happens to: the same code, message and detail each time.</summary>
    internal sealed class Shared(SocketError error) : SocketException((int)error);
}
