using System.Globalization;
using System.Runtime.InteropServices;

namespace AkkaL4.LoadGen;

/// <summary>
/// CPU time and resident memory of the proxy under test, from /proc: one process, or several summed (nginx's
/// workers, given as <c>--pid MASTER,WORKER,...</c>).
/// </summary>
internal sealed class ProcessProbe(params int[] pids)
{
    private static readonly double TicksPerSecond = ClockTicks();

    /// <summary>The probe of <c>--pid PID[,PID...]</c>, or null without one.</summary>
    public static ProcessProbe? From(Options options)
    {
        if (options.Get("pid") is not { } text) return null;
        var pids = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(p => int.TryParse(p, NumberStyles.Integer, CultureInfo.InvariantCulture, out var pid) && pid > 0
                ? pid : throw new UsageException($"--pid '{text}' is not PID[,PID...]"))
            .ToArray();
        return pids.Length > 0 ? new ProcessProbe(pids) : throw new UsageException("--pid needs a process id");
    }

    /// <summary>utime + stime of every thread of the processes, in seconds (fields 14 and 15 of /proc/PID/stat).</summary>
    public double CpuSeconds() => pids.Sum(CpuSeconds);

    /// <summary>VmRSS of the processes, in bytes.</summary>
    public long RssBytes() => pids.Sum(RssBytes);

    public bool Alive => pids.All(pid => File.Exists($"/proc/{pid}/stat"));

    /// <summary>
    /// Seconds the processes' threads spent runnable but waiting for a CPU (the second field of each
    /// /proc/PID/task/TID/schedstat, summed over the threads alive now). High values mean other jobs had the core.
    /// </summary>
    public double RunQueueWaitSeconds() => pids.Sum(RunQueueWaitSeconds);

    private static double CpuSeconds(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        // The command name (field 2) is in parentheses and may hold spaces: split after the last ')'.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        // fields[0] is field 3 (state), so utime (14) is fields[11] and stime (15) is fields[12].
        var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        return ticks / TicksPerSecond;
    }

    private static long RssBytes(int pid)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (!line.StartsWith("VmRSS:", StringComparison.Ordinal)) continue;
            var kb = line["VmRSS:".Length..].Trim().Split(' ')[0];
            return long.Parse(kb, CultureInfo.InvariantCulture) * 1024;
        }
        throw new InvalidOperationException($"no VmRSS in /proc/{pid}/status");
    }

    private static double RunQueueWaitSeconds(int pid)
    {
        long nanoseconds = 0;
        foreach (var task in Directory.EnumerateDirectories($"/proc/{pid}/task"))
        {
            try
            {
                var fields = File.ReadAllText(Path.Combine(task, "schedstat")).Split(' ');
                if (fields.Length > 1 && long.TryParse(fields[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out var wait)) nanoseconds += wait;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The thread ended while we looked.
            }
        }
        return nanoseconds / 1e9;
    }

    [DllImport("libc", EntryPoint = "sysconf")]
    private static extern long SysConf(int name);

    private static double ClockTicks()
    {
        const int ScClkTck = 2;
        try
        {
            var ticks = SysConf(ScClkTck);
            return ticks > 0 ? ticks : 100;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return 100; // USER_HZ on every Linux architecture .NET runs on
        }
    }
}

/// <summary>
/// How much of a measurement window the proxy's threads and the load generator's own threads spent waiting for a
/// CPU: the machine's other jobs show up here. Reported as <c>proxy_wait_pct</c> and <c>load_wait_pct</c>, in
/// thread-seconds per second of the window (several threads waiting at once can pass 100).
/// </summary>
internal sealed class Contention
{
    private static readonly ProcessProbe Self = new(Environment.ProcessId);
    private readonly ProcessProbe? _proxy;
    private readonly bool _measureSelf;
    private readonly long _started = System.Diagnostics.Stopwatch.GetTimestamp();
    private readonly double _proxyBefore;
    private readonly double _selfBefore;

    private Contention(ProcessProbe? proxy, bool measureSelf)
    {
        _proxy = proxy;
        _measureSelf = measureSelf;
        _proxyBefore = SafeWait(proxy);
        _selfBefore = measureSelf ? SafeWait(Self) : double.NaN;
    }

    /// <param name="measureSelf">false when the load is another process (iperf3), so this one's waiting means nothing.</param>
    public static Contention Start(ProcessProbe? proxy, bool measureSelf = true) => new(proxy, measureSelf);

    public Report AddTo(Report report)
    {
        var seconds = System.Diagnostics.Stopwatch.GetElapsedTime(_started).TotalSeconds;
        var proxy = _proxy is null ? double.NaN : Math.Max(0, SafeWait(_proxy) - _proxyBefore) / seconds * 100;
        var self = _measureSelf ? Math.Max(0, SafeWait(Self) - _selfBefore) / seconds * 100 : double.NaN;
        return report.Add("proxy_wait_pct", proxy, 1).Add("load_wait_pct", self, 1);
    }

    private static double SafeWait(ProcessProbe? probe)
    {
        if (probe is null) return double.NaN;
        try { return probe.RunQueueWaitSeconds(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return double.NaN; }
    }
}
