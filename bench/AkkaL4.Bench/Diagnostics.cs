using System.Diagnostics;
using AkkaL4.Messages.Commands;
using AkkaL4.Messages.Serialization;
using AkkaL4.Actors.Config;
using AkkaL4.Actors.Config.Analysis;
using AkkaL4.Actors.Config.Validation;
using AkkaL4.Actors.Routing;
using AkkaL4.Messages.Model;

namespace AkkaL4.Bench;

/// <summary>Checks and timings outside BenchmarkDotNet (run with <c>dotnet run -c Release -- compile|check</c>).</summary>
internal static class Diagnostics
{
    /// <summary>Times RouteCompiler.Compile for each N, and the parts of it that can be timed from outside.</summary>
    public static int CompileTimes(string[] args)
    {
        var sizes = args.Length == 0 ? [10, 1000, 10000] : args.Select(int.Parse).ToArray();
        foreach (var n in sizes)
        {
            var resources = MeshGenerator.Build(n);
            Console.WriteLine($"N={n}: {resources.Count} resources");

            var (catalog, catalogTime) = Time(() => new ServiceCatalog(resources));
            Console.WriteLine($"  new ServiceCatalog(resources)             {catalogTime.TotalSeconds,8:F3} s");

            var (rules, indexTime) = Time(() => new DestinationRuleIndex(resources.OfType<DestinationRule>()));
            Console.WriteLine($"  new DestinationRuleIndex(...)             {indexTime.TotalSeconds,8:F3} s");
            var host = HostName.Expand($"svc-{n / 2}", "default");
            const int samples = 200;
            for (var k = 0; k < 3; k++) rules.Resolve(host, "default", null); // JIT
            var (_, resolveTime) = Time(() =>
            {
                MergedDestinationRule? last = null;
                for (var k = 0; k < samples; k++) last = rules.Resolve(host, "default", MeshGenerator.ClientNamespaces[k % 3]);
                return last;
            });
            var perResolve = resolveTime / samples;
            Console.WriteLine($"  DestinationRuleIndex.Resolve (one call)   {perResolve.TotalMilliseconds,8:F3} ms");

            RouteCompiler.Compile(MeshGenerator.Build(2), null); // JIT
            var allocated = GC.GetTotalAllocatedBytes(true);
            var (snapshot, compileTime) = Time(() => RouteCompiler.Compile(resources, null));
            allocated = GC.GetTotalAllocatedBytes(true) - allocated;
            var destinations = snapshot.Targets.Sum(t => t.Destinations.Length);
            Console.WriteLine($"  RouteCompiler.Compile                     {compileTime.TotalSeconds,8:F3} s, {allocated / 1e6:F0} MB allocated");
            Console.WriteLine($"    {snapshot.Listeners.Count} listeners, {snapshot.Targets.Count} targets, {snapshot.Clusters.Count} clusters, "
                              + $"{catalog.Namespaces.Count} namespaces, {destinations} destinations (one Resolve each)");
            Console.WriteLine($"    rough estimate of the time in Resolve: {destinations} x {perResolve.TotalMilliseconds:F3} ms = {(perResolve * destinations).TotalSeconds:F1} s");
        }
        return 0;
    }

    /// <summary>
    /// The CPU work a configuration write of N headless Services (bench/propagation.sh's, in 10 namespaces) costs on its
    /// way, step by step: what the admin API, the config writer and every node do with it (the messages between them
    /// are gzipped when over 16 KiB). Each N runs twice (the first pass also pays for the JIT's tiers, as a fresh node does);
    /// times are the process's CPU time, so other jobs on the machine slow them less than they slow the clock.
    /// </summary>
    public static int WriteStages(string[] args)
    {
        var sizes = args.Length == 0 ? [1000, 10000] : args.Select(int.Parse).ToArray();
        using var system = Akka.Actor.ActorSystem.Create("stages");
        var serializer = new ProtocolSerializer((Akka.Actor.ExtendedActorSystem)system);
        var seen = new HashSet<int>();
        foreach (var n in sizes.SelectMany(n => new[] { n, n }))
        {
            var pass = seen.Add(n) ? "first pass, cold" : "second pass";
            var yaml = HeadlessServices(n);
            var steps = new CpuSteps();
            var decodedAtEdge = steps.Step("admin API: decode (ManifestDecoder)", () => ManifestDecoder.Decode(yaml, "request")).Resources.Select(d => d.Resource).ToList();
            steps.Step("admin API: validate (ConfigValidator)", () => ConfigValidator.Validate(decodedAtEdge));
            steps.Step("admin API: compile check (RouteCompiler.Check)", () => RouteCompiler.Check(decodedAtEdge));
            steps.Step("admin API: analyse (ConfigAnalyzer)", () => ConfigAnalyzer.Analyze(decodedAtEdge));
            var report = steps.Step("admin API: all of it again (ConfigCheck)", () => ConfigCheck.Check(yaml, "request"));
            steps.Step("admin API: size for the client (ModelJson.Size)", () => ModelJson.Size(report.Resources));
            // Inside the cluster a configuration is typed resources as ProtocolSerializer's JSON (gzipped over 16 KiB).
            var request = steps.Step("admin API: serialize the write (JSON + gzip)", () => serializer.ToBinary(new WriteConfig(report.Resources, DateTimeOffset.UtcNow)));
            var decoded = ((WriteConfig)steps.Step("writer: deserialize", () => serializer.FromBinary(request, "wt"))).Resources;
            steps.Step("writer: validate (ConfigValidator)", () => ConfigValidator.Validate(decoded));
            steps.Step("writer: compile check (RouteCompiler.Check)", () => RouteCompiler.Check(decoded));
            steps.Step("writer: hash the namespaces (ModelJson.Hash)", () => decoded.GroupBy(r => r.Metadata.Namespace).Select(g => ModelJson.Hash(g.ToList())).Count());
            var content = new ConfigContent(1, decoded);
            var whole = steps.Step("writer: serialize the replicated copy (JSON + gzip)", () => serializer.ToBinary(content));
            var received = ((ConfigContent)steps.Step("node: deserialize", () => serializer.FromBinary(whole, serializer.Manifest(content)))).Resources;
            steps.Step("node: compile (RouteCompiler.Compile)", () => RouteCompiler.Compile(received));
            steps.Step("node: last-known-good file, after the swap (ToYaml)", () => ManifestEncoder.ToYaml(received));
            Console.WriteLine($"N={n}: {yaml.Length / 1e6:F2} MB of YAML, {report.Resources.Count} resources, {request.Length / 1e6:F2} MB to the writer, {whole.Length / 1e6:F2} MB replicated; {pass} (CPU seconds)");
            steps.Print(52);
        }
        return 0;
    }

