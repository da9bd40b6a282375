using AkkaL4.Actors.Routing;
using AkkaL4.Messages.Model;
using static AkkaL4.Tests.Routing.RoutingFixtures;

namespace AkkaL4.Tests.Routing;

/// <summary>
/// Which DestinationRule applies (client namespace, service namespace, istio-system; most specific host; merged
/// subsets) and the policy a cluster runs with (subset override, port-level replacement, Istio's defaults).
/// </summary>
[Trait("Category", "Unit")]
public class PolicyResolutionTests
{
    private static readonly string Reviews = Fqdn("reviews");
    private static readonly string Ratings = Fqdn("ratings");

    private static DestinationRuleIndex Index(params string[] rules) => new(Resources(rules).OfType<DestinationRule>());

    private static string Dr(string name, string ns, string host, string lb, string? more = null, string? created = null) =>
        DestinationRule(name, ns, $"host: {host}\ntrafficPolicy:\n  loadBalancer: {{simple: {lb}}}" + (more is null ? "" : "\n" + more), created);

    private static LoadBalancerKind Balancer(DestinationRuleIndex index, string host, string serviceNs, string? clientNs) =>
        index.Resolve(host, serviceNs, clientNs)!.PolicyFor(null, 9080).LoadBalancer;

    // ------------------------------------------------------------------ which DestinationRule

    [Fact]
    public void Lookup_tries_the_client_namespace_then_the_service_namespace_then_istio_system()
    {
        var all = new[]
        {
            Dr("in-client", "client", Reviews, "RANDOM"),
            Dr("in-service", "default", "reviews", "ROUND_ROBIN"),
            Dr("in-root", "istio-system", Reviews, "PASSTHROUGH"),
            Dr("elsewhere", "unrelated", Reviews, "LEAST_CONN"),
        };
        var index = Index(all);
        Assert.Equal(LoadBalancerKind.Random, Balancer(index, Reviews, "default", "client"));
        Assert.Equal(LoadBalancerKind.RoundRobin, Balancer(index, Reviews, "default", "other"));
        Assert.Equal(LoadBalancerKind.RoundRobin, Balancer(index, Reviews, "default", null));
        Assert.Equal(new ResourceKey("DestinationRule", "client", "in-client"), Assert.Single(index.Resolve(Reviews, "default", "client")!.Sources));

        var withoutService = Index(all[0], all[2], all[3]);
        Assert.Equal(LoadBalancerKind.Passthrough, Balancer(withoutService, Reviews, "default", "other"));
        Assert.Equal(LoadBalancerKind.Random, Balancer(withoutService, Reviews, "default", "client"));

        // A rule in a namespace that is neither the client's, the service's nor the root is never used.
        Assert.Null(Index(all[3]).Resolve(Reviews, "default", "client"));
    }

    [Fact]
    public void Short_hosts_expand_in_the_rule_namespace()
    {
        // `reviews` in namespace client means reviews.client.svc.cluster.local, not the service in default.
        var index = Index(Dr("short", "client", "reviews", "RANDOM"));
        Assert.Null(index.Resolve(Reviews, "default", "client"));
        Assert.NotNull(index.Resolve(Fqdn("reviews", "client"), "client", "client"));
    }

    [Fact]
    public void A_rule_private_to_the_service_namespace_is_skipped_for_other_clients()
    {
        var index = Index(
            Dr("private", "default", "reviews", "ROUND_ROBIN", "exportTo: [.]"),
            Dr("root", "istio-system", Reviews, "RANDOM"));
        Assert.Equal(LoadBalancerKind.RoundRobin, Balancer(index, Reviews, "default", "default"));
        Assert.Equal(LoadBalancerKind.Random, Balancer(index, Reviews, "default", "client"));
    }

    [Fact]
    public void The_most_specific_host_wins_inside_a_namespace()
    {
        var index = Index(
            Dr("any-svc", "default", "'*.svc.cluster.local'", "PASSTHROUGH"),
            Dr("any-default", "default", "'*.default.svc.cluster.local'", "RANDOM"),
            Dr("exact", "default", "reviews", "ROUND_ROBIN"));
        Assert.Equal(LoadBalancerKind.RoundRobin, Balancer(index, Reviews, "default", "default"));
        Assert.Equal(LoadBalancerKind.Random, Balancer(index, Ratings, "default", "default"));
        Assert.Equal(LoadBalancerKind.Passthrough, Balancer(index, Fqdn("ratings", "shop"), "shop", "default"));
        Assert.Equal(new ResourceKey("DestinationRule", "default", "any-default"), Assert.Single(index.Resolve(Ratings, "default", "default")!.Sources));
    }

