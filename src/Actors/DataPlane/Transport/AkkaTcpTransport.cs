using System.Collections.Immutable;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using System.Runtime.InteropServices;
using Akka.Actor;
using Akka.IO;
using Akka.Streams;
using Akka.Streams.Dsl;
using Akka;
using Akka.Util;
using Reactive.Streams;
using AkkaL4.Messages.Model;

namespace AkkaL4.Actors.DataPlane.Transport;

/// <summary>
/// The stock transport: Akka.Streams <c>Tcp()</c> (Akka.IO), half-close on both sides (each socket's sending side ended
/// only after its last write: <see cref="EndAfterLastWrite"/>), listeners' options set by <see cref="OwnListeners"/>. Each socket's stream is started at once and joined later through a publisher/subscriber
/// pair, because Akka.IO wants an accepted connection registered straight away and a connect attempt
/// is only known to have succeeded once its stream runs. With <paramref name="places"/>, a connection accepted ahead of its
/// listener waits only in a place of the node's (<see cref="AkkaListener.Gate"/>).
/// </summary>
public sealed class AkkaTcpTransport(ActorSystem system, ConnectionBudget? places = null) : ITcpTransport
{
    private readonly IMaterializer _materializer = system.Materializer();
    private readonly OwnListeners _listening = new();

    /// <summary>Unbinding keeps the connections accepted: see <see cref="AkkaListener"/>.</summary>
    public Source<TcpConnection, Task<IListenerBinding>> Bind(IPEndPoint address, int backlog) => Bind(address, backlog, static () => { });

    public Source<TcpConnection, Task<IListenerBinding>> Bind(IPEndPoint address, int backlog, Action overflowed) => Bind(address, backlog, overflowed, false);

    /// <summary>Unbinding keeps the connections accepted: see <see cref="AkkaListener"/>; <paramref name="overflowed"/>: see <see cref="AkkaListener.Gate"/>.</summary>
    public Source<TcpConnection, Task<IListenerBinding>> Bind(IPEndPoint address, int backlog, Action overflowed, bool reusePort)
    {
        var listener = new AkkaListener(_listening, address, reusePort);
        var options = ImmutableList.Create<Inet.SocketOption>(listener);
        return (address.Address.Equals(IPAddress.Any) || address.Address.Equals(IPAddress.IPv6Any)
                ? BindUnspecified(address, backlog, options)
                : system.TcpStream().Bind(address.Address.ToString(), address.Port, backlog, options, halfClose: true))
            .Select(c =>
            {
                var (reset, (fromClient, toClient)) = Flow.FromGraph(EndAfterLastWrite.Instance)
                    .ViaMaterialized(BidiFlow.FromGraph(ResettableSocket.Instance).JoinMat(c.Flow, Keep.Left), Keep.Right)
                    .JoinMaterialized(Flow.FromSinkAndSource(Sink.AsPublisher<ByteString>(false), Source.AsSubscriber<ByteString>(), Keep.Both), Keep.Both)
                    .Run(_materializer);
                // Akka.IO has just accepted it: from here it may wait in the Gate's queue (pending-timeout counts that).
                return Joinable((IPEndPoint)c.LocalAddress, (IPEndPoint)c.RemoteAddress, toClient, fromClient, reset, System.Diagnostics.Stopwatch.GetTimestamp());
            })
            .ViaMaterialized(new AkkaListener.Gate(listener, address, backlog, overflowed, places), (bound, unbind) => (listener.Binding = bound, unbind))
            .MapMaterializedValue(async bound =>
            {
                try
                {
                    return (IListenerBinding)new Binding(await bound.Item1, bound.unbind);
                }
                catch
                {
                    listener.BindFailed();
                    throw;
                }
            });
    }

    public Task? Closing(IPEndPoint address) => _listening.Closing(address);

