using AkkaL4.Actors.Config;
using AkkaL4.Actors.Config.Analysis;
using AkkaL4.Actors.Routing;
using AkkaL4.Tests.Support;

namespace AkkaL4.Bench;

/// <summary>
/// <c>gateways [N...]</c>: what a configuration of N gateway tenants costs the config writer on every write
/// (RouteCompiler.Check, and ConfigAnalyzer.Analyze with its shadowed-rule walk), per Gateway, against the first N
/// (50 by default) measured in the same run. A tenant is a Service, a Gateway with one TCP server on its own port
/// (hosts "*") and one VirtualService bound to it (review1-s15's reproduction: <see cref="TenantManifests.GatewayPerPort"/>,
/// the text RouteCompilerGatewayWorkTests counts the work of). Linear work keeps the per-Gateway time
/// flat (ratio ~1); a walk of every VirtualService per listener makes it grow with N (at 2,000 Gateways it took 14.9 s).
/// Each figure is the best of several runs (at least 3, and at least 1 s of runs, after one warm-up run).
/// </summary>
internal static class GatewayCheck
{
    public static int Run(string[] args)
    {
        var sizes = args.Length == 0 ? [50, 500, 2000] : args.Select(int.Parse).ToArray();
        Console.WriteLine($"{"Gateways",8} {"YAML KiB",8} {"Check",10} {"per GW",9} {"× ref",6} {"Analyze",10} {"per GW",9} {"× ref",6}");
        double? checkRef = null, analyzeRef = null;
        foreach (var n in sizes)
        {
            var yaml = TenantManifests.GatewayPerPort(n);
            var resources = ManifestDecoder.Decode(yaml, "gateways").Resources.Select(d => d.Resource).ToList();
            var refused = RouteCompiler.Check(resources);
            if (refused.Count > 0) throw new InvalidOperationException($"N={n}: the compiler refuses the tenants: {refused[0]}");
            var check = Timing.Best(() => RouteCompiler.Check(resources)) / n;
            var analyze = Timing.Best(() => ConfigAnalyzer.Analyze(resources)) / n;
            checkRef ??= check;
            analyzeRef ??= analyze;
            Console.WriteLine($"{n,8} {yaml.Length / 1024,8} {check * n,8:F1}ms {check * 1000,7:F1}µs {check / checkRef,5:F2}× "
                              + $"{analyze * n,8:F1}ms {analyze * 1000,7:F1}µs {analyze / analyzeRef,5:F2}×");
        }
        Console.WriteLine("Check = RouteCompiler.Check, Analyze = ConfigAnalyzer.Analyze (both in ConfigStore.Checked on every write); "
                          + "per GW = time / N; × ref = per-GW time / the first N's per-GW time.");
        return 0;
    }
}
