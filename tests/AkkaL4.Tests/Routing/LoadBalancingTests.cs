using AkkaL4.Actors.Routing;
using AkkaL4.Actors.Routing.LoadBalancing;

namespace AkkaL4.Tests.Routing;

/// <summary>The weighted picker between a rule's destinations, and the per-cluster endpoint balancers.</summary>
[Trait("Category", "Unit")]
public class LoadBalancingTests
{
    private static EndpointState Up(int weight = 1, int active = 0) => new() { Weight = weight, Active = active };
    private static EndpointState Ejected(int weight = 1, int active = 0) => new() { Weight = weight, Active = active, Ejected = true };

    private static int[] Count(Func<int> pick, int n, int slots)
    {
        var counts = new int[slots];
        for (var i = 0; i < n; i++) counts[pick()]++;
        return counts;
    }

    // ------------------------------------------------------------------ WeightedPicker

    [Theory]
    [InlineData(new[] { 80, 20 })]
    [InlineData(new[] { 1, 3 })]
    [InlineData(new[] { 550, 500 })]
    [InlineData(new[] { 49, 50 })]
    [InlineData(new[] { 5, 1, 1 })]
    [InlineData(new[] { 1, 2, 3, 4, 5, 6, 7, 8 })]
    [InlineData(new[] { 7 })]
    public void WeightedPicker_is_exact_over_every_sum_of_weights_window(int[] weights)
    {
        var total = weights.Sum();
        var picker = new WeightedPicker(weights);
        var sequence = Enumerable.Range(0, total * 4).Select(_ => picker.Next()).ToArray();
        // Every window of `total` consecutive picks, aligned or sliding, holds each entry exactly its weight times.
        for (var start = 0; start + total <= sequence.Length; start++)
        {
            var counts = new int[weights.Length];
            for (var i = start; i < start + total; i++) counts[sequence[i]]++;
            Assert.Equal(weights, counts);
        }
    }

    [Fact]
    public void WeightedPicker_spreads_the_heavy_entry_instead_of_bunching_it()
    {
        var picker = new WeightedPicker([80, 20]);
        var sequence = Enumerable.Range(0, 10).Select(_ => picker.Next()).ToArray();
        // Smooth: the light entry comes once in each group of five, never twice in a row.
        Assert.Equal(2, sequence.Count(i => i == 1));
        for (var i = 1; i < sequence.Length; i++) Assert.False(sequence[i] == 1 && sequence[i - 1] == 1);
    }

    [Theory]
    [InlineData(new[] { 0, 5, 0 })]
    [InlineData(new[] { -3, 2, 6 })]
    [InlineData(new[] { 4, 0, -1, 4 })]
    public void WeightedPicker_never_picks_weights_of_zero_or_less(int[] weights)
    {
        var picker = new WeightedPicker(weights);
        var counts = Count(picker.Next, 1000, weights.Length);
        for (var i = 0; i < weights.Length; i++)
            if (weights[i] <= 0) Assert.Equal(0, counts[i]);
        var positive = weights.Where(w => w > 0).Sum();
        for (var i = 0; i < weights.Length; i++)
            if (weights[i] > 0) Assert.Equal(1000 * weights[i] / positive, counts[i]);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(0)]
    [InlineData(-5)]
    [InlineData(100)]
    public void WeightedPicker_always_picks_a_single_destination(int weight)
    {
        var picker = new WeightedPicker([weight]);
        Assert.Equal(1, picker.Count);
        for (var i = 0; i < 100; i++) Assert.Equal(0, picker.Next());
    }

    [Fact]
    public void WeightedPicker_with_nothing_to_pick_returns_minus_one()
    {
        Assert.Equal(-1, new WeightedPicker([]).Next());
    }

    // ------------------------------------------------------------------ LeastRequest

    [Fact]
    public void LeastRequest_picks_the_less_loaded_of_two()
    {
        var balancer = new LeastRequestBalancer(new Random(1));
        EndpointState[] endpoints = [Up(active: 5), Up(active: 1)];
        for (var i = 0; i < 200; i++) Assert.Equal(1, balancer.Pick(endpoints, 0));
        endpoints = [Up(active: 0), Up(active: 9)];
        for (var i = 0; i < 200; i++) Assert.Equal(0, balancer.Pick(endpoints, 0));
    }

    [Fact]
    public void LeastRequest_weighs_active_connections_by_endpoint_weight()
    {
        var balancer = new LeastRequestBalancer(new Random(2));
        // 4 connections on weight 4 is a lighter load than 2 on weight 1.
        EndpointState[] endpoints = [Up(weight: 1, active: 2), Up(weight: 4, active: 4)];
        for (var i = 0; i < 200; i++) Assert.Equal(1, balancer.Pick(endpoints, 0));
    }

