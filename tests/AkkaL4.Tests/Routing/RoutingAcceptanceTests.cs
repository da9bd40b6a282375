using AkkaL4.Actors.Routing;
using AkkaL4.Messages.Model;
using static AkkaL4.Tests.Routing.RoutingFixtures;

namespace AkkaL4.Tests.Routing;

/// <summary>
/// The public routing cases 12–18 of istio-l4-semantics.md, plus the failure outcomes (NC, UH, no listener),
/// exportTo visibility and the subnet walk, as decisions of a compiled snapshot.
/// </summary>
[Trait("Category", "Unit")]
public class RoutingAcceptanceTests
{
    // ------------------------------------------------------------------ cases 12 and 13: a TCP gateway to tcp-echo subsets

    private static readonly Labels IngressNode = Labels.Of(("istio", "ingressgateway"));
    private const string GatewayBind = "127.0.12.100";

    private static string TcpEcho(string route) => string.Join("\n---\n",
        ServiceOnPorts("tcp-echo", "default", "127.0.12.1", "tcp-echo", 9000),
        WorkloadEntry("tcp-echo-v1", "127.0.12.11", "{app: tcp-echo, version: v1}"),
        WorkloadEntry("tcp-echo-v2", "127.0.12.12", "{app: tcp-echo, version: v2}"),
        Gateway("tcp-echo-gateway", "default", $"""
            selector: {"{"}istio: ingressgateway{"}"}
            servers:
            - port: {"{"}number: 31400, name: tcp, protocol: TCP{"}"}
              bind: {GatewayBind}
              hosts: ['*']
            """),
        DestinationRule("tcp-echo-destination", "default", """
            host: tcp-echo
            subsets:
            - {name: v1, labels: {version: v1}}
            - {name: v2, labels: {version: v2}}
            """),
        VirtualService("tcp-echo", "default", $"""
            hosts: ['*']
            gateways: [tcp-echo-gateway]
            tcp:
            - match: [{"{"}port: 31400{"}"}]
              route:
            {route}
            """));

    [Fact]
    public void Case12_gateway_on_31400_sends_every_connection_to_subset_v1()
    {
        var snapshot = CompileOn(IngressNode, TcpEcho("  - destination: {host: tcp-echo, port: {number: 9000}, subset: v1}"));
        var picks = new HashSet<string>();
        for (var i = 1; i <= 50; i++)
        {
            var decision = snapshot.Decide(At(GatewayBind, 31400), Ip($"192.168.7.{i}"), Ip(GatewayBind));
            Assert.Equal(DecisionResult.Route, decision.Result);
            Assert.Equal(ListenerKind.Gateway, decision.Listener!.Kind);
            Assert.Equal("default/tcp-echo-gateway", decision.Gateway);
            Assert.Equal("default/tcp-echo", decision.Target!.VirtualService);
            var d = decision.Target.Destinations[WeightedPicker.For(decision.Target).Next()];
            picks.Add(d.Cluster.Name);
            Assert.Equal(Fqdn("tcp-echo"), d.Host);
            Assert.Equal("v1", d.Subset);
            Assert.Equal(9000, d.Port);
            Assert.Equal(ClusterStatus.Ok, d.Cluster.Status);
            Assert.Equal("127.0.12.11:9000", Assert.Single(d.Cluster.Endpoints).ToString());
        }
        Assert.Equal(Cluster(9000, "v1", Fqdn("tcp-echo")), Assert.Single(picks));
    }

    [Fact]
    public void Case13_80_20_split_sends_exactly_400_of_2000_connections_to_v2()
    {
        var snapshot = CompileOn(IngressNode, TcpEcho("""
              - destination: {host: tcp-echo, port: {number: 9000}, subset: v1}
                weight: 80
              - destination: {host: tcp-echo, port: {number: 9000}, subset: v2}
                weight: 20
            """));
        var decision = snapshot.Decide(At(GatewayBind, 31400), Ip("192.168.7.1"), Ip(GatewayBind));
        Assert.Equal(DecisionResult.Route, decision.Result);
        Assert.Equal(new[] { "127.0.12.12:9000" }, decision.Target!.Destinations.Single(d => d.Subset == "v2").Cluster.Endpoints.Select(e => e.ToString()));

        var counts = Spread(decision, 2000);
        Assert.Equal(1600, counts["v1"]);
        Assert.Equal(400, counts["v2"]);

        // Exact in every window of five, not just overall.
        var picker = WeightedPicker.For(decision.Target);
        for (var window = 0; window < 400; window++)
        {
            var v2 = 0;
            for (var i = 0; i < 5; i++) if (decision.Target.Destinations[picker.Next()].Subset == "v2") v2++;
            Assert.Equal(1, v2);
        }
    }

    [Fact]
    public void Gateway_listener_needs_a_node_satisfying_the_selector()
    {
        var manifests = TcpEcho("  - destination: {host: tcp-echo, port: {number: 9000}, subset: v1}");
        var elsewhere = CompileOn(Labels.Of(("istio", "other")), manifests);
        Assert.Equal(DecisionResult.NoListener, elsewhere.Decide(At(GatewayBind, 31400), Ip("192.168.7.1"), Ip(GatewayBind)).Result);
        // The mesh listener of the service exists on every node.
        Assert.Equal(DecisionResult.Route, elsewhere.Decide(At("127.0.12.1", 9000), Ip("192.168.7.1"), Ip("127.0.12.1")).Result);
    }

