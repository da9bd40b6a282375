using System.Diagnostics;
using AkkaL4.Actors.Config;
using AkkaL4.Actors.Config.Analysis;
using AkkaL4.Actors.Config.Validation;
using AkkaL4.Actors.Routing;
using AkkaL4.Messages.Model;
using AkkaL4.Tests.Support;

namespace AkkaL4.Bench;

/// <summary>
/// <c>analysis [N...]</c>: what the config writer's checks of a write (ConfigStore.Checked: RouteCompiler.Check, then
/// ConfigAnalyzer.Analyze) cost for configurations of N tenants of three shapes (tests/AkkaL4.Tests/Support/TenantManifests.cs,
/// the shapes the work-count tests count), against the first N in the same run: per resource, linear work keeps the ratio
/// near 1 and a scan per tenant makes it grow with N.
/// <list type="bullet">
/// <item><c>mesh</c>: per Service, two WorkloadEntries, a DestinationRule with two subsets and a VirtualService routing to
/// them (the analyser's host and subset checks).</item>
/// <item><c>auto-passthrough</c>: per Service, a DestinationRule and a Gateway with an AUTO_PASSTHROUGH server for its host,
/// all on one port (the compiler's SNI table).</item>
/// <item><c>selectors</c>: per tenant, a Gateway with its own selector and a VirtualService, all on one port (the analyser's
/// merged-listener walk).</item>
/// <item><c>namespaces</c> (only when named): per namespace, a Service, a DestinationRule and a Gateway with an
/// AUTO_PASSTHROUGH server for <c>./*</c>: N namespaces (each mesh listener's rule set per client namespace);
/// <c>namespaces-any</c> the same with <c>*/*</c> (every Gateway admits every service).</item>
/// <item><c>wildcards</c> (only when named): per tenant, a VirtualService for <c>*.tI.example.com</c> and a ServiceEntry
/// under it, a ServiceEntry and a DestinationRule for <c>*.tI.internal</c> and a VirtualService under it.</item>
/// <item><c>shared-wildcard</c>, <c>shared-star</c> (only when named): per namespace, a Service with a client and a
/// DestinationRule for <c>*.shared.example.com</c> (covering one shared ServiceEntry) or for <c>*</c> (every service).</item>
/// </list>
/// The text is decoded without the admin API's limits of one write (4 MiB, 10,000 documents): a configuration this big
/// arrives over several writes, and the writer checks the whole stored configuration on each.
/// <c>writepath [N]</c>: a write of <see cref="MeshGenerator"/>'s mesh of N Services (default 5,000: 5,000 Services,
/// VirtualServices and DestinationRules, 10,000 WorkloadEntries), stage by stage.
/// </summary>
internal static class AnalysisScale
{
    public static int Run(string[] args)
    {
        var shapes = new (string Name, Func<int, string> Yaml)[]
        {
            ("mesh", TenantManifests.MeshPerService),
            ("auto-passthrough", TenantManifests.AutoPassthroughPerHost),
            ("selectors", TenantManifests.SelectorPerTenant),
            ("namespaces", TenantManifests.NamespacePerTenant),
            ("namespaces-any", n => TenantManifests.NamespacePerTenant(n, "*/*")),
            ("wildcards", TenantManifests.WildcardPerTenant),
            ("shared-wildcard", n => TenantManifests.SharedHostRulePerNamespace(n, "*.shared.example.com")),
            ("shared-star", n => TenantManifests.SharedHostRulePerNamespace(n, "*")),
        };
        string[] byDefault = ["mesh", "auto-passthrough", "selectors"];
        var only = args.Where(a => !char.IsDigit(a[0])).ToHashSet();
        var sizes = args.Where(a => char.IsDigit(a[0])).Select(int.Parse).ToArray();
        if (sizes.Length == 0) sizes = [500, 2000, 10000];
        Console.WriteLine($"{"shape",-17} {"N",6} {"resources",9} {"Check",10} {"× ref",6} {"Analyze",10} {"× ref",6}   (× ref: time per resource / the first N's)");
        foreach (var (name, yaml) in shapes.Where(s => only.Count == 0 ? byDefault.Contains(s.Name) : only.Contains(s.Name)))
        {
            double? checkRef = null, analyzeRef = null;
            foreach (var n in sizes)
            {
                var resources = Decode(yaml(n), name);
                var refused = ConfigValidator.Validate(resources).Where(d => d.Severity == Severity.Error).Concat(RouteCompiler.Check(resources)).ToList();
                if (refused.Count > 0) throw new InvalidOperationException($"{name} N={n}: refused: {refused[0]}");
                var check = Timing.Best(() => RouteCompiler.Check(resources));
                var analyze = Timing.Best(() => ConfigAnalyzer.Analyze(resources));
                var (checkPer, analyzePer) = (check / resources.Count, analyze / resources.Count);
                checkRef ??= checkPer;
                analyzeRef ??= analyzePer;
                Console.WriteLine($"{name,-17} {n,6} {resources.Count,9} {check,8:F1}ms {checkPer / checkRef,5:F2}× {analyze,8:F1}ms {analyzePer / analyzeRef,5:F2}×");
            }
        }
        return 0;
    }

