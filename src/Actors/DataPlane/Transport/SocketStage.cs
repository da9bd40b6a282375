using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Akka.IO;
using Akka.Streams;
using Akka.Streams.Stage;

namespace AkkaL4.Actors.DataPlane.Transport;

/// <summary>
/// A connected socket as an Akka.Streams flow: elements pushed in are written, bytes read come out.
/// Reads allocate only once data is there (an idle connection waits with a zero-byte read and holds no
/// buffer) and straight into the array the ByteString wraps; writes keep reading from upstream while a
/// send is in flight and gather what queued meanwhile into one send. Half-close both ways: upstream
/// completion shuts down sending, end of stream from the peer completes the outlet; the socket closes
/// once both are done. A failure on either side resets the connection.
/// </summary>
internal sealed class SocketStage(Socket socket) : GraphStage<FlowShape<ByteString, ByteString>>
{
    /// <summary>The largest array a read allocates: below the large-object heap's 85,000 bytes.</summary>
    public const int MaxArray = 64 * 1024;

    /// <summary>
    /// The most one read takes (into several arrays, one ByteString): under bulk load every element
    /// costs a pass through the graph, so fewer, larger elements cost less per byte.
    /// </summary>
    public const int MaxRead = 4 * MaxArray;

    /// <summary>Bytes queued behind a send in flight before upstream is backpressured.</summary>
    private const int MaxQueued = 256 * 1024;

    private readonly Inlet<ByteString> _in = new("socket.in");
    private readonly Outlet<ByteString> _out = new("socket.out");

    public override FlowShape<ByteString, ByteString> Shape => new(_in, _out);

    protected override Attributes InitialAttributes { get; } = Attributes.CreateName("socket");

    protected override GraphStageLogic CreateLogic(Attributes inheritedAttributes) => new Logic(this, socket);

    /// <summary>
    /// The arrays under a ByteString, to send them without copying. ByteString keeps them private in
    /// Akka 1.5 (its <c>Buffers</c> is internal); a layout that does not add up falls back to a copy.
    /// </summary>
    internal static void AddSegments(ByteString bytes, List<ArraySegment<byte>> into)
    {
        var buffers = BuffersOf(bytes);
        var total = 0;
        foreach (var segment in buffers) total += segment.Count;
        if (total == bytes.Count)
            foreach (var segment in buffers) into.Add(segment);
        else
            into.Add(new ArraySegment<byte>(bytes.ToArray()));
    }

    [UnsafeAccessor(UnsafeAccessorKind.Field, Name = "_buffers")]
    private static extern ref ArraySegment<byte>[] BuffersOf(ByteString bytes);

    /// <summary>
    /// A SocketAsyncEventArgs that calls back without an event handler and its closure, and that exactly one of its stage
    /// and its last completion disposes. A completion that finds the stage stopped disposes the args and calls nothing
    /// back (calling back would be a message to the relay host for a stage that is gone, once per socket with a read
    /// pending at its close); one that calls back hands the args to that callback, which the stage may never see (a
    /// stage that stops first drops it), so a stop that finds a callback on its way disposes them itself. Left to the
    /// finalizer instead, a SocketAsyncEventArgs made nearly every collection a gen1 (bench/README.md, session 7).
    /// </summary>
    internal sealed class Args<T>(Func<SocketAsyncEventArgs, T> result) : SocketAsyncEventArgs(unsafeSuppressExecutionContextFlow: true)
    {
        // Running: the stage owns the args (an operation may be in flight). Delivering: a completion has called back
        // and the stage has not seen it yet. Stopped: the stage is gone; whoever comes second disposes.
        private const int Running = 0, Delivering = 1, Stopped = 2;
        private int _state;

        public Action<T>? Callback;

        /// <summary>
        /// Instead of <see cref="Callback"/>: the completion's message to its stage, made once (<see cref="StageEvents.Prepare"/>),
        /// for a stage whose event is the args themselves.
        /// </summary>
        public object? Prepared;

        protected override void OnCompleted(SocketAsyncEventArgs e) => Finish(result(e));

        /// <summary>An operation that went asynchronous has completed (the args are free again).</summary>
        internal void Finish(T outcome)
        {
            if (Interlocked.CompareExchange(ref _state, Delivering, Running) == Stopped) Dispose();
            else if (Prepared is { } prepared) WakeInline.Call(StageEvents.TellPrepared, prepared);
            else WakeInline.Call(Callback!, outcome);
        }

        /// <summary>On the stage, first thing when a completion arrives: the args are the stage's again.</summary>
        public void Delivered() => Volatile.Write(ref _state, Running);

