using System.Diagnostics;
using System.Diagnostics.Tracing;
using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using AkkaL4.Actors;
using AkkaL4.Actors.Config;
using AkkaL4.Actors.DataPlane;

namespace AkkaL4.Bench;

/// <summary>
/// <c>alloc [N]</c>: bytes the .NET heap allocates per accepted-and-relayed connection, in one process. A node
/// (built-in settings, access log on, written to nowhere) relays N connections one after another from a
/// blocking client to a blocking echo server (connect, 64 B, echo, close with RST, as compare.sh's connrate).
/// The same client and echo server run N connections directly too, and the node sits idle for as long as the
/// relayed run took; both are subtracted, so what remains is the node's cost per connection. Allocation
/// sampling (the runtime's AllocationTick event, one sample per ~100 KB) names the types that make it up (the top 25, or
/// as many as the variable <c>ALLOC_TOP</c> says).
/// <c>alloc N proxy</c>: each connection starts with a PROXY v1 header, read on a gateway listener of a node run with
/// accept-proxy-protocol; <c>alloc N tls</c>: each starts with a TLS ClientHello of 517 bytes (a browser's size, SNI
/// echo.example.com), read on a mesh port with a tls rule; the echo answers the hello's bytes instead of the 64 B.
/// <c>alloc N pingpong</c>: N 64 B messages and their echoes, one after another, over one relayed connection held open
/// (compare.sh's ping-pong, one connection): bytes and work items per message instead of per connection.
/// Addresses: 127.122.100.x (the #15 benchmarks' block in tests/AkkaL4.Tests/Support/AddressBlocks.cs), or the /24 named by
/// the variable <c>ALLOC_NET</c> (e.g. <c>127.123.100</c>), so that a session's helper relays in its own block.
/// </summary>
internal static class Allocations
{
    private static readonly string Net = Environment.GetEnvironmentVariable("ALLOC_NET") is { Length: > 0 } net ? net : "127.122.100";
    private static readonly IPEndPoint Vip = new(IPAddress.Parse($"{Net}.1"), 9000);
    private static readonly IPEndPoint Echo = new(IPAddress.Parse($"{Net}.2"), 9000);
    private static readonly IPAddress Client = IPAddress.Parse($"{Net}.3");
    private static readonly IPEndPoint Edge = new(IPAddress.Parse($"{Net}.4"), 9000);

