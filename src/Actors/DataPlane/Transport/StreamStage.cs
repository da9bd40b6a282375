using System.Buffers;
using Akka.IO;
using Akka.Streams;
using Akka.Streams.Stage;

namespace AkkaL4.Actors.DataPlane.Transport;

/// <summary>
/// A duplex <see cref="Stream"/> (a TLS session to an upstream) as an Akka.Streams flow: elements pushed
/// in are written, bytes read come out (an idle one holds no read buffer). One read and one write in flight at a time, each finished on
/// the stage through an async callback, so no thread waits. Upstream completion ends sending with
/// <c>shutdownSend</c> (close_notify, then a FIN); the stream is disposed when both directions are done.
/// </summary>
internal sealed class StreamStage(Stream stream, Func<Task> shutdownSend) : GraphStage<FlowShape<ByteString, ByteString>>
{
    private const int ReadSize = 16 * 1024;

    private readonly Inlet<ByteString> _in = new("stream.in");
    private readonly Outlet<ByteString> _out = new("stream.out");

    public override FlowShape<ByteString, ByteString> Shape => new(_in, _out);

    protected override Attributes InitialAttributes { get; } = Attributes.CreateName("stream");

    protected override GraphStageLogic CreateLogic(Attributes inheritedAttributes) => new Logic(this);

    private sealed class Logic : GraphStageLogic
    {
        private readonly StreamStage _stage;
        private Action<(ByteString Bytes, Exception? Failure)> _readDone = null!;
        private Action<Exception?> _writeDone = null!;
        private Action<Exception?> _sendingEnded = null!;
        private bool _readEnded;
        private bool _writeEnded;
        private bool _writing;
        private bool _shuttingDown;

        public Logic(StreamStage stage) : base(stage.Shape)
        {
            _stage = stage;
            SetHandler(stage._in, onPush: Write, onUpstreamFinish: () => { if (!_writing) EndSending(); }, onUpstreamFailure: FailStage);
            SetHandler(stage._out, onPull: Read, onDownstreamFinish: _ =>
            {
                _readEnded = true;
                FinishIfDone();
            });
        }

        public override void PreStart()
        {
            SetKeepGoing(true);
            _readDone = GetAsyncCallback<(ByteString Bytes, Exception? Failure)>(OnRead);
            _writeDone = GetAsyncCallback<Exception?>(OnWritten);
            _sendingEnded = GetAsyncCallback<Exception?>(_ =>
            {
                _writeEnded = true;
                FinishIfDone();
            });
            Pull(_stage._in);
        }

        private void Read()
        {
            var done = _readDone;
            ReadAsync(_stage.Stream).ContinueWith(t => done(t.IsCompletedSuccessfully ? t.Result : (ByteString.Empty, t.Exception?.GetBaseException() ?? new OperationCanceledException())),
                TaskContinuationOptions.ExecuteSynchronously);
        }

        /// <summary>
        /// Waits with a zero-byte read, so an idle connection holds no read buffer (SslStream then returns its own to the
        /// pool too), then reads what arrived into a pooled buffer and copies out exactly that. Empty: end of stream.
        /// </summary>
        private static async Task<(ByteString Bytes, Exception? Failure)> ReadAsync(Stream stream)
        {
            await stream.ReadAsync(Memory<byte>.Empty).ConfigureAwait(false);
            var buffer = ArrayPool<byte>.Shared.Rent(ReadSize);
            try
            {
                var read = await stream.ReadAsync(buffer.AsMemory(0, ReadSize)).ConfigureAwait(false);
                return (read == 0 ? ByteString.Empty : ByteString.CopyFrom(buffer, 0, read), null);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }

        private void OnRead((ByteString Bytes, Exception? Failure) result)
        {
            if (_readEnded) return;
            if (result.Failure is { } failure) FailStage(failure);
            else if (result.Bytes.IsEmpty)
            {
                _readEnded = true;
                Complete(_stage._out);
                FinishIfDone();
            }
            else Push(_stage._out, result.Bytes);
        }

        private void Write()
        {
            var bytes = Grab(_stage._in);
            _writing = true;
            var done = _writeDone;
            _stage.Stream.WriteAsync(bytes.ToArray()).AsTask().ContinueWith(t => done(t.IsCompletedSuccessfully ? null : t.Exception?.GetBaseException() ?? new OperationCanceledException()),
                TaskContinuationOptions.ExecuteSynchronously);
        }

        private void OnWritten(Exception? failure)
        {
            _writing = false;
            if (failure is not null) FailStage(failure);
            else if (IsClosed(_stage._in)) EndSending();
            else Pull(_stage._in);
        }

        private void EndSending()
        {
            if (_writeEnded || _shuttingDown) return;
            _shuttingDown = true;
            var done = _sendingEnded;
            _stage.ShutdownSend().ContinueWith(t => done(t.Exception), TaskContinuationOptions.ExecuteSynchronously);
        }

        private void FinishIfDone()
        {
            if (_readEnded && _writeEnded) CompleteStage();
        }

        public override void PostStop() => _stage.Stream.Dispose();
    }

    private Stream Stream => stream;
    private Func<Task> ShutdownSend => shutdownSend;
}