        /// <summary>
        /// On the stage, when it stops (after closing the socket, so an operation in flight completes aborted).
        /// <paramref name="pending"/>: an operation went asynchronous and its completion has not arrived.
        /// </summary>
        public void Stop(bool pending)
        {
            if (Interlocked.Exchange(ref _state, Stopped) == Delivering || !pending) Dispose();
        }
    }

    /// <summary>
    /// Resets and closes <paramref name="socket"/>, from any thread, whatever its stage is doing: a send in flight completes
    /// aborted and fails the stage. Does nothing to a socket already closed; never throws. <c>Close(0)</c> is the runtime's
    /// abortive close: SO_LINGER 0, then close. Setting <see cref="Socket.LingerState"/> before <c>Dispose</c> did the same
    /// with a system call more whenever a wait was pending, as the runtime's close then sets SO_LINGER itself (bench/README.md,
    /// session 20).
    /// </summary>
    internal static void Reset(Socket socket) => socket.Close(0);

    /// <summary>
    /// What the stage fails with when a call finds its socket disposed by <see cref="Reset"/> from another thread: what an
    /// operation in flight that the reset aborts reports.
    /// </summary>
    private static readonly SocketException Aborted = SocketErrors.Of(SocketError.OperationAborted);

    private static readonly Func<SocketAsyncEventArgs, SocketError> ErrorOf = e => e.SocketError;
    private static readonly Func<SocketAsyncEventArgs, (SocketError, int)> OutcomeOf = e => (e.SocketError, e.BytesTransferred);

    // The logic is its own in- and out-handler: handlers made of lambdas were a dozen delegates per connection.
    private sealed class Logic : GraphStageLogic, IInHandler, IOutHandler
    {
        private readonly SocketStage _stage;
        private readonly Socket _socket;

        // Socket operations report errors as codes (SocketAsyncEventArgs, Receive with an error out
        // parameter), not exceptions: a reset peer is routine for a proxy, and a thrown socket exception
        // captures a stack trace with source lines, which cost more than the rest of a connection.
        private readonly Args<SocketError> _waitArgs = new(ErrorOf);
        private Args<(SocketError, int)>? _sendArgs;

        // Reading: one zero-byte wait at most, then synchronous non-blocking reads of what arrived.
        private bool _waiting;
        private bool _readDone;

        // Writing: one send in flight, more queued behind it.
        private bool _sending;
        private bool _writeDone;
        private bool _upstreamFinished;
        // Made by the first write that needs them (one behind a send in flight, or of several arrays).
        private List<ArraySegment<byte>>? _sendList;
        private Queue<ByteString>? _queue;
        private int _queuedBytes;
        private int _sendBytes;

        private bool _reset;

        // The port counts, not the shape: that constructor makes a LogSource and a string per stage, held while the connection lives.
        public Logic(SocketStage stage, Socket socket) : base(1, 1)
        {
            _stage = stage;
            _socket = socket;
            SetHandler(stage._in, (IInHandler)this);
            SetHandler(stage._out, (IOutHandler)this);
        }

        protected override object LogSource => Akka.Event.LogSource.Create("socket");

        public override void PreStart()
        {
            // Both directions end independently; the stage ends when both have.
            SetKeepGoing(true);
            _socket.Blocking = false;
            _waitArgs.Callback = GetAsyncCallback<SocketError>(OnWaitCompleted);
            _waitArgs.SetBuffer(Memory<byte>.Empty);
            Pull(_stage._in);
        }

        // ---- reading ----

        /// <summary>Pushes what the socket holds, or waits (holding no buffer) until it holds something.</summary>
        public void OnPull()
        {
            if (_waiting || _readDone) return;
            ReadOrWait(waitWhenEmpty: true);
        }

        private void OnWaitCompleted(SocketError error)
        {
            _waitArgs.Delivered();
            _waiting = false;
            if (_readDone) return;
            if (error != SocketError.Success)
            {
                Fail(SocketErrors.Of(error));
                return;
            }
            // Readable: data, end of stream (Available 0, read returns 0) or an error the read reports.
            ReadOrWait(waitWhenEmpty: false);
        }

        private void ReadOrWait(bool waitWhenEmpty)
        {
            int available;
            try
            {
                available = _socket.Available;
            }
            catch (SocketException e)
            {
                Fail(e);
                return;
            }
            catch (ObjectDisposedException)
            {
                Fail(Aborted);
                return;
            }
            if (available == 0 && waitWhenEmpty) Wait();
            else Read(available);
        }

        /// <summary>A zero-byte receive: completes once the socket is readable.</summary>
        private void Wait()
        {
            _waiting = true;
            bool pending;
            try
            {
                pending = _socket.ReceiveAsync(_waitArgs);
            }
            catch (ObjectDisposedException)
            {
                // Reset from outside: nothing is pending, so PostStop disposes the args (rather than the finalizer).
                _waiting = false;
                Fail(Aborted);
                return;
            }
            if (!pending) OnWaitCompleted(_waitArgs.SocketError);
        }

