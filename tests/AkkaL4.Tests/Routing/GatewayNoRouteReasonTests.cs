using System.Text.Json;
using AkkaL4.Actors.Routing;
using AkkaL4.Node.Cli;
using AkkaL4.Messages.Model;
using AkkaL4.Tests.Support;
using static AkkaL4.Tests.Routing.RoutingFixtures;

namespace AkkaL4.Tests.Routing;

/// <summary>
/// What `explain`, /v1/explain and the access log's termination detail say when no rule of a Gateway's VirtualServices
/// matches: the flag the data plane sets (NR, README "Response flags"), and for a TLS server the tls rules and the SNI
/// asked about. They once said "no tcp rule ... (NC)" for both, beside an access-log line flagged NR.
/// </summary>
[Trait("Category", TestCategories.Unit)]
public class GatewayNoRouteReasonTests
{
    private static readonly AddressBlock Block = AddressBlocks.Of(230);
    private static readonly string Bind = Block.Host(12, 1);
    private static readonly Labels Node = Labels.Of(("istio", "user-gw"));

    private static RouteSnapshot World() => CompileOn(Node,
        $$"""
        apiVersion: networking.istio.io/v1
        kind: Gateway
        metadata: {name: edge, namespace: istio-system}
        spec:
          selector: {istio: user-gw}
          servers:
          - port: {number: 443, name: tls, protocol: TLS}
            bind: {{Bind}}
            tls: {mode: PASSTHROUGH}
            hosts: ["*.example.com"]
          - port: {number: 9000, name: tcp, protocol: TCP}
            bind: {{Bind}}
            hosts: ["*"]
          - port: {number: 9001, name: tcp-other, protocol: TCP}
            bind: {{Bind}}
            hosts: ["*"]
        """,
        $$"""
        apiVersion: networking.istio.io/v1
        kind: WorkloadEntry
        metadata: {name: laptop, namespace: istio-system}
        spec:
          address: {{Block.Host(13, 1)}}
          labels: {app: laptop}
        """,
        $$"""
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: a, namespace: istio-system}
        spec:
          hosts: [a.example.com]
          ports: [{number: 8443, name: tls, protocol: TLS}]
          resolution: STATIC
          endpoints: [{address: {{Block.Host(12, 11)}}}]
        """,
        """
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: by-sni, namespace: istio-system}
        spec:
          hosts: ["*.example.com"]
          gateways: [edge]
          tls:
          - match: [{sniHosts: [a.example.com], port: 443}]
            route: [{destination: {host: a.example.com, port: {number: 8443}}}]
        """,
        """
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: by-port, namespace: istio-system}
        spec:
          hosts: ["*"]
          gateways: [edge]
          tcp:
          - match: [{port: 9000}]
            route: [{destination: {host: a.example.com, port: {number: 8443}}}]
        """);

    [Fact]
    public void An_unknown_SNI_at_a_TLS_gateway_is_no_tls_rule_for_that_SNI_flagged_NR()
    {
        var snapshot = World();
        Assert.Equal(DecisionResult.Route, snapshot.Decide(At(Bind, 443), Ip(Block.Host(13, 1)), Ip(Bind), "a.example.com").Result);

        var decision = snapshot.Decide(At(Bind, 443), Ip(Block.Host(13, 1)), Ip(Bind), "c.example.com");
        var explanation = Explanation.Of(decision, sni: "c.example.com");

        Assert.Equal("no-route", explanation.Result);
        Assert.Equal("no tls rule of a VirtualService bound to istio-system/edge matches port 443 and SNI 'c.example.com': the connection is closed (NR)",
            explanation.Reason);
        // The data plane asks without the SNI (its own detail says what it read).
        Assert.EndsWith("matches port 443 and the SNI: the connection is closed (NR)", Explanation.Of(decision).Reason);
    }

    [Fact]
    public void Explain_without_an_SNI_at_a_TLS_gateway_says_none_was_given_and_names_the_gateway()
    {
        var decision = World().Decide(At(Bind, 443), Ip(Block.Host(13, 1)), Ip(Bind));
        var explanation = Explanation.Of(decision, sniAsked: true);

        Assert.Equal("no-route", explanation.Result);
        Assert.Equal("no tls rule of a VirtualService bound to istio-system/edge matches port 443 and no SNI was given: the connection is closed (NR)",
            explanation.Reason);
        Assert.Equal("istio-system/edge", explanation.Gateway);
        Assert.Contains("gateway:         istio-system/edge", explanation.ToText());
    }

    [Fact]
    public void The_client_identity_is_in_the_JSON_and_in_the_server_explanation_text_as_offline()
    {
        var explanation = Explanation.Of(World().Decide(At(Bind, 9000), Ip(Block.Host(13, 1)), Ip(Bind)), sniAsked: true);
        // As /v1/explain writes it.
        var text = JsonSerializer.Serialize(explanation, new JsonSerializerOptions(JsonSerializerDefaults.Web));

        using var json = JsonDocument.Parse(text);
        var client = json.RootElement.GetProperty("client");
        Assert.Equal("laptop", client.GetProperty("name").GetString());
        Assert.Equal("istio-system", client.GetProperty("namespace").GetString());
        Assert.Equal("laptop", client.GetProperty("labels").GetProperty("app").GetString());
        Assert.Contains("client:          istio-system/laptop {app=laptop}", explanation.ToText());
        Assert.Equal(explanation.ToText(), ExplainCommand.LiveText(json.RootElement));
    }

    [Fact]
    public void A_port_no_rule_of_a_TCP_gateway_matches_is_no_tcp_rule_flagged_NR()
    {
        var decision = World().Decide(At(Bind, 9001), Ip(Block.Host(13, 1)), Ip(Bind));

        Assert.Equal("no tcp rule of a VirtualService bound to istio-system/edge matches port 9001: the connection is closed (NR)",
            Explanation.Of(decision).Reason);
    }
}