    public static int Run(string[] args)
    {
        var n = args.Length > 0 ? int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 5000;
        var mode = args.Length > 1 ? args[1] : "plain";
        var first = mode switch
        {
            "plain" or "pingpong" => [],
            "proxy" => System.Text.Encoding.ASCII.GetBytes($"PROXY TCP4 10.0.0.1 {Vip.Address} 40000 9000\r\n"),
            "tls" => SyntheticHello("echo.example.com", 517),
            _ => throw new ArgumentException($"alloc mode '{mode}': plain, proxy, tls or pingpong"),
        };
        var message = mode == "tls" ? first : new byte[64];
        var output = Console.Out;
        // The access log is formatted as in production, then dropped (the node writes to Console.Out).
        Console.SetOut(TextWriter.Null);
        using var echo = new EchoServer(Echo);
        var node = RouterNode.Start(new RouterNodeOptions
        {
            Name = "alloc",
            Labels = AkkaL4.Messages.Model.Labels.Of(("istio", "alloc-gw")),
            // As a node run with --access-log: each line formatted and handed to the writer, which writes it to nowhere.
            AccessLog = new AccessLogOutput(TextWriter.Null, AccessLogFormat.Envoy),
            Overrides = "akka.loglevel = INFO\nakka.stdout-loglevel = ERROR" + (mode == "proxy" ? $"\nakkal4.data-plane.accept-proxy-protocol = on\nakkal4.data-plane.proxy-protocol-trusted-sources = [\"{Client}\"]" : ""),
        });
        try
        {
            var report = ConfigCheck.Check([("<alloc>", $$"""
                apiVersion: v1
                kind: Service
                metadata: {name: echo, namespace: default}
                spec:
                  clusterIP: {{Vip.Address}}
                  selector: {app: echo}
                  ports:
                  - {name: tcp, port: {{Vip.Port}}, targetPort: {{Echo.Port}}}
                ---
                apiVersion: networking.istio.io/v1
                kind: WorkloadEntry
                metadata: {name: echo, namespace: default}
                spec:
                  address: {{Echo.Address}}
                  labels: {app: echo}
                """ + mode switch
            {
                "proxy" => $$"""

                    ---
                    apiVersion: networking.istio.io/v1
                    kind: Gateway
                    metadata: {name: alloc-gw, namespace: default}
                    spec:
                      selector: {istio: alloc-gw}
                      servers: [{port: {number: {{Edge.Port}}, name: tcp, protocol: TCP}, bind: {{Edge.Address}}, hosts: ['*']}]
                    ---
                    apiVersion: networking.istio.io/v1
                    kind: VirtualService
                    metadata: {name: edge, namespace: default}
                    spec:
                      hosts: ['*']
                      gateways: [alloc-gw]
                      tcp:
                      - route:
                        - destination:
                            host: echo
                            port: {number: {{Vip.Port}}}
                    """,
                "tls" => """

                    ---
                    apiVersion: networking.istio.io/v1
                    kind: VirtualService
                    metadata: {name: by-sni, namespace: default}
                    spec:
                      hosts: [echo, echo.example.com]
                      tls: [{match: [{sniHosts: [echo.example.com]}], route: [{destination: {host: echo}}]}]
                    """,
                _ => "",
            })]);
            if (!report.Ok) throw new InvalidOperationException(string.Join("; ", report.Errors));
            node.Apply(report.Resources.ToList(), 1);
            node.WaitForListenersAsync(TimeSpan.FromSeconds(30)).GetAwaiter().GetResult();
            var finished = 0L;
            node.AccessLog.Observe(_ => Interlocked.Increment(ref finished));

            var target = mode == "proxy" ? Edge : Vip;
            if (mode == "pingpong") return PingPong(output, n, echo, () => Interlocked.Read(ref finished));
            // Warm-up: JIT, pools, the first connection's one-time costs.
            Connections(target, n / 5 + 100, echo, first, message);
            Connections(Echo, n / 5 + 100, echo, message, message);
            WaitFor(() => Interlocked.Read(ref finished) == n / 5 + 100);

            var direct = Measure(() => Connections(Echo, n, echo, message, message));
            var before = Interlocked.Read(ref finished);
            using var sampler = new AllocationSampler();
            var relayed = Measure(() =>
            {
                Connections(target, n, echo, first, message);
                WaitFor(() => Interlocked.Read(ref finished) == before + n);
            });
            sampler.Dispose();
            var idle = Measure(() => Thread.Sleep(relayed.Elapsed));

            var perConnection = (relayed.Bytes - direct.Bytes - idle.Bytes) / (double)n;
            // Thread-pool work items (each a queue and, on an idle pool, a worker woken): the hops a connection makes.
            var workItems = (relayed.WorkItems - direct.WorkItems - idle.WorkItems) / (double)n;
            output.WriteLine($"result mode=alloc/{mode} connections={n} bytes_per_conn={perConnection:F0} work_items_per_conn={workItems:F2} relayed_bytes={relayed.Bytes} direct_bytes={direct.Bytes} " +
                             $"idle_bytes={idle.Bytes} relayed_s={relayed.Elapsed.TotalSeconds:F2} gen0={relayed.Gen0} gen1={relayed.Gen1} gen2={relayed.Gen2}");
            output.WriteLine($"# {n} connections relayed: {perConnection:N0} bytes allocated per connection by the node " +
                             $"(through the node {relayed.Bytes / (double)n:N0} B/conn, client and echo alone {direct.Bytes / (double)n:N0}, " +
                             $"the idle node over the same {relayed.Elapsed.TotalSeconds:F1} s {idle.Bytes / (double)n:N0}); GCs gen0/1/2: {relayed.Gen0}/{relayed.Gen1}/{relayed.Gen2}; " +
                             $"{workItems:F2} thread-pool work items per connection");
            output.WriteLine("# sampled allocations while relaying (AllocationTick, ~100 KB each), bytes per connection by type:");
            foreach (var (type, bytes) in sampler.Top(int.TryParse(Environment.GetEnvironmentVariable("ALLOC_TOP"), out var top) ? top : 25))
                output.WriteLine($"#   {bytes / (double)n,8:N0}  {type}");
            return 0;
        }
        finally
        {
            node.DisposeAsync().AsTask().GetAwaiter().GetResult();
            Console.SetOut(output);
        }
    }