    /// <summary>One write of the mesh of N Services, each stage of the path it takes, as CPU seconds of this process.</summary>
    public static int WritePath(string[] args)
    {
        var n = args.Length > 0 ? int.Parse(args[0]) : 5000;
        var passes = args.Length > 1 ? int.Parse(args[1]) : 3;
        var yaml = MeshGenerator.Yaml(n);
        for (var pass = 1; pass <= passes; pass++)
        {
            var steps = new CpuSteps();
            var resources = steps.Step("decode (ManifestDecoder)", () => Decode(yaml, "write"));
            steps.Step("validate (ConfigValidator)", () => ConfigValidator.Validate(resources));
            steps.Step("compile check (RouteCompiler.Check)", () => RouteCompiler.Check(resources));
            steps.Step("analyse (ConfigAnalyzer.Analyze)", () => ConfigAnalyzer.Analyze(resources));
            steps.Step("  of which shadowed rules (ShadowedRules)", () => ShadowedRules.Find(resources));
            steps.Step("  of which unmatchable blocks (UnmatchableBlocks)", () => UnmatchableBlocks.Find(resources));
            steps.Step("notes (ConfigAnalyzer.Notes)", () => ConfigAnalyzer.Notes(resources));
            steps.Step("node: compile (RouteCompiler.Compile)", () => RouteCompiler.Compile(resources));
            steps.Step("edge: all of it (ConfigCheck.Check)", () => ConfigCheck.Check([("write", yaml)], Unlimited));
            var store = new Actors.ControlPlane.ConfigStore();
            steps.Step("writer: a first write (ConfigStore.Apply)", () => store.Apply(resources, DateTimeOffset.UtcNow));
            steps.Step("writer: the same write again (ConfigStore.Apply)", () => store.Apply(resources, DateTimeOffset.UtcNow));
            Console.WriteLine($"N={n}: {yaml.Length / 1e6:F2} MB of YAML, {resources.Count} resources "
                              + $"({string.Join(", ", resources.GroupBy(r => r.Kind).Select(g => $"{g.Count()} {g.Key}"))}); pass {pass} (CPU seconds)");
            steps.Print(52);
        }
        return 0;
    }

    private static readonly DecodeLimits Unlimited = new() { MaxBytes = int.MaxValue, MaxDocuments = int.MaxValue };

    private static List<Resource> Decode(string yaml, string source)
    {
        var decoded = ManifestDecoder.Decode(yaml, source, Unlimited);
        return decoded.Errors.Count == 0 ? decoded.Resources.Select(d => d.Resource).ToList()
            : throw new InvalidOperationException($"{source}: {decoded.Errors[0]}");
    }
}

/// <summary>Wall-clock figures for the one-process benchmarks.</summary>
internal static class Timing
{
    /// <summary>
    /// The best wall time in milliseconds of a few runs after a warm-up one (at least 3, and at least 1 s of runs); a run of
    /// over 5 s is taken once more only (the quadratic cases before their fix took minutes).
    /// </summary>
    public static double Best(Action run)
    {
        var warm = Stopwatch.StartNew();
        run();
        var first = warm.Elapsed;
        if (first > TimeSpan.FromSeconds(5))
        {
            var again = Stopwatch.StartNew();
            run();
            return Math.Min(first.TotalMilliseconds, again.Elapsed.TotalMilliseconds);
        }
        var best = double.MaxValue;
        var total = Stopwatch.StartNew();
        for (var i = 0; i < 3 || total.Elapsed < TimeSpan.FromSeconds(1); i++)
        {
            var clock = Stopwatch.StartNew();
            run();
            best = Math.Min(best, clock.Elapsed.TotalMilliseconds);
        }
        return best;
    }
}