    [Fact]
    public void LeastRequest_spreads_equal_loads_over_all_endpoints()
    {
        var balancer = new LeastRequestBalancer(new Random(3));
        EndpointState[] endpoints = [Up(), Up(), Up(), Up()];
        var counts = new int[4];
        for (var i = 0; i < 4000; i++) counts[balancer.Pick(endpoints, 0)]++;
        Assert.All(counts, c => Assert.InRange(c, 700, 1300));
    }

    [Fact]
    public void LeastRequest_never_picks_an_ejected_endpoint()
    {
        var balancer = new LeastRequestBalancer(new Random(4));
        EndpointState[] endpoints = [Ejected(active: 0), Up(active: 100), Ejected(active: 0), Up(active: 50), Up(weight: 0)];
        var counts = new int[endpoints.Length];
        for (var i = 0; i < 1000; i++) counts[balancer.Pick(endpoints, 0)]++;
        Assert.Equal(0, counts[0]);
        Assert.Equal(0, counts[2]);
        Assert.Equal(0, counts[4]);
        Assert.Equal(1000, counts[3]); // the two available ones are always both sampled: the less loaded wins
    }

    [Fact]
    public void LeastRequest_returns_the_only_available_endpoint()
    {
        var balancer = new LeastRequestBalancer(new Random(5));
        EndpointState[] endpoints = [Ejected(), Up(active: 1000), Ejected()];
        for (var i = 0; i < 100; i++) Assert.Equal(1, balancer.Pick(endpoints, 0));
    }

    [Fact]
    public void LeastRequest_returns_minus_one_when_none_is_available()
    {
        var balancer = new LeastRequestBalancer(new Random(6));
        Assert.Equal(-1, balancer.Pick([], 0));
        Assert.Equal(-1, balancer.Pick([Ejected(), Ejected()], 0));
        Assert.Equal(-1, balancer.Pick([Up(weight: 0), Ejected()], 0));
    }

    // ------------------------------------------------------------------ RoundRobin

    [Fact]
    public void RoundRobin_cycles_through_equal_endpoints_in_order()
    {
        var balancer = new RoundRobinBalancer();
        EndpointState[] endpoints = [Up(), Up(), Up()];
        var sequence = Enumerable.Range(0, 9).Select(_ => balancer.Pick(endpoints, 0)).ToArray();
        Assert.Equal(new[] { 0, 1, 2, 0, 1, 2, 0, 1, 2 }, sequence);
    }

    [Fact]
    public void RoundRobin_follows_weights_exactly_per_cycle()
    {
        var balancer = new RoundRobinBalancer();
        EndpointState[] endpoints = [Up(weight: 1), Up(weight: 2), Up(weight: 3)];
        for (var cycle = 0; cycle < 50; cycle++)
        {
            var counts = new int[3];
            for (var i = 0; i < 6; i++) counts[balancer.Pick(endpoints, 0)]++;
            Assert.Equal(new[] { 1, 2, 3 }, counts);
        }
    }

    [Fact]
    public void RoundRobin_skips_ejected_endpoints_and_returns_minus_one_when_none_is_left()
    {
        var balancer = new RoundRobinBalancer();
        EndpointState[] endpoints = [Up(), Ejected(), Up()];
        var counts = new int[3];
        for (var i = 0; i < 100; i++) counts[balancer.Pick(endpoints, 0)]++;
        Assert.Equal(new[] { 50, 0, 50 }, counts);
        Assert.Equal(-1, balancer.Pick([Ejected(), Ejected(), Ejected()], 0));
    }

    // ------------------------------------------------------------------ Random

    [Fact]
    public void Random_respects_weights()
    {
        var balancer = new RandomBalancer(new Random(42));
        EndpointState[] endpoints = [Up(weight: 1), Up(weight: 3), Ejected(weight: 5), Up(weight: 0)];
        var counts = new int[4];
        for (var i = 0; i < 20_000; i++) counts[balancer.Pick(endpoints, 0)]++;
        Assert.InRange(counts[0], 4_500, 5_500);   // expected 5,000
        Assert.InRange(counts[1], 14_500, 15_500); // expected 15,000
        Assert.Equal(0, counts[2]);
        Assert.Equal(0, counts[3]);
        Assert.Equal(-1, balancer.Pick([Ejected(), Up(weight: 0)], 0));
    }

    // ------------------------------------------------------------------ SourceIpHash (consistentHash.useSourceIp)

    private static string[] Keys(int n) => Enumerable.Range(1, n).Select(i => $"10.0.0.{i}:9000").ToArray();

