using System.Collections.Immutable;
using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.IO;
using Akka.Streams;
using Akka.Streams.Dsl;
using Reactive.Streams;
using AkkaL4.Messages.Model;

namespace AkkaL4.Actors.DataPlane.Transport;

/// <summary>
/// The stock transport: Akka.Streams <c>Tcp()</c> (Akka.IO), half-close on both sides, SO_REUSEPORT on
/// listeners. Each socket's stream is started at once and joined later through a publisher/subscriber
/// pair, because Akka.IO wants an accepted connection registered straight away and a connect attempt
/// is only known to have succeeded once its stream runs.
/// </summary>
public sealed class AkkaTcpTransport(ActorSystem system) : ITcpTransport
{
    private readonly IMaterializer _materializer = system.Materializer();

    public Source<TcpConnection, Task<IListenerBinding>> Bind(IPEndPoint address, int backlog) =>
        system.TcpStream()
            .Bind(address.Address.ToString(), address.Port, backlog, ImmutableList.Create<Inet.SocketOption>(new ReusePort()), halfClose: true)
            .Select(c =>
            {
                var (fromClient, toClient) = c.Flow
                    .JoinMaterialized(Flow.FromSinkAndSource(Sink.AsPublisher<ByteString>(false), Source.AsSubscriber<ByteString>(), Keep.Both), Keep.Right)
                    .Run(_materializer);
                return Joinable((IPEndPoint)c.LocalAddress, (IPEndPoint)c.RemoteAddress, toClient, fromClient);
            })
            .MapMaterializedValue(async task => (IListenerBinding)new Binding(await task));

    public async Task<TcpConnection> ConnectAsync(EndPoint remote, ConnectOptions options, CancellationToken cancel)
    {
        var socketOptions = options.Keepalive is { } keepalive
            ? ImmutableList.Create<Inet.SocketOption>(new Keepalive(keepalive))
            : ImmutableList<Inet.SocketOption>.Empty;
        // Akka.IO's own connect timeout fails with "Connection failed", like a refusal: time out first, ourselves.
        var ((toUpstream, connected), fromUpstream) = Source.AsSubscriber<ByteString>()
            .ViaMaterialized(system.TcpStream().OutgoingConnection(remote, null, socketOptions, halfClose: true,
                connectionTimeout: options.ConnectTimeout + TimeSpan.FromSeconds(1)), Keep.Both)
            .ToMaterialized(Sink.AsPublisher<ByteString>(false), Keep.Both)
            .Run(_materializer);
        // An abandoned attempt still fails later: observe it, or the finalizer reports it.
        _ = connected.ContinueWith(t => t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        try
        {
            var established = await connected.WaitAsync(options.ConnectTimeout, cancel);
            return Joinable((IPEndPoint)established.LocalAddress, (IPEndPoint)established.RemoteAddress, toUpstream, fromUpstream);
        }
        catch (Exception e)
        {
            // Ends the stream, and with it Akka.IO's attempt.
            End(toUpstream, fromUpstream);
            if (e is TimeoutException) throw new TimeoutException($"connect to {remote} timed out after {options.ConnectTimeout}");
            throw;
        }
    }

    private TcpConnection Joinable(IPEndPoint local, IPEndPoint remote, ISubscriber<ByteString> toSocket, IPublisher<ByteString> fromSocket) =>
        new(local, remote, () => Flow.FromSinkAndSource(Sink.FromSubscriber(toSocket), Source.FromPublisher(fromSocket)), () => End(toSocket, fromSocket));

    /// <summary>Nothing more to send, nothing more to read: the socket's stream ends and the socket closes.</summary>
    private void End(ISubscriber<ByteString> toSocket, IPublisher<ByteString> fromSocket)
    {
        Source.Empty<ByteString>().RunWith(Sink.FromSubscriber(toSocket), _materializer);
        Source.FromPublisher(fromSocket).RunWith(Sink.Cancelled<ByteString>(), _materializer);
    }

    private sealed class Binding(Akka.Streams.Dsl.Tcp.ServerBinding binding) : IListenerBinding
    {
        public IPEndPoint LocalAddress => (IPEndPoint)binding.LocalAddress;
        public Task Unbind() => binding.Unbind();
    }
}

/// <summary>SO_REUSEPORT, so several node processes on one host can share a listener.</summary>
public sealed class ReusePort : Inet.SocketOption
{
    private const int SolSocket = 1;
    private const int SoReusePort = 15;

    public override void BeforeServerSocketBind(Socket ss) => Enable(ss);

    public static void Enable(Socket listener)
    {
        listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        if (OperatingSystem.IsLinux()) listener.SetRawSocketOption(SolSocket, SoReusePort, BitConverter.GetBytes(1));
    }
}

/// <summary>DestinationRule <c>connectionPool.tcp.tcpKeepalive</c> on the upstream socket.</summary>
public sealed class Keepalive(TcpKeepalive settings) : Inet.SocketOption
{
    public override void BeforeConnect(Socket s) => Apply(s, settings);

    public static void Apply(Socket s, TcpKeepalive settings)
    {
        s.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true);
        if (settings.Time is { } time) s.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveTime, Math.Max(1, (int)time.ToTimeSpan().TotalSeconds));
        if (settings.Interval is { } interval) s.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveInterval, Math.Max(1, (int)interval.ToTimeSpan().TotalSeconds));
        if (settings.Probes is { } probes) s.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveRetryCount, probes);
    }
}