    [Fact]
    public void The_namespace_is_tried_before_specificity()
    {
        // A wildcard rule in the client's namespace beats an exact one in the service's.
        var index = Index(
            Dr("wild", "client", "'*.default.svc.cluster.local'", "RANDOM"),
            Dr("exact", "default", "reviews", "ROUND_ROBIN"));
        Assert.Equal(LoadBalancerKind.Random, Balancer(index, Reviews, "default", "client"));
    }

    [Fact]
    public void Several_rules_for_one_host_union_their_subsets_and_the_first_definition_wins()
    {
        var index = Index(
            DestinationRule("b-second", "default", """
                host: reviews
                trafficPolicy: {loadBalancer: {simple: RANDOM}}
                subsets:
                - {name: v2, labels: {version: v2-other}}
                - {name: v3, labels: {version: v3}}
                """, "2021-01-01T00:00:00Z"),
            DestinationRule("a-first", "default", """
                host: reviews
                trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}
                subsets:
                - {name: v1, labels: {version: v1}}
                - {name: v2, labels: {version: v2}}
                """, "2020-01-01T00:00:00Z"),
            DestinationRule("c-third", "default", """
                host: reviews
                subsets:
                - {name: v4, labels: {version: v4}}
                """, "2022-01-01T00:00:00Z"));
        var merged = index.Resolve(Reviews, "default", "default")!;
        Assert.Equal(new[] { "v1", "v2", "v3", "v4" }, merged.Subsets.Select(s => s.Name));
        Assert.Equal("v2", merged.Subset("v2")!.Labels["version"]);
        Assert.Equal(LoadBalancerKind.RoundRobin, merged.PolicyFor(null, 9080).LoadBalancer); // first top-level trafficPolicy
        Assert.Equal(new[] { "a-first", "b-second", "c-third" }, merged.Sources.Select(k => k.Name));
        Assert.Null(merged.Subset("v9"));
    }

    [Fact]
    public void Merged_subsets_route_end_to_end()
    {
        var snapshot = Compile(
            ServiceOnPorts("reviews", "default", "127.0.31.1", "reviews", 9080),
            WorkloadEntry("reviews-v1", "127.0.31.11", "{app: reviews, version: v1}"),
            WorkloadEntry("reviews-v3", "127.0.31.13", "{app: reviews, version: v3}"),
            DestinationRule("one", "default", "host: reviews\nsubsets: [{name: v1, labels: {version: v1}}]"),
            DestinationRule("two", "default", "host: reviews\nsubsets: [{name: v3, labels: {version: v3}}]"),
            VirtualService("reviews", "default", """
                hosts: [reviews]
                tcp:
                - route:
                  - {destination: {host: reviews, subset: v1}, weight: 50}
                  - {destination: {host: reviews, subset: v3}, weight: 50}
                """));
        var decision = snapshot.Decide(At("127.0.31.1", 9080), Ip("127.0.99.1"), Ip("127.0.31.1"));
        Assert.Equal(DecisionResult.Route, decision.Result);
        Assert.Equal(new[] { "127.0.31.11:9080", "127.0.31.13:9080" },
            decision.Target!.Destinations.Select(d => Assert.Single(d.Cluster.Endpoints).ToString()));
        Assert.All(decision.Target.Destinations, d => Assert.Equal(2, d.Cluster.DestinationRules.Count));
    }