    /// <summary>
    /// <c>alloc N pingpong</c>: N messages over one connection through the node, against N over one connection to the echo
    /// directly and the idle node over as long; the rest is what the node allocates to relay a message and its echo.
    /// </summary>
    private static int PingPong(TextWriter output, int n, EchoServer echo, Func<long> finished)
    {
        // Warm-up: JIT and pools, on connections of their own (closed, so the access log has seen them).
        var warm = finished();
        Exchange(Vip, n / 5 + 100, echo);
        Exchange(Echo, n / 5 + 100, echo);
        WaitFor(() => finished() == warm + 1);

        var direct = Measure(() => Exchange(Echo, n, echo));
        using var sampler = new AllocationSampler();
        var relayed = Measure(() => Exchange(Vip, n, echo));
        sampler.Dispose();
        var idle = Measure(() => Thread.Sleep(relayed.Elapsed));

        // One connection's set-up and end are in the relayed run too: ~11 KB, under 1 B per message from 20,000 on.
        var perMessage = (relayed.Bytes - direct.Bytes - idle.Bytes) / (double)n;
        var workItems = (relayed.WorkItems - direct.WorkItems - idle.WorkItems) / (double)n;
        output.WriteLine($"result mode=alloc/pingpong messages={n} bytes_per_msg={perMessage:F0} work_items_per_msg={workItems:F2} relayed_bytes={relayed.Bytes} direct_bytes={direct.Bytes} " +
                         $"idle_bytes={idle.Bytes} relayed_s={relayed.Elapsed.TotalSeconds:F2} gen0={relayed.Gen0} gen1={relayed.Gen1} gen2={relayed.Gen2}");
        output.WriteLine($"# {n} messages of 64 B and their echoes over one relayed connection: {perMessage:N1} bytes allocated per message by the node " +
                         $"(through the node {relayed.Bytes / (double)n:N1} B/msg, client and echo alone {direct.Bytes / (double)n:N1}, the idle node over the same " +
                         $"{relayed.Elapsed.TotalSeconds:F1} s {idle.Bytes / (double)n:N1}); GCs gen0/1/2: {relayed.Gen0}/{relayed.Gen1}/{relayed.Gen2}; {workItems:F3} thread-pool work items per message");
        output.WriteLine("# sampled allocations while relaying (AllocationTick, ~100 KB each), bytes per message by type:");
        foreach (var (type, bytes) in sampler.Top(int.TryParse(Environment.GetEnvironmentVariable("ALLOC_TOP"), out var top) ? top : 25))
            output.WriteLine($"#   {bytes / (double)n,8:N1}  {type}");
        return 0;
    }

