using Akka.Actor;
using Akka.Dispatch;
using AkkaL4.Actors.DataPlane;
using AkkaL4.Tests.Support;

namespace AkkaL4.Tests.DataPlane;

/// <summary>
/// The connection actors' queue keeps its first envelope in a field and the rest in a ring that grows: messages still come
/// out in the order they went in, however enqueues and dequeues interleave across the field, the ring's wrap and its growth.
/// </summary>
[Trait("Category", "Unit")]
[Trait(TestCategories.TransportTrait, TestCategories.TransportNamed)]
public class ConnectionMailboxTests
{
    private static Envelope Message(int n) => new(n, ActorRefs.NoSender);

    [Fact]
    public void Messages_come_out_in_the_order_they_went_in_across_the_first_slot_the_wrap_and_growth()
    {
        var queue = new ConnectionMailbox.Queue();
        var sent = 0;
        var received = new List<int>();
        // Rounds of "enqueue k, dequeue j" walk the ring's head round its array, then past several growths (4, 8, 16).
        foreach (var (enqueue, dequeue) in new[] { (1, 1), (3, 2), (2, 1), (5, 3), (1, 4), (9, 2), (12, 10), (0, 10) })
        {
            for (var i = 0; i < enqueue; i++) queue.Enqueue(ActorRefs.Nobody, Message(sent++));
            for (var i = 0; i < dequeue; i++)
            {
                Assert.True(queue.TryDequeue(out var envelope));
                received.Add((int)envelope.Message);
            }
            Assert.Equal(sent - received.Count, queue.Count);
            Assert.Equal(sent > received.Count, queue.HasMessages);
        }

        Assert.Equal(Enumerable.Range(0, sent), received);
        Assert.False(queue.TryDequeue(out _));
        Assert.False(queue.HasMessages);
    }
}
