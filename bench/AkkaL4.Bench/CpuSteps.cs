using System.Diagnostics;

namespace AkkaL4.Bench;

/// <summary>
/// The process's CPU time spent in each named step of one pass, printed as a table with its total; beside it what the step
/// allocated and the collections it cost (gen0/gen1/gen2 counts: each one a pause of every thread, Akka's heartbeats
/// among them, and counts do not depend on the machine's load).
/// </summary>
internal sealed class CpuSteps
{
    private readonly List<(string Step, TimeSpan Cpu, long Bytes, int[] Collections)> _timings = [];

    private static int[] Collections() => [GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2)];

    public T Step<T>(string name, Func<T> work)
    {
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var bytes = GC.GetTotalAllocatedBytes(precise: true);
        var collections = Collections();
        var result = work();
        var after = Collections();
        _timings.Add((name, Process.GetCurrentProcess().TotalProcessorTime - cpu, GC.GetTotalAllocatedBytes(precise: true) - bytes,
            after.Zip(collections, (a, b) => a - b).ToArray()));
        return result;
    }

    public void Print(int width)
    {
        Console.WriteLine($"  {"".PadRight(width)} {"CPU",9} {"allocated",10} {"GCs 0/1/2",10}");
        foreach (var (step, cpu, bytes, gcs) in _timings)
            Console.WriteLine($"  {step.PadRight(width)} {cpu.TotalSeconds,7:F3} s {bytes / 1e6,7:F1} MB {string.Join('/', gcs),10}");
        Console.WriteLine($"  {"total".PadRight(width)} {_timings.Sum(t => t.Cpu.TotalSeconds),7:F3} s {_timings.Sum(t => t.Bytes) / 1e6,7:F1} MB "
                          + $"{string.Join('/', Enumerable.Range(0, 3).Select(g => _timings.Sum(t => t.Collections[g]))),10}");
    }
}
