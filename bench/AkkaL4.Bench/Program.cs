using BenchmarkDotNet.Running;

namespace AkkaL4.Bench;

public static class Program
{
    /// <summary>
    /// <c>compile [N...]</c>: time RouteCompiler.Compile and its parts for N services.
    /// <c>stages [N...]</c>: the CPU time of each step a write of N Services takes (admin API, writer, every node).
    /// <c>check</c>: the generated mesh decodes and validates as YAML, and Decide allocates nothing.
    /// <c>alloc [N] [plain|proxy|tls|pingpong]</c>: bytes a node allocates per relayed connection, or per relayed message (see <see cref="Allocations"/>).
    /// <c>bigwrite [passes]</c>: the CPU of each step of a 4 MiB namespace written over 10,000 Services (see <see cref="BigWrite"/>).
    /// <c>gateways [N...]</c>: RouteCompiler.Check and ConfigAnalyzer.Analyze per Gateway for N gateway tenants, against the first N (see <see cref="GatewayCheck"/>).
    /// <c>analysis [SHAPE...] [N...]</c>: RouteCompiler.Check and ConfigAnalyzer.Analyze per resource for N tenants of each shape (see <see cref="AnalysisScale"/>).
    /// <c>writepath [N] [passes]</c>: each stage of a write of the mesh of N Services (default 5,000), in CPU seconds (see <see cref="AnalysisScale.WritePath"/>).
    /// <c>lag [--before] [--burners N] [rounds]</c>: how late pool work and Akka's internal dispatcher run while a node takes big writes (see <see cref="WriteLag"/>).
    /// Anything else goes to BenchmarkDotNet (<c>--filter '*' --job short</c>).
    /// </summary>
    public static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "compile") return Diagnostics.CompileTimes(args[1..]);
        if (args.Length > 0 && args[0] == "stages") return Diagnostics.WriteStages(args[1..]);
        if (args.Length > 0 && args[0] == "check") return Diagnostics.Check();
        if (args.Length > 0 && args[0] == "alloc") return Allocations.Run(args[1..]);
        if (args.Length > 0 && args[0] == "bigwrite") return BigWrite.Run(args[1..]);
        if (args.Length > 0 && args[0] == "gateways") return GatewayCheck.Run(args[1..]);
        if (args.Length > 0 && args[0] == "analysis") return AnalysisScale.Run(args[1..]);
        if (args.Length > 0 && args[0] == "writepath") return AnalysisScale.WritePath(args[1..]);
        if (args.Length > 0 && args[0] == "lag") return WriteLag.Run(args[1..]).GetAwaiter().GetResult();
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return 0;
    }
}
