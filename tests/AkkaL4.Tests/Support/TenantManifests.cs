using System.Text;

namespace AkkaL4.Tests.Support;

/// <summary>
/// Configurations of N tenants as YAML, the shapes whose cost grows with N: the work-count tests count what the compiler and
/// the analyser look at for them, and bench/AkkaL4.Bench times the same text (it compiles this file in, linked; so nothing
/// here may use the tests' other helpers or xunit).
/// </summary>
internal static class TenantManifests
{
    /// <summary>A Service <c>svc-i</c> (namespace <paramref name="ns"/>) on 10.x.y.z, port 9000; with a selector app=svc-i
    /// when it has workloads.</summary>
    private static void Service(StringBuilder y, int i, string ns = "default", bool selector = false) =>
        y.Append($"apiVersion: v1\nkind: Service\nmetadata: {{name: svc-{i}, namespace: {ns}}}\nspec:\n  clusterIP: 10.{i / 65536 % 256}.{i / 256 % 256}.{i % 256}\n"
                 + (selector ? $"  selector: {{app: svc-{i}}}\n" : "") + "  ports: [{name: tcp, port: 9000, targetPort: 9000}]\n---\n");

    /// <summary>
    /// Per tenant: a Service, a Gateway (selector app=gw) with one TCP server on its own port (hosts "*"), and one VirtualService
    /// for hosts "*" bound to it (review1-s15's reproduction: a listener per tenant).
    /// </summary>
    public static string GatewayPerPort(int n)
    {
        var y = new StringBuilder();
        for (var i = 0; i < n; i++)
        {
            var port = 20000 + i % 40000;
            Service(y, i);
            y.Append($"apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {{name: gw-{i}, namespace: default}}\nspec:\n  selector: {{app: gw}}\n  servers:\n  - port: {{number: {port}, name: tcp, protocol: TCP}}\n    hosts: [\"*\"]\n---\n");
            y.Append($"apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: vs-{i}, namespace: default}}\nspec:\n  hosts: [\"*\"]\n  gateways: [gw-{i}]\n  tcp:\n  - match: [{{port: {port}}}]\n    route: [{{destination: {{host: svc-{i}, port: {{number: 9000}}}}}}]\n---\n");
        }
        return y.ToString();
    }

    /// <summary>
    /// Per tenant, all on ONE address and port (31400): a Service, a Gateway with its own selector
    /// (<c>istio: ingress, tenant: t-i</c>: a node per tenant) and a TCP server for <c>tI.example.com</c>, and a
    /// VirtualService for that host bound to it.
    /// </summary>
    public static string SelectorPerTenant(int n)
    {
        var y = new StringBuilder();
        for (var i = 0; i < n; i++)
        {
            Service(y, i);
            y.Append($"apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {{name: gw-{i}, namespace: default}}\nspec:\n  selector: {{istio: ingress, tenant: t-{i}}}\n  servers:\n  - port: {{number: 31400, name: tcp, protocol: TCP}}\n    hosts: [\"t{i}.example.com\"]\n---\n");
            y.Append($"apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: vs-{i:D5}, namespace: default}}\nspec:\n  hosts: [\"t{i}.example.com\"]\n  gateways: [gw-{i}]\n  tcp:\n  - match: [{{port: 31400}}]\n    route: [{{destination: {{host: svc-{i}, port: {{number: 9000}}}}}}]\n---\n");
        }
        return y.ToString();
    }

    /// <summary>
    /// Per tenant: a Service, a DestinationRule with subsets v1 and v2, and a Gateway (selector istio=eastwest) with an
    /// AUTO_PASSTHROUGH server on 15443 for that Service's host: one listener of N servers, each admitting one Service.
    /// </summary>
    public static string AutoPassthroughPerHost(int n)
    {
        var y = new StringBuilder();
        for (var i = 0; i < n; i++)
        {
            Service(y, i);
            DestinationRule(y, i, "default");
            y.Append($"apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {{name: eastwest-{i}, namespace: default}}\nspec:\n  selector: {{istio: eastwest}}\n  servers:\n  - port: {{number: 15443, name: tls, protocol: TLS}}\n    tls: {{mode: AUTO_PASSTHROUGH}}\n    hosts: [svc-{i}.default.svc.cluster.local]\n---\n");
        }
        return y.ToString();
    }

