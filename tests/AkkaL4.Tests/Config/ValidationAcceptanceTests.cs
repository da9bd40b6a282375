using AkkaL4.Actors.Config;
using AkkaL4.Messages.Model;

namespace AkkaL4.Tests.Config;

/// <summary>The public validation cases 1–11 of istio-l4-semantics.md, with their valid counterparts.</summary>
[Trait("Category", "Unit")]
public class ValidationAcceptanceTests
{
    private static string Vs(string spec, string name = "vs") => $"""
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata:
          name: {name}
          namespace: default
        spec:
        {Indent(spec)}
        """;

    private static string Dr(string spec) => $"""
        apiVersion: networking.istio.io/v1beta1
        kind: DestinationRule
        metadata:
          name: dr
        spec:
        {Indent(spec)}
        """;

    private static string Gw(string spec) => $"""
        apiVersion: networking.istio.io/v1alpha3
        kind: Gateway
        metadata:
          name: gw
        spec:
        {Indent(spec)}
        """;

    private static string Indent(string text) => string.Join("\n", text.Split('\n').Select(l => "  " + l));

    private static string TcpRoute(string weights) =>
        "hosts: [svc]\ntcp:\n- route:\n" + string.Join("", weights.Split(',').Select((w, i) =>
            $"  - destination: {{host: svc, subset: v{i}}}\n    weight: {w.Trim()}\n"));

