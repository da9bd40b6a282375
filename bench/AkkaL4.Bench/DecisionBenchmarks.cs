using System.Diagnostics;
using AkkaL4.Actors.Routing;
using BenchmarkDotNet.Attributes;

namespace AkkaL4.Bench;

/// <summary>
/// The per-connection hot path: <see cref="RouteSnapshot.Decide(IpPort, IpKey, IpKey, string?)"/> on a
/// snapshot compiled from <see cref="MeshGenerator"/>'s mesh, alone and followed by the weighted pick.
/// Each call takes the next of <see cref="InputCount"/> precomputed (listener, source, destination)
/// inputs, so lookups hit different listeners and clients.
/// </summary>
[MemoryDiagnoser]
public class DecisionBenchmarks
{
    private const int InputCount = 8192; // a power of two: the index wraps with a mask

    [Params(10, 1000, 10000)]
    public int Services { get; set; }

    private RouteSnapshot _snapshot = null!;
    private WeightedPicker[] _pickers = null!; // by RouteTarget.Id
    private MeshGenerator.Input[] _inputs = null!;
    private int _next;

    [GlobalSetup]
    public void Setup()
    {
        var resources = MeshGenerator.Build(Services);
        var watch = Stopwatch.StartNew();
        _snapshot = RouteCompiler.Compile(resources, null);
        watch.Stop();
        Console.WriteLine($"// RouteCompiler.Compile: {Services} services ({resources.Count} resources) -> {_snapshot.Listeners.Count} listeners, "
                          + $"{_snapshot.Targets.Count} targets, {_snapshot.Clusters.Count} clusters in {watch.Elapsed.TotalSeconds:F2} s");

        _pickers = new WeightedPicker[_snapshot.Targets.Count];
        foreach (var target in _snapshot.Targets) _pickers[target.Id] = WeightedPicker.For(target);
        _inputs = MeshGenerator.Inputs(Services, InputCount);

        // Every input must route, or the benchmark measures a short cut.
        var byRule = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (var input in _inputs)
        {
            var decision = _snapshot.Decide(input.Listener, input.Source, input.Destination);
            if (decision.Result != DecisionResult.Route)
                throw new InvalidOperationException($"{input}: {decision.Result} ({decision.Reason})");
            var key = decision.Target!.Section is null ? "default" : $"{decision.Target.Section}[{decision.Target.Rule}]";
            byRule[key] = byRule.GetValueOrDefault(key) + 1;
        }
        Console.WriteLine($"// inputs by matching rule: {string.Join(", ", byRule.Select(kv => $"{kv.Key}={kv.Value}"))}");
    }

    [Benchmark(Description = "Decide")]
    public Decision Decide()
    {
        ref readonly var input = ref _inputs[_next++ & (InputCount - 1)];
        return _snapshot.Decide(input.Listener, input.Source, input.Destination);
    }

    [Benchmark(Description = "Decide + pick")]
    public WeightedDestination? DecideAndPick()
    {
        ref readonly var input = ref _inputs[_next++ & (InputCount - 1)];
        var target = _snapshot.Decide(input.Listener, input.Source, input.Destination).Target;
        if (target is null) return null;
        var index = _pickers[target.Id].Next();
        return index < 0 ? null : target.Destinations[index];
    }
}