    /// <summary>bench/propagation.sh's configuration: N headless Services in namespaces big-0 to big-9.</summary>
    private static string HeadlessServices(int n) => string.Join("\n---\n", Enumerable.Range(0, n).Select(i =>
        $"apiVersion: v1\nkind: Service\nmetadata: {{name: svc-{i}, namespace: big-{i % 10}}}\nspec:\n  clusterIP: None\n"
        + $"  selector: {{app: svc-{i}}}\n  ports: [{{name: tcp, port: {1000 + i % 50000}, targetPort: 9000}}]"));

    /// <summary>The generated mesh is what the YAML decoder reads and is valid; Decide allocates nothing.</summary>
    public static int Check()
    {
        const int n = 20;
        var report = ConfigCheck.Check(MeshGenerator.Yaml(n), "generated.yaml");
        foreach (var d in report.Errors.Concat(report.Warnings)) Console.WriteLine(d);
        var built = MeshGenerator.Build(n);
        var same = report.Resources.Count == built.Count && report.Resources.Zip(built, (decoded, code) => decoded.Equals(code)).All(equal => equal);
        Console.WriteLine($"YAML: {report.Resources.Count} resources, {report.Errors.Count} errors, {report.Warnings.Count} warnings; equal to Build({n}): {same}");
        if (!same)
            foreach (var (decoded, code) in report.Resources.Zip(built, (d, c) => (d, c)).Where(p => !p.d.Equals(p.c)).Take(3))
                Console.WriteLine($"  differs: {decoded} vs {code}");

        var snapshot = RouteCompiler.Compile(built, null);
        var pickers = snapshot.Targets.Select(WeightedPicker.For).ToArray();
        var inputs = MeshGenerator.Inputs(n, 4096);
        long Run(bool pick)
        {
            var sum = 0L;
            foreach (var input in inputs)
            {
                var decision = snapshot.Decide(input.Listener, input.Source, input.Destination);
                sum += pick ? pickers[decision.Target!.Id].Next() : (int)decision.Result;
            }
            return sum;
        }
        foreach (var pick in new[] { false, true })
        {
            Run(pick); // warm up (tiered JIT)
            var before = GC.GetAllocatedBytesForCurrentThread();
            Run(pick);
            var bytes = GC.GetAllocatedBytesForCurrentThread() - before;
            Console.WriteLine($"{(pick ? "Decide + pick" : "Decide")}: {bytes} bytes allocated over {inputs.Length} calls");
        }
        TlsWildcardAllocations();
        return report.Ok && same ? 0 : 1;
    }

    /// <summary>
    /// The TLS path (not in the benchmarks): a tls rule whose sniHosts is a wildcard. Reports the bytes
    /// one Decide allocates, which is not zero while HostName.Covers slices the pattern with <c>pattern[1..]</c>.
    /// </summary>
    private static long TlsWildcardAllocations()
    {
        const string yaml = """
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: api, namespace: default}
            spec:
              hosts: [api.example.com]
              addresses: [240.0.0.1]
              ports: [{number: 443, name: tls, protocol: TLS}]
              resolution: STATIC
              endpoints: [{address: 192.0.2.1}]
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: api, namespace: default}
            spec:
              hosts: ["*.example.com"]
              tls:
              - match: [{sniHosts: ["*.example.com"]}]
                route: [{destination: {host: api.example.com}}]
            """;
        var snapshot = RouteCompiler.Compile(ConfigCheck.Check(yaml).Resources, null);
        var address = IpKey.Parse("240.0.0.1");
        var listener = new IpPort(address, 443);
        var source = IpKey.Parse("10.99.0.1");
        const int calls = 4096;
        var first = snapshot.Decide(listener, source, address, "api.example.com");
        for (var k = 0; k < calls; k++) snapshot.Decide(listener, source, address, "api.example.com");
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var k = 0; k < calls; k++) snapshot.Decide(listener, source, address, "api.example.com");
        var bytes = GC.GetAllocatedBytesForCurrentThread() - before;
        Console.WriteLine($"Decide, TLS rule with sniHosts *.example.com ({first.Result}, {first.Reason}): {bytes / calls} bytes allocated per call");
        return bytes;
    }

    private static (T Result, TimeSpan Elapsed) Time<T>(Func<T> f)
    {
        var watch = Stopwatch.StartNew();
        var result = f();
        return (result, watch.Elapsed);
    }
}