    public static TheoryData<string, string, string?, string?> Cases => new()
    {
        // case, manifest, expected field (null = accepted), gist of the message
        { "1 tcp rule without route", Vs("hosts: [svc]\ntcp:\n- match: [{port: 999}]"), "spec.tcp[0].route", "TCP route is required" },
        { "1 tcp rule with route", Vs("hosts: [svc]\ntcp:\n- match: [{port: 999}]\n  route: [{destination: {host: svc}}]"), null, null },
        { "2 no http, tcp or tls", Vs("hosts: [svc]"), "spec", "http, tcp or tls must be provided" },
        { "3 * bound to mesh", Vs("hosts: ['*']\ntcp: [{route: [{destination: {host: svc}}]}]"), "spec.hosts[0]", "wildcard host * is not allowed" },
        { "3 * bound to mesh explicitly", Vs("hosts: ['*']\ngateways: [mesh, gw]\ntcp: [{route: [{destination: {host: svc}}]}]"), "spec.hosts[0]", "wildcard host * is not allowed" },
        { "3 * bound to a gateway", Vs("hosts: ['*']\ngateways: [gw]\ntcp: [{route: [{destination: {host: svc}}]}]"), null, null },
        { "4 CIDR /33", Vs("hosts: [svc]\ntcp:\n- match: [{destinationSubnets: ['10.0.0.0/33']}]\n  route: [{destination: {host: svc}}]"), "spec.tcp[0].match[0].destinationSubnets[0]", "not a valid CIDR" },
        { "4 bad IP", Vs("hosts: [svc]\ntcp:\n- match: [{destinationSubnets: ['1.2.3']}]\n  route: [{destination: {host: svc}}]"), "spec.tcp[0].match[0].destinationSubnets[0]", "not a valid IP" },
        { "4 v6 CIDR and bare IP", Vs("hosts: [svc]\ntcp:\n- match: [{destinationSubnets: ['2001:db8::/64', '1.2.3.4']}]\n  route: [{destination: {host: svc}}]"), null, null },
        { "5 port 70000", Vs("hosts: [svc]\ntcp:\n- match: [{port: 70000}]\n  route: [{destination: {host: svc}}]"), "spec.tcp[0].match[0].port", "1..65535" },
        { "5 port 65535", Vs("hosts: [svc]\ntcp:\n- match: [{port: 65535}]\n  route: [{destination: {host: svc}}]"), null, null },
        { "6 weights 5,-1", Vs(TcpRoute("5, -1")), "spec.tcp[0].route[1].weight", "weight -1 < 0" },
        { "6 weights 0,0", Vs(TcpRoute("0, 0")), "spec.tcp[0].route", "total destination weight = 0" },
        { "6 weights 550,500", Vs(TcpRoute("550, 500")), null, null },
        { "6 weights 49,50", Vs(TcpRoute("49, 50")), null, null },
        { "6 one destination weight 0", Vs(TcpRoute("0")), null, null },
        { "7 destination host *", Vs("hosts: [svc]\ntcp: [{route: [{destination: {host: '*'}}]}]"), "spec.tcp[0].route[0].destination.host", "invalid destination host *" },
        { "8 subset V_1", Vs("hosts: [svc]\ntcp: [{route: [{destination: {host: svc, subset: V_1}}]}]"), "spec.tcp[0].route[0].destination.subset", "DNS-1123 label" },
        { "8 subset v-1", Vs("hosts: [svc]\ntcp: [{route: [{destination: {host: svc, subset: v-1}}]}]"), null, null },
        { "9 bad label key", Vs("hosts: [svc]\ntcp:\n- match: [{sourceLabels: {'bad key!': x}}]\n  route: [{destination: {host: svc}}]"), "spec.tcp[0].match[0].sourceLabels.bad key!", "invalid label key" },
        { "9 good label key", Vs("hosts: [svc]\ntcp:\n- match: [{sourceLabels: {'app.kubernetes.io/name': x}}]\n  route: [{destination: {host: svc}}]"), null, null },
        { "10 duplicate subsets", Dr("host: svc\nsubsets:\n- {name: v1, labels: {version: v1}}\n- {name: v1, labels: {version: v2}}"), "spec.subsets[1].name", "duplicate subset names" },
        { "10 idleTimeout 0s", Dr("host: svc\ntrafficPolicy:\n  connectionPool:\n    tcp: {idleTimeout: 0s}"), null, null },
        { "10 connectTimeout 0s", Dr("host: svc\ntrafficPolicy:\n  connectionPool:\n    tcp: {connectTimeout: 0s}"), "spec.trafficPolicy.connectionPool.tcp.connectTimeout", "at least 1ms" },
        { "10 maxEjectionPercent 105", Dr("host: svc\ntrafficPolicy:\n  outlierDetection: {maxEjectionPercent: 105}"), "spec.trafficPolicy.outlierDetection.maxEjectionPercent", "0..100" },
        { "10 maxEjectionPercent 100", Dr("host: svc\ntrafficPolicy:\n  outlierDetection: {maxEjectionPercent: 100}"), null, null },
        { "11 TCP server with tls", Gw("servers:\n- port: {number: 31400, name: tcp, protocol: TCP}\n  hosts: ['*']\n  tls: {mode: PASSTHROUGH}"), "spec.servers[0].tls", "tls must not be set on a non-TLS server" },
        { "11 short server host", Gw("servers:\n- port: {number: 31400, name: tcp, protocol: TCP}\n  hosts: [foo]"), "spec.servers[0].hosts[0]", "short names" },
        { "11 TLS server with tls", Gw("servers:\n- port: {number: 443, name: tls, protocol: TLS}\n  hosts: ['*.example.com']\n  tls: {mode: PASSTHROUGH}"), null, null },
        { "11 TCP server with FQDN host", Gw("servers:\n- port: {number: 31400, name: tcp, protocol: TCP}\n  hosts: [ns1/foo.example.com]"), null, null },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Public_validation_case(string name, string manifest, string? field, string? gist)
    {
        var report = ConfigCheck.Check(manifest, name);
        if (field is null)
        {
            Assert.True(report.Ok, "expected no errors, got: " + string.Join("; ", report.Errors));
            Assert.Single(report.Resources);
            return;
        }
        Assert.Contains(report.Errors, e => e.Field == field && e.Message.Contains(gist!, StringComparison.Ordinal));
        Assert.All(report.Errors, e => Assert.StartsWith(report.Errors[0].Resource.Split('/')[0], e.Resource));
    }

    [Fact]
    public void Every_error_of_a_batch_is_reported_at_once()
    {
        var manifest = Vs("hosts: [svc]\ntcp:\n- match: [{port: 70000}]\n- route: [{destination: {host: '*', subset: V_1}, weight: -5}, {destination: {host: svc}}]");
        var report = ConfigCheck.Check(manifest);
        var fields = report.Errors.Select(e => e.Field).ToHashSet();
        Assert.Contains("spec.tcp[0].match[0].port", fields);
        Assert.Contains("spec.tcp[0].route", fields);
        Assert.Contains("spec.tcp[1].route[0].destination.host", fields);
        Assert.Contains("spec.tcp[1].route[0].destination.subset", fields);
        Assert.Contains("spec.tcp[1].route[0].weight", fields);
        Assert.All(report.Errors, e => Assert.Equal("VirtualService/default/vs", e.Resource));
    }

    [Theory]
    [InlineData("hosts: ['*.ex.com', 'a.ex.com']\ntcp: [{route: [{destination: {host: svc}}]}]", "spec.hosts[1]", "duplicate hosts")]
    [InlineData("hosts: [svc]\ngateways: ['bad_ns/gw']\ntcp: [{route: [{destination: {host: svc}}]}]", "spec.gateways[0]", "namespace")]
    [InlineData("hosts: [svc]\ntcp:\n- match: [null]\n  route: [{destination: {host: svc}}]", "spec.tcp[0].match[0]", "may not be null")]
    [InlineData("hosts: [a.com]\ntls:\n- route: [{destination: {host: svc}}]", "spec.tls[0].match", "at least one match")]
    [InlineData("hosts: [a.com]\ntls:\n- match: [{port: 443}]\n  route: [{destination: {host: svc}}]", "spec.tls[0].match[0].sniHosts", "at least one SNI host")]
    [InlineData("hosts: [a.com]\ntls:\n- match: [{sniHosts: [b.com]}]\n  route: [{destination: {host: svc}}]", "spec.tls[0].match[0].sniHosts[0]", "not a subset")]
    [InlineData("hosts: [svc]\nexportTo: ['*', '.']\ntcp: [{route: [{destination: {host: svc}}]}]", "spec.exportTo", "cannot mix")]
    [InlineData("hosts: [svc]\nexportTo: ['~']\ntcp: [{route: [{destination: {host: svc}}]}]", "spec.exportTo[0]", "'~'")]
    [InlineData("hosts: [svc]\nexportTo: [., .]\ntcp: [{route: [{destination: {host: svc}}]}]", "spec.exportTo[1]", "duplicate")]
    [InlineData("hosts: ['foo*.com']\ntcp: [{route: [{destination: {host: svc}}]}]", "spec.hosts[0]", "wildcard")]
    public void Other_virtual_service_rejections(string spec, string field, string gist)
    {
        var report = ConfigCheck.Check(Vs(spec));
        Assert.Contains(report.Errors, e => e.Field == field && e.Message.Contains(gist, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: se}\nspec: {hosts: ['*']}", "spec.hosts[0]", "invalid host *")]
    [InlineData("apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: se}\nspec: {hosts: [a.com], addresses: [10.0.0.0/8], resolution: DNS, ports: [{number: 80, name: tcp}]}", "spec.addresses[0]", "CIDR addresses are allowed only")]
    [InlineData("apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: se}\nspec: {hosts: [a.com], ports: [{number: 80, name: a}, {number: 80, name: b}]}", "spec.ports[1].number", "already defined")]
    [InlineData("apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: se}\nspec: {hosts: [a.com], resolution: NONE, endpoints: [{address: 1.1.1.1}]}", "spec.endpoints", "resolution type NONE")]
    [InlineData("apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: se}\nspec: {hosts: [a.com], resolution: STATIC, workloadSelector: {labels: {app: a}}, endpoints: [{address: 1.1.1.1}]}", "spec", "only one of workloadSelector or endpoints")]
    [InlineData("apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: se}\nspec: {}", "spec.hosts", "at least one host")]
    [InlineData("apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: {name: we}\nspec: {labels: {app: a}}", "spec.address", "address must be set")]
    [InlineData("apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: gw}\nspec: {selector: {istio: x}}", "spec.servers", "at least one server")]
    [InlineData("apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: gw}\nspec: {servers: [{port: {number: 1, name: a, protocol: TCP}, hosts: []}]}", "spec.servers[0].hosts", "at least one host")]
    [InlineData("apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: gw}\nspec: {servers: [{port: {number: 1, name: a, protocol: FOO}, hosts: ['*']}]}", "spec.servers[0].port.protocol", "invalid protocol")]
    [InlineData("apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: gw}\nspec: {servers: [{port: {number: 1, protocol: TCP}, hosts: ['*']}]}", "spec.servers[0].port.name", "port name must be set")]
    [InlineData("apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: gw}\nspec: {servers: [{port: {number: 1, name: a, protocol: TCP}, hosts: ['*']}, {port: {number: 2, name: a, protocol: TCP}, hosts: ['*']}]}", "spec.servers[1].port.name", "unique")]
    [InlineData("apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: dr}\nspec: {host: svc, trafficPolicy: {}}", "spec.trafficPolicy", "at least one field")]
    [InlineData("apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: dr}\nspec: {host: svc, trafficPolicy: {connectionPool: {}}}", "spec.trafficPolicy.connectionPool", "at least one protocol")]
    [InlineData("apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: dr}\nspec: {host: svc, trafficPolicy: {connectionPool: {tcp: {maxConnections: -1}}}}", "spec.trafficPolicy.connectionPool.tcp.maxConnections", "non-negative")]
    [InlineData("apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: dr}\nspec: {host: svc, trafficPolicy: {connectionPool: {tcp: {connectTimeout: 1500us}}}}", "spec.trafficPolicy.connectionPool.tcp.connectTimeout", "millisecond precision")]
    [InlineData("apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: dr}\nspec: {host: svc, trafficPolicy: {proxyProtocol: {version: V3}}}", "spec.trafficPolicy.proxyProtocol.version", "invalid proxy protocol version")]
    [InlineData("apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: dr}\nspec: {host: svc, trafficPolicy: {outlierDetection: {consecutive5xxErrors: -1}}}", "spec.trafficPolicy.outlierDetection.consecutive5xxErrors", "cannot be negative")]
    [InlineData("apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: dr}\nspec: {host: svc, subsets: [{name: v1, trafficPolicy: {outlierDetection: {minHealthPercent: 101}}}]}", "spec.subsets[0].trafficPolicy.outlierDetection.minHealthPercent", "0..100")]
    public void Other_kind_rejections(string manifest, string field, string gist)
    {
        var report = ConfigCheck.Check(manifest);
        Assert.Contains(report.Errors, e => e.Field == field && e.Message.Contains(gist, StringComparison.Ordinal));
    }

    [Fact]
    public void The_same_resource_twice_in_one_batch_is_rejected()
    {
        var one = Vs("hosts: [svc]\ntcp: [{route: [{destination: {host: svc}}]}]");
        var report = ConfigCheck.Check(one + "\n---\n" + one);
        Assert.Contains(report.Errors, e => e.Resource == "VirtualService/default/vs" && e.Message.Contains("more than once"));
    }
}
