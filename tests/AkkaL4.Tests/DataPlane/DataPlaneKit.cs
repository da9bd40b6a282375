using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Akka.Actor;
using AkkaL4.Actors;
using AkkaL4.Actors.Config;
using AkkaL4.Actors.DataPlane;
using AkkaL4.Actors.Routing;
using AkkaL4.Messages.Model;

namespace AkkaL4.Tests.DataPlane;

/// <summary>
/// End-to-end test kit: a router node with its access log and metrics captured, real loopback
/// clients, and waits for a task with a deadline (condition waits: <see cref="Waits"/>). Each test class owns the third octet of its
/// 127.1.N.x addresses so classes running in parallel never share a socket address.
/// </summary>
internal static class Kit
{
    /// <summary>
    /// A node's descriptor budget with room for exactly <paramref name="places"/> places (connections or accept streams),
    /// read each time the budget looks, whatever the test process holds: its own descriptors (other tests' sockets)
    /// would move a real count. <paramref name="clock"/>, if given, is the budget's clock: it is read once per look for room (each place asked for).
    /// </summary>
    public static Func<int, DescriptorBudget> FixedRoom(Func<int> places, Func<long>? clock = null) => reserve => new DescriptorBudget(reserve,
        () => OthersOpen + reserve + DescriptorBudget.PerConnection * places(), () => OthersOpen, clock ?? (() => Environment.TickCount64));

    public static Func<int, DescriptorBudget> FixedRoom(int places) => FixedRoom(() => places);

    /// <summary>The rest of the process, as a <see cref="FixedRoom(Func{int}, Func{long})"/> budget counts it.</summary>
    private const int OthersOpen = 100;

    public static IPEndPoint At(string ip, int port) => new(IPAddress.Parse(ip), port);

    // ManifestDecoder shares one NullabilityInfoContext (not thread-safe) across threads, so decoding from
    // test classes running in parallel can fail while its cache warms up (reported as a src bug). The data
    // plane is what these tests are about, so they decode one at a time.
    private static readonly object DecodeLock = new();

    /// <summary>Decodes, validates and analyses manifests (one at a time, see <see cref="DecodeLock"/>).</summary>
    public static ConfigReport Check(IEnumerable<(string Source, string Text)> inputs)
    {
        lock (DecodeLock) return ConfigCheck.Check(inputs);
    }

    /// <summary>Decodes and validates manifests; fails the test on any error.</summary>
    public static IReadOnlyList<Resource> Resources(params string[] documents)
    {
        var report = Check([("<test>", string.Join("\n---\n", documents))]);
        Assert.True(report.Ok, "manifests rejected: " + string.Join("; ", report.Errors));
        return report.Resources;
    }

    public static async Task<T> WithinAsync<T>(Task<T> task, string what, TimeSpan? timeout = null)
    {
        try { return await task.WaitAsync(timeout ?? Patience); }
        catch (TimeoutException) { throw new TimeoutException($"timed out waiting for {what}"); }
    }
}

/// <summary>Every <see cref="AccessLogEntry"/> a node published, with waits for the entry of a given client connection.</summary>
internal sealed class AccessLog
{
    private readonly object _gate = new();
    private readonly List<AccessLogEntry> _entries = [];
    private readonly List<(Func<AccessLogEntry, bool> Match, TaskCompletionSource<AccessLogEntry> Done)> _waiters = [];

