using System.Net;
using System.Net.Sockets;
using System.Text;

namespace AkkaL4.Node.Echo;

/// <summary>
/// An upstream with istio/tcp-echo-server behaviour: for every line received, it answers
/// <c>&lt;prefix&gt; &lt;line&gt;</c>. Closes its side when the client has closed its own.
/// </summary>
public sealed class EchoServer : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly string _prefix;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _acceptLoop;
    private int _connections;

    public IPEndPoint Address => (IPEndPoint)_listener.LocalEndpoint;
    public string Prefix => _prefix;
    /// <summary>Connections accepted so far.</summary>
    public int Connections => Volatile.Read(ref _connections);

    public EchoServer(IPEndPoint address, string prefix)
    {
        _prefix = prefix;
        _listener = new TcpListener(address);
        _listener.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        // The kernel's most (net.core.somaxconn): a queue of 512 overflowed when a thousand connections were dialled
        // at once on a loaded machine and its accept loop fell behind; a dropped SYN costs its sender a retransmit (1 s, 3 s, 7 s)
        // and can pass the router's connect timeout (a UF in its access log).
        _listener.Start();
        _acceptLoop = AcceptLoop();
    }

    private async Task AcceptLoop()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try { client = await _listener.AcceptSocketAsync(_stop.Token); }
            catch (OperationCanceledException) { return; }
            catch (SocketException) { continue; }
            catch (ObjectDisposedException) { return; }
            Interlocked.Increment(ref _connections);
            _ = Serve(client);
        }
    }

    private async Task Serve(Socket socket)
    {
        try
        {
            await using var stream = new NetworkStream(socket, ownsSocket: true);
            using var reader = new StreamReader(stream, Encoding.UTF8, false, 4096, leaveOpen: true);
            await using var writer = new StreamWriter(stream, new UTF8Encoding(false), 4096, leaveOpen: true) { AutoFlush = true, NewLine = "\n" };
            while (await reader.ReadLineAsync(_stop.Token) is { } line)
                await writer.WriteLineAsync($"{_prefix} {line}");
            socket.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The client went away; nothing to answer.
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _acceptLoop;
    }
}
