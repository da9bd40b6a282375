using Akka.IO;
using Akka.Streams;
using Akka.Streams.Stage;

namespace AkkaL4.Actors.DataPlane.Transport;

/// <summary>
/// Put before an Akka.IO TCP flow (fused with it): passes the bytes to send through, and holds back their end until the
/// TCP stage asks for more, which it does only once its last write is acknowledged. Akka.IO's connection actor (1.5.73)
/// otherwise loses a half-close: a <c>ConfirmedClose</c> that arrives while a write is pending waits for it
/// (<c>ClosingWithPendingWrite</c>), and a FIN read from the peer in that state makes it report <c>PeerClosed</c> and go
/// to <c>PeerSentEOF</c>, forgetting the close. The stage has then ended both ways, sends nothing more, and the
/// connection never closes: a client that half-closed while its upstream's last bytes and end were being relayed kept
/// the whole reply and waited for a FIN for ever (TlsHalfCloseTests, about one run in three, session 15).
/// With no write pending, the close is acted on at once: a FIN, or the socket closed if the peer's came first.
/// </summary>
internal sealed class EndAfterLastWrite : GraphStage<FlowShape<ByteString, ByteString>>
{
    public static readonly EndAfterLastWrite Instance = new();

    private readonly Inlet<ByteString> _in = new("end-after-last-write.in");
    private readonly Outlet<ByteString> _out = new("end-after-last-write.out");

    private EndAfterLastWrite() => Shape = new FlowShape<ByteString, ByteString>(_in, _out);

    public override FlowShape<ByteString, ByteString> Shape { get; }

    protected override Attributes InitialAttributes { get; } = Attributes.CreateName("end-after-last-write");

    protected override GraphStageLogic CreateLogic(Attributes inheritedAttributes) => new Logic(this);

    private sealed class Logic : InAndOutGraphStageLogic
    {
        private readonly EndAfterLastWrite _stage;
        private bool _ending;

        public Logic(EndAfterLastWrite stage) : base(stage.Shape)
        {
            _stage = stage;
            SetHandler(stage._in, this);
            SetHandler(stage._out, this);
        }

        public override void OnPush() => Push(_stage._out, Grab(_stage._in));

        public override void OnUpstreamFinish()
        {
            if (IsAvailable(_stage._out)) CompleteStage();
            else _ending = true;
        }

        public override void OnPull()
        {
            if (_ending) CompleteStage();
            else Pull(_stage._in);
        }
    }
}