    /// <summary>
    /// Akka's <c>Tcp().Bind</c> takes a host name and resolves it first, and .NET refuses to resolve the unspecified address
    /// (0.0.0.0, ::): a Gateway server without <c>bind</c> never bound on this transport. The stage Bind makes takes an
    /// endpoint, but is internal to Akka.Streams (1.5.73): made here as Bind makes it, with the address as it is.
    /// </summary>
    private Source<Akka.Streams.Dsl.Tcp.IncomingConnection, Task<Akka.Streams.Dsl.Tcp.ServerBinding>> BindUnspecified(IPEndPoint address, int backlog,
        IImmutableList<Inet.SocketOption> options)
    {
        const BindingFlags Any = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance;
        var stream = system.TcpStream();
        var stage = typeof(Akka.Streams.Dsl.TcpExt).Assembly.GetType("Akka.Streams.Implementation.IO.ConnectionSourceStage")
            ?.GetConstructor(Any, [typeof(IActorRef), typeof(EndPoint), typeof(int), typeof(IImmutableList<Inet.SocketOption>), typeof(bool), typeof(TimeSpan?), typeof(TimeSpan)]);
        var shutdownTimeout = typeof(Akka.Streams.Dsl.TcpExt).GetField("BindShutdownTimeout", Any);
        if (stage is null || shutdownTimeout?.GetValue(stream) is not TimeSpan timeout)
            throw new NotSupportedException($"the {TcpTransports.AkkaStreams} transport cannot bind {address}: this Akka.Streams has no ConnectionSourceStage(endpoint) to bind the unspecified address with");
        return Source.FromGraph((IGraph<SourceShape<Akka.Streams.Dsl.Tcp.IncomingConnection>, Task<Akka.Streams.Dsl.Tcp.ServerBinding>>)
            stage.Invoke([system.Tcp(), address, backlog, options, true, null, timeout]));
    }

