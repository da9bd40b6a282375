using System.Text;
using AkkaL4.Actors.Config.Analysis;
using AkkaL4.Tests.Support;
using static AkkaL4.Tests.Routing.RoutingFixtures;

namespace AkkaL4.Tests.Config;

/// <summary>
/// The work the shadowed-rule analysis (in the config writer on every write) does for N Gateways merged into ONE listener:
/// the multi-tenant shape of one shared ingress (one selector), one port, a Gateway and a VirtualService per tenant. Counted,
/// not timed: the Gateway servers looked at must stay linear in N. The merged-listener walk once built every Gateway's member
/// set and key (N × N) and scanned every member for each VirtualService (N × N again), TLS listeners included, and named every
/// gateway in each warning (review1-s16 R9: 2.7-3.5 s and 0.7-1.5 GiB per write at 2,000 tenants).
/// </summary>
[Trait("Category", TestCategories.Unit)]
public sealed class SharedPortAnalysisWorkTests
{
    private static string Tenants(int n, bool tls)
    {
        var y = new StringBuilder();
        for (var i = 0; i < n; i++)
        {
            y.Append($"apiVersion: v1\nkind: Service\nmetadata: {{name: svc-{i}, namespace: default}}\nspec:\n  clusterIP: 10.{i / 65536 % 256}.{i / 256 % 256}.{i % 256}\n  ports: [{{name: tcp, port: 9000, targetPort: 9000}}]\n---\n");
            var (port, server, route) = tls
                ? (443, "{number: 443, name: tls, protocol: TLS}\n    tls: {mode: PASSTHROUGH}", $"tls:\n  - match: [{{sniHosts: [\"t{i}.example.com\"], port: 443}}]")
                : (31400, "{number: 31400, name: tcp, protocol: TCP}", "tcp:\n  - match: [{port: 31400}]");
            y.Append($"apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {{name: gw-{i}, namespace: default}}\nspec:\n  selector: {{istio: ingress}}\n  servers:\n  - hosts: [\"t{i}.example.com\"]\n    port: {server}\n---\n");
            y.Append($"apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: vs-{i:D4}, namespace: default}}\nspec:\n  hosts: [\"t{i}.example.com\"]\n  gateways: [gw-{i}]\n  {route}\n    route: [{{destination: {{host: svc-{i}, port: {{number: 9000}}}}}}]\n---\n");
        }
        return y.ToString();
    }

    [Theory]
    [InlineData(50)]
    [InlineData(500)]
    public void N_tcp_gateways_on_one_port_are_walked_once_with_linear_work_and_short_warnings(int n)
    {
        var resources = Resources(Tenants(n, tls: false)).ToList();

        var work = WorkCount.Shadowed(resources, out var shadowed);

        // One selector: one walk of the one merged listener, each VirtualService once. Servers: grouped once, members built
        // once, one looked up per VirtualService (its own gateway's): 3 N, where a member set per Gateway is N × N.
        Assert.Equal(n, work.VirtualServices);
        Assert.InRange(work.Servers, n, 3 * n);
        // The first VirtualService (by name: no creationTimestamp) takes the listener; every later tenant's rule is hidden.
        Assert.Equal(n - 1, shadowed.Count);
        Assert.DoesNotContain(shadowed.Keys, k => k.Vs.Name == "vs-0000");
        var text = shadowed.First(k => k.Key.Vs.Name == $"vs-{n - 1:D4}").Value;
        Assert.Contains($"VirtualService default/vs-0000 spec.tcp[0] takes every connection on port 31400 of the one listener", text);
        Assert.Contains($"that gateways default/gw-0, default/gw-1, default/gw-2 and {n - 3} more make together", text);
        Assert.Contains($"(a node serving default/gw-0 serves default/gw-1, default/gw-2, default/gw-3 and {n - 4} more too", text);
        // At most three gateways named: the same length whatever N (not N names in each of N warnings).
        Assert.InRange(text.Length, 100, 1_000);
    }

    /// <summary>
    /// N tenants on one port, each Gateway with its own selector (a node per tenant): N walks of one member each. The
    /// selectors within each are looked up (one key set here), not found by comparing every pair, and a walk's members are
    /// its selectors' servers, not found among all the listener's servers (N × N of each before cfg17).
    /// </summary>
    [Theory]
    [InlineData(50)]
    [InlineData(500)]
    public void N_gateways_with_a_selector_each_on_one_port_cost_linear_work(int n)
    {
        var work = WorkCount.Shadowed(WorkCount.Tenants(TenantManifests.SelectorPerTenant, n), out var shadowed);

        // No node serves two tenants: each tenant's rule is the first of its own listener.
        Assert.Empty(shadowed);
        Assert.Equal(n, work.VirtualServices);
        // Grouped once, one member per walk, one server looked at per VirtualService: 3 n.
        Assert.Equal(3 * n, work.Servers);
        // One key set ({istio, tenant}) looked at per selector.
        Assert.Equal(n, work.Selectors);
    }

    [Fact]
    public void A_tls_listener_of_N_gateways_builds_nothing_to_walk()
    {
        const int n = 500;
        var resources = Resources(Tenants(n, tls: true)).ToList();

        var work = WorkCount.Shadowed(resources, out var shadowed);

        // Served as TLS: its tcp rules are not walked, and its servers are looked at once, to group them.
        Assert.Empty(shadowed);
        Assert.Equal(0, work.VirtualServices);
        Assert.Equal(n, work.Servers);
    }
}
