using System.Net;
using System.Net.Sockets;

namespace AkkaL4.Actors.DataPlane.Transport;

/// <summary>
/// The listening sockets one transport (one node) has open, so its own binds can sit beside each other without opening its
/// ports to anybody else (sec13 §4). SO_REUSEPORT lets every process of the same uid bind the same address and take a
/// share of its clients, so a listener sets it only when <c>akkal4.data-plane.reuse-port</c> is on (replicas sharing
/// addresses) or when the node's own listeners need it: Linux refuses an address bound beside a listener on the wildcard
/// address of the same port (a Gateway server without bind, 0.0.0.0:PORT, and a Service VIP on PORT), or the wildcard beside
/// it, unless both sockets set it. Then it is set on both (on the one already listening too: the kernel looks at the flag
/// of the sockets in place when the next binds), and those ports are as open as with the setting on.
/// A listener bound again on its own address while its predecessor still closes (emptying what the kernel queued) waits
/// for that (<see cref="Closing"/>) instead of sharing it.
/// </summary>
public sealed class OwnListeners
{
    private const int SolSocket = 1;
    private const int SoReuseAddr = 2;
    private const int SoReusePort = 15;

    private readonly object _gate = new();
    private readonly List<Listening> _open = [];

    /// <summary>
    /// Sets the options of <paramref name="socket"/> before it binds <paramref name="address"/> (SO_REUSEADDR, so a restart
    /// binds through TIME_WAIT; SO_REUSEPORT as said above) and counts it as open until <see cref="Listening.Closed"/>.
    /// </summary>
    public Listening Prepare(IPEndPoint address, Socket socket, bool reusePort)
    {
        // Raw: .NET's ReuseAddress sets SO_REUSEPORT too on Unix (Windows' SO_REUSEADDR means both), which is what sec13 saw.
        if (OperatingSystem.IsLinux()) socket.SetRawSocketOption(SolSocket, SoReuseAddr, BitConverter.GetBytes(1));
        var listening = new Listening(this, address, socket);
        lock (_gate)
        {
            _open.RemoveAll(l => l.Gone);
            var beside = _open.Where(l => Overlap(l, listening)).ToList();
            if (reusePort || beside.Count > 0)
            {
                foreach (var other in beside) SetReusePort(other.Socket);
                SetReusePort(socket);
            }
            _open.Add(listening);
        }
        return listening;
    }

    /// <summary>When a listener of this node on exactly <paramref name="address"/> is still open (closing): done once it closed.</summary>
    public Task? Closing(IPEndPoint address)
    {
        lock (_gate)
        {
            _open.RemoveAll(l => l.Gone);
            return _open.FirstOrDefault(l => l.Address.Equals(address))?.Done;
        }
    }

    /// <summary>SO_REUSEPORT (Linux; elsewhere listeners share nothing). A closed socket is left alone.</summary>
    private static void SetReusePort(Socket socket)
    {
        if (!OperatingSystem.IsLinux()) return;
        try { socket.SetRawSocketOption(SolSocket, SoReusePort, BitConverter.GetBytes(1)); }
        catch (Exception e) when (e is ObjectDisposedException or SocketException) { }
    }

    /// <summary>
    /// Different addresses on one port of which one is the wildcard, of one family (an IPv6 wildcard listening dual-mode
    /// takes IPv4 too). The same address is a predecessor: waited for, not shared.
    /// </summary>
    private static bool Overlap(Listening a, Listening b)
    {
        if (a.Address.Port != b.Address.Port || a.Address.Address.Equals(b.Address.Address)) return false;
        var wildcard = Wildcard(a.Address) ? a : Wildcard(b.Address) ? b : null;
        if (wildcard is null) return false;
        return a.Address.AddressFamily == b.Address.AddressFamily || DualMode(wildcard.Socket);
    }

    private static bool Wildcard(IPEndPoint e) => e.Address.Equals(IPAddress.Any) || e.Address.Equals(IPAddress.IPv6Any);

    private static bool DualMode(Socket s)
    {
        try { return s.AddressFamily == AddressFamily.InterNetworkV6 && s.DualMode; }
        catch (Exception e) when (e is ObjectDisposedException or SocketException) { return false; }
    }

    /// <summary>One listening socket of the node, open until <see cref="Closed"/> (or until its socket is found closed).</summary>
    public sealed class Listening(OwnListeners owner, IPEndPoint address, Socket socket)
    {
        private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public IPEndPoint Address => address;
        internal Socket Socket => socket;
        internal Task Done => _done.Task;

        /// <summary>Closed by a way that did not say so (Akka.IO closing its own socket): counted as closed.</summary>
        internal bool Gone
        {
            get
            {
                if (!_done.Task.IsCompleted && !HandleClosed()) return false;
                _done.TrySetResult();
                return true;
            }
        }

        private bool HandleClosed()
        {
            try { return socket.SafeHandle.IsClosed; }
            catch (ObjectDisposedException) { return true; }
        }

        /// <summary>The socket no longer listens (closed, or replaced by a placeholder): a successor may bind.</summary>
        public void Closed()
        {
            lock (owner._gate) owner._open.Remove(this);
            _done.TrySetResult();
        }
    }
}