    [Fact]
    public void Each_client_namespace_gets_the_policy_of_its_own_rule_in_the_compiled_clusters()
    {
        var snapshot = Compile(
            ServiceOnPorts("reviews", "default", "127.0.32.1", "reviews", 9080),
            WorkloadEntry("reviews-1", "127.0.32.11", "{app: reviews}"),
            WorkloadEntry("client-default", "127.0.32.101", "{app: c}"),
            WorkloadEntry("client-team", "127.0.32.102", "{app: c}", "team"),
            Dr("for-team", "team", Reviews, "RANDOM"),
            Dr("for-everyone", "default", "reviews", "ROUND_ROBIN"));
        var team = Only(snapshot.Decide(At("127.0.32.1", 9080), Ip("127.0.32.102"), Ip("127.0.32.1"))).Cluster;
        var other = Only(snapshot.Decide(At("127.0.32.1", 9080), Ip("127.0.32.101"), Ip("127.0.32.1"))).Cluster;
        Assert.Equal(LoadBalancerKind.Random, team.Policy.LoadBalancer);
        Assert.Equal(LoadBalancerKind.RoundRobin, other.Policy.LoadBalancer);
        Assert.Equal(team.Name, other.Name);
        Assert.NotEqual(team.Id, other.Id);
    }

    // ------------------------------------------------------------------ subset and port-level policies

    private const string LayeredRule = """
        host: reviews
        trafficPolicy:
          loadBalancer: {simple: ROUND_ROBIN}
          connectionPool:
            tcp: {maxConnections: 100, connectTimeout: 3s}
          outlierDetection: {consecutive5xxErrors: 7}
          proxyProtocol: {version: V1}
          portLevelSettings:
          - port: {number: 9001}
            connectionPool:
              tcp: {maxConnections: 9}
        subsets:
        - name: pool
          labels: {version: v1}
          trafficPolicy:
            connectionPool:
              tcp: {maxConnections: 5}
        - name: random
          labels: {version: v2}
          trafficPolicy:
            loadBalancer: {simple: RANDOM}
            proxyProtocol: {version: V2}
        - name: plain
          labels: {version: v3}
        - name: ported
          labels: {version: v4}
          trafficPolicy:
            portLevelSettings:
            - port: {number: 9002}
              connectionPool:
                tcp: {maxConnections: 3}
        """;

    private static MergedDestinationRule Layered() => Index(DestinationRule("layered", "default", LayeredRule)).Resolve(Reviews, "default", "default")!;

    [Fact]
    public void A_subset_without_a_policy_runs_with_the_top_level_one()
    {
        var policy = Layered().PolicyFor("plain", 9000);
        Assert.Equal(LoadBalancerKind.RoundRobin, policy.LoadBalancer);
        Assert.Equal(100, policy.MaxConnections);
        Assert.Equal(TimeSpan.FromSeconds(3), policy.ConnectTimeout);
        Assert.Equal(7, policy.Outlier!.Consecutive5xxErrors);
        Assert.Equal("V1", policy.ProxyProtocolVersion);
        Assert.Equal(policy, Layered().PolicyFor(null, 9000));
    }

    [Fact]
    public void A_subset_policy_overrides_field_by_field()
    {
        // Only connectionPool is set on the subset: the load balancer, outlier detection and PROXY protocol stay.
        var pool = Layered().PolicyFor("pool", 9000);
        Assert.Equal(LoadBalancerKind.RoundRobin, pool.LoadBalancer);
        Assert.Equal(5, pool.MaxConnections);
        Assert.Equal(7, pool.Outlier!.Consecutive5xxErrors);
        Assert.Equal("V1", pool.ProxyProtocolVersion);
        // connectionPool is one field: the subset's replaces the top-level one whole (Istio's mergeTrafficPolicy),
        // so the top-level connectTimeout is not carried over.
        Assert.Equal(UpstreamPolicy.DefaultConnectTimeout, pool.ConnectTimeout);

        // Only loadBalancer and proxyProtocol on the subset: the connection pool stays.
        var random = Layered().PolicyFor("random", 9000);
        Assert.Equal(LoadBalancerKind.Random, random.LoadBalancer);
        Assert.Equal(100, random.MaxConnections);
        Assert.Equal(TimeSpan.FromSeconds(3), random.ConnectTimeout);
        Assert.Equal(7, random.Outlier!.Consecutive5xxErrors);
        Assert.Equal("V2", random.ProxyProtocolVersion);
    }

