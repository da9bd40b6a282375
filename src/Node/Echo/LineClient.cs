using System.Net;
using System.Net.Sockets;
using System.Text;

namespace AkkaL4.Node.Echo;

/// <summary>What <c>echo LINE | nc -N -s SOURCE HOST PORT</c> does: connect from a source address, send one line, read the answer.</summary>
public static class LineClient
{
    public static async Task<string> SendAsync(IPAddress source, IPEndPoint destination, string line, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        using var socket = new Socket(destination.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.Bind(new IPEndPoint(source, 0));
            await socket.ConnectAsync(destination, cts.Token);
            await socket.SendAsync(Encoding.UTF8.GetBytes(line + "\n"), SocketFlags.None, cts.Token);
            socket.Shutdown(SocketShutdown.Send);
            var received = new MemoryStream();
            var buffer = new byte[4096];
            int n;
            while ((n = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token)) > 0) received.Write(buffer, 0, n);
            var text = Encoding.UTF8.GetString(received.ToArray()).TrimEnd('\n');
            return text.Length == 0 ? "(connection closed, no answer)" : text;
        }
        catch (OperationCanceledException) { return $"(no answer within {timeout.TotalSeconds:0}s)"; }
        catch (SocketException e) { return $"({e.SocketErrorCode}: {e.Message})"; }
    }
}
