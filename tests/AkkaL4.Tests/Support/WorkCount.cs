using AkkaL4.Actors.Config.Analysis;
using AkkaL4.Actors.Routing;
using AkkaL4.Messages.Model;
using static AkkaL4.Tests.Routing.RoutingFixtures;

namespace AkkaL4.Tests.Support;

/// <summary>
/// The work-count tests' kit. The config writer runs the route compiler's check and the analyser over the whole
/// configuration on every write, on the one control-plane thread, so what they cost must stay linear in its tenants: a
/// test builds N tenants of one shape (<see cref="TenantManifests"/>), runs a check over them and reads what it looked at
/// (<see cref="WorkCounts"/>, counted where the work is done). Counted, not timed: the same on any machine and under any
/// load. <see cref="Linear"/> runs the check at N and 2 N: a scan of every tenant per tenant makes 2 N cost 4 times N.
/// </summary>
internal static class WorkCount
{
    /// <summary>N tenants of a shape, decoded and validated as a write is.</summary>
    public static List<Resource> Tenants(Func<int, string> shape, int n) => Resources(shape(n)).ToList();

    /// <summary>What <see cref="RouteCompiler.Check(IReadOnlyCollection{Resource})"/> looked at; it must accept the configuration.</summary>
    public static WorkCounts Check(IReadOnlyCollection<Resource> resources)
    {
        var work = new WorkCounts();
        Assert.Empty(RouteCompiler.Check(resources, work));
        return work;
    }

    /// <summary>What the shadowed-rule walks looked at, and what they found.</summary>
    public static WorkCounts Shadowed(IReadOnlyCollection<Resource> resources, out Dictionary<(ResourceKey Vs, int Rule), string> found)
    {
        var work = new WorkCounts();
        found = ShadowedRules.Find(resources, work);
        return work;
    }

    /// <summary>What the analyser looked at (its walks included), and its warnings.</summary>
    public static WorkCounts Analyze(IReadOnlyCollection<Resource> resources, out IReadOnlyList<Diagnostic> warnings)
    {
        var work = new WorkCounts();
        warnings = ConfigAnalyzer.Analyze(resources, work);
        return work;
    }

    /// <summary>
    /// The count <paramref name="counted"/> reads from <paramref name="check"/>, for <paramref name="n"/> and 2 n tenants of
    /// <paramref name="shape"/>: at most <paramref name="perTenant"/> per tenant at each, and 2 n costing at most twice n
    /// (linear, with what a configuration costs whatever its size counted once). Returns both, for exact asserts.
    /// </summary>
    public static (int AtN, int At2N) Linear(Func<int, string> shape, int n, Func<IReadOnlyCollection<Resource>, WorkCounts> check,
        Func<WorkCounts, int> counted, int perTenant)
    {
        var (atN, at2N) = Linear(k => Tenants(shape, k), n, check, w => counted(w), perTenant, "tenants");
        return ((int)atN, (int)at2N);
    }

    /// <summary>The same for any input made of n units (<paramref name="units"/>: what they are, for the message), such as a
    /// manifest's text of n keys.</summary>
    public static (long AtN, long At2N) Linear<T>(Func<int, T> input, int n, Func<T, WorkCounts> check, Func<WorkCounts, long> counted, int perUnit,
        string units)
    {
        var atN = counted(check(input(n)));
        var at2N = counted(check(input(2 * n)));
        Assert.True(atN <= perUnit * n && at2N <= perUnit * 2 * n,
            $"{atN} at {n} {units} and {at2N} at {2 * n}: more than {perUnit} per one");
        Assert.True(at2N <= 2 * atN, $"{atN} at {n} {units} but {at2N} at {2 * n}: twice the {units} cost more than twice the work");
        return (atN, at2N);
    }
}
