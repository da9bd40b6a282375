using System.Globalization;
using System.Net.Sockets;
using System.Runtime.CompilerServices;

namespace AkkaL4.Actors.DataPlane.Transport;

/// <summary>
/// A relayed socket's completions run on the runtime's socket event thread instead of being queued to the thread pool, as
/// <c>DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1</c> does for every socket of a process, but for the relay's two sockets
/// only: with <see cref="WakeInline"/> a relayed message is then read and written on the event thread that saw it arrive, with
/// no hand-off to another thread (HAProxy's and nginx's model; bench/README.md, session 28). What such a completion runs is the
/// relay host's turn: reads and writes that never block. Listening sockets (an accept tells the listener) and plain upstreams'
/// connecting sockets (the connect starts the relay) prefer them too (<see cref="SocketTransport"/>, session 29). Sockets whose
/// completions run other code (TLS origination's handshake and certificate checks, the journal's database reads, the admin
/// API, remoting) keep the pool.
/// </summary>
public static class InlineCompletions
{
    /// <summary>The runtime's count of socket event threads (read once, at the process's first socket operation).</summary>
    public const string EventThreadsVariable = "DOTNET_SYSTEM_NET_SOCKETS_THREAD_COUNT";

    // The runtime's own per-socket form of the variable (internal: Socket.PreferInlineCompletions, .NET 5 and later).
    [UnsafeAccessor(UnsafeAccessorKind.Method, Name = "set_PreferInlineCompletions")]
    private static extern void SetPreferInlineCompletions(Socket socket, bool value);

    private static volatile bool _missing;

    /// <summary>
    /// Makes <paramref name="socket"/>'s completions run inline; false (and the pool as before) on a runtime without the
    /// setting.
    /// </summary>
    internal static bool Prefer(Socket socket)
    {
        if (_missing) return false;
        try
        {
            SetPreferInlineCompletions(socket, true);
            return true;
        }
        catch (MissingMethodException)
        {
            _missing = true;
            return false;
        }
    }

    /// <summary>
    /// One socket event thread per core, as the runtime has with <c>DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1</c>, unless
    /// <see cref="EventThreadsVariable"/> is set: relays run on these threads, and the runtime's default (one for up to 45
    /// cores) kept them to one core (8 streams of bulk on two cores: 16.2 → 13.1 Gbit/s with one, 16.5 with two; bench/README.md,
    /// session 28). For a process's start, before its first socket operation.
    /// </summary>
    public static void OneEventThreadPerCore()
    {
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable(EventThreadsVariable)))
            Environment.SetEnvironmentVariable(EventThreadsVariable, Environment.ProcessorCount.ToString(CultureInfo.InvariantCulture));
    }
}
