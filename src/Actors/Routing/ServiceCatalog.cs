using System.Text.Json.Serialization;
using AkkaL4.Messages.Model;

namespace AkkaL4.Actors.Routing;

/// <summary>A workload: a WorkloadEntry, or an endpoint written inline in a ServiceEntry.</summary>
public sealed record Workload(string Name, string Namespace, string Address, Labels Labels, IReadOnlyDictionary<string, int> Ports, int Weight);

/// <summary>Who a connection comes from: the labels and namespace of the workload at its source IP.</summary>
public sealed record ClientIdentity(
    [property: JsonPropertyName("name")] string? Name,
    [property: JsonPropertyName("namespace")] string? Namespace,
    [property: JsonPropertyName("labels")] Labels Labels)
{
    public static readonly ClientIdentity Unknown = new(null, null, Labels.Empty);

    /// <summary>As <c>explain</c> prints it: <c>ns/name {k=v}</c>, or that the source is no known workload.</summary>
    public static string Text(string? name, string? ns, Labels labels) =>
        name is null ? "unknown source (no labels, no namespace)" : $"{ns}/{name} {labels}";
}

/// <summary>One port of a service; <see cref="TargetPort"/> is a number, a workload port name, or null (= <see cref="Number"/>).</summary>
public sealed record ServicePortDef(int Number, string? Name, string Protocol, string? TargetPort);

/// <summary>An upstream address of a service for one port, before subset filtering.</summary>
public sealed record ServiceEndpoint(string Address, int Port, Labels Labels, int Weight, string Workload);

/// <summary>
/// A service a route can name: a Kubernetes Service (host <c>name.ns.svc.cluster.local</c>) or one host of a ServiceEntry.
/// </summary>
public sealed record ServiceDef(
    string Host,
    string Namespace,
    ResourceKey Source,
    IReadOnlyList<string> Addresses,
    IReadOnlyList<ServicePortDef> Ports,
    IReadOnlyList<Workload> Workloads,
    bool Passthrough,
    Seq<string> ExportTo)
{
    public ServicePortDef? Port(int number) => Ports.FirstOrDefault(p => p.Number == number);

    /// <summary>The service's endpoints for one of its ports: each workload at its target port.</summary>
    public IReadOnlyList<ServiceEndpoint> EndpointsFor(ServicePortDef port)
    {
        var result = new List<ServiceEndpoint>(Workloads.Count);
        foreach (var w in Workloads)
        {
            int target;
            if (port.Name is not null && w.Ports.TryGetValue(port.Name, out var named)) target = named;
            else if (port.TargetPort is null) target = port.Number;
            else if (int.TryParse(port.TargetPort, out var number)) target = number;
            else if (w.Ports.TryGetValue(port.TargetPort, out var byName)) target = byName;
            else continue; // a named target port this workload does not declare
            result.Add(new ServiceEndpoint(w.Address, target, w.Labels, w.Weight, $"{w.Namespace}/{w.Name}"));
        }
        return result;
    }
}

/// <summary>Services, workloads and client identities, read from a validated resource set.</summary>
public sealed class ServiceCatalog
{
    private readonly Dictionary<string, ServiceDef> _byHost = new(StringComparer.Ordinal);
    private readonly HostPatterns<ServiceDef> _wildcardHosts;
    private readonly Dictionary<IpKey, ClientIdentity> _identities = new();

    public IReadOnlyList<ServiceDef> Services { get; }
    public IReadOnlyList<Workload> Workloads { get; }
    public IReadOnlyCollection<string> Namespaces { get; }

