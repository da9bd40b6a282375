namespace AkkaL4.Tests.Support;

/// <summary>
/// The one place tests write Kubernetes and Istio manifests as YAML text; every test file sees these
/// builders without a <c>using</c> (a global static using in the project file). The kits add only what is
/// their own: <c>ControlPlaneKit.Service</c>/<c>Workload</c>/<c>Rule</c>/<c>Route</c> are these builders
/// with the control-plane tests' argument order and defaults.
/// </summary>
internal static class Manifests
{
    public const string Domain = "svc.cluster.local";

    public static string Fqdn(string name, string ns = "default") => $"{name}.{ns}.{Domain}";

    /// <summary>Documents as one multi-document YAML text.</summary>
    public static string Join(params string[] documents) => string.Join("\n---\n", documents);

    /// <summary>A Kubernetes Service on <paramref name="ip"/> with one port, <c>tcp</c>, <paramref name="port"/> → <paramref name="targetPort"/>, selecting <c>app: {app}</c> (the name when not given).</summary>
    public static string Service(string name, string ip, int port = 19000, int targetPort = 9000, string? app = null, string ns = "default") =>
        Service(name, ns, ip, app ?? name, [$"{{name: tcp, port: {port}, targetPort: {targetPort}}}"]);

    /// <summary>A Kubernetes Service on <paramref name="ip"/> selecting <c>app: {app}</c>, one port <c>tcp-P</c> per number, each targeting itself.</summary>
    public static string ServiceOnPorts(string name, string ns, string ip, string app, params int[] ports) =>
        Service(name, ns, ip, app, ports.Select(p => $"{{name: tcp-{p}, port: {p}}}"));

    private static string Service(string name, string ns, string ip, string app, IEnumerable<string> ports) => $$"""
        apiVersion: v1
        kind: Service
        metadata: {{Metadata(name, ns)}}
        spec:
          clusterIP: {{ip}}
          selector: {app: {{app}}}
          ports:
        {{string.Join("\n", ports.Select(p => "  - " + p))}}
        """;

    /// <summary>A WorkloadEntry (a pod or a client); <paramref name="labels"/> is a YAML flow map such as <c>{app: x, version: v1}</c>.</summary>
    public static string WorkloadEntry(string name, string ip, string labels, string ns = "default") =>
        Istio("WorkloadEntry", name, ns, $"address: {ip}\nlabels: {labels}");

    /// <summary>A VirtualService; <paramref name="spec"/> is the body of <c>spec:</c>, written at column 0.</summary>
    public static string VirtualService(string name, string ns, string spec, string? creationTimestamp = null) =>
        Istio("VirtualService", name, ns, spec, Created(creationTimestamp));

    /// <summary>A DestinationRule; <paramref name="spec"/> is the body of <c>spec:</c>, written at column 0.</summary>
    public static string DestinationRule(string name, string ns, string spec, string? creationTimestamp = null) =>
        Istio("DestinationRule", name, ns, spec, Created(creationTimestamp));

    /// <summary>
    /// A DestinationRule named after <paramref name="host"/> (namespace default) with only a traffic policy, a YAML flow
    /// map such as <c>{loadBalancer: {simple: ROUND_ROBIN}}</c>; <paramref name="healthCheck"/> is the
    /// <c>akkal4.io/health-check</c> annotation.
    /// </summary>
    public static string TrafficPolicy(string host, string trafficPolicy, string? healthCheck = null) =>
        Istio("DestinationRule", host, "default", $"host: {host}\ntrafficPolicy: {trafficPolicy}",
            healthCheck is null ? null : $"annotations: {{akkal4.io/health-check: \"{healthCheck}\"}}");

    /// <summary>A Gateway; <paramref name="spec"/> is the body of <c>spec:</c>, written at column 0.</summary>
    public static string Gateway(string name, string ns, string spec) => Istio("Gateway", name, ns, spec);

    /// <summary>
    /// A Gateway <paramref name="name"/> (selector <c>istio: {istio}</c>) with one TCP server on <paramref name="bind"/>:<paramref name="port"/>,
    /// and a VirtualService of the same name sending all its traffic to <paramref name="host"/>:<paramref name="hostPort"/>.
    /// </summary>
    public static string[] GatewayRoute(string name, string istio, string bind, int port, string host, int hostPort) =>
    [
        Gateway(name, "default", $$"""
            selector: {istio: {{istio}}}
            servers:
            - port: {number: {{port}}, name: tcp, protocol: TCP}
              bind: {{bind}}
              hosts: ['*']
            """),
        VirtualService(name, "default", $"""
            hosts: ['*']
            gateways: [{name}]
            tcp:
            - route:
              - destination:
                  host: {host}
                  port:
                    number: {hostPort}
            """),
    ];

    /// <summary>A <c>networking.istio.io/v1</c> resource; <paramref name="metadata"/> adds entries to the metadata flow map.</summary>
    public static string Istio(string kind, string name, string ns, string spec, string? metadata = null) => $"""
        apiVersion: networking.istio.io/v1
        kind: {kind}
        metadata: {Metadata(name, ns, metadata)}
        spec:
        {Indent(spec)}
        """;

    private static string Metadata(string name, string ns, string? more = null) =>
        $"{{name: {name}, namespace: {ns}{(more is null ? "" : ", " + more)}}}";

    private static string? Created(string? creationTimestamp) =>
        creationTimestamp is null ? null : $"creationTimestamp: \"{creationTimestamp}\"";

    private static string Indent(string text) => string.Join("\n", text.Split('\n').Select(l => "  " + l));
}