    // ------------------------------------------------------------------ case 14: weights are relative; weight 0 is dropped

    private static RouteSnapshot WeightedMesh(int first, int second) => Compile(
        ServiceOnPorts("svc", "default", "127.0.14.1", "svc", 9000),
        ServiceOnPorts("a", "default", "127.0.14.2", "a", 9000),
        ServiceOnPorts("b", "default", "127.0.14.3", "b", 9000),
        WorkloadEntry("a-1", "127.0.14.12", "{app: a}"),
        WorkloadEntry("b-1", "127.0.14.13", "{app: b}"),
        VirtualService("split", "default", $"""
            hosts: [svc]
            tcp:
            - route:
              - destination: {"{"}host: a{"}"}
                weight: {first}
              - destination: {"{"}host: b{"}"}
                weight: {second}
            """));

    [Fact]
    public void Case14_weights_1_3_give_exactly_25_75()
    {
        var decision = WeightedMesh(1, 3).Decide(At("127.0.14.1", 9000), Ip("127.0.99.1"), Ip("127.0.14.1"));
        Assert.Equal(DecisionResult.Route, decision.Result);
        var counts = Spread(decision, 400);
        Assert.Equal(100, counts[Fqdn("a")]);
        Assert.Equal(300, counts[Fqdn("b")]);
    }

    [Fact]
    public void Case14_weights_100_0_send_everything_to_the_first()
    {
        var decision = WeightedMesh(100, 0).Decide(At("127.0.14.1", 9000), Ip("127.0.99.1"), Ip("127.0.14.1"));
        Assert.Equal(DecisionResult.Route, decision.Result);
        Assert.Equal(Fqdn("a"), Only(decision).Host);
        var counts = Spread(decision, 400);
        Assert.Equal(400, Assert.Single(counts).Value);
        Assert.Equal(Fqdn("a"), Assert.Single(counts).Key);
    }

    [Fact]
    public void A_single_destination_with_weight_0_gets_all_traffic()
    {
        var snapshot = Compile(
            ServiceOnPorts("svc", "default", "127.0.14.1", "svc", 9000),
            ServiceOnPorts("a", "default", "127.0.14.2", "a", 9000),
            WorkloadEntry("a-1", "127.0.14.12", "{app: a}"),
            VirtualService("zero", "default", """
                hosts: [svc]
                tcp:
                - route:
                  - destination: {host: a}
                    weight: 0
                """));
        var decision = snapshot.Decide(At("127.0.14.1", 9000), Ip("127.0.99.1"), Ip("127.0.14.1"));
        Assert.Equal(DecisionResult.Route, decision.Result);
        Assert.Equal(Fqdn("a"), Only(decision).Host);
        Assert.Equal(400, Spread(decision, 400)[Fqdn("a")]);
    }

    // ------------------------------------------------------------------ cases 15 and 16: per-client conditions

    private static string[] TwoPortWorld(params string[] more) =>
    [
        ServiceOnPorts("svc", "default", "127.0.15.1", "svc", 9000, 9001),
        WorkloadEntry("svc-1", "127.0.15.11", "{app: svc}"),
        ServiceOnPorts("a", "default", "127.0.15.2", "a", 9000),
        WorkloadEntry("a-1", "127.0.15.12", "{app: a}"),
        ServiceOnPorts("b", "default", "127.0.15.3", "b", 9000),
        WorkloadEntry("b-1", "127.0.15.13", "{app: b}"),
        WorkloadEntry("client-x", "127.0.15.101", "{app: x}"),
        WorkloadEntry("client-y", "127.0.15.102", "{app: y}"),
        WorkloadEntry("client-ns1", "127.0.15.103", "{app: z}", "ns1"),
        WorkloadEntry("client-ns2", "127.0.15.104", "{app: z}", "ns2"),
        .. more,
    ];

    [Theory]
    [InlineData("127.0.15.101", 9000, "a")] // app=x on 9000
    [InlineData("127.0.15.102", 9000, "b")] // app=y on 9000
    [InlineData("127.0.15.101", 9001, "b")] // app=x on 9001
    [InlineData("127.0.15.102", 9001, "b")]
    [InlineData("10.200.0.1", 9000, "b")]   // unknown source: no labels
    public void Case15_source_labels_and_port_are_anded(string client, int port, string expected)
    {
        var snapshot = Compile(TwoPortWorld(VirtualService("by-client", "default", """
            hosts: [svc]
            tcp:
            - match: [{port: 9000, sourceLabels: {app: x}}]
              route: [{destination: {host: a}}]
            - route: [{destination: {host: b}}]
            """)));
        var decision = snapshot.Decide(At("127.0.15.1", port), Ip(client), Ip("127.0.15.1"));
        Assert.Equal(DecisionResult.Route, decision.Result);
        Assert.Equal("default/by-client", decision.Target!.VirtualService);
        Assert.Equal(expected == "a" ? 0 : 1, decision.Target.Rule);
        var d = Only(decision);
        Assert.Equal(Fqdn(expected), d.Host);
        Assert.Equal(Cluster(9000, null, Fqdn(expected)), d.Cluster.Name);
    }

