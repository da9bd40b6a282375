using AkkaL4.Messages.Model;

namespace AkkaL4.Actors.Config.Validation;

/// <summary>
/// The one validation entry point: every resource checked by its kind's validator, plus the checks
/// that need the whole set. Reports every error at once.
/// </summary>
public static class ConfigValidator
{
    public static IReadOnlyList<Diagnostic> Validate(IEnumerable<Resource> resources)
    {
        var diagnostics = new List<Diagnostic>();
        var seen = new HashSet<ResourceKey>();
        foreach (var resource in resources)
        {
            var f = new Findings(resource, diagnostics);
            if (!seen.Add(resource.Key)) f.Error("metadata.name", $"{resource.Key} appears more than once in this configuration");
            Metadata(resource, f);
            switch (resource)
            {
                case VirtualService vs: VirtualServiceValidator.Validate(vs, f); break;
                case DestinationRule dr: DestinationRuleValidator.Validate(dr, f); break;
                case Gateway gw: GatewayValidator.Validate(gw, f); break;
                case ServiceEntry se: ServiceEntryValidator.Validate(se, f); break;
                case WorkloadEntry we: WorkloadEntryValidator.Validate(we, f); break;
                case Service svc: ServiceValidator.Validate(svc, f); break;
            }
        }
        return diagnostics;
    }

    private static void Metadata(Resource resource, Findings f)
    {
        var meta = resource.Metadata;
        if (!Checks.IsDns1123Subdomain(meta.Name))
            f.Error("metadata.name", $"name '{meta.Name}' must be a DNS-1123 subdomain (lower-case letters, digits, '-' and '.')");
        if (!Checks.IsDns1123Label(meta.Namespace))
            f.Error("metadata.namespace", $"namespace '{meta.Namespace}' must be a DNS-1123 label");
        Checks.Labels(f, "metadata.labels", meta.Labels, kubernetes: true);
    }
}