    private static uint[] RandomClients(int n, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => LoadBalancers.HashOf(new IpKey((uint)random.NextInt64(0, 1L << 32), false))).ToArray();
    }

    [Fact]
    public void SourceIpHash_sends_the_same_client_to_the_same_endpoint()
    {
        var balancer = new SourceIpHashBalancer(Keys(5));
        EndpointState[] endpoints = [Up(), Up(), Up(), Up(), Up()];
        var client = LoadBalancers.HashOf(IpKey.Parse("192.168.1.17"));
        var first = balancer.Pick(endpoints, client);
        Assert.InRange(first, 0, 4);
        for (var i = 0; i < 100; i++) Assert.Equal(first, balancer.Pick(endpoints, client));
        // A fresh balancer over the same endpoints agrees: the choice depends only on the client and the endpoints.
        Assert.Equal(first, new SourceIpHashBalancer(Keys(5)).Pick(endpoints, client));
        // The hash of an address is stable.
        Assert.Equal(client, LoadBalancers.HashOf(IpKey.Parse("192.168.1.17")));
    }

    [Fact]
    public void SourceIpHash_spreads_clients_over_all_endpoints()
    {
        var balancer = new SourceIpHashBalancer(Keys(4));
        EndpointState[] endpoints = [Up(), Up(), Up(), Up()];
        var counts = new int[4];
        foreach (var client in RandomClients(10_000, 7)) counts[balancer.Pick(endpoints, client)]++;
        Assert.All(counts, c => Assert.InRange(c, 2_200, 2_800));
    }

    [Fact]
    public void SourceIpHash_ejecting_an_endpoint_moves_only_its_own_clients()
    {
        var balancer = new SourceIpHashBalancer(Keys(5));
        EndpointState[] all = [Up(), Up(), Up(), Up(), Up()];
        EndpointState[] withoutTwo = [Up(), Up(), Ejected(), Up(), Up()];
        var moved = 0;
        foreach (var client in RandomClients(10_000, 11))
        {
            var before = balancer.Pick(all, client);
            var after = balancer.Pick(withoutTwo, client);
            Assert.NotEqual(2, after);
            if (before != 2) Assert.Equal(before, after);
            else moved++;
        }
        Assert.InRange(moved, 1_500, 2_500); // about a fifth of the clients were on endpoint 2
    }

    [Fact]
    public void SourceIpHash_removing_an_endpoint_moves_only_its_own_clients()
    {
        var keys = Keys(5);
        var before = new SourceIpHashBalancer(keys);
        var remaining = keys.Where((_, i) => i != 3).ToArray();
        var after = new SourceIpHashBalancer(remaining);
        EndpointState[] five = [Up(), Up(), Up(), Up(), Up()];
        EndpointState[] four = [Up(), Up(), Up(), Up()];
        var moved = 0;
        foreach (var client in RandomClients(10_000, 13))
        {
            var was = keys[before.Pick(five, client)];
            var now = remaining[after.Pick(four, client)];
            if (was != keys[3]) Assert.Equal(was, now);
            else moved++;
        }
        Assert.InRange(moved, 1_500, 2_500);
    }

    [Fact]
    public void SourceIpHash_adding_an_endpoint_only_takes_clients_to_the_new_one()
    {
        var keys = Keys(5);
        var four = new SourceIpHashBalancer(keys[..4]);
        var five = new SourceIpHashBalancer(keys);
        EndpointState[] fourUp = [Up(), Up(), Up(), Up()];
        EndpointState[] fiveUp = [Up(), Up(), Up(), Up(), Up()];
        foreach (var client in RandomClients(10_000, 17))
        {
            var now = five.Pick(fiveUp, client);
            if (now != 4) Assert.Equal(four.Pick(fourUp, client), now);
        }
    }

    [Fact]
    public void SourceIpHash_weights_shift_shares_proportionally()
    {
        var balancer = new SourceIpHashBalancer(Keys(3));
        EndpointState[] endpoints = [Up(weight: 1), Up(weight: 1), Up(weight: 2)];
        var counts = new int[3];
        foreach (var client in RandomClients(10_000, 19)) counts[balancer.Pick(endpoints, client)]++;
        Assert.InRange(counts[0], 2_100, 2_900); // expected 2,500
        Assert.InRange(counts[1], 2_100, 2_900); // expected 2,500
        Assert.InRange(counts[2], 4_600, 5_400); // expected 5,000
    }

    [Fact]
    public void SourceIpHash_returns_minus_one_when_none_is_available()
    {
        var balancer = new SourceIpHashBalancer(Keys(2));
        Assert.Equal(-1, balancer.Pick([Ejected(), Ejected()], 12345));
    }

    // ------------------------------------------------------------------ the factory

    [Theory]
    [InlineData(LoadBalancerKind.LeastRequest, typeof(LeastRequestBalancer))]
    [InlineData(LoadBalancerKind.RoundRobin, typeof(RoundRobinBalancer))]
    [InlineData(LoadBalancerKind.Random, typeof(RandomBalancer))]
    [InlineData(LoadBalancerKind.SourceIpHash, typeof(SourceIpHashBalancer))]
    public void Each_policy_gets_its_balancer(LoadBalancerKind kind, Type expected)
    {
        Assert.IsType(expected, LoadBalancers.Create(kind, [], new Random(1)));
    }
}