    [Theory]
    [InlineData("127.0.15.103", 9000, true)]  // ns1 on 9000: first block
    [InlineData("127.0.15.104", 9001, true)]  // ns2 on 9001: second block
    [InlineData("127.0.15.103", 9001, true)]  // both blocks
    [InlineData("127.0.15.104", 9000, false)] // neither
    [InlineData("127.0.15.101", 9000, false)] // default namespace
    public void Case16_match_blocks_are_ored(string client, int port, bool matched)
    {
        var snapshot = Compile(TwoPortWorld(VirtualService("by-ns-or-port", "default", """
            hosts: [svc]
            tcp:
            - match: [{sourceNamespace: ns1}, {port: 9001}]
              route: [{destination: {host: a}}]
            """)));
        var decision = snapshot.Decide(At("127.0.15.1", port), Ip(client), Ip("127.0.15.1"));
        Assert.Equal(DecisionResult.Route, decision.Result);
        var d = Only(decision);
        if (matched)
        {
            Assert.Equal("default/by-ns-or-port", decision.Target!.VirtualService);
            Assert.Equal(Fqdn("a"), d.Host);
        }
        else
        {
            Assert.Null(decision.Target!.VirtualService);
            Assert.Equal(Cluster(port, null, Fqdn("svc")), d.Cluster.Name);
        }
    }

    [Fact]
    public void Client_identity_comes_from_the_workload_entry_at_the_source_ip()
    {
        var snapshot = Compile(TwoPortWorld());
        var ns1 = snapshot.Decide(At("127.0.15.1", 9000), Ip("127.0.15.103"), Ip("127.0.15.1")).Client;
        Assert.Equal("client-ns1", ns1.Name);
        Assert.Equal("ns1", ns1.Namespace);
        Assert.Equal("z", ns1.Labels["app"]);
        var unknown = snapshot.Decide(At("127.0.15.1", 9000), Ip("10.0.0.1"), Ip("127.0.15.1")).Client;
        Assert.Null(unknown.Name);
        Assert.Null(unknown.Namespace);
        Assert.True(unknown.Labels.IsEmpty);
    }

    [Fact]
    public void No_rule_matching_on_a_mesh_listener_goes_to_the_dialled_service_port()
    {
        var snapshot = Compile(TwoPortWorld());
        foreach (var port in new[] { 9000, 9001 })
        {
            var decision = snapshot.Decide(At("127.0.15.1", port), Ip("127.0.15.101"), Ip("127.0.15.1"));
            Assert.Equal(DecisionResult.Route, decision.Result);
            Assert.Null(decision.Target!.VirtualService);
            var d = Only(decision);
            Assert.Equal(Cluster(port, null, Fqdn("svc")), d.Cluster.Name);
            Assert.Equal($"127.0.15.11:{port}", Assert.Single(d.Cluster.Endpoints).ToString());
        }
    }

    // ------------------------------------------------------------------ case 17 and the subnet walk

    private static RouteSnapshot SubnetWorld(string tcpRules) => Compile(
        ServiceOnPorts("svc", "default", "127.0.17.1", "svc", 9000),
        WorkloadEntry("svc-1", "127.0.17.11", "{app: svc}"),
        ServiceOnPorts("a", "default", "127.0.17.2", "a", 9000),
        WorkloadEntry("a-1", "127.0.17.12", "{app: a}"),
        ServiceOnPorts("b", "default", "127.0.17.3", "b", 9000),
        WorkloadEntry("b-1", "127.0.17.13", "{app: b}"),
        VirtualService("by-subnet", "default", "hosts: [svc]\ntcp:\n" + tcpRules));

    private static string Via(Decision decision)
    {
        Assert.Equal(DecisionResult.Route, decision.Result);
        var d = Only(decision);
        if (decision.Target!.VirtualService is null)
        {
            Assert.Equal(Cluster(9000, null, Fqdn("svc")), d.Cluster.Name);
            return "self";
        }
        return d.Host.Split('.')[0];
    }

    private static string Route(RouteSnapshot snapshot, string destination) =>
        Via(snapshot.Decide(At("127.0.17.1", 9000), Ip("127.0.99.1"), Ip(destination)));

    [Theory]
    [InlineData("10.1.2.3", "b")]
    [InlineData("10.9.9.9", "a")]
    [InlineData("10.0.0.0", "a")]
    [InlineData("10.1.255.255", "b")]
    [InlineData("11.0.0.1", "self")]
    [InlineData("127.0.17.1", "self")]
    [InlineData("::ffff:10.1.2.3", "b")] // an IPv4-mapped original destination is read as IPv4
    [InlineData("2001:db8::1", "self")]
    public void Case17_longest_prefix_wins_whatever_the_rule_order(string destination, string expected)
    {
        var snapshot = SubnetWorld("""
            - match: [{destinationSubnets: [10.0.0.0/8]}]
              route: [{destination: {host: a}}]
            - match: [{destinationSubnets: [10.1.0.0/16]}]
              route: [{destination: {host: b}}]
            """);
        Assert.Equal(expected, Route(snapshot, destination));
    }

