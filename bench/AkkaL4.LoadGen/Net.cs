using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace AkkaL4.LoadGen;

/// <summary>Client sockets and the 64-byte exchange every mode uses.</summary>
internal static class Net
{
    public const int MessageSize = 64;

    // Linux: bind(ip, 0) reserves no port until connect(), which then picks one unique per
    // (source, destination) 4-tuple instead of per source address (IP_BIND_ADDRESS_NO_PORT, <linux/in.h>).
    private const int SolIp = 0;
    private const int IpBindAddressNoPort = 24;

    /// <summary>
    /// A TCP client socket with Nagle off, bound to <paramref name="source"/> (port chosen at connect) when one
    /// is given. SO_REUSEADDR lets the kernel reuse source ports of connections still in TIME_WAIT.
    /// </summary>
    public static Socket Client(IPAddress? source)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        if (source is null) return socket;
        try
        {
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            if (OperatingSystem.IsLinux()) socket.SetRawSocketOption(SolIp, IpBindAddressNoPort, BitConverter.GetBytes(1));
            socket.Bind(new IPEndPoint(source, 0));
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Closes with SO_LINGER 0: an RST, so neither side keeps the connection in TIME_WAIT.</summary>
    public static void Abort(Socket socket)
    {
        try { socket.LingerState = new LingerOption(true, 0); }
        catch (Exception e) when (e is SocketException or ObjectDisposedException) { }
        socket.Dispose();
    }

    /// <summary>Closes in order: FIN, wait for the peer's FIN (the proxy relays the backend's), then close.</summary>
    public static async ValueTask CloseGracefullyAsync(Socket socket, Memory<byte> scratch, CancellationToken cancel)
    {
        try
        {
            socket.Shutdown(SocketShutdown.Send);
            while (await socket.ReceiveAsync(scratch, SocketFlags.None, cancel) > 0) { }
        }
        finally
        {
            socket.Dispose();
        }
    }

    /// <summary>Sends <paramref name="request"/> and reads exactly as many bytes back; they must be the same bytes.</summary>
    public static async ValueTask ExchangeAsync(Socket socket, ReadOnlyMemory<byte> request, Memory<byte> response, CancellationToken cancel)
    {
        await SendAsync(socket, request, cancel);
        await ReceiveEchoAsync(socket, request, response, cancel);
    }

    public static async ValueTask SendAsync(Socket socket, ReadOnlyMemory<byte> request, CancellationToken cancel)
    {
        var sent = 0;
        while (sent < request.Length) sent += await socket.SendAsync(request[sent..], SocketFlags.None, cancel);
    }

    /// <summary>Reads exactly <paramref name="request"/>'s length back; it must be the same bytes.</summary>
    public static async ValueTask ReceiveEchoAsync(Socket socket, ReadOnlyMemory<byte> request, Memory<byte> response, CancellationToken cancel)
    {
        var read = 0;
        while (read < request.Length)
        {
            var n = await socket.ReceiveAsync(response[read..request.Length], SocketFlags.None, cancel);
            if (n == 0) throw new EchoException($"connection closed after {read} of {request.Length} echoed bytes");
            read += n;
        }
        if (!response.Span[..request.Length].SequenceEqual(request.Span)) throw new EchoException("echo differs from what was sent");
    }

    /// <summary>A 64-byte line (ends in '\n', so line-echo backends answer it too) that differs per <paramref name="seed"/>.</summary>
    public static byte[] Message(int seed)
    {
        var message = new byte[MessageSize];
        for (var i = 0; i < message.Length - 1; i++) message[i] = (byte)('a' + (seed + i) % 26);
        message[^1] = (byte)'\n';
        return message;
    }
}

internal sealed class EchoException(string message) : Exception(message);

/// <summary>Counts failures by kind, to print the first few kinds.</summary>
internal sealed class Failures
{
    private readonly ConcurrentDictionary<string, int> _byKind = new();
    private int _total;

    public int Total => Volatile.Read(ref _total);

    public void Add(Exception e)
    {
        Interlocked.Increment(ref _total);
        var kind = e switch
        {
            SocketException s => $"{s.SocketErrorCode}: {s.Message}",
            OperationCanceledException => "timed out",
            _ => $"{e.GetType().Name}: {e.Message}",
        };
        if (_byKind.Count < 20 || _byKind.ContainsKey(kind)) _byKind.AddOrUpdate(kind, 1, (_, n) => n + 1);
    }

    public void Print(TextWriter writer)
    {
        foreach (var (kind, count) in _byKind.OrderByDescending(p => p.Value))
            writer.WriteLine($"#   failure x{count}: {kind}");
    }
}
