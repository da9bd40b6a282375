using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace AkkaL4.LoadGen;

/// <summary>
/// <c>iperf --target IP:PORT --seconds S [--streams P] [--reverse] [--pid PID]</c>: runs the <c>iperf3</c> client
/// (<c>-J</c>, so nothing is scraped from its text), reports the receiver's throughput and, with <c>--pid</c>,
/// the proxy's CPU seconds per GB (10⁹ bytes) relayed. Retries while the iperf3 server is still busy with the
/// previous test.
/// </summary>
internal static class Iperf
{
    public static async Task<int> RunAsync(Options options, CancellationToken stop)
    {
        var target = options.EndPoint("target");
        var seconds = options.Seconds("seconds", 10);
        var streams = Math.Max(1, options.Int("streams", 1));
        var reverse = options.Flag("reverse");
        var probe = ProcessProbe.From(options);
        var label = options.Get("label") ?? target.ToString();
        var iperf3 = options.Get("iperf3") ?? "iperf3";
        options.EnsureAllRead();

        string? error = null;
        for (var attempt = 1; attempt <= 10; attempt++)
        {
            var arguments = new List<string>
            {
                "-c", target.Address.ToString(), "-p", target.Port.ToString(CultureInfo.InvariantCulture),
                "-t", seconds.ToString(CultureInfo.InvariantCulture), "-P", streams.ToString(CultureInfo.InvariantCulture),
                "-J", "--connect-timeout", "3000",
            };
            if (reverse) arguments.Add("-R");
            var cpuBefore = probe?.CpuSeconds() ?? double.NaN;
            var contention = Contention.Start(probe, measureSelf: false);
            var (exitCode, output) = await RunProcessAsync(iperf3, arguments, stop);
            var cpu = probe is null ? double.NaN : probe.CpuSeconds() - cpuBefore;

            JsonDocument json;
            try { json = JsonDocument.Parse(output); }
            catch (JsonException) { json = JsonDocument.Parse("{}"); }
            using (json)
            {
                var root = json.RootElement;
                error = root.TryGetProperty("error", out var e) ? e.GetString() : exitCode != 0 ? $"iperf3 exited with {exitCode}: {output.Trim()}" : null;
                if (error is null && root.TryGetProperty("end", out var end) && end.TryGetProperty("sum_received", out var received))
                {
                    var bitsPerSecond = received.GetProperty("bits_per_second").GetDouble();
                    var bytes = received.GetProperty("bytes").GetDouble();
                    var retransmits = end.TryGetProperty("sum_sent", out var sent) && sent.TryGetProperty("retransmits", out var r) ? r.GetInt64() : 0;
                    var cpuPerGb = bytes > 0 ? cpu / (bytes / 1e9) : double.NaN;
                    var direction = reverse ? "reverse" : "forward";
                    var report = contention.AddTo(new Report("iperf"));
                    report.Add("target", label).Add("streams", streams).Add("direction", direction)
                        .Add("seconds", seconds, 1).Add("gbit_s", bitsPerSecond / 1e9, 3).Add("bytes", (long)bytes)
                        .Add("retransmits", retransmits).Add("failures", 0)
                        .Add("proxy_cpu_s", cpu, 3).Add("cpu_s_per_gb", cpuPerGb, 4)
                        .Print($"iperf3 {label} {streams} stream(s) {direction}: {bitsPerSecond / 1e9:F2} Gbit/s ({bytes / 1e9:F2} GB received)"
                               + (probe is null ? "" : $", proxy CPU {cpu:F2} s = {Format.N(cpuPerGb, 3)} s per GB"));
                    return 0;
                }
            }
            error ??= "no end.sum_received in iperf3's output";
            // "the server is busy running a test": it has not noticed the previous client leave yet.
            if (!error.Contains("busy", StringComparison.OrdinalIgnoreCase) || stop.IsCancellationRequested) break;
            await Task.Delay(300, stop);
        }
        new Report("iperf").Add("target", label).Add("streams", streams).Add("direction", reverse ? "reverse" : "forward")
            .Add("gbit_s", double.NaN).Add("failures", 1)
            .Print($"iperf3 {label} {streams} stream(s) failed: {error}");
        return 1;
    }

    private static async Task<(int ExitCode, string Output)> RunProcessAsync(string file, IEnumerable<string> arguments, CancellationToken stop)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in arguments) start.ArgumentList.Add(a);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {file}");
        var stdout = process.StandardOutput.ReadToEndAsync(stop);
        var stderr = process.StandardError.ReadToEndAsync(stop);
        try
        {
            await process.WaitForExitAsync(stop);
        }
        catch (OperationCanceledException)
        {
            process.Kill();
            throw;
        }
        var output = await stdout;
        return (process.ExitCode, output.Length > 0 ? output : await stderr);
    }
}