        /// <summary>
        /// Where a read with nothing announced lands (end of stream, an error, or bytes that arrived just now, then copied):
        /// an array per such read was ~0.5 KB per connection for the two ends of stream alone.
        /// </summary>
        [ThreadStatic] private static byte[]? _scratch;

        private void Read(int available)
        {
            // Exactly what is there; the ByteString wraps the arrays.
            var size = Math.Min(available, MaxRead);
            ArraySegment<byte>[]? arrays = null;
            byte[]? buffer = null;
            var scratch = false;
            int read;
            SocketError error;
            if (size == 0)
            {
                buffer = _scratch ??= new byte[256];
                scratch = true;
                read = _socket.Receive(buffer, 0, buffer.Length, SocketFlags.None, out error);
            }
            else if (size <= MaxArray)
            {
                buffer = GC.AllocateUninitializedArray<byte>(size);
                read = _socket.Receive(buffer, 0, size, SocketFlags.None, out error);
            }
            else
            {
                arrays = new ArraySegment<byte>[(size + MaxArray - 1) / MaxArray];
                for (var i = 0; i < arrays.Length; i++) arrays[i] = GC.AllocateUninitializedArray<byte>(Math.Min(MaxArray, size - i * MaxArray));
                read = _socket.Receive(arrays, SocketFlags.None, out error);
            }
            switch (error)
            {
                case SocketError.Success when read == 0:
                    _readDone = true;
                    Complete(_stage._out);
                    FinishIfDone();
                    return;
                case SocketError.Success:
                    Push(_stage._out, scratch ? ByteString.CopyFrom(buffer!, 0, read) : buffer is not null ? ByteString.FromBytes(buffer, 0, read) : Wrap(arrays!, read));
                    return;
                case SocketError.WouldBlock:
                    Wait();
                    return;
                default:
                    Fail(SocketErrors.Of(error));
                    return;
            }
        }

        private static ByteString Wrap(ArraySegment<byte>[] arrays, int read)
        {
            var filled = new List<ArraySegment<byte>>(arrays.Length);
            for (var i = 0; read > 0; read -= arrays[i++].Count) filled.Add(arrays[i].Slice(0, Math.Min(read, arrays[i].Count)));
            return ByteString.FromBytes(filled);
        }

        /// <summary>
        /// Reading is no longer wanted. Cancelled for a failure on the other side (an upstream that half-closed, then reset
        /// as the client's next bytes were written to it), the connection is reset: closed with the FIN it has already sent,
        /// it would tell a client still sending that all went well while its bytes went nowhere.
        /// </summary>
        public void OnDownstreamFinish(Exception cause)
        {
            if (cause is not SubscriptionWithCancelException.NonFailureCancellation)
            {
                Fail(cause);
                return;
            }
            _readDone = true;
            FinishIfDone();
        }

        // ---- writing ----

        public void OnPush()
        {
            var bytes = Grab(_stage._in);
            if (!bytes.IsEmpty)
            {
                if (_sending)
                {
                    (_queue ??= new()).Enqueue(bytes);
                    _queuedBytes += bytes.Count;
                }
                else StartSend(bytes);
            }
            if (_queuedBytes < MaxQueued && !HasBeenPulled(_stage._in) && !IsClosed(_stage._in)) Pull(_stage._in);
        }