    public ServiceCatalog(IReadOnlyCollection<Resource> resources)
    {
        var workloads = resources.OfType<WorkloadEntry>()
            .Select(we => ToWorkload(we.Metadata.Name, we.Metadata.Namespace, we.Spec)).ToList();
        var inline = new List<Workload>();
        var services = new List<ServiceDef>();
        // Workloads by (namespace, label key, label value): a selector looks up its first label, then checks the rest.
        var byLabel = workloads.SelectMany(w => w.Labels.Select(l => (Key: (w.Namespace, l.Key, l.Value), Workload: w)))
            .ToLookup(x => x.Key, x => x.Workload);
        List<Workload> Select(string ns, Labels selector) =>
            selector.IsEmpty
                ? workloads.Where(w => w.Namespace == ns).ToList()
                : byLabel[(ns, selector.First().Key, selector.First().Value)].Where(w => selector.IsSubsetOf(w.Labels)).ToList();

        foreach (var svc in resources.OfType<Service>())
        {
            var spec = svc.Spec;
            var ns = svc.Metadata.Namespace;
            var addresses = new[] { spec.ClusterIp }.Concat(spec.ClusterIps)
                .OfType<string>().Where(a => a is not ("" or "None")).Distinct().ToList();
            var ports = spec.Ports.Where(p => p.Port is not null && (p.Protocol ?? "TCP") == "TCP")
                .Select(p => new ServicePortDef(p.Port!.Value, p.Name, "TCP", p.TargetPort)).ToList();
            // Kubernetes: a Service without a selector has no endpoints of its own.
            var selected = spec.Selector.IsEmpty ? [] : Select(ns, spec.Selector);
            services.Add(new ServiceDef(HostName.Expand(svc.Metadata.Name, ns), ns, svc.Key, addresses, ports, selected, false, Seq<string>.Empty));
        }

        foreach (var se in resources.OfType<ServiceEntry>())
        {
            var spec = se.Spec;
            var ns = se.Metadata.Namespace;
            var ports = spec.Ports.Where(p => p.Number is not null)
                .Select(p => new ServicePortDef(p.Number!.Value, p.Name, (p.Protocol ?? "TCP").ToUpperInvariant(), p.TargetPort?.ToString())).ToList();
            List<Workload> selected;
            if (spec.WorkloadSelector is { } selector)
                selected = Select(ns, selector.Labels);
            else
            {
                selected = spec.Endpoints.Select((e, i) => ToWorkload($"{se.Metadata.Name}[{i}]", ns, e)).ToList();
                inline.AddRange(selected);
            }
            var passthrough = (spec.Resolution ?? "NONE") == "NONE" && selected.Count == 0;
            foreach (var host in spec.Hosts)
                services.Add(new ServiceDef(host, ns, se.Key, spec.Addresses.ToList(), ports, selected, passthrough, spec.ExportTo));
        }

        foreach (var service in services.Where(s => !HostName.IsWildcard(s.Host)))
            _byHost.TryAdd(service.Host, service); // the first definition of a host wins
        _wildcardHosts = new HostPatterns<ServiceDef>(services.Where(s => HostName.IsWildcard(s.Host)).Select(s => (s.Host, s)));

        // WorkloadEntries first, then inline endpoints, each by namespace and name: the first claim on an IP is its identity,
        // whatever order the resources came in (a node's copy and the writer's need not list them alike).
        foreach (var w in ByName(workloads).Concat(ByName(inline)))
            if (IdentifiedAt(w, out var ip))
                _identities.TryAdd(ip, new ClientIdentity(w.Name, w.Namespace, w.Labels));

        Services = services;
        Workloads = workloads.Concat(inline).ToList();
        Namespaces = resources.Select(r => r.Metadata.Namespace).Concat(Workloads.Select(w => w.Namespace)).Distinct().ToList();
    }

    private static IEnumerable<Workload> ByName(List<Workload> workloads) =>
        workloads.OrderBy(w => w.Namespace, StringComparer.Ordinal).ThenBy(w => w.Name, StringComparer.Ordinal);

    internal static Workload ToWorkload(string name, string ns, WorkloadEntrySpec spec) =>
        new(name, ns, spec.Address ?? "", spec.Labels, spec.Ports.ToDictionary(p => p.Name, p => p.Number),
            spec.Weight is null or 0 ? 1 : spec.Weight.Value);

    /// <summary>The service for a fully-qualified host: exact first, then the most specific wildcard ServiceEntry host.</summary>
    /// <remarks>The wildcard hosts are looked up (<see cref="HostPatterns{T}"/>): the compiler asks for every destination of
    /// every rule set, and a scan of N tenants' <c>*.tenant.internal</c> ServiceEntries per destination was N × N per write.</remarks>
    public ServiceDef? Find(string host)
    {
        if (_byHost.TryGetValue(host, out var exact)) return exact;
        if (_wildcardHosts.Count == 0) return null;
        ServiceDef? best = null;
        foreach (var i in _wildcardHosts.Covering(host))
        {
            var s = _wildcardHosts[i].Value;
            if (best is null || s.Host.Length > best.Host.Length) best = s; // the first of the longest
        }
        return best;
    }

    /// <summary>How many wildcard hosts <see cref="Find"/> looked at: the work a test counts.</summary>
    internal int WildcardVisits => _wildcardHosts.Visits;

    public ClientIdentity Identify(IpKey source) => _identities.GetValueOrDefault(source) ?? ClientIdentity.Unknown;

    /// <summary>
    /// The source address whose connections get <paramref name="workload"/>'s labels and namespace: its address when that
    /// is an IP in canonical text, else none (sec17). A leading zero (<c>10.0.0.010</c>, octal 8 to .NET's parser and
    /// inet_aton, refused by Istio) or a host name that such parsers read as a number (<c>0x0a000008</c>) would give
    /// the identity to an address the manifest does not show.
    /// </summary>
    public static bool IdentifiedAt(Workload workload, out IpKey source) => IpKey.TryParseCanonical(workload.Address, out source);
}
