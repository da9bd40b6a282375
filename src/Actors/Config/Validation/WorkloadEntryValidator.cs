using AkkaL4.Messages.Model;

namespace AkkaL4.Actors.Config.Validation;

/// <summary>Istio's validateWorkloadEntry; also applied to ServiceEntry endpoints (inline WorkloadEntries).</summary>
internal static class WorkloadEntryValidator
{
    public static void Validate(WorkloadEntry we, Findings f) => ValidateSpec(f, "spec", we.Spec);

    public static void ValidateSpec(Findings f, string path, WorkloadEntrySpec spec)
    {
        if (string.IsNullOrEmpty(spec.Address)) f.Error($"{path}.address", "address must be set");
        Checks.Labels(f, $"{path}.labels", spec.Labels);
        foreach (var port in spec.Ports)
            if (!Checks.IsValidPort(port.Number)) f.Error($"{path}.ports.{port.Name}", $"port number {port.Number} must be in the range 1..65535");
        if (spec.Weight < 0) f.Error($"{path}.weight", $"weight {spec.Weight} must not be negative");
    }
}
