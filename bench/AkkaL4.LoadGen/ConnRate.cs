using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace AkkaL4.LoadGen;

/// <summary>
/// <c>connrate --target IP:PORT --seconds N --concurrency C [--sources A-B] [--close rst|fin] [--timeout S] [--pid PID]</c>:
/// C workers each loop: bind the next source address (round robin), connect, send 64 B, read the 64 B echo,
/// close. The latency recorded is the whole connection, from before connect until after close.
/// <c>--close rst</c> (default) closes with SO_LINGER 0 so no TIME_WAIT piles up on the client;
/// <c>--close fin</c> half-closes and waits for the proxy's FIN first. With <c>--pid</c>, the CPU time the
/// proxy used during the run is reported per 1,000 connections.
/// <c>--rate R</c> makes it open-loop: connection k starts at k / R seconds whatever the others are doing (at most
/// <c>--max-inflight</c> at once; beyond that a start waits, and its wait counts), and latency runs from when it was due.
/// </summary>
internal static class ConnRate
{
    public static async Task<int> RunAsync(Options options, CancellationToken stop)
    {
        var target = options.EndPoint("target");
        var seconds = options.Seconds("seconds", 10);
        var concurrency = Math.Max(1, options.Int("concurrency", 16));
        var sources = options.Sources();
        var close = options.Get("close") ?? "rst";
        if (close is not ("rst" or "fin")) throw new UsageException("--close is rst or fin");
        var timeout = TimeSpan.FromSeconds(options.Seconds("timeout", 5));
        var probe = ProcessProbe.From(options);
        var label = options.Get("label") ?? target.ToString();
        var rate = options.Positive("rate", 0);
        var maxInflight = Math.Max(1, options.Int("max-inflight", 4096));
        var warmup = options.Get("warmup") is null ? (rate > 0 ? 1 : 0) : options.Seconds("warmup", 1);
        options.EnsureAllRead();
        if (rate > 0) concurrency = 1; // one pacer; the connections themselves run concurrently

        var failures = new Failures(); // replaced after an open loop's warm-up
        var histograms = new LatencyHistogram[concurrency];
        long nextSource = -1;
        var inflight = new SemaphoreSlim(maxInflight);
        long lateStarts = 0;
        // Open loop: a run at the same rate first, unrecorded, so that the JIT's first calls are not in the figures.
        if (rate > 0 && warmup > 0)
        {
            var from = Stopwatch.GetTimestamp();
            await Task.Run(() => OpenLoopAsync(new LatencyHistogram(), from, from + (long)(warmup * Stopwatch.Frequency)), CancellationToken.None);
            failures = new Failures();
            lateStarts = 0;
        }
        var cpuBefore = probe?.CpuSeconds() ?? double.NaN;
        var contention = Contention.Start(probe);
        var started = Stopwatch.GetTimestamp();
        var deadline = started + (long)(seconds * Stopwatch.Frequency);

        if (rate > 0) await Task.Run(() => OpenLoopAsync(histograms[0] = new LatencyHistogram(), started, deadline), CancellationToken.None);
        else await Task.WhenAll(Enumerable.Range(0, concurrency).Select(w => Task.Run(() => WorkerAsync(w), CancellationToken.None)));

        var elapsed = Stopwatch.GetElapsedTime(started).TotalSeconds;
        var cpu = probe is null ? double.NaN : probe.CpuSeconds() - cpuBefore;
        var all = new LatencyHistogram();
        foreach (var h in histograms) all.Add(h);
        var achieved = all.Count / elapsed;
        var p50 = all.PercentileMicroseconds(50);
        var p99 = all.PercentileMicroseconds(99);
        var p999 = all.PercentileMicroseconds(99.9);
        var cpuPer1k = all.Count > 0 ? cpu / (all.Count / 1000.0) : double.NaN;
        var report = contention.AddTo(new Report("connrate"));
        report.Add("target", label).Add("seconds", elapsed, 2).Add("loop", rate > 0 ? "open" : "closed").Add("rate", rate, 0)
            .Add("concurrency", rate > 0 ? maxInflight : concurrency).Add("sources", sources.Length).Add("close", close)
            .Add("connections", all.Count).Add("conn_per_s", achieved, 1).Add("failures", failures.Total).Add("late_starts", lateStarts)
            .Add("p50_us", p50).Add("p99_us", p99).Add("p999_us", p999).Add("max_us", all.MaxNanoseconds / 1000.0)
            .Add("proxy_cpu_s", cpu, 3).Add("cpu_s_per_1k_conn", cpuPer1k, 4)
            .Print($"connrate {label}: {Format.N(achieved, 0)} connections/s ({all.Count} in {elapsed:F1} s, "
                   + (rate > 0 ? $"open loop at {Format.N(rate, 0)}/s, {lateStarts} waited for one of {maxInflight} slots" : $"{concurrency} workers")
                   + $", {sources.Length} sources), {failures.Total} failures, whole connection p50 {Format.N(p50 / 1000, 2)} ms "
                   + $"p99 {Format.N(p99 / 1000, 2)} ms p99.9 {Format.N(p999 / 1000, 2)} ms"
                   + (probe is null ? "" : $", proxy CPU {cpu:F2} s = {Format.N(cpuPer1k, 3)} s per 1,000 connections"));
        failures.Print(Console.Out);
        return all.Count > 0 ? 0 : 1;

        // Open loop: one pacer starts each connection when it is due; its latency runs from then.
        async Task OpenLoopAsync(LatencyHistogram histogram, long from, long until)
        {
            var pacer = new Pacer(rate, from);
            var running = new List<Task>();
            for (long k = 0; !stop.IsCancellationRequested; k++)
            {
                var due = pacer.DueAt(k);
                if (due >= until) break;
                await Pacer.WaitUntilAsync(due, CancellationToken.None);
                if (!inflight.Wait(0))
                {
                    Interlocked.Increment(ref lateStarts);
                    await inflight.WaitAsync(CancellationToken.None);
                }
                running.Add(OneAsync(due, (int)(k % 1024)));
                if (running.Count >= 4 * maxInflight) running.RemoveAll(t => t.IsCompleted);
            }
            await Task.WhenAll(running);

            async Task OneAsync(long due, int seed)
            {
                try
                {
                    await Task.Yield(); // off the pacer's thread
                    IPAddress? source = sources.Length == 0 ? null : sources[(int)((ulong)Interlocked.Increment(ref nextSource) % (ulong)sources.Length)];
                    var latency = await ConnectOnceAsync(source, Net.Message(seed), new byte[Net.MessageSize], due);
                    if (latency is { } ns) lock (histogram) histogram.Record(ns);
                }
                finally
                {
                    inflight.Release();
                }
            }
        }

        // One connection: connect, exchange, close; its latency from `since`, or null when it failed.
        async Task<long?> ConnectOnceAsync(IPAddress? source, byte[] message, byte[] response, long since)
        {
            using var timer = new CancellationTokenSource(timeout);
            Socket? socket = null;
            try
            {
                socket = Net.Client(source);
                await socket.ConnectAsync(target, timer.Token);
                await Net.ExchangeAsync(socket, message, response, timer.Token);
                if (close == "fin") await Net.CloseGracefullyAsync(socket, response, timer.Token);
                else Net.Abort(socket);
                return LatencyHistogram.Nanoseconds(since, Stopwatch.GetTimestamp());
            }
            catch (Exception e) when (e is SocketException or EchoException or OperationCanceledException or IOException)
            {
                if (socket is not null) Net.Abort(socket);
                if (!stop.IsCancellationRequested) failures.Add(e);
                return null;
            }
        }

        async Task WorkerAsync(int w)
        {
            var histogram = histograms[w] = new LatencyHistogram();
            var message = Net.Message(w);
            var response = new byte[Net.MessageSize];
            while (Stopwatch.GetTimestamp() < deadline && !stop.IsCancellationRequested)
            {
                IPAddress? source = sources.Length == 0 ? null : sources[(int)((ulong)Interlocked.Increment(ref nextSource) % (ulong)sources.Length)];
                if (await ConnectOnceAsync(source, message, response, Stopwatch.GetTimestamp()) is { } ns) histogram.Record(ns);
                else if (stop.IsCancellationRequested) break;
                // A target that refuses everything must not turn the run into a busy loop.
                else await Task.Delay(10, CancellationToken.None);
            }
        }
    }
}
