using AkkaL4.Actors.Routing;
using AkkaL4.Messages.Model;
using static AkkaL4.Tests.Routing.RoutingFixtures;

namespace AkkaL4.Tests.Routing;

/// <summary>
/// Every case of seed-walkthrough.md, decided against examples/seed/world.yaml plus the case's file:
/// which service (and cluster) each client reaches, and who the client is.
/// </summary>
[Trait("Category", "Unit")]
public class WalkthroughDecisionTests
{
    private const string EchoServiceIp = "127.0.20.1";
    private const string Echo2ServiceIp = "127.0.20.2";
    private const string TelnetClient = "127.0.30.1";
    private const string TelnetClient2 = "127.0.30.2";
    private const string TelnetClientFoo = "127.0.30.3";
    private const int Port = 19000;

    private static readonly string EchoServer = Fqdn("echo-server");
    private static readonly string EchoServer2 = Fqdn("echo-server-2");

    private static RouteSnapshot Snapshot(string? caseFile, Labels? node = null) =>
        RouteCompiler.Compile(Seed(caseFile is null ? [] : [caseFile]).ToList(), node);

    /// <summary>A client dialling echo-server:19000 the usual way (the original destination is the service address).</summary>
    private static Decision DialEcho(RouteSnapshot snapshot, string client) =>
        snapshot.Decide(At(EchoServiceIp, Port), Ip(client), Ip(EchoServiceIp));

    private static void AssertReaches(Decision decision, string host, string endpoint)
    {
        Assert.Equal(DecisionResult.Route, decision.Result);
        var d = Only(decision);
        Assert.Equal(host, d.Host);
        Assert.Equal(Cluster(Port, null, host), d.Cluster.Name);
        Assert.Equal(ClusterStatus.Ok, d.Cluster.Status);
        Assert.Equal(endpoint, Assert.Single(d.Cluster.Endpoints).ToString());
    }

    private static void AssertClient(Decision decision, string name, string ns, string app)
    {
        Assert.Equal(name, decision.Client.Name);
        Assert.Equal(ns, decision.Client.Namespace);
        Assert.Equal(app, decision.Client.Labels["app"]);
    }

    [Fact]
    public void World_alone_sends_each_service_to_itself()
    {
        var snapshot = Snapshot(null);
        var echo = DialEcho(snapshot, TelnetClient);
        Assert.Equal(DecisionResult.Route, echo.Result);
        Assert.Null(echo.Target!.VirtualService);
        Assert.Equal(Cluster(Port, null, EchoServer), Only(echo).Cluster.Name);
        // echo-server selects both the prod and the gray pod, at the target port 9000.
        Assert.Equal(new[] { "127.0.10.1:9000", "127.0.10.2:9000" }, Only(echo).Cluster.Endpoints.Select(e => e.ToString()).Order());

        AssertReaches(snapshot.Decide(At(Echo2ServiceIp, Port), Ip(TelnetClient), Ip(Echo2ServiceIp)), EchoServer2, "127.0.10.3:9000");
        // Without gateway labels, the node serves no gateway listener.
        Assert.Equal(DecisionResult.NoListener, snapshot.Decide(At("127.0.40.1", Port), Ip(TelnetClient), Ip("127.0.40.1")).Result);
    }

    [Fact]
    public void Clients_are_identified_by_their_source_address()
    {
        var snapshot = Snapshot(null);
        AssertClient(DialEcho(snapshot, TelnetClient), "telnet-client", "default", "telnet-client");
        AssertClient(DialEcho(snapshot, TelnetClient2), "telnet-client-2", "default", "telnet-client-2");
        AssertClient(DialEcho(snapshot, TelnetClientFoo), "telnet-client-foo", "foo", "telnet-client-foo");
        Assert.Same(ClientIdentity.Unknown, DialEcho(snapshot, "127.0.30.99").Client);
    }

