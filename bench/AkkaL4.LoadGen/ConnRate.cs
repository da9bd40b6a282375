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
        var probe = options.Get("pid") is { } pid ? new ProcessProbe(int.Parse(pid, System.Globalization.CultureInfo.InvariantCulture)) : null;
        var label = options.Get("label") ?? target.ToString();
        options.EnsureAllRead();

        var failures = new Failures();
        var histograms = new LatencyHistogram[concurrency];
        long nextSource = -1;
        var cpuBefore = probe?.CpuSeconds() ?? double.NaN;
        var contention = Contention.Start(probe);
        var started = Stopwatch.GetTimestamp();
        var deadline = started + (long)(seconds * Stopwatch.Frequency);

        var workers = Enumerable.Range(0, concurrency)
            .Select(w => Task.Run(() => WorkerAsync(w), CancellationToken.None)).ToArray();
        await Task.WhenAll(workers);

        var elapsed = Stopwatch.GetElapsedTime(started).TotalSeconds;
        var cpu = probe is null ? double.NaN : probe.CpuSeconds() - cpuBefore;
        var all = new LatencyHistogram();
        foreach (var h in histograms) all.Add(h);
        var rate = all.Count / elapsed;
        var p50 = all.PercentileMicroseconds(50);
        var p99 = all.PercentileMicroseconds(99);
        var cpuPer1k = all.Count > 0 ? cpu / (all.Count / 1000.0) : double.NaN;
        var report = contention.AddTo(new Report("connrate"));
        report.Add("target", label).Add("seconds", elapsed, 2).Add("concurrency", concurrency)
            .Add("sources", sources.Length).Add("close", close)
            .Add("connections", all.Count).Add("conn_per_s", rate, 1).Add("failures", failures.Total)
            .Add("p50_us", p50).Add("p99_us", p99).Add("max_us", all.MaxNanoseconds / 1000.0)
            .Add("proxy_cpu_s", cpu, 3).Add("cpu_s_per_1k_conn", cpuPer1k, 4)
            .Print($"connrate {label}: {Format.N(rate, 0)} connections/s ({all.Count} in {elapsed:F1} s, {concurrency} workers, "
                   + $"{sources.Length} sources), {failures.Total} failures, whole connection p50 {Format.N(p50 / 1000, 2)} ms "
                   + $"p99 {Format.N(p99 / 1000, 2)} ms" + (probe is null ? "" : $", proxy CPU {cpu:F2} s = {Format.N(cpuPer1k, 3)} s per 1,000 connections"));
        failures.Print(Console.Out);
        return all.Count > 0 ? 0 : 1;

        async Task WorkerAsync(int w)
        {
            var histogram = histograms[w] = new LatencyHistogram();
            var message = Net.Message(w);
            var response = new byte[Net.MessageSize];
            var timer = new CancellationTokenSource();
            try
            {
                while (Stopwatch.GetTimestamp() < deadline && !stop.IsCancellationRequested)
                {
                    IPAddress? source = sources.Length == 0 ? null : sources[(int)((ulong)Interlocked.Increment(ref nextSource) % (ulong)sources.Length)];
                    if (!timer.TryReset())
                    {
                        timer.Dispose();
                        timer = new CancellationTokenSource(); // the last one fired
                    }
                    timer.CancelAfter(timeout);
                    var t0 = Stopwatch.GetTimestamp();
                    Socket? socket = null;
                    try
                    {
                        socket = Net.Client(source);
                        await socket.ConnectAsync(target, timer.Token);
                        await Net.ExchangeAsync(socket, message, response, timer.Token);
                        if (close == "fin") await Net.CloseGracefullyAsync(socket, response, timer.Token);
                        else Net.Abort(socket);
                        histogram.RecordSince(t0);
                    }
                    catch (Exception e) when (e is SocketException or EchoException or OperationCanceledException or IOException)
                    {
                        if (socket is not null) Net.Abort(socket);
                        if (stop.IsCancellationRequested) break;
                        failures.Add(e);
                        // A target that refuses everything must not turn the run into a busy loop.
                        await Task.Delay(10, CancellationToken.None);
                    }
                }
            }
            finally
            {
                timer.Dispose();
            }
        }
    }
}
