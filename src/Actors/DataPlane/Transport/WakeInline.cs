using Akka.Actor.Internal;
using Akka.Dispatch;

namespace AkkaL4.Actors.DataPlane.Transport;

/// <summary>
/// Runs a relay host's turn on the thread of the socket completion that woke it, instead of queuing it as one more work item
/// (bench/README.md, sessions 10 and 28). Only the first mailbox that a completion's callback schedules runs inline, and only
/// on a dispatcher made with <see cref="Configurator"/> (<c>akkal4.relay-dispatcher</c>); whatever that turn sends goes to the
/// pool as before. A relay's own sockets complete on the runtime's event thread (<see cref="InlineCompletions"/>), so their
/// turns run there: reads and writes that never block. Only SocketStage.Args completions and a plain upstream's connect
/// (SocketTransport's Dial, whose completion starts the relay) call back through here.
/// </summary>
internal static class WakeInline
{
    [ThreadStatic] private static bool _armed;

    /// <summary>Inside <see cref="Call"/> on this thread, before a host has taken the wake-up.</summary>
    internal static bool Armed => _armed;

    /// <summary>Calls <paramref name="callback"/>; a relay host it wakes runs its turn here, before this returns.</summary>
    public static void Call<T>(Action<T> callback, T value)
    {
        _armed = true;
        try
        {
            callback(value);
        }
        finally
        {
            _armed = false;
        }
    }

    private static bool Take()
    {
        if (!_armed) return false;
        _armed = false;
        return true;
    }

    /// <summary>The dispatcher's executor (HOCON <c>executor = "AkkaL4.Actors.DataPlane.Transport.WakeInline+Configurator, AkkaL4.Actors"</c>).</summary>
    public sealed class Configurator(Akka.Configuration.Config config, IDispatcherPrerequisites prerequisites) : ExecutorServiceConfigurator(config, prerequisites)
    {
        public override ExecutorService Produce(string id) => new Executor(id);
    }

    private sealed class Executor(string id) : ExecutorService(id)
    {
        public override void Execute(IRunnable run)
        {
            // Never inside an actor's turn (Akka keeps the running actor in a thread static, which the host's turn would clear):
            // completions do not run in one, and the guard costs a read.
            if (Take() && InternalCurrentActorCellKeeper.Current is null) run.Run();
            else ThreadPool.UnsafeQueueUserWorkItem(run, preferLocal: false);
        }

        public override void Shutdown()
        {
        }
    }
}
