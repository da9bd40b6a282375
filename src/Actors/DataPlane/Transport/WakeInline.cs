using Akka.Dispatch;

namespace AkkaL4.Actors.DataPlane.Transport;

/// <summary>
/// Runs a relay host's turn on the thread of the socket completion that woke it, instead of queuing it as a second work
/// item: a relayed message otherwise crosses the thread pool twice in the node (the runtime's completion, then the host's
/// mailbox; bench/README.md, session 10). Only the first mailbox that a completion's callback schedules runs inline, and
/// only on a dispatcher made with <see cref="Configurator"/> (<c>akkal4.relay-dispatcher</c>); whatever that turn sends
/// goes to the pool as before. The completion runs on a pool thread, not on the runtime's epoll thread, so a turn here
/// holds no other socket's events (unless DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1 runs every completion there).
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
            if (Take()) run.Run();
            else ThreadPool.UnsafeQueueUserWorkItem(run, preferLocal: false);
        }

        public override void Shutdown()
        {
        }
    }
}