    [Fact]
    public void Case1_destination_subnets_sends_the_service_range_to_echo_server_2()
    {
        var snapshot = Snapshot("01-destination-subnets.yaml");
        foreach (var client in new[] { TelnetClient, TelnetClient2, TelnetClientFoo })
        {
            var decision = DialEcho(snapshot, client);
            AssertReaches(decision, EchoServer2, "127.0.10.3:9000");
            Assert.Equal("default/echo-by-subnet", decision.Target!.VirtualService);
        }
        AssertClient(DialEcho(snapshot, TelnetClient), "telnet-client", "default", "telnet-client");

        // An original destination outside 127.0.20.0/24 is not matched: echo-server itself.
        var outside = snapshot.Decide(At(EchoServiceIp, Port), Ip(TelnetClient), Ip("127.0.21.1"));
        Assert.Null(outside.Target!.VirtualService);
        Assert.Equal(Cluster(Port, null, EchoServer), Only(outside).Cluster.Name);
    }

    [Fact]
    public void Case2_port_19000_sends_everyone_to_echo_server_2()
    {
        var snapshot = Snapshot("02-port.yaml");
        foreach (var client in new[] { TelnetClient, TelnetClient2, TelnetClientFoo, "10.9.9.9" })
        {
            var decision = DialEcho(snapshot, client);
            AssertReaches(decision, EchoServer2, "127.0.10.3:9000");
            Assert.Equal("default/echo-by-port", decision.Target!.VirtualService);
            Assert.Equal(0, decision.Target.Rule);
        }
        // The VS is for host echo-server only: echo-server-2's own listener is untouched.
        var direct = snapshot.Decide(At(Echo2ServiceIp, Port), Ip(TelnetClient), Ip(Echo2ServiceIp));
        Assert.Null(direct.Target!.VirtualService);
    }

    [Fact]
    public void Case3_source_labels_sends_only_telnet_client_to_echo_server_2()
    {
        var snapshot = Snapshot("03-source-labels.yaml");

        var fromClient = DialEcho(snapshot, TelnetClient);
        AssertClient(fromClient, "telnet-client", "default", "telnet-client");
        AssertReaches(fromClient, EchoServer2, "127.0.10.3:9000");
        Assert.Equal("default/echo-by-source-labels", fromClient.Target!.VirtualService);

        var fromClient2 = DialEcho(snapshot, TelnetClient2);
        AssertClient(fromClient2, "telnet-client-2", "default", "telnet-client-2");
        Assert.Equal(DecisionResult.Route, fromClient2.Result);
        Assert.Null(fromClient2.Target!.VirtualService); // no rule matched: the dialled service itself
        Assert.Equal(Cluster(Port, null, EchoServer), Only(fromClient2).Cluster.Name);
    }

    [Theory]
    [InlineData("ingressgateway-1", "127.0.40.1", "echo-server")]
    [InlineData("ingressgateway-2", "127.0.40.2", "echo-server-2")]
    public void Case4_gateways_route_by_the_gateway_the_connection_came_through(string gateway, string bind, string expected)
    {
        // Both selectors use the key `istio`, so one node can carry only one of them: one node per gateway.
        var snapshot = Snapshot("04-gateways.yaml", Labels.Of(("istio", gateway)));
        var decision = snapshot.Decide(At(bind, Port), Ip(TelnetClient), Ip(bind));
        Assert.Equal(DecisionResult.Route, decision.Result);
        Assert.Equal(ListenerKind.Gateway, decision.Listener!.Kind);
        Assert.Equal($"istio-system/{gateway}", decision.Gateway);
        Assert.Equal("istio-system/ingressgateway", decision.Target!.VirtualService);
        Assert.Equal(expected == "echo-server-2" ? 0 : 1, decision.Target.Rule);
        var d = Only(decision);
        Assert.Equal(Fqdn(expected), d.Host);
        Assert.Equal(Cluster(Port, null, Fqdn(expected)), d.Cluster.Name);
        Assert.Equal(ClusterStatus.Ok, d.Cluster.Status);
        Assert.All(d.Cluster.Endpoints, e => Assert.Equal(9000, e.Port));
        AssertClient(decision, "telnet-client", "default", "telnet-client");

        // The other gateway's address is not served by this node.
        var other = bind == "127.0.40.1" ? "127.0.40.2" : "127.0.40.1";
        Assert.Equal(DecisionResult.NoListener, snapshot.Decide(At(other, Port), Ip(TelnetClient), Ip(other)).Result);
    }