    [Fact]
    public void Case17_no_candidate_goes_to_the_dialled_service_with_no_virtual_service()
    {
        var snapshot = SubnetWorld("""
            - match: [{destinationSubnets: [10.0.0.0/8]}]
              route: [{destination: {host: a}}]
            - match: [{destinationSubnets: [10.1.0.0/16]}]
              route: [{destination: {host: b}}]
            """);
        var decision = snapshot.Decide(At("127.0.17.1", 9000), Ip("127.0.99.1"), Ip("11.0.0.1"));
        Assert.Equal(DecisionResult.Route, decision.Result);
        Assert.Null(decision.Target!.VirtualService);
        Assert.Null(decision.Target.Rule);
        Assert.Equal("outbound|9000||svc.default.svc.cluster.local", Only(decision).Cluster.Name);
        Assert.Equal("127.0.17.11:9000", Assert.Single(Only(decision).Cluster.Endpoints).ToString());
    }

    [Theory]
    [InlineData("10.1.2.3", "a")]  // the subnet candidate is more specific than the terminal rule
    [InlineData("11.0.0.1", "b")]  // the terminal rule covers everything else
    [InlineData("2001:db8::1", "b")]
    public void Terminal_rule_after_a_subnet_candidate_covers_only_what_the_subnet_does_not(string destination, string expected)
    {
        var snapshot = SubnetWorld("""
            - match: [{destinationSubnets: [10.0.0.0/8]}]
              route: [{destination: {host: a}}]
            - route: [{destination: {host: b}}]
            """);
        Assert.Equal(expected, Route(snapshot, destination));
    }

    [Theory]
    [InlineData("10.1.2.3", "a")]
    [InlineData("11.0.0.1", "b")]
    public void Terminal_match_block_after_a_subnet_candidate_covers_only_what_the_subnet_does_not(string destination, string expected)
    {
        var snapshot = SubnetWorld("""
            - match: [{destinationSubnets: [10.0.0.0/8]}]
              route: [{destination: {host: a}}]
            - match: [{port: 9000}]
              route: [{destination: {host: b}}]
            """);
        Assert.Equal(expected, Route(snapshot, destination));
    }

    [Theory]
    [InlineData("10.1.2.3")]
    [InlineData("11.0.0.1")]
    public void A_terminal_rule_stops_the_walk_so_later_subnet_rules_never_apply(string destination)
    {
        var snapshot = SubnetWorld("""
            - match: [{port: 9000}]
              route: [{destination: {host: b}}]
            - match: [{destinationSubnets: [10.1.0.0/16]}]
              route: [{destination: {host: a}}]
            """);
        Assert.Equal("b", Route(snapshot, destination));
    }

    [Theory]
    [InlineData("10.1.2.3", "b")]  // a bare IP is a /32
    [InlineData("10.1.2.4", "a")]
    public void A_bare_ip_is_the_most_specific_subnet(string destination, string expected)
    {
        var snapshot = SubnetWorld("""
            - match: [{destinationSubnets: [10.0.0.0/8]}]
              route: [{destination: {host: a}}]
            - match: [{destinationSubnets: [10.1.2.3]}]
              route: [{destination: {host: b}}]
            """);
        Assert.Equal(expected, Route(snapshot, destination));
    }

    [Fact]
    public void On_equal_prefixes_the_earlier_rule_wins()
    {
        var snapshot = SubnetWorld("""
            - match: [{destinationSubnets: [10.0.0.0/8]}]
              route: [{destination: {host: a}}]
            - match: [{destinationSubnets: [10.0.0.0/8]}]
              route: [{destination: {host: b}}]
            """);
        Assert.Equal("a", Route(snapshot, "10.2.3.4"));
    }

    [Theory]
    [InlineData("2001:db8:1::5", "b")]
    [InlineData("2001:db8:2::5", "a")]
    [InlineData("2001:db9::1", "self")]
    [InlineData("10.0.0.1", "self")]
    public void Ipv6_subnets_follow_the_same_walk(string destination, string expected)
    {
        var snapshot = SubnetWorld("""
            - match: [{destinationSubnets: ['2001:db8::/32']}]
              route: [{destination: {host: a}}]
            - match: [{destinationSubnets: ['2001:db8:1::/48']}]
              route: [{destination: {host: b}}]
            """);
        Assert.Equal(expected, Route(snapshot, destination));
    }

    [Fact]
    public void A_subnet_block_still_needs_its_other_conditions()
    {
        var snapshot = SubnetWorld("""
            - match: [{destinationSubnets: [10.0.0.0/8], port: 9001}]
              route: [{destination: {host: a}}]
            """);
        Assert.Equal("self", Route(snapshot, "10.1.2.3"));
    }

    // ------------------------------------------------------------------ case 18: short hosts expand in the VS namespace

    [Theory]
    [InlineData("127.0.18.1", "foo/reviews")] // reviews.foo
    [InlineData("127.0.18.2", null)]          // reviews.bar
    public void Case18_short_host_means_the_virtual_service_namespace(string serviceAddress, string? expectedVs)
    {
        var snapshot = Compile(
            ServiceOnPorts("reviews", "foo", "127.0.18.1", "reviews", 9080),
            WorkloadEntry("reviews-foo", "127.0.18.11", "{app: reviews}", "foo"),
            ServiceOnPorts("reviews", "bar", "127.0.18.2", "reviews", 9080),
            WorkloadEntry("reviews-bar", "127.0.18.12", "{app: reviews}", "bar"),
            ServiceOnPorts("ratings", "foo", "127.0.18.3", "ratings", 9080),
            WorkloadEntry("ratings-foo", "127.0.18.13", "{app: ratings}", "foo"),
            VirtualService("reviews", "foo", """
                hosts: [reviews]
                tcp: [{route: [{destination: {host: ratings}}]}]
                """));
        foreach (var client in new[] { "127.0.18.11", "127.0.18.12", "10.0.0.1" })
        {
            var decision = snapshot.Decide(At(serviceAddress, 9080), Ip(client), Ip(serviceAddress));
            Assert.Equal(DecisionResult.Route, decision.Result);
            Assert.Equal(expectedVs, decision.Target!.VirtualService);
            Assert.Equal(expectedVs is null ? Fqdn("reviews", "bar") : Fqdn("ratings", "foo"), Only(decision).Host);
        }
    }