    /// <summary>One connection: <paramref name="n"/> times 64 B and its echo, then closed with RST.</summary>
    private static void Exchange(IPEndPoint target, int n, EchoServer echo)
    {
        var message = new byte[64];
        var response = new byte[message.Length];
        var closedBefore = echo.Closed;
        using (var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true })
        {
            socket.Bind(new IPEndPoint(Client, 0));
            socket.Connect(target);
            for (var i = 0; i < n; i++)
            {
                socket.Send(message);
                for (var read = 0; read < response.Length;)
                {
                    var got = socket.Receive(response, read, response.Length - read, SocketFlags.None, out var error);
                    if (got <= 0 || error != SocketError.Success) throw new IOException($"message {i} to {target}: echo ended after {read} bytes ({error})");
                    read += got;
                }
            }
            socket.LingerState = new LingerOption(true, 0);
        }
        WaitFor(() => echo.Closed >= closedBefore + 1);
    }

    /// <summary>
    /// A ClientHello as a browser's is laid out (TLS 1.2 record, random, session id, suites, SNI), padded (RFC 7685) to
    /// <paramref name="size"/> bytes in all.
    /// </summary>
    private static byte[] SyntheticHello(string sni, int size)
    {
        var name = System.Text.Encoding.ASCII.GetBytes(sni);
        var body = new List<byte> { 3, 3 };
        body.AddRange(new byte[32]);
        body.Add(32);
        body.AddRange(new byte[32]);
        body.AddRange(new byte[] { 0, 4, 0x13, 0x01, 0x13, 0x02, 1, 0 });
        var sniExtension = new List<byte> { 0, 0, 0, (byte)(name.Length + 5), 0, (byte)(name.Length + 3), 0, 0, (byte)name.Length };
        sniExtension.AddRange(name);
        var padding = size - 5 - 4 - body.Count - 2 - sniExtension.Count - 4;
        var extensions = new List<byte>(sniExtension) { 0, 21, (byte)(padding >> 8), (byte)padding };
        extensions.AddRange(new byte[padding]);
        body.AddRange(new[] { (byte)(extensions.Count >> 8), (byte)extensions.Count });
        body.AddRange(extensions);
        var hello = new List<byte> { 22, 3, 1, (byte)((body.Count + 4) >> 8), (byte)(body.Count + 4), 1, 0, (byte)(body.Count >> 8), (byte)body.Count };
        hello.AddRange(body);
        return hello.ToArray();
    }

    private sealed record Measurement(long Bytes, TimeSpan Elapsed, int Gen0, int Gen1, int Gen2, long WorkItems);

    private static Measurement Measure(Action run)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var (g0, g1, g2) = (GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2));
        var before = GC.GetTotalAllocatedBytes(precise: true);
        var workItems = ThreadPool.CompletedWorkItemCount;
        var clock = Stopwatch.StartNew();
        run();
        var elapsed = clock.Elapsed;
        var bytes = GC.GetTotalAllocatedBytes(precise: true) - before;
        return new Measurement(bytes, elapsed, GC.CollectionCount(0) - g0, GC.CollectionCount(1) - g1, GC.CollectionCount(2) - g2,
            ThreadPool.CompletedWorkItemCount - workItems);
    }

    private static void WaitFor(Func<bool> condition)
    {
        var deadline = Stopwatch.StartNew();
        while (!condition())
        {
            if (deadline.Elapsed > TimeSpan.FromSeconds(60)) throw new TimeoutException("the node did not finish its connections within 60 s");
            Thread.Sleep(1);
        }
    }

    /// <summary>
    /// N connections, one at a time: connect, <paramref name="send"/> (the preamble, if any, then 64 B; or the ClientHello
    /// alone), the echo of <paramref name="echoed"/> (what reaches the upstream), close with RST.
    /// </summary>
    private static void Connections(IPEndPoint target, int n, EchoServer echo, byte[] first, byte[] echoed)
    {
        var message = first.Length == 0 || first == echoed ? echoed : [.. first, .. echoed];
        var response = new byte[echoed.Length];
        var closedBefore = echo.Closed;
        for (var i = 0; i < n; i++)
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            socket.Bind(new IPEndPoint(Client, 0));
            socket.Connect(target);
            socket.Send(message);
            for (var read = 0; read < response.Length;)
            {
                var got = socket.Receive(response, read, response.Length - read, SocketFlags.None, out var error);
                if (got <= 0 || error != SocketError.Success) throw new IOException($"connection {i} to {target}: echo ended after {read} bytes ({error})");
                read += got;
            }
            socket.LingerState = new LingerOption(true, 0);
        }
        WaitFor(() => echo.Closed >= closedBefore + n);
    }

    /// <summary>Accepts one connection at a time, echoes until the peer closes.</summary>
    private sealed class EchoServer : IDisposable
    {
        private readonly Socket _listener;
        private readonly Thread _thread;
        private long _closed;

        public EchoServer(IPEndPoint at)
        {
            _listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            _listener.Bind(at);
            _listener.Listen(512);
            _thread = new Thread(Serve) { IsBackground = true, Name = "echo" };
            _thread.Start();
        }

        public long Closed => Interlocked.Read(ref _closed);

        private void Serve()
        {
            var buffer = new byte[4096];
            while (true)
            {
                Socket socket;
                try { socket = _listener.Accept(); }
                catch (Exception e) when (e is SocketException or ObjectDisposedException) { return; }
                using (socket)
                {
                    socket.NoDelay = true;
                    while (true)
                    {
                        var got = socket.Receive(buffer, 0, buffer.Length, SocketFlags.None, out var error);
                        if (got <= 0 || error != SocketError.Success) break;
                        socket.Send(buffer, 0, got, SocketFlags.None, out _);
                    }
                    socket.LingerState = new LingerOption(true, 0);
                }
                Interlocked.Increment(ref _closed);
            }
        }

        public void Dispose() => _listener.Dispose();
    }

    /// <summary>The runtime's GC AllocationTick events (one per ~100 KB allocated), summed by type.</summary>
    private sealed class AllocationSampler : EventListener
    {
        private readonly Dictionary<string, long> _byType = [];
        private volatile bool _on = true;

        protected override void OnEventSourceCreated(EventSource source)
        {
            if (source.Name == "Microsoft-Windows-DotNETRuntime") EnableEvents(source, EventLevel.Verbose, (EventKeywords)0x1); // GC
        }

        protected override void OnEventWritten(EventWrittenEventArgs e)
        {
            if (!_on || e.EventName is null || !e.EventName.StartsWith("GCAllocationTick", StringComparison.Ordinal) || e.Payload is null) return;
            var type = e.PayloadNames!.IndexOf("TypeName") is var t and >= 0 ? e.Payload[t] as string ?? "?" : "?";
            var amount = e.PayloadNames!.IndexOf("AllocationAmount64") is var a and >= 0 ? Convert.ToInt64(e.Payload[a], System.Globalization.CultureInfo.InvariantCulture) : 100_000;
            lock (_byType) _byType[type] = _byType.GetValueOrDefault(type) + amount;
        }

        public IEnumerable<(string Type, long Bytes)> Top(int count)
        {
            lock (_byType) return _byType.OrderByDescending(p => p.Value).Take(count).Select(p => (p.Key, p.Value)).ToList();
        }

        public override void Dispose()
        {
            _on = false;
            base.Dispose();
        }
    }
}
