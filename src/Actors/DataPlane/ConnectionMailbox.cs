using Akka.Actor;
using Akka.Dispatch;
using Akka.Dispatch.MessageQueues;

namespace AkkaL4.Actors.DataPlane;

/// <summary>
/// The mailbox of connection actors (<c>akkal4.connection-mailbox</c> in cluster.hocon). The default one is a
/// ConcurrentQueue whose first segment holds 32 envelopes, about 1 KB allocated and held for every connection;
/// a connection actor gets a handful of messages in its life, rarely two at once, so a locked queue that
/// starts empty and grows from 4 is enough (measured in bench/README.md).
/// </summary>
public sealed class ConnectionMailbox(Settings settings, Akka.Configuration.Config config)
    : MailboxType(settings, config), IProducesMessageQueue<ConnectionMailbox.Queue>
{
    public const string Path = "akkal4.connection-mailbox";

    public override IMessageQueue Create(IActorRef owner, ActorSystem system) => new Queue();

    public sealed class Queue : IMessageQueue, IUnboundedMessageQueueSemantics
    {
        private Envelope[] _items = [];
        private int _head;
        private int _count;

        public bool HasMessages => Volatile.Read(ref _count) > 0;

        public int Count => Volatile.Read(ref _count);

        public void Enqueue(IActorRef receiver, Envelope envelope)
        {
            lock (this)
            {
                if (_count == _items.Length)
                {
                    var grown = new Envelope[Math.Max(4, _items.Length * 2)];
                    for (var i = 0; i < _count; i++) grown[i] = _items[(_head + i) % _items.Length];
                    _items = grown;
                    _head = 0;
                }
                _items[(_head + _count) % _items.Length] = envelope;
                Volatile.Write(ref _count, _count + 1);
            }
        }

        public bool TryDequeue(out Envelope envelope)
        {
            lock (this)
            {
                if (_count == 0)
                {
                    envelope = default;
                    return false;
                }
                envelope = _items[_head];
                _items[_head] = default;
                _head = (_head + 1) % _items.Length;
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