    public void Add(AccessLogEntry entry)
    {
        List<TaskCompletionSource<AccessLogEntry>> done = [];
        lock (_gate)
        {
            _entries.Add(entry);
            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                if (!_waiters[i].Match(entry)) continue;
                done.Add(_waiters[i].Done);
                _waiters.RemoveAt(i);
            }
        }
        foreach (var tcs in done) tcs.TrySetResult(entry);
    }

    public IReadOnlyList<AccessLogEntry> Entries
    {
        get { lock (_gate) return _entries.ToList(); }
    }

    /// <summary>The first entry (already logged or still to come) that matches.</summary>
    public Task<AccessLogEntry> WaitAsync(Func<AccessLogEntry, bool> match, string what, TimeSpan? timeout = null)
    {
        Task<AccessLogEntry> task;
        lock (_gate)
        {
            var found = _entries.FirstOrDefault(match);
            if (found is not null) return Task.FromResult(found);
            var tcs = new TaskCompletionSource<AccessLogEntry>(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((match, tcs));
            task = tcs.Task;
        }
        return Kit.WithinAsync(task, "the access-log entry of " + what, timeout);
    }

    /// <summary>
    /// The entry of one client connection: its source address and port, started no earlier than the
    /// client began connecting (a source port can come round again within a test run).
    /// </summary>
    public Task<AccessLogEntry> ForAsync(ConnectionId client, TimeSpan? timeout = null)
    {
        var source = client.Local.ToString();
        return WaitAsync(e => e.Source == source && e.Start >= client.Opened, "connection from " + source, timeout);
    }
}

/// <summary>Sums each counter of one node's "AkkaL4.DataPlane" meter (told apart from other nodes' by its "node" tag).</summary>
internal sealed class MetricsProbe : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<string, long> _totals = new();

    public MetricsProbe(string node)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == DataPlaneMetrics.MeterName
                && instrument.Meter.Tags?.Any(t => t.Key == "node" && Equals(t.Value, node)) == true)
                listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, _, _) =>
            (instrument.IsObservable ? _observed : _totals).AddOrUpdate(instrument.Name, value, (_, v) => v + value));
        _listener.Start();
    }

    /// <summary>Observed instruments (gauges, byte counters) report absolute values: read afresh on each look.</summary>
    private readonly ConcurrentDictionary<string, long> _observed = new();

    public long this[string counter]
    {
        get
        {
            lock (_observed)
            {
                _observed.Clear();
                _listener.RecordObservableInstruments();
                return _observed.TryGetValue(counter, out var observed) ? observed : _totals.GetValueOrDefault(counter);
            }
        }
    }

    /// <summary>Waits until <paramref name="counter"/> is <paramref name="value"/>; a failure shows its last value and <paramref name="context"/>'s text.</summary>
    public Task WaitForAsync(string counter, long value, Func<string>? context = null) =>
        EventuallyAsync(() => this[counter] == value,
            () => $"{counter} == {value} (it is {this[counter]}){(context is null ? "" : "; " + context())}");

    public void Dispose() => _listener.Dispose();
}

/// <summary>Forwards one event type from the event stream to a callback.</summary>
internal sealed class EventTap<T> : ReceiveActor
{
    public EventTap(Action<T> sink) => Receive<T>(sink);
}

/// <summary>A router node for one test: its access log and metrics captured from the start.</summary>
internal sealed class TestRouter : IAsyncDisposable
{
    // The access log goes to the event stream whatever the level; keep the console for real trouble.
    private const string Quiet = "akka.loglevel = ERROR";

    public RouterNode Node { get; }
    public AccessLog Log { get; } = new();
    public MetricsProbe Metrics { get; }

    private TestRouter(RouterNode node)
    {
        Node = node;
        Metrics = new MetricsProbe(node.Options.Name);
        // Observed synchronously, before any connection can end.
        node.AccessLog.Observe(Log.Add);
    }

    public static TestRouter Start(string name, Labels? labels = null, bool serveMesh = true, IReadOnlyList<string>? seeds = null, string? settings = null,
        Actors.DataPlane.Transport.ITcpTransport? transport = null, Func<int, Actors.DataPlane.DescriptorBudget>? descriptors = null,
        Func<Props, Props>? frontOfRouters = null) =>
        new(RouterNode.Start(new RouterNodeOptions
        {
            Descriptors = descriptors,
            FrontOfRouters = frontOfRouters,
            Name = $"{name}-{Guid.NewGuid():N}",
            Labels = labels ?? Labels.Empty,
            ServeMesh = serveMesh,
            Seeds = seeds ?? [],
            Overrides = settings is null ? Quiet : $"{Quiet}\n{settings}",
        }, transport));

    public Task<RouteSnapshot> ApplyAsync(long revision, params string[] documents) => ApplyAsync(Kit.Resources(documents), revision);

