using Akka.Actor;
using Akka.Dispatch;
using Akka.Dispatch.MessageQueues;

namespace AkkaL4.Actors.DataPlane;

/// <summary>
/// The mailbox of connection actors (<c>akkal4.connection-mailbox</c> in cluster.hocon). The default one is a
/// ConcurrentQueue whose first segment holds 32 envelopes, about 1 KB allocated and held for every connection;
/// a connection actor gets a handful of messages in its life, rarely two at once, so a locked queue that
/// holds its first envelope in a field and the rest in an array grown from 4 is enough (measured in bench/README.md).
/// </summary>
public sealed class ConnectionMailbox(Settings settings, Akka.Configuration.Config config)
    : MailboxType(settings, config), IProducesMessageQueue<ConnectionMailbox.Queue>
{
    public const string Path = "akkal4.connection-mailbox";

    public override IMessageQueue Create(IActorRef owner, ActorSystem system) => new Queue();

    /// <summary>
    /// The first envelope waiting is kept in a field, only those behind it in an array (grown from 4): a connection actor
    /// rarely has two messages waiting, so most never make the array (~90 bytes each, held for the connection's life;
    /// bench/README.md, session 14).
    /// </summary>
    public sealed class Queue : IMessageQueue, IUnboundedMessageQueueSemantics
    {
        // The queue is handed to Akka's mailbox and dispatcher: a private gate is one no code outside can take.
        private readonly object _gate = new();
        private Envelope _first;
        private Envelope[] _rest = [];
        private int _restHead;
        private int _count;

        public bool HasMessages => Volatile.Read(ref _count) > 0;

        public int Count => Volatile.Read(ref _count);

        public void Enqueue(IActorRef receiver, Envelope envelope)
        {
            lock (_gate)
            {
                if (_count == 0) _first = envelope;
                else
                {
                    var behind = _count - 1;
                    if (behind == _rest.Length)
                    {
                        var grown = new Envelope[Math.Max(4, _rest.Length * 2)];
                        for (var i = 0; i < behind; i++) grown[i] = _rest[(_restHead + i) % _rest.Length];
                        _rest = grown;
                        _restHead = 0;
                    }
                    _rest[(_restHead + behind) % _rest.Length] = envelope;
                }
                Volatile.Write(ref _count, _count + 1);
            }
        }

        public bool TryDequeue(out Envelope envelope)
        {
            lock (_gate)
            {
                if (_count == 0)
                {
                    envelope = default;
                    return false;
                }
                envelope = _first;
                if (_count > 1)
                {
                    _first = _rest[_restHead];
                    _rest[_restHead] = default;
                    _restHead = (_restHead + 1) % _rest.Length;
                }
                else _first = default;
                Volatile.Write(ref _count, _count - 1);
                return true;
            }
        }

        public void CleanUp(IActorRef owner, IMessageQueue deadletters)
        {
            while (TryDequeue(out var envelope)) deadletters.Enqueue(owner, envelope);
        }
    }
}