    public void Connect(EndPoint remote, ConnectOptions options, ConnectAttempt attempt)
    {
        var cancel = new Cancelling();
        if (!attempt.Begin(cancel)) return;
        ConnectAsync(remote, options, cancel.Token).ContinueWith(t => Report(t, attempt), CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    /// <summary>
    /// Every end is reported, a cancelled one too: a task cancelled from inside the stream (not by
    /// <see cref="ConnectAttempt.Abandon"/>, after which nothing is reported anyway) would otherwise leave the
    /// connection actor dialling for ever.
    /// </summary>
    internal static void Report(Task<TcpConnection> connect, ConnectAttempt attempt)
    {
        if (connect.IsCompletedSuccessfully) attempt.Arrive(connect.Result);
        else attempt.Fail(Innermost(connect.Exception) ?? new TaskCanceledException("the connect was cancelled"));
    }

    /// <summary>The failure itself, not the task's wrapping of it ("One or more errors occurred" in the access log otherwise).</summary>
    private static Exception? Innermost(AggregateException? failed)
    {
        Exception? e = failed?.Flatten();
        while (e is AggregateException { InnerExceptions.Count: 1 } one) e = one.InnerException;
        return e;
    }

    /// <summary>An abandoned attempt cancels the connect's token.</summary>
    private sealed class Cancelling : CancellationTokenSource, IConnecting
    {
        public void Abort() => Cancel();
    }

    private async Task<TcpConnection> ConnectAsync(EndPoint remote, ConnectOptions options, CancellationToken cancel)
    {
        var socketOptions = options.Keepalive is { } keepalive
            ? ImmutableList.Create<Inet.SocketOption>(new Keepalive(keepalive))
            : ImmutableList<Inet.SocketOption>.Empty;
        // Akka.IO's own connect timeout fails with "Connection failed", like a refusal: time out first, ourselves.
        var ((toUpstream, (reset, connected)), fromUpstream) = Source.AsSubscriber<ByteString>()
            .Via(EndAfterLastWrite.Instance)
            .ViaMaterialized(BidiFlow.FromGraph(ResettableSocket.Instance).JoinMat(system.TcpStream().OutgoingConnection(remote, null, socketOptions,
                halfClose: true, connectionTimeout: options.ConnectTimeout + TimeSpan.FromSeconds(1)), Keep.Both), Keep.Both)
            .ToMaterialized(Sink.AsPublisher<ByteString>(false), Keep.Both)
            .Run(_materializer);
        // An abandoned attempt still fails later: observe it, or the finalizer reports it.
        _ = connected.ContinueWith(t => t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        try
        {
            var established = await connected.WaitAsync(options.ConnectTimeout, cancel);
            return Joinable((IPEndPoint)established.LocalAddress, (IPEndPoint)established.RemoteAddress, toUpstream, fromUpstream, reset);
        }
        catch (Exception e)
        {
            // Ends the stream, and with it Akka.IO's attempt.
            new JoinableSocket(_materializer, toUpstream, fromUpstream, reset).End();
            if (e is TimeoutException) throw new TimeoutException($"connect to {remote} timed out after {options.ConnectTimeout}");
            throw;
        }
    }

    private TcpConnection Joinable(IPEndPoint local, IPEndPoint remote, ISubscriber<ByteString> toSocket, IPublisher<ByteString> fromSocket,
        ResettableSocket.Handle reset, long acceptedAt = 0)
    {
        var socket = new JoinableSocket(_materializer, toSocket, fromSocket, reset);
        return new TcpConnection(local, remote, socket.Flow, socket.End, socket.ReceiveAsync) { ResetWith = reset.Reset, AcceptedAt = acceptedAt };
    }

    /// <summary>
    /// One socket's stream, joined later. Reading before the join (<see cref="ReceiveAsync"/>) takes the
    /// socket's bytes through a queue, which the joined flow then goes on reading from.
    /// </summary>
    private sealed class JoinableSocket(IMaterializer materializer, ISubscriber<ByteString> toSocket, IPublisher<ByteString> fromSocket,
        ResettableSocket.Handle ends)
    {
        private (ISinkQueue<ByteString> Queue, UniqueKillSwitch Kill)? _read;
        private bool _ended;
        /// <summary>A pull a cancelled read left behind (a queue takes one pull at a time): the joined flow takes its element first.</summary>
        private Task<Option<ByteString>>? _pull;
        /// <summary>What the last element held beyond the caller's buffer: the next read, or else the joined flow, takes it first.</summary>
        private ByteString _rest = ByteString.Empty;

        public async ValueTask<int> ReceiveAsync(Memory<byte> into, CancellationToken cancel)
        {
            if (_rest.IsEmpty)
            {
                if (_ended) return 0;
                _read ??= Source.FromPublisher(fromSocket).ViaMaterialized(KillSwitches.Single<ByteString>(), Keep.Right)
                    .ToMaterialized(Sink.Queue<ByteString>(), (kill, queue) => (queue, kill)).Run(materializer);
                _pull ??= _read.Value.Queue.PullAsync();
                var next = await _pull.WaitAsync(cancel);
                _pull = null;
                _ended = !next.HasValue;
                if (_ended) return 0;
                _rest = next.Value;
            }
            var n = Math.Min(into.Length, _rest.Count);
            if (MemoryMarshal.TryGetArray<byte>(into, out var array)) _rest.CopyTo(array.Array!, array.Offset, n);
            else _rest.Slice(0, n).ToArray().CopyTo(into);
            _rest = _rest.Slice(n);
            return n;
        }

        private Task<Option<ByteString>> Pull(ISinkQueue<ByteString> queue)
        {
            var pending = _pull;
            _pull = null;
            return pending ?? queue.PullAsync();
        }

        public Flow<ByteString, ByteString, NotUsed> Flow()
        {
            var fromPeer = _ended ? Source.Empty<ByteString>()
                : _read is { Queue: var queue } ? Source.UnfoldAsync(queue, async q => await Pull(q) is { HasValue: true } next
                    ? Option<(ISinkQueue<ByteString>, ByteString)>.Create((q, next.Value))
                    : Option<(ISinkQueue<ByteString>, ByteString)>.None)
                : Source.FromPublisher(fromSocket);
            if (!_rest.IsEmpty) fromPeer = Source.Single(_rest).Concat(fromPeer);
            return Akka.Streams.Dsl.Flow.FromSinkAndSource(Sink.FromSubscriber(toSocket), fromPeer);
        }

        /// <summary>Nothing more to send, nothing more to read: the socket's stream ends and the socket closes.</summary>
        public void End()
        {
            // Ending sending and reading from two streams at once, Akka.IO may half-close and then wait for a FIN the client
            // never sends, ignoring the close (a few connections in 40, RefusedConnectionEndTests): reset by then.
            materializer.ScheduleOnce(SocketRelayStage.FlushDeadline, ends.Reset);
            Source.Empty<ByteString>().RunWith(Sink.FromSubscriber(toSocket), materializer);
            if (_read is { Kill: var kill }) kill.Shutdown();
            else Source.FromPublisher(fromSocket).RunWith(Sink.Cancelled<ByteString>(), materializer);
        }
    }

    private sealed class Binding(Akka.Streams.Dsl.Tcp.ServerBinding binding, Func<Task> unbind) : IListenerBinding
    {
        public IPEndPoint LocalAddress => (IPEndPoint)binding.LocalAddress;
        public Task Unbind() => unbind();
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
