using System.Text;
using AkkaL4.Actors.Routing;
using AkkaL4.Messages.Model;

namespace AkkaL4.Bench;

/// <summary>
/// A synthetic mesh of <c>n</c> services in namespace <c>default</c>, built in code:
/// <list type="bullet">
/// <item>Service <c>svc-i</c>: clusterIP <see cref="ClusterIp"/>, port 9000, selector <c>app=svc-i</c>;</item>
/// <item>two WorkloadEntries per service, <c>version=v1</c> at 10.200.x.y and <c>version=v2</c> at 10.201.x.y;</item>
/// <item>DestinationRule <c>svc-i</c> with subsets v1 and v2;</item>
/// <item>VirtualService <c>svc-i</c> with four tcp rules: sourceLabels <c>role=canary</c> → v2; port 9000 from
/// namespace <c>batch</c> → v1; destinationSubnets (the clusterIP's /24 for every fourth service, an unrelated
/// /24 otherwise) → v1; and last, no match, 80/20 to v1/v2;</item>
/// <item><see cref="ClientCount"/> client WorkloadEntries spread over namespaces default, batch and frontend,
/// every fifth one labelled <c>role=canary</c>, at 10.240.x.y.</item>
/// </list>
/// </summary>
public static class MeshGenerator
{
    public const int ServicePort = 9000;
    public const int ClientCount = 240;
    public static readonly string[] ClientNamespaces = ["default", "batch", "frontend"];

    public static string ClusterIp(int i) => $"10.{1 + i / 65536}.{i / 256 % 256}.{i % 256}";
    public static string WorkloadIp(int i, int version) => $"10.{199 + version + 2 * (i / 65536)}.{i / 256 % 256}.{i % 256}";
    public static string ClientIp(int j) => $"10.240.{j / 256 % 256}.{j % 256}";
    /// <summary>A source no WorkloadEntry claims (an unknown client).</summary>
    public static string UnknownIp(int j) => $"10.99.{j / 256 % 256}.{j % 256}";

    public static string ClientNamespace(int j) => ClientNamespaces[j % ClientNamespaces.Length];
    public static bool IsCanary(int j) => j % 5 == 0;
    private static string Subnet(int i) => i % 4 == 0 ? $"10.{1 + i / 65536}.{i / 256 % 256}.0/24" : $"192.168.{i % 256}.0/24";

    public static List<Resource> Build(int n)
    {
        var resources = new List<Resource>(5 * n + ClientCount);
        for (var i = 0; i < n; i++)
        {
            var name = $"svc-{i}";
            resources.Add(new Service
            {
                ApiVersion = "v1",
                Metadata = Meta(name, "default"),
                Spec = new ServiceSpec
                {
                    ClusterIp = ClusterIp(i),
                    Selector = Labels.Of(("app", name)),
                    Ports = Seq.Of(new KubernetesServicePort { Name = "tcp", Port = ServicePort, Protocol = "TCP" }),
                },
            });
            for (var v = 1; v <= 2; v++)
            {
                resources.Add(new WorkloadEntry
                {
                    ApiVersion = "networking.istio.io/v1",
                    Metadata = Meta($"{name}-v{v}", "default"),
                    Spec = new WorkloadEntrySpec { Address = WorkloadIp(i, v), Labels = Labels.Of(("app", name), ("version", $"v{v}")) },
                });
            }
            resources.Add(new DestinationRule
            {
                ApiVersion = "networking.istio.io/v1",
                Metadata = Meta(name, "default"),
                Spec = new DestinationRuleSpec
                {
                    Host = name,
                    Subsets = Seq.Of(
                        new Subset { Name = "v1", Labels = Labels.Of(("version", "v1")) },
                        new Subset { Name = "v2", Labels = Labels.Of(("version", "v2")) }),
                },
            });
            resources.Add(new VirtualService
            {
                ApiVersion = "networking.istio.io/v1",
                Metadata = Meta(name, "default"),
                Spec = new VirtualServiceSpec
                {
                    Hosts = Seq.Of(name),
                    Tcp = Seq.Of(
                        new TcpRoute
                        {
                            Match = Seq.Of<L4MatchAttributes?>(new L4MatchAttributes { SourceLabels = Labels.Of(("role", "canary")) }),
                            Route = Seq.Of(To(name, "v2", null)),
                        },
                        new TcpRoute
                        {
                            Match = Seq.Of<L4MatchAttributes?>(new L4MatchAttributes { Port = ServicePort, SourceNamespace = "batch" }),
                            Route = Seq.Of(To(name, "v1", null)),
                        },
                        new TcpRoute
                        {
                            Match = Seq.Of<L4MatchAttributes?>(new L4MatchAttributes { DestinationSubnets = Seq.Of(Subnet(i)) }),
                            Route = Seq.Of(To(name, "v1", null)),
                        },
                        new TcpRoute { Route = Seq.Of(To(name, "v1", 80), To(name, "v2", 20)) }),
                },
            });
        }
        for (var j = 0; j < ClientCount; j++)
        {
            var labels = IsCanary(j) ? Labels.Of(("app", $"client-{j}"), ("role", "canary")) : Labels.Of(("app", $"client-{j}"));
            resources.Add(new WorkloadEntry
            {
                ApiVersion = "networking.istio.io/v1",
                Metadata = Meta($"client-{j}", ClientNamespace(j)),
                Spec = new WorkloadEntrySpec { Address = ClientIp(j), Labels = labels },
            });
        }
        return resources;
    }

