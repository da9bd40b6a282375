using System.Net;
using System.Net.Sockets;

namespace AkkaL4.Tests.Support;

/// <summary>
/// A listener whose accept queue is full and never drained: Linux drops SYNs to it, so a connect there stays in
/// SYN_SENT until its timeout (or until it <see cref="Answer"/>s).
/// </summary>
internal sealed class Unanswering : IDisposable
{
    private readonly Socket _listener;
    private readonly List<Socket> _queued;

    private Unanswering(Socket listener, List<Socket> queued) => (_listener, _queued) = (listener, queued);

    public IPEndPoint At => (IPEndPoint)_listener.LocalEndPoint!;

    /// <summary>On <paramref name="ip"/>, a port the kernel picks.</summary>
    public static Task<Unanswering> StartAsync(string ip) => StartAsync(new IPEndPoint(IPAddress.Parse(ip), 0));

    public static async Task<Unanswering> StartAsync(IPEndPoint at)
    {
        var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(at);
        listener.Listen(1);
        var queued = new List<Socket>();
        // Connect until one is not answered: the queue is full then.
        for (var i = 0; i < 16; i++)
        {
            var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            using var wait = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));
            try
            {
                await client.ConnectAsync(listener.LocalEndPoint!, wait.Token);
                queued.Add(client);
            }
            catch (OperationCanceledException)
            {
                client.Dispose();
                return new Unanswering(listener, queued);
            }
        }
        foreach (var socket in queued) socket.Dispose();
        listener.Dispose();
        throw new InvalidOperationException($"the accept queue of {at} never filled");
    }

    /// <summary>
    /// From now on an echo: its queue is emptied and every connection accepted and echoed, so connects waiting in SYN_SENT
    /// complete at their next SYN retransmission (Linux: 1 s, 3 s, 7 s ... after the first).
    /// </summary>
    public void Answer()
    {
        foreach (var socket in _queued) socket.Dispose();
        _queued.Clear();
        _ = Task.Run(async () =>
        {
            while (true)
            {
                Socket accepted;
                try { accepted = await _listener.AcceptAsync(); }
                catch (Exception e) when (e is SocketException or ObjectDisposedException) { return; }
                _ = EchoAsync(accepted);
            }
        });
    }

    private static async Task EchoAsync(Socket socket)
    {
        using var _ = socket;
        var buffer = new byte[4096];
        try
        {
            int n;
            while ((n = await socket.ReceiveAsync(buffer, SocketFlags.None)) > 0) await socket.SendAsync(buffer.AsMemory(0, n), SocketFlags.None);
            socket.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // The peer went away (or the test ended): nothing to echo.
        }
    }

    public void Dispose()
    {
        foreach (var socket in _queued) socket.Dispose();
        _listener.Dispose();
    }
}