    // ------------------------------------------------------------------ failure outcomes

    private static string[] FailureWorld(params string[] more) =>
    [
        ServiceOnPorts("svc", "default", "127.0.19.1", "svc", 9000),
        WorkloadEntry("svc-v1", "127.0.19.11", "{app: svc, version: v1}"),
        DestinationRule("svc", "default", """
            host: svc
            subsets:
            - {name: v1, labels: {version: v1}}
            - {name: v9, labels: {version: v9}}
            """),
        .. more,
    ];

    private static Decision DecideSvc(RouteSnapshot snapshot) => snapshot.Decide(At("127.0.19.1", 9000), Ip("127.0.99.1"), Ip("127.0.19.1"));

    [Fact]
    public void Unknown_destination_host_is_no_route()
    {
        var decision = DecideSvc(Compile(FailureWorld(VirtualService("to-nowhere", "default", """
            hosts: [svc]
            tcp: [{route: [{destination: {host: nosuch}}]}]
            """))));
        Assert.Equal(DecisionResult.NoRoute, decision.Result);
        Assert.Equal(ClusterStatus.UnknownHost, Only(decision).Cluster.Status);
        Assert.Equal(Fqdn("nosuch"), Only(decision).Host);
        Assert.Equal("no-route", Explanation.Of(decision).Result);
    }

    [Fact]
    public void Undeclared_subset_is_no_route()
    {
        var decision = DecideSvc(Compile(FailureWorld(VirtualService("to-v3", "default", """
            hosts: [svc]
            tcp: [{route: [{destination: {host: svc, subset: v3}}]}]
            """))));
        Assert.Equal(DecisionResult.NoRoute, decision.Result);
        Assert.Equal(ClusterStatus.UnknownSubset, Only(decision).Cluster.Status);
        Assert.Empty(Only(decision).Cluster.Endpoints);
    }

    [Fact]
    public void Subset_without_any_destination_rule_is_no_route()
    {
        var decision = DecideSvc(Compile(
            ServiceOnPorts("svc", "default", "127.0.19.1", "svc", 9000),
            WorkloadEntry("svc-v1", "127.0.19.11", "{app: svc, version: v1}"),
            VirtualService("to-v1", "default", """
                hosts: [svc]
                tcp: [{route: [{destination: {host: svc, subset: v1}}]}]
                """)));
        Assert.Equal(DecisionResult.NoRoute, decision.Result);
        Assert.Equal(ClusterStatus.UnknownSubset, Only(decision).Cluster.Status);
    }

    [Fact]
    public void Subset_no_endpoint_carries_is_no_healthy_upstream()
    {
        var decision = DecideSvc(Compile(FailureWorld(VirtualService("to-v9", "default", """
            hosts: [svc]
            tcp: [{route: [{destination: {host: svc, subset: v9}}]}]
            """))));
        Assert.Equal(DecisionResult.NoHealthyUpstream, decision.Result);
        Assert.Equal(ClusterStatus.NoEndpoints, Only(decision).Cluster.Status);
        Assert.Equal("no-healthy-upstream", Explanation.Of(decision).Result);
    }

    [Fact]
    public void Declared_subset_with_endpoints_routes_to_them_only()
    {
        var decision = DecideSvc(Compile(FailureWorld(
            WorkloadEntry("svc-v2", "127.0.19.12", "{app: svc, version: v2}"),
            VirtualService("to-v1", "default", """
                hosts: [svc]
                tcp: [{route: [{destination: {host: svc, subset: v1}}]}]
                """))));
        Assert.Equal(DecisionResult.Route, decision.Result);
        Assert.Equal(Cluster(9000, "v1", Fqdn("svc")), Only(decision).Cluster.Name);
        Assert.Equal("127.0.19.11:9000", Assert.Single(Only(decision).Cluster.Endpoints).ToString());
    }

    [Fact]
    public void Service_without_endpoints_is_no_healthy_upstream()
    {
        var decision = DecideSvc(Compile(ServiceOnPorts("svc", "default", "127.0.19.1", "svc", 9000)));
        Assert.Equal(DecisionResult.NoHealthyUpstream, decision.Result);
        Assert.Null(decision.Target!.VirtualService);
    }

    [Fact]
    public void Nothing_listening_is_no_listener()
    {
        var snapshot = Compile(FailureWorld());
        foreach (var at in new[] { At("127.0.19.1", 9001), At("127.0.19.2", 9000), At("::1", 9000) })
        {
            var decision = snapshot.Decide(at, Ip("127.0.99.1"), at.Address);
            Assert.Equal(DecisionResult.NoListener, decision.Result);
            Assert.Null(decision.Listener);
            Assert.Null(decision.Target);
            Assert.Equal("no-listener", Explanation.Of(decision).Result);
        }
    }