    private static ObjectMeta Meta(string name, string ns) => new() { Name = name, Namespace = ns };

    private static RouteDestination To(string host, string subset, int? weight) =>
        new() { Destination = new Destination { Host = host, Subset = subset }, Weight = weight };

    /// <summary>One connection to decide: the listener dialled, the client's address and the original destination.</summary>
    public readonly record struct Input(IpPort Listener, IpKey Source, IpKey Destination);

    /// <summary>
    /// <paramref name="count"/> connections to random services (fixed seed): 7 in 8 from a known client,
    /// 1 in 8 from an unknown address; the destination is the dialled clusterIP.
    /// </summary>
    public static Input[] Inputs(int n, int count, int seed = 42)
    {
        var random = new Random(seed);
        var inputs = new Input[count];
        for (var k = 0; k < count; k++)
        {
            var address = IpKey.Parse(ClusterIp(random.Next(n)));
            var j = random.Next(ClientCount);
            var source = IpKey.Parse(random.Next(8) == 0 ? UnknownIp(j) : ClientIp(j));
            inputs[k] = new Input(new IpPort(address, ServicePort), source, address);
        }
        return inputs;
    }

    /// <summary>The same mesh as YAML manifests, to check that <see cref="Build"/> matches what the decoder reads.</summary>
    public static string Yaml(int n)
    {
        var sb = new StringBuilder();
        for (var i = 0; i < n; i++)
        {
            var name = $"svc-{i}";
            sb.Append($$"""
                apiVersion: v1
                kind: Service
                metadata: {name: {{name}}, namespace: default}
                spec:
                  clusterIP: {{ClusterIp(i)}}
                  selector: {app: {{name}} }
                  ports: [{name: tcp, port: {{ServicePort}}, protocol: TCP}]
                ---

                """);
            for (var v = 1; v <= 2; v++)
                sb.Append($$"""
                    apiVersion: networking.istio.io/v1
                    kind: WorkloadEntry
                    metadata: {name: {{name}}-v{{v}}, namespace: default}
                    spec:
                      address: {{WorkloadIp(i, v)}}
                      labels: {app: {{name}}, version: v{{v}} }
                    ---

                    """);
            sb.Append($$"""
                apiVersion: networking.istio.io/v1
                kind: DestinationRule
                metadata: {name: {{name}}, namespace: default}
                spec:
                  host: {{name}}
                  subsets:
                  - {name: v1, labels: {version: v1} }
                  - {name: v2, labels: {version: v2} }
                ---
                apiVersion: networking.istio.io/v1
                kind: VirtualService
                metadata: {name: {{name}}, namespace: default}
                spec:
                  hosts: [{{name}}]
                  tcp:
                  - match: [{sourceLabels: {role: canary} }]
                    route: [{destination: {host: {{name}}, subset: v2} }]
                  - match: [{port: {{ServicePort}}, sourceNamespace: batch}]
                    route: [{destination: {host: {{name}}, subset: v1} }]
                  - match: [{destinationSubnets: ["{{Subnet(i)}}"]}]
                    route: [{destination: {host: {{name}}, subset: v1} }]
                  - route:
                    - {destination: {host: {{name}}, subset: v1}, weight: 80}
                    - {destination: {host: {{name}}, subset: v2}, weight: 20}
                ---

                """);
        }
        for (var j = 0; j < ClientCount; j++)
            sb.Append($$"""
                apiVersion: networking.istio.io/v1
                kind: WorkloadEntry
                metadata: {name: client-{{j}}, namespace: {{ClientNamespace(j)}} }
                spec:
                  address: {{ClientIp(j)}}
                  labels: {app: client-{{j}}{{(IsCanary(j) ? ", role: canary" : "")}} }
                ---

                """);
        return sb.ToString();
    }
}