        /// <summary>
        /// Sends <paramref name="first"/> (pushed while no send was in flight), then everything queued behind a send in one
        /// gathering write: synchronously while the socket takes it all (the usual case), asynchronously for what is left
        /// when its buffer is full. An element of one array goes straight to the socket: a connection that only ever sends
        /// that way (most of them) never makes the queue and gather list, which it would hold for as long as it is idle.
        /// </summary>
        private void StartSend(ByteString? first)
        {
            while (!_reset)
            {
                List<ArraySegment<byte>>? list = null;
                ArraySegment<byte> single = default;
                if (first is not null && OneArray(first, out single))
                {
                    _sendBytes = first.Count;
                }
                else if (first is not null || _queue is { Count: > 0 })
                {
                    list = _sendList ??= [];
                    list.Clear();
                    if (first is not null) AddSegments(first, list);
                    while (_queue is not null && _queue.TryDequeue(out var next)) AddSegments(next, list);
                    _sendBytes = (first?.Count ?? 0) + _queuedBytes;
                    _queuedBytes = 0;
                }
                else break;
                first = null;
                SocketError error;
                var sent = list is null
                    ? _socket.Send(single.Array!, single.Offset, single.Count, SocketFlags.None, out error)
                    : _socket.Send(list, SocketFlags.None, out error);
                if (error is not (SocketError.Success or SocketError.WouldBlock))
                {
                    Fail(SocketErrors.Of(error));
                    return;
                }
                if (sent == _sendBytes) continue;
                // The socket's buffer is full: send the rest when it has room.
                if (list is null)
                {
                    list = _sendList ??= [];
                    list.Clear();
                    list.Add(single);
                }
                Skip(list, sent);
                _sendBytes -= sent;
                _sendArgs ??= NewSendArgs();
                if (list.Count == 1)
                {
                    _sendArgs.BufferList = null;
                    _sendArgs.SetBuffer(list[0].Array, list[0].Offset, list[0].Count);
                }
                else
                {
                    _sendArgs.SetBuffer(null, 0, 0);
                    _sendArgs.BufferList = list;
                }
                _sending = true;
                bool pending;
                try
                {
                    pending = _socket.SendAsync(_sendArgs);
                }
                catch (ObjectDisposedException)
                {
                    // As in Wait: nothing is pending.
                    _sending = false;
                    Fail(Aborted);
                    return;
                }
                if (pending) return;
                _sending = false;
                if (!Sent(_sendArgs.SocketError, _sendArgs.BytesTransferred)) return;
            }
            AfterSends();
        }

        /// <summary>The one array under <paramref name="bytes"/>, when it is one.</summary>
        private static bool OneArray(ByteString bytes, out ArraySegment<byte> segment)
        {
            var buffers = BuffersOf(bytes);
            segment = buffers.Length == 1 ? buffers[0] : default;
            return buffers.Length == 1 && segment.Count == bytes.Count;
        }

        // Only once a send did not complete at once (rare for a connection's small writes).
        private Args<(SocketError, int)> NewSendArgs() => new(OutcomeOf) { Callback = GetAsyncCallback<(SocketError, int)>(OnSendCompleted) };

        /// <summary>Drops the first <paramref name="count"/> bytes of <paramref name="segments"/>.</summary>
        private static void Skip(List<ArraySegment<byte>> segments, int count)
        {
            var whole = 0;
            while (count > 0 && count >= segments[whole].Count) count -= segments[whole++].Count;
            segments.RemoveRange(0, whole);
            if (count > 0) segments[0] = segments[0].Slice(count);
        }

        private void OnSendCompleted((SocketError Error, int Bytes) result)
        {
            _sendArgs!.Delivered();
            _sending = false;
            // Sends what queued meanwhile, or (nothing queued) asks for more.
            if (Sent(result.Error, result.Bytes)) StartSend(null);
        }

        private bool Sent(SocketError error, int sent)
        {
            if (error != SocketError.Success)
            {
                Fail(SocketErrors.Of(error));
                return false;
            }
            // Stream sockets send everything or fail; anything else is a broken promise worth failing on.
            if (sent == _sendBytes) return true;
            Fail(new IOException($"sent {sent} of {_sendBytes} bytes"));
            return false;
        }

        /// <summary>Everything queued is written: ask for more, or shut down sending once upstream has finished.</summary>
        private void AfterSends()
        {
            if (_upstreamFinished)
            {
                ShutdownSend();
                return;
            }
            if (!HasBeenPulled(_stage._in) && !IsClosed(_stage._in)) Pull(_stage._in);
        }

        public void OnUpstreamFinish()
        {
            _upstreamFinished = true;
            if (!_sending && _queue is not { Count: > 0 }) ShutdownSend();
        }

        private void ShutdownSend()
        {
            if (_writeDone) return;
            _writeDone = true;
            try
            {
                _socket.Shutdown(SocketShutdown.Send);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                // The peer is gone already, or the socket was reset from outside (Reset): nothing left to tell it.
            }
            FinishIfDone();
        }

        public void OnUpstreamFailure(Exception cause) => Fail(cause);

        // ---- the end ----

        private void FinishIfDone()
        {
            if (_readDone && _writeDone) CompleteStage();
        }

        private void Fail(Exception cause)
        {
            _reset = true;
            FailStage(cause);
        }

        public override void PostStop()
        {
            // Stopped before the close: the operation the close aborts then disposes its args without calling back. A
            // completion already on its way to this stopped stage is dropped, so Stop disposes those args itself.
            _waitArgs.Stop(pending: _waiting);
            _sendArgs?.Stop(pending: _sending);
            // A failed or cancelled connection is reset, as Envoy and HAProxy do; a finished one closes.
            if (_reset || !_readDone || !_writeDone) Reset(_socket);
            else _socket.Dispose();
        }
    }
}
