using System.Buffers;
using System.Net;
using System.Net.Sockets;

namespace AkkaL4.LoadGen;

/// <summary>
/// <c>echo --listen IP:PORT [--buffer BYTES]</c>: writes back every byte it reads, on every connection, until
/// the client closes (then closes its side). One pooled buffer per connection; no per-read allocation.
/// The identical backend behind every proxy in compare.sh.
/// </summary>
internal static class EchoBackend
{
    public static async Task<int> RunAsync(Options options, CancellationToken stop)
    {
        var listen = options.EndPoint("listen");
        var bufferSize = options.Int("buffer", 16 * 1024);
        var backlog = options.Int("backlog", 4096);
        options.EnsureAllRead();

        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        listener.Bind(listen);
        listener.Listen(backlog);
        Console.Out.WriteLine($"# echo listening on {listener.LocalEndPoint} (buffer {bufferSize} B, backlog {backlog})");
        Console.Out.Flush();

        long accepted = 0;
        while (!stop.IsCancellationRequested)
        {
            Socket client;
            try { client = await listener.AcceptAsync(stop); }
            catch (OperationCanceledException) { break; }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionAborted or SocketError.ConnectionReset or SocketError.TooManyOpenSockets)
            {
                if (e.SocketErrorCode == SocketError.TooManyOpenSockets) await Task.Delay(10, CancellationToken.None);
                continue;
            }
            accepted++;
            _ = ServeAsync(client, bufferSize, stop);
        }
        Console.Out.WriteLine($"# echo stopped after {accepted} connections");
        return 0;
    }

    private static async Task ServeAsync(Socket socket, int bufferSize, CancellationToken stop)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(bufferSize);
        try
        {
            socket.NoDelay = true;
            while (true)
            {
                var n = await socket.ReceiveAsync(buffer, SocketFlags.None, stop);
                if (n == 0) break;
                var sent = 0;
                while (sent < n) sent += await socket.SendAsync(buffer.AsMemory(sent, n - sent), SocketFlags.None, stop);
            }
            socket.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // Reset by the client (the load generator closes with RST) or stopping: nothing to answer.
        }
        finally
        {
            socket.Dispose();
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