    /// <summary>
    /// Per tenant, in its own namespace <c>t-i</c>: a Service, a DestinationRule with subsets v1 and v2, and a Gateway (selector
    /// istio=eastwest) with an AUTO_PASSTHROUGH server on 15443 for its own namespace's services (<c>./*</c>), or with
    /// <paramref name="serverHosts"/> <c>*/*</c> for every namespace's. N namespaces: every mesh listener compiled a rule set
    /// per client namespace; with <c>*/*</c> every Gateway admits every service.
    /// </summary>
    public static string NamespacePerTenant(int n) => NamespacePerTenant(n, "./*");

    /// <inheritdoc cref="NamespacePerTenant(int)"/>
    public static string NamespacePerTenant(int n, string serverHosts)
    {
        var y = new StringBuilder();
        for (var i = 0; i < n; i++)
        {
            var ns = $"t-{i}";
            Service(y, i, ns);
            DestinationRule(y, i, ns);
            y.Append($"apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {{name: eastwest, namespace: {ns}}}\nspec:\n  selector: {{istio: eastwest}}\n  servers:\n  - port: {{number: 15443, name: tls, protocol: TLS}}\n    tls: {{mode: AUTO_PASSTHROUGH}}\n    hosts: [\"{serverHosts}\"]\n---\n");
        }
        return y.ToString();
    }

    /// <summary>
    /// Per tenant <c>i</c> (namespace default), wildcard hosts on both sides: a ServiceEntry for <c>api.tI.example.com</c> (an
    /// address, port 443, one endpoint) and a VirtualService for <c>*.tI.example.com</c> bound to mesh routing to it; a
    /// ServiceEntry for <c>*.tI.internal</c> (an address, port 5432, resolution NONE), a DestinationRule for that wildcard, and
    /// a VirtualService for <c>db.tI.internal</c> routing to it. Every service's host is matched against VirtualService hosts
    /// (the compiler and the shadowed-rule walk), every VirtualService's hosts against the services (the unmatchable-block
    /// check), every destination against the ServiceEntries' wildcards and the DestinationRules' (the compiler).
    /// </summary>
    public static string WildcardPerTenant(int n)
    {
        var y = new StringBuilder();
        for (var i = 0; i < n; i++)
        {
            var (b, c) = (i / 256 % 256, i % 256);
            y.Append($"apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {{name: api-{i}, namespace: default}}\nspec:\n  hosts: [api.t{i}.example.com]\n  addresses: [10.60.{b}.{c}]\n"
                     + $"  ports: [{{number: 443, name: tcp, protocol: TCP}}]\n  resolution: STATIC\n  endpoints: [{{address: 10.61.{b}.{c}}}]\n---\n");
            y.Append($"apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: api-{i}, namespace: default}}\nspec:\n  hosts: [\"*.t{i}.example.com\"]\n"
                     + $"  tcp:\n  - match: [{{port: 443}}]\n    route: [{{destination: {{host: api.t{i}.example.com}}}}]\n---\n");
            y.Append($"apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {{name: internal-{i}, namespace: default}}\nspec:\n  hosts: [\"*.t{i}.internal\"]\n  addresses: [10.62.{b}.{c}]\n"
                     + "  ports: [{number: 5432, name: tcp, protocol: TCP}]\n  resolution: NONE\n---\n");
            y.Append($"apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {{name: internal-{i}, namespace: default}}\nspec:\n  host: \"*.t{i}.internal\"\n"
                     + "  trafficPolicy: {connectionPool: {tcp: {maxConnections: 100}}}\n---\n");
            y.Append($"apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: db-{i}, namespace: default}}\nspec:\n  hosts: [db.t{i}.internal]\n"
                     + $"  tcp:\n  - match: [{{port: 5432}}]\n    route: [{{destination: {{host: db.t{i}.internal, port: {{number: 5432}}}}}}]\n---\n");
        }
        return y.ToString();
    }

