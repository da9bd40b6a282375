using AkkaL4.Actors.Routing;
using AkkaL4.Messages.Model;
using AkkaL4.Tests.Support;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using AkkaL4.Actors.Config;

namespace AkkaL4.Tests.Routing;

/// <summary>Properties of the decision walk over the seed configuration, and of the weighted picker.</summary>
[Trait("Category", "Unit")]
public class RoutingPropertyTests
{
    /// <summary>Every seed manifest (world, all six cases, the original mistakes), compiled once per gateway node.</summary>
    private static readonly RouteSnapshot[] SeedSnapshots = BuildSeedSnapshots();

    private static RouteSnapshot[] BuildSeedSnapshots()
    {
        var report = ConfigCheck.Check(ManifestFiles.Read([Repo.Path("examples", "seed")]));
        Assert.True(report.Ok, string.Join("; ", report.Errors));
        var resources = report.Resources.ToList();
        return
        [
            RouteCompiler.Compile(resources),
            RouteCompiler.Compile(resources, Labels.Of(("istio", "ingressgateway-1"))),
            RouteCompiler.Compile(resources, Labels.Of(("istio", "ingressgateway-2"))),
        ];
    }

    private static readonly Gen<IpKey> V4 = ArbMap.Default.GeneratorFor<uint>().Select(bits => new IpKey(bits, false));

    private static readonly Gen<IpKey> V6 =
        ArbMap.Default.GeneratorFor<ulong>().Two().Select(t => new IpKey(((UInt128)t.Item1 << 64) | t.Item2, true));

    /// <summary>Addresses near the seed's (127.0.x.y, the clients, the subnet of case 1) as often as arbitrary ones.</summary>
    private static readonly Gen<IpKey> Near = Gen.Elements(
            "127.0.20.1", "127.0.20.2", "127.0.30.1", "127.0.30.2", "127.0.30.3", "127.0.40.1", "127.0.40.2",
            "127.0.10.1", "0.0.0.0", "255.255.255.255", "::", "::1", "::ffff:127.0.20.1", "fe80::1")
        .Select(IpKey.Parse);

    private static readonly Gen<IpKey> AnyAddress = Gen.OneOf(V4, V6, Near);

    private static readonly Gen<int> Ports = Gen.OneOf(Gen.Constant(19000), Gen.Choose(0, 65535));

    [Property(MaxTest = 2000)]
    public Property Decide_never_throws_for_any_source_or_destination()
    {
        var gen =
            from snapshot in Gen.Elements(SeedSnapshots)
            from listener in Gen.OneOf(
                Gen.Elements(snapshot.Listeners.Select(l => l.Address).ToArray()),
                Gen.Zip(AnyAddress, Ports).Select(t => new IpPort(t.Item1, t.Item2)))
            from source in AnyAddress
            from destination in AnyAddress
            from sni in Gen.Elements<string?>(null, "", "echo-server.default.svc.cluster.local", "*")
            select (snapshot, listener, source, destination, sni);

        return Prop.ForAll(gen.ToArbitrary(), t =>
        {
            var decision = t.snapshot.Decide(t.listener, t.source, t.destination, t.sni);
            var explanation = Explanation.Of(decision);
            // A decision is always coherent: a listener unless NoListener, a target whenever it routes.
            var coherent = decision.Result == DecisionResult.NoListener
                ? decision.Listener is null && decision.Target is null
                : decision.Listener is not null && (decision.Result != DecisionResult.Route || decision.Target is { Destinations.Length: > 0 });
            return coherent && explanation.Result.Length > 0 && decision.Client is not null;
        });
    }

    [Property(MaxTest = 500)]
    public Property Every_mesh_listener_of_the_seed_routes_any_client_to_a_known_cluster()
    {
        var gen =
            from snapshot in Gen.Elements(SeedSnapshots)
            from listener in Gen.Elements(snapshot.Listeners.Where(l => l.Kind == ListenerKind.Mesh).ToArray())
            from source in AnyAddress
            from destination in AnyAddress
            select (snapshot, listener, source, destination);

        return Prop.ForAll(gen.ToArbitrary(), t =>
        {
            var decision = t.snapshot.Decide(t.listener.Address, t.source, t.destination);
            return decision.Result == DecisionResult.Route
                   && decision.Target!.Destinations.All(d => d.Cluster.Status == ClusterStatus.Ok && d.Cluster.Endpoints.Count > 0);
        });
    }

    private static readonly Gen<int[]> Weights =
        from n in Gen.Choose(1, 8)
        from weights in Gen.ArrayOf(Gen.Choose(0, 100), n)
        where weights.Any(w => w > 0)
        select weights;

    [Property(MaxTest = 300)]
    public Property Picker_shares_are_exactly_the_weights_over_every_sum_of_weights_picks()
    {
        return Prop.ForAll(Weights.ToArbitrary(), weights =>
        {
            var picker = new WeightedPicker(weights);
            var total = weights.Sum();
            var single = weights.Length == 1;
            for (var round = 0; round < 3; round++)
            {
                var counts = new int[weights.Length];
                for (var i = 0; i < total; i++) counts[picker.Next()]++;
                for (var i = 0; i < weights.Length; i++)
                    if (counts[i] != (single ? total : weights[i])) return false;
            }
            return true;
        });
    }

    [Property(MaxTest = 300)]
    public Property Picker_never_picks_a_weight_of_zero_or_less_among_several()
    {
        var gen =
            from weights in Weights.Where(w => w.Length > 1)
            from negate in Gen.Elements(true, false)
            select negate ? weights.Select(w => w == 0 ? -1 : w).ToArray() : weights;

        return Prop.ForAll(gen.ToArbitrary(), weights =>
        {
            var picker = new WeightedPicker(weights);
            for (var i = 0; i < 500; i++)
                if (weights[picker.Next()] <= 0) return false;
            return true;
        });
    }
}
