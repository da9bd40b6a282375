using System.Diagnostics;
using System.Net.Sockets;

namespace AkkaL4.LoadGen;

/// <summary>
/// <c>idle --target IP:PORT --connections N [--pid PID] [--sources A-B] [--concurrency C] [--hold S]</c>: opens N
/// connections (C at a time), checks each with one 64 B echo, and holds them. With <c>--pid</c> it reads the
/// proxy's VmRSS before opening, once half are open and once all are (each time after the RSS has settled), and
/// reports the growth per connection, overall and over the second half. Then it checks that every connection
/// still echoes, and closes them all.
/// </summary>
internal static class Idle
{
    public static async Task<int> RunAsync(Options options, CancellationToken stop)
    {
        var target = options.EndPoint("target");
        var count = Math.Max(1, options.Int("connections", 10_000));
        var sources = options.Sources();
        var concurrency = Math.Max(1, options.Int("concurrency", 64));
        var hold = TimeSpan.FromSeconds(options.Seconds("hold", 1));
        var timeout = TimeSpan.FromSeconds(options.Seconds("timeout", 10));
        var probe = ProcessProbe.From(options);
        var label = options.Get("label") ?? target.ToString();
        options.EnsureAllRead();

        var failures = new Failures();
        var sockets = new Socket?[count];
        try
        {
            var rssBefore = probe?.RssBytes() ?? 0;
            var cpuBefore = probe?.CpuSeconds() ?? double.NaN;
            var contention = Contention.Start(probe);
            // In two halves, with the RSS read (once settled) after each: the second half's growth is the
            // marginal cost of a connection, which garbage collected meanwhile (a .NET relay's heap may still
            // hold the previous scenarios' garbage when the test starts) does not skew as much.
            var half = count / 2;
            var started = Stopwatch.GetTimestamp();
            await OpenAsync(0, half);
            var opening = Stopwatch.GetElapsedTime(started);
            var rssHalf = probe is null ? 0 : await SettledRssAsync(probe);
            var openedHalf = sockets.Count(s => s is not null);
            started = Stopwatch.GetTimestamp();
            await OpenAsync(half, count);
            var openSeconds = (opening + Stopwatch.GetElapsedTime(started)).TotalSeconds;
            var opened = sockets.Count(s => s is not null);
            var cpu = probe is null ? double.NaN : probe.CpuSeconds() - cpuBefore;

            // Hold, then wait for the RSS to stop moving (the proxy may still be finishing work).
            await Task.Delay(hold, stop);
            var rssAfter = probe is null ? 0 : await SettledRssAsync(probe);
            var perConnection = probe is null || opened == 0 ? double.NaN : (rssAfter - rssBefore) / (double)opened;
            var marginal = probe is null || opened == openedHalf ? double.NaN : (rssAfter - rssHalf) / (double)(opened - openedHalf);

            // Still there after the hold? One more exchange on each.
            var alive = 0;
            var lost = new Failures();
            await Task.WhenAll(Enumerable.Range(0, concurrency).Select(w => Task.Run(async () =>
            {
                var response = new byte[Net.MessageSize];
                for (var i = w; i < count; i += concurrency)
                {
                    if (sockets[i] is not { } socket) continue;
                    using var timer = new CancellationTokenSource(timeout);
                    try
                    {
                        await Net.ExchangeAsync(socket, Net.Message(i + 1), response, timer.Token);
                        Interlocked.Increment(ref alive);
                    }
                    catch (Exception e) when (e is SocketException or EchoException or OperationCanceledException)
                    {
                        lost.Add(e);
                    }
                }
            }, CancellationToken.None)));

            var report = contention.AddTo(new Report("idle"));
            report.Add("target", label).Add("requested", count).Add("opened", opened).Add("failures", failures.Total)
                .Add("open_s", openSeconds, 2).Add("alive_after_hold", alive)
                .Add("rss_before_kib", probe is null ? double.NaN : rssBefore / 1024.0, 0)
                .Add("rss_after_kib", probe is null ? double.NaN : rssAfter / 1024.0, 0)
                .Add("rss_half_kib", probe is null ? double.NaN : rssHalf / 1024.0, 0)
                .Add("bytes_per_conn", perConnection, 0).Add("bytes_per_conn_second_half", marginal, 0).Add("proxy_cpu_open_s", cpu, 3)
                .Print($"idle {label}: {opened} of {count} connections open in {openSeconds:F1} s ({failures.Total} failures), "
                       + $"{alive} still echo after the hold"
                       + (probe is null ? "" : $"; proxy RSS {rssBefore / 1048576.0:F1} → {rssHalf / 1048576.0:F1} (half open) → {rssAfter / 1048576.0:F1} MiB"
                                               + $" = {Format.N(perConnection, 0)} bytes per idle connection, {Format.N(marginal, 0)} over the second half"));
            failures.Print(Console.Out);
            lost.Print(Console.Out);
            return opened == count && alive == opened ? 0 : 1;
        }
        finally
        {
            foreach (var socket in sockets)
                if (socket is not null) Net.Abort(socket);
        }

        // Opens connections [from, to), `concurrency` at a time, each checked with one exchange.
        async Task OpenAsync(int from, int to)
        {
            var next = from - 1;
            await Task.WhenAll(Enumerable.Range(0, Math.Max(1, Math.Min(concurrency, to - from))).Select(_ => Task.Run(async () =>
            {
                var response = new byte[Net.MessageSize];
                int i;
                while ((i = Interlocked.Increment(ref next)) < to && !stop.IsCancellationRequested)
                {
                    using var timer = new CancellationTokenSource(timeout);
                    Socket? socket = null;
                    try
                    {
                        socket = Net.Client(sources.Length == 0 ? null : sources[i % sources.Length]);
                        await socket.ConnectAsync(target, timer.Token);
                        await Net.ExchangeAsync(socket, Net.Message(i), response, timer.Token);
                        sockets[i] = socket;
                    }
                    catch (Exception e) when (e is SocketException or EchoException or OperationCanceledException)
                    {
                        if (socket is not null) Net.Abort(socket);
                        failures.Add(e);
                    }
                }
            }, CancellationToken.None)));
        }

        // VmRSS once it stops moving (within 0.5 % or 64 KiB over 250 ms), for at most 10 s.
        async Task<long> SettledRssAsync(ProcessProbe process)
        {
            var rss = process.RssBytes();
            var until = Stopwatch.GetTimestamp() + 10 * Stopwatch.Frequency;
            while (Stopwatch.GetTimestamp() < until)
            {
                await Task.Delay(250, stop);
                var now = process.RssBytes();
                var settled = Math.Abs(now - rss) <= Math.Max(64 * 1024, rss / 200);
                rss = now;
                if (settled) break;
            }
            return rss;
        }
    }
}
