using System.Diagnostics;
using System.Net.Sockets;

namespace AkkaL4.LoadGen;

/// <summary>
/// <c>pingpong --target IP:PORT --connections N --seconds S [--sources A-B] [--pid PID]</c>: N persistent
/// connections, each sending 64 B and waiting for its echo before the next (one request in flight per
/// connection). Reports messages per second and the round-trip latency's p50/p99/p99.9.
/// <c>--rate R</c> makes it open-loop: R messages per second in all, each connection sending its share on a fixed
/// schedule whether or not the echoes have come back (they queue on the connection, in order); a message's latency
/// runs from when it was due to when its echo arrived.
/// </summary>
internal static class PingPong
{
    public static async Task<int> RunAsync(Options options, CancellationToken stop)
    {
        var target = options.EndPoint("target");
        var seconds = options.Seconds("seconds", 10);
        var connections = Math.Max(1, options.Int("connections", 8));
        var sources = options.Sources();
        var timeout = TimeSpan.FromSeconds(options.Seconds("timeout", 5));
        var probe = ProcessProbe.From(options);
        var label = options.Get("label") ?? target.ToString();
        var rate = options.Positive("rate", 0);
        var warmup = options.Get("warmup") is null ? (rate > 0 ? 1 : 0) : options.Seconds("warmup", 1);
        options.EnsureAllRead();

        var failures = new Failures();
        var sockets = new Socket?[connections];
        try
        {
            // Connect (and check with one exchange) before the clock starts.
            await Task.WhenAll(Enumerable.Range(0, connections).Select(async i =>
            {
                using var timer = new CancellationTokenSource(timeout);
                var socket = Net.Client(sources.Length == 0 ? null : sources[i % sources.Length]);
                try
                {
                    await socket.ConnectAsync(target, timer.Token);
                    await Net.ExchangeAsync(socket, Net.Message(i), new byte[Net.MessageSize], timer.Token);
                    sockets[i] = socket;
                }
                catch (Exception e) when (e is SocketException or EchoException or OperationCanceledException)
                {
                    Net.Abort(socket);
                    failures.Add(e);
                }
            }));
            var open = sockets.Where(s => s is not null).Select(s => s!).ToArray();
            if (open.Length == 0)
            {
                new Report("pingpong").Add("target", label).Add("connections", 0).Add("msg_per_s", 0).Add("failures", failures.Total)
                    .Print($"pingpong {label}: no connection could be opened");
                failures.Print(Console.Out);
                return 1;
            }

            var histograms = new LatencyHistogram[open.Length];
            if (rate > 0 && warmup > 0)
            {
                // A run at the same rate first, unrecorded, so that the JIT's first calls are not in the figures.
                var from = Stopwatch.GetTimestamp();
                await Task.WhenAll(Enumerable.Range(0, open.Length).Select(i =>
                    Task.Run(() => OpenLoopAsync(i, new LatencyHistogram(), from, from + (long)(warmup * Stopwatch.Frequency)), CancellationToken.None)));
            }
            var cpuBefore = probe?.CpuSeconds() ?? double.NaN;
            var contention = Contention.Start(probe);
            var started = Stopwatch.GetTimestamp();
            var deadline = started + (long)(seconds * Stopwatch.Frequency);
            await Task.WhenAll(Enumerable.Range(0, open.Length).Select(i => Task.Run(rate > 0 ? () => OpenLoopAsync(i, histograms[i] = new LatencyHistogram(), started, deadline) : () => ClosedLoopAsync(i), CancellationToken.None)));
            var elapsed = Stopwatch.GetElapsedTime(started).TotalSeconds;
            var cpu = probe is null ? double.NaN : probe.CpuSeconds() - cpuBefore;

            var all = new LatencyHistogram();
            foreach (var h in histograms) all.Add(h);
            var achieved = all.Count / elapsed;
            var (p50, p99, p999) = (all.PercentileMicroseconds(50), all.PercentileMicroseconds(99), all.PercentileMicroseconds(99.9));
            var report = contention.AddTo(new Report("pingpong"));
            report.Add("target", label).Add("seconds", elapsed, 2).Add("loop", rate > 0 ? "open" : "closed").Add("rate", rate, 0)
                .Add("connections", open.Length).Add("messages", all.Count).Add("msg_per_s", achieved, 1).Add("failures", failures.Total)
                .Add("p50_us", p50).Add("p99_us", p99).Add("p999_us", p999).Add("max_us", all.MaxNanoseconds / 1000.0)
                .Add("proxy_cpu_s", cpu, 3)
                .Print($"pingpong {label}: {Format.N(achieved, 0)} msg/s over {open.Length} connections ({all.Count} in {elapsed:F1} s"
                       + (rate > 0 ? $", open loop at {Format.N(rate, 0)}/s" : ", one in flight each")
                       + $"), {failures.Total} failures, round trip p50 {Format.N(p50)} µs p99 {Format.N(p99)} µs p99.9 {Format.N(p999)} µs"
                       + (probe is null ? "" : $", proxy CPU {cpu:F2} s"));
            failures.Print(Console.Out);
            return failures.Total == 0 ? 0 : 1;

            async Task ClosedLoopAsync(int i)
            {
                var histogram = histograms[i] = new LatencyHistogram();
                var message = Net.Message(i);
                var response = new byte[Net.MessageSize];
                var timer = new CancellationTokenSource();
                try
                {
                    while (Stopwatch.GetTimestamp() < deadline && !stop.IsCancellationRequested)
                    {
                        if (!timer.TryReset())
                        {
                            timer.Dispose();
                            timer = new CancellationTokenSource();
                        }
                        timer.CancelAfter(timeout);
                        var t0 = Stopwatch.GetTimestamp();
                        await Net.ExchangeAsync(open[i], message, response, timer.Token);
                        histogram.RecordSince(t0);
                    }
                }
                catch (Exception e) when (e is SocketException or EchoException or OperationCanceledException)
                {
                    if (!stop.IsCancellationRequested) failures.Add(e); // this connection is done; the others go on
                }
                finally
                {
                    timer.Dispose();
                }
            }

            // Open loop: a sender on a fixed schedule, a reader matching echoes to due times in order.
            async Task OpenLoopAsync(int i, LatencyHistogram histogram, long from, long until)
            {
                var message = Net.Message(i);
                var socket = open[i];
                var due = System.Threading.Channels.Channel.CreateUnbounded<long>(new() { SingleReader = true, SingleWriter = true });
                var pacer = new Pacer(rate / open.Length, from + (long)(i * Stopwatch.Frequency / rate)); // staggered
                using var broken = CancellationTokenSource.CreateLinkedTokenSource(stop);
                // Every message sent is owed an echo; they come back in order.
                var reader = Task.Run(async () =>
                {
                    var response = new byte[Net.MessageSize];
                    await foreach (var at in due.Reader.ReadAllAsync(broken.Token))
                    {
                        using var timer = CancellationTokenSource.CreateLinkedTokenSource(broken.Token);
                        timer.CancelAfter(timeout);
                        await Net.ReceiveEchoAsync(socket, message, response, timer.Token);
                        histogram.RecordSince(at);
                    }
                });
                try
                {
                    for (long k = 0; ; k++)
                    {
                        var at = pacer.DueAt(k);
                        if (at >= until || reader.IsCompleted) break;
                        await Pacer.WaitUntilAsync(at, broken.Token);
                        due.Writer.TryWrite(at);
                        await Net.SendAsync(socket, message, broken.Token);
                    }
                    due.Writer.TryComplete();
                    await reader;
                }
                catch (Exception e) when (e is SocketException or EchoException or OperationCanceledException)
                {
                    if (!stop.IsCancellationRequested) failures.Add(e); // this connection is done; the others go on
                    broken.Cancel();
                }
            }
        }
        finally
        {
            foreach (var socket in sockets)
                if (socket is not null) Net.Abort(socket);
        }
    }
}