    private static string[] GatewayWorld(string vsSpec) =>
    [
        ServiceOnPorts("a", "default", "127.0.21.2", "a", 9000),
        WorkloadEntry("a-1", "127.0.21.12", "{app: a}"),
        WorkloadEntry("client-x", "127.0.21.101", "{app: x}"),
        Gateway("gw", "istio-system", """
            selector: {istio: ingressgateway}
            servers:
            - port: {number: 31400, name: tcp, protocol: TCP}
              hosts: ['*']
            """),
        VirtualService("through-gw", "istio-system", vsSpec),
    ];

    [Fact]
    public void Gateway_listener_where_no_rule_matches_is_no_route()
    {
        var snapshot = CompileOn(IngressNode, GatewayWorld("""
            hosts: ['*']
            gateways: [gw]
            tcp:
            - match: [{port: 31401}]
              route: [{destination: {host: a.default.svc.cluster.local}}]
            """));
        var decision = snapshot.Decide(At("127.0.0.1", 31400), Ip("127.0.21.101"), Ip("127.0.0.1"));
        Assert.Equal(DecisionResult.NoRoute, decision.Result);
        Assert.NotNull(decision.Listener);
        Assert.Equal(ListenerKind.Gateway, decision.Listener.Kind);
        Assert.Null(decision.Target);
        // NR, as the connection is flagged (README, Response flags): NC is a rule naming a cluster that does not exist.
        Assert.Contains("(NR)", Explanation.Of(decision).Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Gateway_without_bind_listens_on_every_address_of_its_port()
    {
        var snapshot = CompileOn(IngressNode, GatewayWorld("""
            hosts: ['*']
            gateways: [gw]
            tcp: [{route: [{destination: {host: a.default.svc.cluster.local}}]}]
            """));
        foreach (var address in new[] { "127.0.0.1", "127.0.21.200", "10.1.2.3" })
        {
            var decision = snapshot.Decide(At(address, 31400), Ip("127.0.21.101"), Ip(address));
            Assert.Equal(DecisionResult.Route, decision.Result);
            Assert.Equal("istio-system/gw", decision.Gateway);
            Assert.Equal(Fqdn("a"), Only(decision).Host);
        }
    }

    [Fact]
    public void Source_and_subnet_conditions_are_ignored_at_gateways()
    {
        var snapshot = CompileOn(IngressNode, GatewayWorld("""
            hosts: ['*']
            gateways: [gw]
            tcp:
            - match: [{port: 31400, sourceLabels: {app: nobody}, sourceNamespace: nowhere, destinationSubnets: [192.0.2.0/24]}]
              route: [{destination: {host: a.default.svc.cluster.local}}]
            """));
        var decision = snapshot.Decide(At("127.0.0.1", 31400), Ip("127.0.21.101"), Ip("127.0.0.1"));
        Assert.Equal(DecisionResult.Route, decision.Result);
        Assert.Equal(Fqdn("a"), Only(decision).Host);
    }

    [Fact]
    public void A_virtual_service_bound_only_to_a_gateway_does_not_apply_to_mesh_traffic()
    {
        var snapshot = CompileOn(IngressNode,
        [
            .. GatewayWorld("""
                hosts: [svc.default.svc.cluster.local]
                gateways: [gw]
                tcp: [{route: [{destination: {host: a.default.svc.cluster.local}}]}]
                """),
            ServiceOnPorts("svc", "default", "127.0.21.1", "svc", 9000),
            WorkloadEntry("svc-1", "127.0.21.11", "{app: svc}"),
        ]);
        var mesh = snapshot.Decide(At("127.0.21.1", 9000), Ip("127.0.21.101"), Ip("127.0.21.1"));
        Assert.Equal(DecisionResult.Route, mesh.Result);
        Assert.Null(mesh.Target!.VirtualService);
        Assert.Equal(Fqdn("svc"), Only(mesh).Host);
        var gateway = snapshot.Decide(At("127.0.0.1", 31400), Ip("127.0.21.101"), Ip("127.0.0.1"));
        Assert.Equal(Fqdn("a"), Only(gateway).Host);
    }

    [Fact]
    public void Server_host_with_a_namespace_admits_only_virtual_services_of_that_namespace()
    {
        var snapshot = CompileOn(IngressNode,
            ServiceOnPorts("a", "team", "127.0.21.2", "a", 9000),
            WorkloadEntry("a-1", "127.0.21.12", "{app: a}", "team"),
            ServiceOnPorts("b", "default", "127.0.21.3", "b", 9000),
            WorkloadEntry("b-1", "127.0.21.13", "{app: b}"),
            Gateway("gw", "istio-system", """
                selector: {istio: ingressgateway}
                servers:
                - port: {number: 31400, name: tcp, protocol: TCP}
                  hosts: ['team/*']
                """),
            // Older, so it would come first if the server admitted it.
            VirtualService("from-default", "default", """
                hosts: ['*']
                gateways: [istio-system/gw]
                tcp: [{route: [{destination: {host: b}}]}]
                """, "2020-01-01T00:00:00Z"),
            VirtualService("from-team", "team", """
                hosts: ['*']
                gateways: [istio-system/gw]
                tcp: [{route: [{destination: {host: a}}]}]
                """, "2024-01-01T00:00:00Z"));
        var decision = snapshot.Decide(At("127.0.0.1", 31400), Ip("127.0.99.1"), Ip("127.0.0.1"));
        Assert.Equal(DecisionResult.Route, decision.Result);
        Assert.Equal("team/from-team", decision.Target!.VirtualService);
        Assert.Equal(Fqdn("a", "team"), Only(decision).Host);
    }

    [Fact]
    public void Legacy_gateway_name_dot_namespace_means_namespace_slash_name()
    {
        var snapshot = CompileOn(IngressNode,
        [
            .. GatewayWorld("""
                hosts: ['*']
                gateways: [nothing-here]
                tcp: [{route: [{destination: {host: a.default.svc.cluster.local}}]}]
                """),
            VirtualService("legacy", "default", """
                hosts: ['*']
                gateways: [gw.istio-system]
                tcp: [{route: [{destination: {host: a}}]}]
                """),
        ]);
        var decision = snapshot.Decide(At("127.0.0.1", 31400), Ip("127.0.99.1"), Ip("127.0.0.1"));
        Assert.Equal(DecisionResult.Route, decision.Result);
        Assert.Equal("istio-system/gw", decision.Gateway);
        Assert.Equal("default/legacy", decision.Target!.VirtualService);
    }

    [Fact]
    public void Match_gateways_override_the_top_level_list_per_block()
    {
        var snapshot = CompileOn(IngressNode,
        [
            .. GatewayWorld("""
                hosts: ['*']
                gateways: [nothing-here]
                tcp: [{route: [{destination: {host: a.default.svc.cluster.local}}]}]
                """),
            ServiceOnPorts("svc", "default", "127.0.21.1", "svc", 9000),
            WorkloadEntry("svc-1", "127.0.21.11", "{app: svc}"),
            ServiceOnPorts("b", "default", "127.0.21.3", "b", 9000),
            WorkloadEntry("b-1", "127.0.21.13", "{app: b}"),
            VirtualService("both", "default", """
                hosts: [svc]
                gateways: [mesh, istio-system/gw]
                tcp:
                - match: [{gateways: [istio-system/gw]}]
                  route: [{destination: {host: a}}]
                - route: [{destination: {host: b}}]
                """),
        ]);
        var mesh = snapshot.Decide(At("127.0.21.1", 9000), Ip("127.0.21.101"), Ip("127.0.21.1"));
        Assert.Equal("default/both", mesh.Target!.VirtualService);
        Assert.Equal(1, mesh.Target.Rule);
        Assert.Equal(Fqdn("b"), Only(mesh).Host);

        var gateway = snapshot.Decide(At("127.0.0.1", 31400), Ip("127.0.21.101"), Ip("127.0.0.1"));
        Assert.Equal("default/both", gateway.Target!.VirtualService);
        Assert.Equal(0, gateway.Target.Rule);
        Assert.Equal(Fqdn("a"), Only(gateway).Host);
    }

    // ------------------------------------------------------------------ destination ports and ServiceEntries

    [Theory]
    [InlineData(9000)]
    [InlineData(9001)]
    public void Destination_port_is_the_given_one_else_the_only_one_else_the_listener_port(int dialled)
    {
        var snapshot = Compile(TwoPortWorld(
            ServiceOnPorts("multi", "default", "127.0.15.4", "multi", 9000, 9001),
            WorkloadEntry("multi-1", "127.0.15.14", "{app: multi}"),
            ServiceOnPorts("single", "default", "127.0.15.5", "single", 7000),
            WorkloadEntry("single-1", "127.0.15.15", "{app: single}"),
            VirtualService("ports", "default", """
                hosts: [svc]
                tcp:
                - match: [{sourceLabels: {app: x}}]
                  route: [{destination: {host: multi}}]
                - match: [{sourceLabels: {app: y}}]
                  route: [{destination: {host: single}}]
                - route: [{destination: {host: multi, port: {number: 9000}}}]
                """)));
        var toMulti = Only(snapshot.Decide(At("127.0.15.1", dialled), Ip("127.0.15.101"), Ip("127.0.15.1")));
        Assert.Equal(Cluster(dialled, null, Fqdn("multi")), toMulti.Cluster.Name);
        Assert.Equal($"127.0.15.14:{dialled}", Assert.Single(toMulti.Cluster.Endpoints).ToString());

        var toSingle = Only(snapshot.Decide(At("127.0.15.1", dialled), Ip("127.0.15.102"), Ip("127.0.15.1")));
        Assert.Equal(Cluster(7000, null, Fqdn("single")), toSingle.Cluster.Name);

        var given = Only(snapshot.Decide(At("127.0.15.1", dialled), Ip("10.0.0.1"), Ip("127.0.15.1")));
        Assert.Equal(Cluster(9000, null, Fqdn("multi")), given.Cluster.Name);
    }

    [Fact]
    public void A_destination_port_the_service_does_not_have_is_no_route()
    {
        var snapshot = Compile(TwoPortWorld(VirtualService("bad-port", "default", """
            hosts: [svc]
            tcp: [{route: [{destination: {host: a, port: {number: 1234}}}]}]
            """)));
        var decision = snapshot.Decide(At("127.0.15.1", 9000), Ip("10.0.0.1"), Ip("127.0.15.1"));
        Assert.Equal(DecisionResult.NoRoute, decision.Result);
        Assert.Equal(ClusterStatus.UnknownPort, Only(decision).Cluster.Status);
    }

    [Fact]
    public void Service_entry_addresses_listen_and_its_endpoints_are_clients_and_upstreams()
    {
        var snapshot = Compile("""
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: db, namespace: data}
            spec:
              hosts: [db.example.com]
              addresses: [127.0.23.1]
              ports: [{number: 5432, name: tcp, protocol: TCP}]
              resolution: STATIC
              endpoints:
              - {address: 127.0.23.11, labels: {app: db}}
              - {address: 127.0.23.12, labels: {app: db}, weight: 3}
            """);
        var decision = snapshot.Decide(At("127.0.23.1", 5432), Ip("127.0.23.12"), Ip("127.0.23.1"));
        Assert.Equal(DecisionResult.Route, decision.Result);
        var d = Only(decision);
        Assert.Equal(Cluster(5432, null, "db.example.com"), d.Cluster.Name); // a host with a dot is literal
        Assert.Equal(new[] { ("127.0.23.11:5432", 1), ("127.0.23.12:5432", 3) }, d.Cluster.Endpoints.Select(e => (e.ToString(), e.Weight)));
        Assert.Equal("data", decision.Client.Namespace);
        Assert.Equal("db", decision.Client.Labels["app"]);
    }

    // ------------------------------------------------------------------ visibility and precedence

    [Theory]
    [InlineData(VisibilityWorld.ClientTeam, "a")]   // the VS's own namespace sees it
    [InlineData(VisibilityWorld.ClientDefault, "svc")] // another namespace does not
    [InlineData("10.0.0.1", "svc")]     // an unknown client has no namespace
    public void ExportTo_dot_hides_a_virtual_service_from_other_namespaces(string client, string expected)
    {
        var snapshot = Compile(VisibilityWorld.With(VirtualService("private", "team", """
            hosts: [svc.default.svc.cluster.local]
            exportTo: [.]
            tcp: [{route: [{destination: {host: a.default.svc.cluster.local}}]}]
            """)));
        Assert.Equal(expected, VisibilityWorld.HostFor(snapshot, client));
    }

    [Theory]
    [InlineData(VisibilityWorld.ClientTeam, "a")]
    [InlineData(VisibilityWorld.ClientDefault, "svc")]
    public void ExportTo_a_namespace_shows_it_only_there(string client, string expected)
    {
        var snapshot = Compile(VisibilityWorld.With(VirtualService("for-team", "default", """
            hosts: [svc]
            exportTo: [team]
            tcp: [{route: [{destination: {host: a}}]}]
            """)));
        Assert.Equal(expected, VisibilityWorld.HostFor(snapshot, client));
    }

    [Theory]
    [InlineData(VisibilityWorld.ClientTeam, "a")] // team sees its private VS first
    [InlineData(VisibilityWorld.ClientDefault, "b")] // default only sees the public one
    public void A_private_virtual_service_precedes_public_ones(string client, string expected)
    {
        var snapshot = Compile(VisibilityWorld.With(
            // The public VS is older, so creation order alone would put it first.
            VirtualService("public", "default", """
                hosts: [svc]
                tcp: [{route: [{destination: {host: b}}]}]
                """, "2020-01-01T00:00:00Z"),
            VirtualService("private", "team", """
                hosts: [svc.default.svc.cluster.local]
                exportTo: [.]
                tcp: [{route: [{destination: {host: a.default.svc.cluster.local}}]}]
                """, "2024-01-01T00:00:00Z")));
        Assert.Equal(expected, VisibilityWorld.HostFor(snapshot, client));
    }

    [Fact]
    public void Rules_of_several_virtual_services_are_concatenated_in_creation_order()
    {
        var snapshot = Compile(VisibilityWorld.With(
            VirtualService("z-older", "default", """
                hosts: [svc]
                tcp:
                - match: [{sourceNamespace: team}]
                  route: [{destination: {host: a}}]
                """, "2020-01-01T00:00:00Z"),
            VirtualService("a-newer", "default", """
                hosts: [svc]
                tcp: [{route: [{destination: {host: b}}]}]
                """, "2024-01-01T00:00:00Z")));
        Assert.Equal("a", VisibilityWorld.HostFor(snapshot, VisibilityWorld.ClientTeam));
        Assert.Equal("b", VisibilityWorld.HostFor(snapshot, VisibilityWorld.ClientDefault));
        var decision = VisibilityWorld.Decide(snapshot, VisibilityWorld.ClientDefault);
        Assert.Equal("default/a-newer", decision.Target!.VirtualService);
    }

    [Fact]
    public void Rule_order_decides_between_terminal_rules()
    {
        var snapshot = Compile(VisibilityWorld.With(VirtualService("ordered", "default", """
            hosts: [svc]
            tcp:
            - match: [{port: 9000}]
              route: [{destination: {host: a}}]
            - match: [{sourceNamespace: team}]
              route: [{destination: {host: b}}]
            """)));
        Assert.Equal("a", VisibilityWorld.HostFor(snapshot, VisibilityWorld.ClientTeam));
        Assert.Equal("a", VisibilityWorld.HostFor(snapshot, VisibilityWorld.ClientDefault));
    }
}