    [Fact]
    public void Port_level_settings_replace_the_top_level_policy_without_inheritance()
    {
        var rule = Layered();
        var onPort = rule.PolicyFor(null, 9001);
        Assert.Equal(9, onPort.MaxConnections);
        Assert.Equal(LoadBalancerKind.LeastRequest, onPort.LoadBalancer);              // not ROUND_ROBIN
        Assert.Null(onPort.Outlier);                                                   // not inherited
        Assert.Equal(UpstreamPolicy.DefaultConnectTimeout, onPort.ConnectTimeout);     // not 3s
        Assert.Equal("V1", onPort.ProxyProtocolVersion);                               // not a port-level field

        // Other ports keep the top-level policy.
        Assert.Equal(LoadBalancerKind.RoundRobin, rule.PolicyFor(null, 9000).LoadBalancer);
        Assert.Equal(100, rule.PolicyFor(null, 9000).MaxConnections);
    }

    [Fact]
    public void A_subset_policy_applies_on_top_of_the_port_level_settings()
    {
        var rule = Layered();
        // Port 9001: the port-level settings replace the top level first, then the subset overrides its fields.
        var random = rule.PolicyFor("random", 9001);
        Assert.Equal(LoadBalancerKind.Random, random.LoadBalancer);
        Assert.Equal(9, random.MaxConnections);
        Assert.Null(random.Outlier);

        var pool = rule.PolicyFor("pool", 9001);
        Assert.Equal(5, pool.MaxConnections);
        Assert.Equal(LoadBalancerKind.LeastRequest, pool.LoadBalancer);
    }

    [Fact]
    public void A_subset_port_level_setting_replaces_without_inheritance()
    {
        // Subset `ported` has portLevelSettings for 9002 with only a connection pool: on 9002 the load balancer and
        // outlier detection fall back to the defaults, not to the top-level ROUND_ROBIN and consecutive5xxErrors 7.
        var policy = Layered().PolicyFor("ported", 9002);
        Assert.Equal(3, policy.MaxConnections);
        Assert.Equal(LoadBalancerKind.LeastRequest, policy.LoadBalancer);
        Assert.Null(policy.Outlier);
    }

    [Fact]
    public void A_subset_port_level_setting_only_applies_to_its_port()
    {
        var policy = Layered().PolicyFor("ported", 9000);
        Assert.Equal(LoadBalancerKind.RoundRobin, policy.LoadBalancer);
        Assert.Equal(100, policy.MaxConnections);
    }

    // ------------------------------------------------------------------ defaults and settings read

    [Fact]
    public void Without_a_rule_the_defaults_apply()
    {
        var policy = UpstreamPolicy.Default;
        Assert.Equal(LoadBalancerKind.LeastRequest, policy.LoadBalancer);
        Assert.Equal(TimeSpan.FromSeconds(10), policy.ConnectTimeout);
        Assert.Equal(TimeSpan.FromHours(1), policy.IdleTimeout);
        Assert.Null(policy.MaxConnections);
        Assert.Null(policy.MaxConnectionDuration);
        Assert.Null(policy.Keepalive);
        Assert.Null(policy.Outlier);
        Assert.Null(policy.ProxyProtocolVersion);

        var snapshot = Compile(ServiceOnPorts("reviews", "default", "127.0.33.1", "reviews", 9080), WorkloadEntry("r", "127.0.33.11", "{app: reviews}"));
        var cluster = Only(snapshot.Decide(At("127.0.33.1", 9080), Ip("127.0.99.1"), Ip("127.0.33.1"))).Cluster;
        Assert.Equal(UpstreamPolicy.Default, cluster.Policy);
        Assert.Empty(cluster.DestinationRules);
    }

    private static UpstreamPolicy PolicyOf(string trafficPolicy) =>
        Index(DestinationRule("dr", "default", "host: reviews\ntrafficPolicy:\n" + string.Join("\n", trafficPolicy.Split('\n').Select(l => "  " + l))))
            .Resolve(Reviews, "default", "default")!.PolicyFor(null, 9080);

