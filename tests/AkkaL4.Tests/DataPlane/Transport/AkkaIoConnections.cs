using Akka.Actor;
using Akka.IO;

namespace AkkaL4.Tests.DataPlane.Transport;

/// <summary>
/// The connections Akka.IO accepted in one actor system, read from their actors. Whether each is registered decides whether
/// <c>akka.io.tcp.register-timeout</c> can still stop (and reset) it: an accepted connection's actor arms a receive timeout
/// of register-timeout as it starts and clears it once registered (Akka.IO 1.5.73, TcpConnection.CompleteConnect and
/// WaitingForRegistration). So a test asks whether any still waits, instead of sleeping past the timeout — a sleep that
/// also let the machine's load decide, as a registration slower than the timeout reset a connection (the test then failed
/// on correct code).
/// </summary>
internal static class AkkaIoConnections
{
    /// <summary>Accepted connections still alive in <paramref name="system"/>: the children of Akka.IO's listeners.</summary>
    public static int Accepted(ActorSystem system) => Open(system).Count();

    /// <summary>How many of them still wait for their Register (a register-timeout armed). One not started yet reads as registered.</summary>
    public static int Unregistered(ActorSystem system) => Open(system).Count(c => c.ReceiveTimeout is not null);

    private static IEnumerable<ActorCell> Open(ActorSystem system) =>
        Children(system.Tcp()).SelectMany(Children).OfType<LocalActorRef>().Where(c => !c.IsTerminated).Select(c => c.Cell);

    private static IEnumerable<IActorRef> Children(IActorRef actor) => actor is ActorRefWithCell cell ? cell.Children : [];
}
