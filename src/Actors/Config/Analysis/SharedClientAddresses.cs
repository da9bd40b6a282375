using AkkaL4.Actors.Routing;
using AkkaL4.Messages.Model;

namespace AkkaL4.Actors.Config.Analysis;

/// <summary>
/// Workloads at one client address with other labels or another namespace (sec17): connections from it are identified as
/// one of them only (<see cref="ServiceCatalog"/>: WorkloadEntries before ServiceEntry endpoints, then by namespace and
/// name), so the others' labels and namespace never match a sourceLabels or sourceNamespace. An address written another
/// way (<c>::ffff:10.0.0.5</c> is 10.0.0.5) is the same address.
/// </summary>
internal static class SharedClientAddresses
{
    public static void Find(IReadOnlyCollection<Resource> resources, List<Diagnostic> warnings)
    {
        var catalog = new ServiceCatalog(resources);
        foreach (var (resource, field, workload) in Claims(resources))
        {
            if (!ServiceCatalog.IdentifiedAt(workload, out var address)) continue;
            var identity = catalog.Identify(address);
            if (identity.Namespace == workload.Namespace && identity.Labels.Equals(workload.Labels)) continue;
            warnings.Add(Diagnostic.Warning(resource.Key.ToString(), field,
                $"address {workload.Address} is also {identity.Namespace}/{identity.Name}'s, and connections from {address} are identified as "
                + $"that workload ({ClientIdentity.Text(identity.Name, identity.Namespace, identity.Labels)}; WorkloadEntries come before "
                + "ServiceEntry endpoints, then by namespace and name): this one's labels and namespace match no sourceLabels or sourceNamespace"));
        }
    }

    private static IEnumerable<(Resource Resource, string Field, Workload Workload)> Claims(IReadOnlyCollection<Resource> resources)
    {
        foreach (var we in resources.OfType<WorkloadEntry>())
            yield return (we, "spec.address", ServiceCatalog.ToWorkload(we.Metadata.Name, we.Metadata.Namespace, we.Spec));
        foreach (var se in resources.OfType<ServiceEntry>())
        {
            if (se.Spec.WorkloadSelector is not null) continue;
            for (var i = 0; i < se.Spec.Endpoints.Count; i++)
                yield return (se, $"spec.endpoints[{i}].address", ServiceCatalog.ToWorkload($"{se.Metadata.Name}[{i}]", se.Metadata.Namespace, se.Spec.Endpoints[i]));
        }
    }
}
