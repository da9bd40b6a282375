using System.Net;
using System.Net.Sockets;

namespace AkkaL4.Tests.Support;

/// <summary>
/// A listener whose accept queue is full and never drained: Linux drops SYNs to it, so a connect there stays in
/// SYN_SENT until its timeout.
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

    public void Dispose()
    {
        foreach (var socket in _queued) socket.Dispose();
        _listener.Dispose();
    }
}