    /// <summary>
    /// Per tenant, in its own namespace <c>t-i</c>: a Service with a WorkloadEntry (a client of that namespace) and a
    /// DestinationRule for <paramref name="host"/> (its own policy for a host every namespace shares); and one ServiceEntry
    /// <c>db.shared.example.com</c> in namespace shared. Each namespace's rule covers the shared host, so the shared listener
    /// has a rule set per namespace; with host <c>*</c> each covers every service, and every listener has.
    /// </summary>
    public static string SharedHostRulePerNamespace(int n, string host)
    {
        var y = new StringBuilder();
        y.Append("apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: db, namespace: shared}\nspec:\n  hosts: [db.shared.example.com]\n  addresses: [10.63.0.1]\n"
                 + "  ports: [{number: 5432, name: tcp, protocol: TCP}]\n  resolution: STATIC\n  endpoints: [{address: 10.63.0.2}]\n---\n");
        for (var i = 0; i < n; i++)
        {
            var ns = $"t-{i}";
            Service(y, i, ns, selector: true);
            y.Append($"apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: {{name: svc-{i}, namespace: {ns}}}\nspec:\n  address: 10.201.{i / 256 % 256}.{i % 256}\n  labels: {{app: svc-{i}}}\n---\n");
            y.Append($"apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {{name: shared, namespace: {ns}}}\nspec:\n  host: \"{host}\"\n"
                     + $"  trafficPolicy: {{connectionPool: {{tcp: {{maxConnections: {100 + i}}}}}}}\n---\n");
        }
        return y.ToString();
    }

    /// <summary>A DestinationRule <c>svc-i</c> for Service svc-i with subsets v1 and v2 (version=v1, version=v2).</summary>
    private static void DestinationRule(StringBuilder y, int i, string ns) =>
        y.Append($"apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {{name: svc-{i}, namespace: {ns}}}\nspec:\n  host: svc-{i}\n  subsets:\n  - {{name: v1, labels: {{version: v1}}}}\n  - {{name: v2, labels: {{version: v2}}}}\n---\n");

    /// <summary>
    /// Per tenant: a Service with two WorkloadEntries (version v1 and v2), a DestinationRule with subsets v1 and v2, and a
    /// VirtualService for the Service's short name sending 80/20 to the subsets; every fifth one also names a subset its
    /// DestinationRule does not declare and a host no service has (so the "did you mean" and subset searches run too).
    /// </summary>
    public static string MeshPerService(int n)
    {
        var y = new StringBuilder();
        for (var i = 0; i < n; i++)
        {
            Service(y, i, selector: true);
            for (var v = 1; v <= 2; v++)
                y.Append($"apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: {{name: svc-{i}-v{v}, namespace: default}}\nspec:\n  address: 10.{199 + v}.{i / 256 % 256}.{i % 256}\n  labels: {{app: svc-{i}, version: v{v}}}\n---\n");
            DestinationRule(y, i, "default");
            var odd = i % 5 == 0
                ? $"\n  - match: [{{port: 9001}}]\n    route: [{{destination: {{host: svc-{i}, subset: v3}}}}, {{destination: {{host: gone-{i}}}, weight: 0}}, {{destination: {{host: svc-{i}}}, weight: 100}}]"
                : "";
            y.Append($"apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: svc-{i}, namespace: default}}\nspec:\n  hosts: [svc-{i}]\n  tcp:{odd}\n"
                     + $"  - route:\n    - {{destination: {{host: svc-{i}, subset: v1}}, weight: 80}}\n    - {{destination: {{host: svc-{i}, subset: v2}}, weight: 20}}\n---\n");
        }
        return y.ToString();
    }
}