    [Fact]
    public void Case4_the_gateway_virtual_service_does_not_apply_to_the_service_address()
    {
        // The original guide telnets the service address: that is mesh traffic, which the gateway-bound VS does not touch.
        var snapshot = Snapshot("04-gateways.yaml", Labels.Of(("istio", "ingressgateway-2")));
        var decision = DialEcho(snapshot, TelnetClient);
        Assert.Equal(DecisionResult.Route, decision.Result);
        Assert.Equal(ListenerKind.Mesh, decision.Listener!.Kind);
        Assert.Null(decision.Target!.VirtualService);
        Assert.Equal(Cluster(Port, null, EchoServer), Only(decision).Cluster.Name);
    }

    [Fact]
    public void Case5_source_namespace_sends_foo_clients_to_echo_server_2()
    {
        var snapshot = Snapshot("05-source-namespace.yaml");

        var fromFoo = DialEcho(snapshot, TelnetClientFoo);
        AssertClient(fromFoo, "telnet-client-foo", "foo", "telnet-client-foo");
        AssertReaches(fromFoo, EchoServer2, "127.0.10.3:9000");
        Assert.Equal(0, fromFoo.Target!.Rule);

        foreach (var client in new[] { TelnetClient, TelnetClient2 })
        {
            var fromDefault = DialEcho(snapshot, client);
            Assert.Equal("default", fromDefault.Client.Namespace);
            Assert.Equal(DecisionResult.Route, fromDefault.Result);
            Assert.Equal("default/echo-by-source-namespace", fromDefault.Target!.VirtualService);
            Assert.Equal(1, fromDefault.Target.Rule);
            Assert.Equal(Cluster(Port, null, EchoServer), Only(fromDefault).Cluster.Name);
        }
    }

    [Fact]
    public void Case6_weight_gives_exactly_four_prod_to_one_gray_in_every_five_connections()
    {
        var snapshot = Snapshot("06-weight.yaml");
        var decision = DialEcho(snapshot, TelnetClient);
        Assert.Equal(DecisionResult.Route, decision.Result);
        Assert.Equal("default/echo-by-weight", decision.Target!.VirtualService);

        var prod = decision.Target.Destinations.Single(d => d.Subset == "prod");
        var gray = decision.Target.Destinations.Single(d => d.Subset == "gray");
        Assert.Equal(Cluster(Port, "prod", EchoServer), prod.Cluster.Name);
        Assert.Equal(Cluster(Port, "gray", EchoServer), gray.Cluster.Name);
        Assert.Equal("127.0.10.1:9000", Assert.Single(prod.Cluster.Endpoints).ToString());
        Assert.Equal("127.0.10.2:9000", Assert.Single(gray.Cluster.Endpoints).ToString());
        Assert.Equal((80, 20), (prod.Weight, gray.Weight));

        var picker = WeightedPicker.For(decision.Target);
        int totalProd = 0, totalGray = 0;
        for (var window = 0; window < 200; window++)
        {
            int p = 0, g = 0;
            for (var i = 0; i < 5; i++)
            {
                if (decision.Target.Destinations[picker.Next()].Subset == "prod") p++;
                else g++;
            }
            Assert.Equal((4, 1), (p, g));
            totalProd += p;
            totalGray += g;
        }
        Assert.Equal((800, 200), (totalProd, totalGray));
    }

    [Fact]
    public void Case6_the_original_mistakes_leave_routing_untouched()
    {
        // http rules are not applied and the DR for echo.default... defines no subset of echo-server.
        var snapshot = Snapshot("original-mistakes.yaml");
        var decision = DialEcho(snapshot, TelnetClient);
        Assert.Equal(DecisionResult.Route, decision.Result);
        Assert.Null(decision.Target!.VirtualService);
        Assert.Equal(Cluster(Port, null, EchoServer), Only(decision).Cluster.Name);
        Assert.Empty(Only(decision).Cluster.DestinationRules);
    }
}