    /// <summary>Puts a configuration in force and waits until every listener of it is bound.</summary>
    public async Task<RouteSnapshot> ApplyAsync(IReadOnlyList<Resource> resources, long revision)
    {
        var snapshot = Node.Apply(resources.ToList(), revision);
        var listeners = await Node.WaitForListenersAsync(Patience);
        Assert.Equal(snapshot.Listeners.Count, listeners.Count);
        Assert.All(listeners, l => Assert.True(l.Bound, $"listener {l.Address} not bound: {l.Error}"));
        return snapshot;
    }

    /// <summary>The id of the (only) cluster for <paramref name="host"/> and <paramref name="subset"/> in the configuration in force.</summary>
    public string ClusterId(string host, string? subset = null) =>
        Node.Routes.Current.Clusters.Single(c => c.Host == host && c.Subset == subset).Id;

    public async ValueTask DisposeAsync()
    {
        await Node.DisposeAsync();
        Metrics.Dispose();
    }
}

/// <summary>One client connection as the router sees it: source address and port, and when the client began connecting.</summary>
internal sealed record ConnectionId(IPEndPoint Local, DateTimeOffset Opened)
{
    public bool Matches(AccessLogEntry entry) => entry.Source == Local.ToString() && entry.Start >= Opened;
}

/// <summary>How a connection ended from the client's side.</summary>
internal sealed record ClientEnd(string Text, long Bytes, bool Reset)
{
    public bool NoData => Bytes == 0;
}

