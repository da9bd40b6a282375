using AkkaL4.Actors.Config;
using AkkaL4.Actors.Routing;
using AkkaL4.Messages.Model;
using AkkaL4.Tests.Support;

namespace AkkaL4.Tests.Routing;

/// <summary>Small builders for routing tests: manifests (written by <see cref="Manifests"/>) decoded and validated, then compiled.</summary>
internal static class RoutingFixtures
{
    public static string Cluster(int port, string? subset, string host) => $"outbound|{port}|{subset}|{host}";

    public static IpKey Ip(string text) => IpKey.Parse(text);

    public static IpPort At(string ip, int port) => new(IpKey.Parse(ip), port);

    /// <summary>Decodes and validates; fails the test on any error.</summary>
    public static IReadOnlyList<Resource> Resources(params string[] documents)
    {
        var report = ConfigCheck.Check(Join(documents));
        Assert.True(report.Ok, "manifests rejected: " + string.Join("; ", report.Errors));
        return report.Resources;
    }

    public static RouteSnapshot Compile(params string[] documents) => RouteCompiler.Compile(Resources(documents).ToList());

    public static RouteSnapshot CompileOn(Labels node, params string[] documents) => RouteCompiler.Compile(Resources(documents).ToList(), node);

    /// <summary>The seed manifests: world.yaml plus the named case files (file names under examples/seed).</summary>
    public static IReadOnlyList<Resource> Seed(params string[] files)
    {
        var paths = new[] { "world.yaml" }.Concat(files).Select(f => Repo.Path("examples", "seed", f));
        var report = ConfigCheck.Check(ManifestFiles.Read(paths));
        Assert.True(report.Ok, "seed manifests rejected: " + string.Join("; ", report.Errors));
        return report.Resources;
    }

    /// <summary>The single destination of a routed decision.</summary>
    public static WeightedDestination Only(Decision decision)
    {
        Assert.NotNull(decision.Target);
        return Assert.Single(decision.Target.Destinations);
    }

    /// <summary>The hosts chosen by <paramref name="picks"/> successive picks over the decision's target, counted.</summary>
    public static Dictionary<string, int> Spread(Decision decision, int picks)
    {
        Assert.NotNull(decision.Target);
        var picker = WeightedPicker.For(decision.Target);
        var counts = new Dictionary<string, int>();
        for (var i = 0; i < picks; i++)
        {
            var d = decision.Target.Destinations[picker.Next()];
            var key = d.Subset ?? d.Host;
            counts[key] = counts.GetValueOrDefault(key) + 1;
        }
        return counts;
    }
}
