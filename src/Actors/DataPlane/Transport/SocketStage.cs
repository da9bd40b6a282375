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
    /// <summary>The largest chunk read at once (and the largest read buffer a connection ever holds).</summary>
    public const int MaxChunk = 64 * 1024;

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

    private sealed class Logic : GraphStageLogic
    {
        private readonly SocketStage _stage;
        private readonly Socket _socket;

        // Reading: at most one receive in flight.
        private bool _reading;
        private bool _readDone;
        private bool _waitForData = true;
        private bool _awaitingData;
        private byte[]? _readBuffer;
        private ValueTask<int> _receive;
        private Action _receiveCompletedOnSocketThread = null!;
        private Action<bool> _receiveCompleted = null!;

        // Writing: one send in flight, more queued behind it.
        private bool _sending;
        private bool _writeDone;
        private bool _upstreamFinished;
        private readonly List<ArraySegment<byte>> _sendList = [];
        private readonly Queue<ByteString> _queue = new();
        private int _queuedBytes;
        private ValueTask<int> _send;
        private int _sendBytes;
        private Action _sendCompletedOnSocketThread = null!;
        private Action<bool> _sendCompleted = null!;

        private bool _reset;

        public Logic(SocketStage stage, Socket socket) : base(stage.Shape)
        {
            _stage = stage;
            _socket = socket;
            SetHandler(stage._in, onPush: OnPush, onUpstreamFinish: OnUpstreamFinish, onUpstreamFailure: OnUpstreamFailure);
            SetHandler(stage._out, onPull: () => StartReceive(dataReady: false), onDownstreamFinish: OnDownstreamFinish);
        }

        public override void PreStart()
        {
            // Both directions end independently; the stage ends when both have.
            SetKeepGoing(true);
            var receiveCompleted = GetAsyncCallback<bool>(_ => OnReceiveCompleted());
            _receiveCompleted = receiveCompleted;
            _receiveCompletedOnSocketThread = () => receiveCompleted(true);
            var sendCompleted = GetAsyncCallback<bool>(_ => OnSendCompleted());
            _sendCompleted = sendCompleted;
            _sendCompletedOnSocketThread = () => sendCompleted(true);
            Pull(_stage._in);
        }

        // ---- reading ----

        private void StartReceive(bool dataReady)
        {
            if (_reading || _readDone) return;
            try
            {
                if (_readBuffer is null)
                {
                    if (_waitForData && !dataReady)
                    {
                        // Wait for data without a buffer: idle connections hold none.
                        var wait = _socket.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None);
                        if (!wait.IsCompleted)
                        {
                            _awaitingData = true;
                            Await(wait);
                            return;
                        }
                        wait.GetAwaiter().GetResult();
                    }
                    var available = _waitForData ? _socket.Available : MaxChunk;
                    // Available is 0 at end of stream: a small buffer reads the 0 that says so.
                    _readBuffer = GC.AllocateUninitializedArray<byte>(Math.Clamp(available, 256, MaxChunk));
                }
                var receive = _socket.ReceiveAsync(_readBuffer.AsMemory(), SocketFlags.None);
                if (!receive.IsCompleted)
                {
                    Await(receive);
                    return;
                }
                Received(receive.GetAwaiter().GetResult());
            }
            catch (Exception e)
            {
                Fail(e);
            }
        }

        private void Await(ValueTask<int> receive)
        {
            _reading = true;
            _receive = receive;
            receive.ConfigureAwait(false).GetAwaiter().UnsafeOnCompleted(_receiveCompletedOnSocketThread);
        }

        private void OnReceiveCompleted()
        {
            _reading = false;
            int read;
            try
            {
                read = _receive.GetAwaiter().GetResult();
            }
            catch (Exception e)
            {
                if (!_readDone) Fail(e);
                return;
            }
            if (_readDone) return;
            if (_awaitingData)
            {
                // The zero-byte wait is over: read what arrived.
                _awaitingData = false;
                StartReceive(dataReady: true);
                return;
            }
            Received(read);
        }

        private void Received(int read)
        {
            var buffer = _readBuffer!;
            _readBuffer = null;
            if (read == 0)
            {
                _readDone = true;
                Complete(_stage._out);
                FinishIfDone();
                return;
            }
            // A full buffer means more is waiting: read again at once, without the zero-byte wait.
            _waitForData = read < buffer.Length;
            Push(_stage._out, ByteString.FromBytes(buffer, 0, read));
        }

        private void OnDownstreamFinish(Exception cause)
        {
            _readDone = true;
            FinishIfDone();
        }

        // ---- writing ----

        private void OnPush()
        {
            var bytes = Grab(_stage._in);
            if (!bytes.IsEmpty)
            {
                _queue.Enqueue(bytes);
                _queuedBytes += bytes.Count;
                if (!_sending) StartSend();
            }
            if (_queuedBytes < MaxQueued && !HasBeenPulled(_stage._in) && !IsClosed(_stage._in)) Pull(_stage._in);
        }

        private void StartSend()
        {
            try
            {
                while (_queue.Count > 0)
                {
                    _sendList.Clear();
                    while (_queue.TryDequeue(out var next))
                        AddSegments(next, _sendList);
                    _sendBytes = _queuedBytes;
                    _queuedBytes = 0;
                    var send = _sendList.Count == 1
                        ? _socket.SendAsync(_sendList[0].AsMemory(), SocketFlags.None)
                        : new ValueTask<int>(_socket.SendAsync(_sendList, SocketFlags.None));
                    if (!send.IsCompleted)
                    {
                        _sending = true;
                        _send = send;
                        send.ConfigureAwait(false).GetAwaiter().UnsafeOnCompleted(_sendCompletedOnSocketThread);
                        return;
                    }
                    Sent(send.GetAwaiter().GetResult());
                }
                AfterSends();
            }
            catch (Exception e)
            {
                Fail(e);
            }
        }

        private void OnSendCompleted()
        {
            _sending = false;
            try
            {
                Sent(_send.GetAwaiter().GetResult());
            }
            catch (Exception e)
            {
                Fail(e);
                return;
            }
            if (_queue.Count > 0) StartSend();
            else AfterSends();
        }

        private void Sent(int sent)
        {
            // Stream sockets send everything or fail; anything else is a broken promise worth failing on.
            if (sent != _sendBytes) throw new IOException($"sent {sent} of {_sendBytes} bytes");
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

        private void OnUpstreamFinish()
        {
            _upstreamFinished = true;
            if (!_sending && _queue.Count == 0) ShutdownSend();
        }

        private void ShutdownSend()
        {
            if (_writeDone) return;
            _writeDone = true;
            try
            {
                _socket.Shutdown(SocketShutdown.Send);
            }
            catch (SocketException)
            {
                // The peer is gone already: nothing left to tell it.
            }
            FinishIfDone();
        }

        private void OnUpstreamFailure(Exception cause) => Fail(cause);

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
            // A failed or cancelled connection is reset, as Envoy and HAProxy do; a finished one closes.
            try
            {
                if (_reset || !_readDone || !_writeDone) _socket.LingerState = new LingerOption(true, 0);
            }
            catch (SocketException)
            {
                // Already broken: closing is all that is left.
            }
            _socket.Dispose();
        }
    }
}
