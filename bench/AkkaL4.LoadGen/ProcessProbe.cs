using System.Globalization;
using System.Runtime.InteropServices;

namespace AkkaL4.LoadGen;

/// <summary>CPU time and resident memory of another process (the proxy under test), from /proc.</summary>
internal sealed class ProcessProbe(int pid)
{
    private static readonly double TicksPerSecond = ClockTicks();

    public int Pid { get; } = pid;

    /// <summary>utime + stime of every thread of the process, in seconds (fields 14 and 15 of /proc/PID/stat).</summary>
    public double CpuSeconds()
    {
        var stat = File.ReadAllText($"/proc/{Pid}/stat");
        // The command name (field 2) is in parentheses and may hold spaces: split after the last ')'.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        // fields[0] is field 3 (state), so utime (14) is fields[11] and stime (15) is fields[12].
        var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        return ticks / TicksPerSecond;
    }

    /// <summary>VmRSS of /proc/PID/status, in bytes.</summary>
    public long RssBytes()
    {
        foreach (var line in File.ReadLines($"/proc/{Pid}/status"))
        {
            if (!line.StartsWith("VmRSS:", StringComparison.Ordinal)) continue;
            var kb = line["VmRSS:".Length..].Trim().Split(' ')[0];
            return long.Parse(kb, CultureInfo.InvariantCulture) * 1024;
        }
        throw new InvalidOperationException($"no VmRSS in /proc/{Pid}/status");
    }

    public bool Alive => File.Exists($"/proc/{Pid}/stat");

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