    [Theory]
    [InlineData("loadBalancer: {simple: LEAST_REQUEST}", LoadBalancerKind.LeastRequest)]
    [InlineData("loadBalancer: {simple: LEAST_CONN}", LoadBalancerKind.LeastRequest)]
    [InlineData("loadBalancer: {simple: UNSPECIFIED}", LoadBalancerKind.LeastRequest)]
    [InlineData("loadBalancer: {simple: ROUND_ROBIN}", LoadBalancerKind.RoundRobin)]
    [InlineData("loadBalancer: {simple: RANDOM}", LoadBalancerKind.Random)]
    [InlineData("loadBalancer: {simple: PASSTHROUGH}", LoadBalancerKind.Passthrough)]
    [InlineData("loadBalancer: {consistentHash: {useSourceIp: true}}", LoadBalancerKind.SourceIpHash)]
    [InlineData("loadBalancer: {consistentHash: {httpHeaderName: x-user}}", LoadBalancerKind.LeastRequest)]
    [InlineData("connectionPool: {tcp: {maxConnections: 1}}", LoadBalancerKind.LeastRequest)]
    public void Load_balancer_settings_map_to_balancers(string trafficPolicy, LoadBalancerKind expected)
    {
        Assert.Equal(expected, PolicyOf(trafficPolicy).LoadBalancer);
    }

    [Fact]
    public void Idle_timeout_of_zero_disables_it()
    {
        Assert.Null(PolicyOf("connectionPool: {tcp: {idleTimeout: 0s}}").IdleTimeout);
        Assert.Equal(TimeSpan.FromMinutes(5), PolicyOf("connectionPool: {tcp: {idleTimeout: 5m}}").IdleTimeout);
        Assert.Equal(TimeSpan.FromHours(1), PolicyOf("connectionPool: {tcp: {maxConnections: 4}}").IdleTimeout);
    }

    [Fact]
    public void Tcp_connection_pool_settings_are_read()
    {
        var policy = PolicyOf("""
            connectionPool:
              tcp:
                maxConnections: 42
                connectTimeout: 250ms
                maxConnectionDuration: 30m
                tcpKeepalive: {probes: 3, time: 60s, interval: 5s}
            """);
        Assert.Equal(42, policy.MaxConnections);
        Assert.Equal(TimeSpan.FromMilliseconds(250), policy.ConnectTimeout);
        Assert.Equal(TimeSpan.FromMinutes(30), policy.MaxConnectionDuration);
        Assert.Equal(TimeSpan.FromHours(1), policy.IdleTimeout);
        Assert.Equal(3, policy.Keepalive!.Probes);
        Assert.Equal(TimeSpan.FromSeconds(60), policy.Keepalive.Time!.Value.ToTimeSpan());
    }

    [Fact]
    public void Outlier_detection_defaults_fill_what_is_unset()
    {
        var outlier = PolicyOf("outlierDetection: {consecutiveGatewayErrors: 3}").Outlier!;
        Assert.Equal(5, outlier.Consecutive5xxErrors);
        Assert.Equal(3, outlier.ConsecutiveGatewayErrors);
        Assert.Equal(TimeSpan.FromSeconds(10), outlier.Interval);
        Assert.Equal(TimeSpan.FromSeconds(30), outlier.BaseEjectionTime);
        Assert.Equal(10, outlier.MaxEjectionPercent);
        Assert.Equal(3, outlier.EjectAfter);

        var disabled5xx = PolicyOf("outlierDetection: {consecutive5xxErrors: 0, consecutiveGatewayErrors: 2, interval: 1s, baseEjectionTime: 1m, maxEjectionPercent: 50}").Outlier!;
        Assert.Equal(2, disabled5xx.EjectAfter);
        Assert.Equal(TimeSpan.FromSeconds(1), disabled5xx.Interval);
        Assert.Equal(TimeSpan.FromMinutes(1), disabled5xx.BaseEjectionTime);
        Assert.Equal(50, disabled5xx.MaxEjectionPercent);

        Assert.Equal(0, PolicyOf("outlierDetection: {consecutive5xxErrors: 0}").Outlier!.EjectAfter);
        Assert.Equal(5, PolicyOf("outlierDetection: {interval: 5s}").Outlier!.EjectAfter);

        // splitExternalLocalOriginErrors: connect failures are local-origin failures (Envoy's default threshold 5).
        Assert.Equal(5, PolicyOf("outlierDetection: {splitExternalLocalOriginErrors: true, consecutive5xxErrors: 1}").Outlier!.EjectAfter);
        Assert.Equal(2, PolicyOf("outlierDetection: {splitExternalLocalOriginErrors: true, consecutiveLocalOriginFailures: 2}").Outlier!.EjectAfter);
    }

    [Fact]
    public void Proxy_protocol_version_is_read()
    {
        Assert.Equal("V2", PolicyOf("proxyProtocol: {version: V2}").ProxyProtocolVersion);
    }
}
