namespace AkkaL4.Actors.Routing;

/// <summary>
/// What the config writer's checks looked at (<see cref="RouteCompiler.Check(IReadOnlyCollection{AkkaL4.Messages.Model.Resource})"/>,
/// the analyser and its walks; and the decoder, <see cref="MapEntries"/>), counted where the work is done. Both run over the whole configuration on every write, on the
/// one control-plane thread: the work-count tests assert these stay linear in the tenants of a configuration, where a scan
/// of every tenant per tenant is N × N. Each field is summed over the run that was given the counter.
/// </summary>
internal sealed class WorkCounts
{
    /// <summary>VirtualServices the listeners looked at: a mesh listener's bound to mesh for its host (per rule set it
    /// compiles), a gateway listener's bound to its gateways.</summary>
    public int VirtualServices;

    /// <summary>Hosts of mesh-bound VirtualServices looked at to find those naming a service's host (<see cref="VirtualServiceIndex.BoundToMesh"/>).</summary>
    public int MeshHosts;

    /// <summary>Services looked at: those the AUTO_PASSTHROUGH servers' hosts found (in the compiler), those whose listeners
    /// evaluate a VirtualService's rules (in <c>UnmatchableBlocks</c>).</summary>
    public int Services;

    /// <summary>Wildcard service hosts looked at to find the service a destination names (a ServiceEntry's <c>*.example.com</c>).</summary>
    public int ServiceHosts;

    /// <summary>Gateway servers a gateway listener looked at: grouping its servers, finding those a VirtualService is bound through.</summary>
    public int Servers;

    /// <summary>Rule sets the mesh listeners compiled: a listener's own, and one per client namespace that may see other rules.</summary>
    public int MeshRuleSets;

    /// <summary>Selectors (and key sets of them) looked at to find, for a selector of a listener, those within it.</summary>
    public int Selectors;

    /// <summary>Known service hosts and DestinationRules the analyser's host and subset checks looked at.</summary>
    public int Hosts;

    /// <summary>DestinationRules looked at to resolve a host for a client namespace, or to find the namespaces that may
    /// resolve it otherwise.</summary>
    public int DestinationRules;

    /// <summary>Mapping entries the decoder's binder looked at: each bound once, and, where a mapping has an unknown key, each
    /// looked at once more for a key with no value it may belong under (the admin API decodes every write's text).</summary>
    public long MapEntries;
}
