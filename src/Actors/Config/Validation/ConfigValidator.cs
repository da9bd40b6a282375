using AkkaL4.Messages.Model;

namespace AkkaL4.Actors.Config.Validation;

/// <summary>
/// The one validation entry point: every resource checked by its kind's validator, plus the checks
/// that need the whole set. Reports every error at once.
/// </summary>
public static class ConfigValidator
{
    public static IReadOnlyList<Diagnostic> Validate(IEnumerable<Resource> resources) => Validate(resources.ToList(), null, null);

    /// <param name="subjects">When given, gets for each diagnostic the index of the resource it is about: a resource given
    /// twice is two resources, and each copy's findings are placed in that copy.</param>
    /// <param name="whereIs">Where the resource at an index is (<c>file:line:column</c>), for a repeated resource to name
    /// its first copy; null: not said.</param>
    internal static IReadOnlyList<Diagnostic> Validate(IReadOnlyList<Resource> resources, List<int>? subjects, Func<int, string?>? whereIs)
    {
        var diagnostics = new List<Diagnostic>();
        var first = new Dictionary<ResourceKey, int>();
        for (var i = 0; i < resources.Count; i++)
        {
            var resource = resources[i];
            var before = diagnostics.Count;
            var f = new Findings(resource, diagnostics);
            if (!first.TryAdd(resource.Key, i))
                f.Error("metadata.name", $"{resource.Key} appears more than once in this configuration"
                                         + (whereIs?.Invoke(first[resource.Key]) is { } there ? $" (first at {there})" : ""));
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
            MisreadAddresses.Validate(resource, f);
            subjects?.AddRange(Enumerable.Repeat(i, diagnostics.Count - before));
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