/// <summary>A real TCP client on loopback, bound to its own source address (its identity to the router).</summary>
internal sealed class TestClient : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly MemoryStream _pending = new();
    private readonly byte[] _buffer = new byte[16 * 1024];

    private TestClient(Socket socket, DateTimeOffset opened)
    {
        _socket = socket;
        Id = new ConnectionId((IPEndPoint)socket.LocalEndPoint!, opened);
    }

    public IPEndPoint Local => Id.Local;

    /// <summary>What identifies this connection in the router's access log.</summary>
    public ConnectionId Id { get; }

    public static async Task<TestClient> ConnectAsync(string source, IPEndPoint destination)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            var opened = DateTimeOffset.UtcNow;
            socket.Bind(new IPEndPoint(IPAddress.Parse(source), 0));
            using var cts = new CancellationTokenSource(Patience);
            await socket.ConnectAsync(destination, cts.Token);
            return new TestClient(socket, opened);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Tries to connect; the socket error when refused (or null when it connected, then closed again).</summary>
    public static async Task<SocketError?> TryConnectAsync(string source, IPEndPoint destination)
    {
        try
        {
            await using var client = await ConnectAsync(source, destination);
            return null;
        }
        catch (SocketException e)
        {
            return e.SocketErrorCode;
        }
    }

    /// <summary>What <c>echo LINE | nc -N -s SOURCE HOST PORT</c> shows: send one line, close the write side, read all.</summary>
    public static async Task<(string Reply, ConnectionId Id)> OneLineAsync(string source, IPEndPoint destination, string line)
    {
        await using var client = await ConnectAsync(source, destination);
        await client.SendLineAsync(line);
        client.ShutdownSend();
        var end = await client.ReadToCloseAsync();
        return (end.Text.TrimEnd('\n'), client.Id);
    }

    public async Task SendAsync(ReadOnlyMemory<byte> data)
    {
        using var cts = new CancellationTokenSource(Patience);
        while (!data.IsEmpty)
        {
            var n = await _socket.SendAsync(data, SocketFlags.None, cts.Token);
            data = data[n..];
        }
    }

    public Task SendLineAsync(string line) => SendAsync(Encoding.UTF8.GetBytes(line + "\n"));

    public void ShutdownSend() => _socket.Shutdown(SocketShutdown.Send);

    /// <summary>The next line; fails when the connection ends first or nothing comes in time.</summary>
    public async Task<string> ReadLineAsync()
    {
        using var cts = new CancellationTokenSource(Patience);
        while (true)
        {
            var pending = _pending.GetBuffer().AsSpan(0, (int)_pending.Length);
            var newline = pending.IndexOf((byte)'\n');
            if (newline >= 0)
            {
                var line = Encoding.UTF8.GetString(pending[..newline]);
                var rest = pending[(newline + 1)..].ToArray();
                _pending.SetLength(0);
                _pending.Write(rest);
                return line;
            }
            int n;
            try { n = await _socket.ReceiveAsync(_buffer, SocketFlags.None, cts.Token); }
            catch (OperationCanceledException) { throw new TimeoutException($"no line from {_socket.RemoteEndPoint} within {Patience}"); }
            if (n == 0) throw new IOException($"connection from {Local} closed before a full line (got '{Encoding.UTF8.GetString(_pending.ToArray())}')");
            _pending.Write(_buffer, 0, n);
        }
    }

    public async Task<string> AskAsync(string line)
    {
        await SendLineAsync(line);
        return await ReadLineAsync();
    }

    /// <summary>Reads until the peer closes (FIN or reset); fails when it does not close in time.</summary>
    public async Task<ClientEnd> ReadToCloseAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? Patience);
        var received = new MemoryStream();
        received.Write(_pending.GetBuffer(), 0, (int)_pending.Length);
        _pending.SetLength(0);
        try
        {
            while (true)
            {
                var n = await _socket.ReceiveAsync(_buffer, SocketFlags.None, cts.Token);
                if (n == 0) return new ClientEnd(Encoding.UTF8.GetString(received.ToArray()), received.Length, false);
                received.Write(_buffer, 0, n);
            }
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"connection from {Local} still open after {timeout ?? Patience} (received '{Encoding.UTF8.GetString(received.ToArray())}')");
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionAborted)
        {
            return new ClientEnd(Encoding.UTF8.GetString(received.ToArray()), received.Length, true);
        }
    }

    /// <summary>Reads raw bytes into <paramref name="buffer"/>; 0 at end of stream.</summary>
    public ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancel) => _socket.ReceiveAsync(buffer, SocketFlags.None, cancel);

    public ValueTask<int> SendSomeAsync(ReadOnlyMemory<byte> data, CancellationToken cancel) => _socket.SendAsync(data, SocketFlags.None, cancel);

    /// <summary>The socket's TCP state from Linux's TCP_INFO (its first byte, tcpi_state: 1 ESTABLISHED, 7 CLOSE, 8 CLOSE_WAIT).</summary>
    public int TcpState
    {
        get
        {
            var info = new byte[8];
            _socket.GetRawSocketOption(6 /* SOL_TCP */, 11 /* TCP_INFO */, info);
            return info[0];
        }
    }

    /// <summary>Closes with an RST instead of a FIN.</summary>
    public void Reset()
    {
        _socket.LingerState = new LingerOption(true, 0);
        _socket.Close();
    }

    public ValueTask DisposeAsync()
    {
        _socket.Dispose();
        return ValueTask.CompletedTask;
    }
}

/// <summary>An upstream that sends back every byte it receives and half-closes once the client has.</summary>
internal sealed class ByteEchoServer : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _acceptLoop;
    private readonly ConcurrentBag<Task> _serving = [];

    public ByteEchoServer(IPEndPoint address)
    {
        _listener = new TcpListener(address);
        _listener.Start(64);
        _acceptLoop = AcceptLoop();
    }

    private async Task AcceptLoop()
    {
        while (true)
        {
            Socket socket;
            try { socket = await _listener.AcceptSocketAsync(_stop.Token); }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException) { return; }
            _serving.Add(Serve(socket));
        }
    }

    private async Task Serve(Socket socket)
    {
        using var _ = socket;
        var buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                var n = await socket.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
                if (n == 0) break;
                var sent = 0;
                while (sent < n) sent += await socket.SendAsync(buffer.AsMemory(sent, n - sent), SocketFlags.None, _stop.Token);
            }
            socket.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // The other side went away.
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _acceptLoop;
        await Task.WhenAll(_serving);
        _stop.Dispose();
    }
}
