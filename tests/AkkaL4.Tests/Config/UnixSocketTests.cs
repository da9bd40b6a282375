using AkkaL4.Actors.Config;
using AkkaL4.Actors.Routing;
using AkkaL4.Messages.Model;

namespace AkkaL4.Tests.Config;

/// <summary>
/// Unix domain sockets are valid Istio, but an L4 TCP router serves neither a unix bind nor a unix
/// endpoint: it warns, and above all never widens a bind meant to stay local to every interface.
/// </summary>
[Trait("Category", "Unit")]
public class UnixSocketTests
{
    private const string Gateway = """
        apiVersion: networking.istio.io/v1
        kind: Gateway
        metadata: {name: gw, namespace: istio-system}
        spec:
          selector: {istio: ingressgateway}
          servers:
          - port: {number: PORT, name: tcp, protocol: TCP}
            bind: BIND
            hosts: ['*']
        """;

    private static IReadOnlyList<Resource> Decode(string manifest) => ManifestDecoder.Decode(manifest).Resources.Select(r => r.Resource).ToList();

    private static RouteSnapshot CompileOnGateway(string manifest) =>
        RouteCompiler.Compile(Decode(manifest), Labels.Of(("istio", "ingressgateway")));

    [Fact]
    public void A_unix_bind_with_port_0_is_valid_but_warned_about_and_gets_no_listener()
    {
        var manifest = Gateway.Replace("PORT", "0").Replace("BIND", "'unix:///var/run/gw.sock'");
        var report = ConfigCheck.Check(manifest);

        Assert.True(report.Ok, string.Join("; ", report.Errors));
        Assert.Contains(report.Warnings, w => w.Field == "spec.servers[0].bind" && w.Message.Contains("unix domain socket"));
        var snapshot = CompileOnGateway(manifest);
        Assert.Empty(snapshot.Listeners);
        Assert.Contains(snapshot.Notes, n => n.Contains("unix:///var/run/gw.sock") && n.Contains("no listener"));
    }

    [Fact]
    public void A_unix_bind_on_a_tcp_port_is_rejected_and_even_compiled_directly_never_binds_every_interface()
    {
        var manifest = Gateway.Replace("PORT", "31400").Replace("BIND", "'unix://@gw'");
        var report = ConfigCheck.Check(manifest);

        Assert.Contains(report.Errors, e => e.Field == "spec.servers[0].port.number" && e.Message.Contains("must be 0 for unix domain socket"));
        // A configuration stored before this rule existed still reaches the compiler.
        var snapshot = CompileOnGateway(manifest);
        Assert.DoesNotContain(snapshot.Listeners, l => l.Address.Port == 31400);
    }

    [Fact]
    public void A_gateway_server_without_bind_still_listens_on_every_interface()
    {
        var manifest = Gateway.Replace("PORT", "31400").Replace("    bind: BIND\n", "");
        var snapshot = CompileOnGateway(manifest);

        var listener = Assert.Single(snapshot.Listeners);
        Assert.Equal(new IpPort(new IpKey(0, false), 31400), listener.Address);
    }

    [Fact]
    public void Unix_and_network_only_endpoints_are_valid_but_never_dialled()
    {
        const string manifest = """
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: uds, namespace: default}
            spec:
              hosts: [uds.example.com]
              addresses: [127.50.0.10]
              ports: [{number: 9000, name: tcp, protocol: TCP}]
              resolution: STATIC
              endpoints:
              - address: 'unix:///var/run/app.sock'
            ---
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: remote, namespace: default}
            spec:
              hosts: [remote.example.com]
              addresses: [127.50.0.11]
              ports: [{number: 9000, name: tcp, protocol: TCP}]
              resolution: STATIC
              endpoints:
              - {network: other-network}
              - {address: 127.50.0.12}
            """;
        var report = ConfigCheck.Check(manifest);

        Assert.True(report.Ok, string.Join("; ", report.Errors));
        Assert.Contains(report.Warnings, w => w.Resource == "ServiceEntry/default/uds" && w.Message.Contains("unix domain socket"));
        Assert.Contains(report.Warnings, w => w.Resource == "ServiceEntry/default/remote" && w.Message.Contains("other-network"));
        var clusters = RouteCompiler.Compile(report.Resources).Clusters;
        Assert.Empty(clusters.Single(c => c.Host == "uds.example.com").Endpoints);
        Assert.Equal(["127.50.0.12"], clusters.Single(c => c.Host == "remote.example.com").Endpoints.Select(e => e.Address));
    }
}
