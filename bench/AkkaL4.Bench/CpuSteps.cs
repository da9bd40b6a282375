using System.Diagnostics;

namespace AkkaL4.Bench;

/// <summary>The process's CPU time spent in each named step of one pass, printed as a table with its total.</summary>
internal sealed class CpuSteps
{
    private readonly List<(string Step, TimeSpan Cpu)> _timings = [];

    public T Step<T>(string name, Func<T> work)
    {
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var result = work();
        _timings.Add((name, Process.GetCurrentProcess().TotalProcessorTime - cpu));
        return result;
    }

    public void Print(int width)
    {
        foreach (var (step, cpu) in _timings) Console.WriteLine($"  {step.PadRight(width)} {cpu.TotalSeconds,7:F3} s");
        Console.WriteLine($"  {"total".PadRight(width)} {_timings.Sum(t => t.Cpu.TotalSeconds),7:F3} s");
    }
}
