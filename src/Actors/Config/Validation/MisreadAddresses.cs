using AkkaL4.Actors.Routing;
using AkkaL4.Messages.Model;

namespace AkkaL4.Actors.Config.Validation;

/// <summary>
/// Addresses a manifest names to listen on, dial or match, written so that a person reads one IP and the node's parser
/// another (<see cref="AddressText"/>: <c>127.0.20.010</c> is 127.0.20.8). Istio refuses them. The config writer refuses a
/// write that brings one (<see cref="InWrite"/>); a revision stored before still loads and routes as it did, each such
/// address noted when the node puts it in force (<see cref="RefusedInWrites"/>), and <see cref="Validate"/> warns.
/// </summary>
internal static class MisreadAddresses
{
    /// <summary>Errors for the misread addresses <paramref name="resources"/> bring: the config writer's check of a write.</summary>
    public static List<Diagnostic> InWrite(IEnumerable<Resource> resources)
    {
        var errors = new List<Diagnostic>();
        foreach (var resource in resources)
            foreach (var (field, _, refusal) in Of(resource, endpoints: true))
                errors.Add(Diagnostic.Error(resource.Key.ToString(), field, refusal));
        return errors;
    }

    /// <summary>What validation says about one: <see cref="WriterRefuses"/>.</summary>
    public const string WriterRefuses = "; the config writer refuses it in a write";

    /// <summary>
    /// Warnings in validation, which also reads stored configurations (last-known-good, every node's copy): they must keep
    /// loading. Endpoint addresses are warned about by their validators (<see cref="Checks.NotCanonicalIp"/>: identity too), and
    /// text that is no IP to the validators (<c>0x7f000001</c>, <c>127.1</c> as a clusterIP or bind) is an error there already.
    /// </summary>
    public static void Validate(Resource resource, Findings f)
    {
        foreach (var (field, text, refusal) in Of(resource, endpoints: false))
            if (Checks.IsIp(text.Split('/')[0])) f.Warning(field, refusal + WriterRefuses);
    }

    private const string Listen = "listen on", Dial = "dial", Read = "take it for";

    /// <summary>
    /// Each address field of <paramref name="resource"/> whose text is misread, with why. A VirtualService's destinationSubnets
    /// are not here: the compiler refuses them everywhere (<see cref="IpNet.Refusal"/>), as they were refused before.
    /// </summary>
    private static List<(string Field, string Text, string Refusal)> Of(Resource resource, bool endpoints)
    {
        var found = new List<(string, string, string)>();
        void Check(string field, string? text, string use)
        {
            if (AddressText.Refusal(text, use) is { } refusal) found.Add((field, text!, refusal));
        }

        switch (resource)
        {
            case Service svc:
                Check("spec.clusterIP", svc.Spec.ClusterIp, Listen);
                for (var i = 0; i < svc.Spec.ClusterIps.Count; i++) Check($"spec.clusterIPs[{i}]", svc.Spec.ClusterIps[i], Listen);
                break;
            case ServiceEntry se:
                for (var i = 0; i < se.Spec.Addresses.Count; i++)
                    Check($"spec.addresses[{i}]", se.Spec.Addresses[i], se.Spec.Addresses[i].Contains('/') ? Read : Listen);
                for (var i = 0; i < (endpoints ? se.Spec.Endpoints.Count : 0); i++) Check($"spec.endpoints[{i}].address", se.Spec.Endpoints[i].Address, Dial);
                break;
            case WorkloadEntry we:
                if (endpoints) Check("spec.address", we.Spec.Address, Dial);
                break;
            case Gateway gw:
                for (var i = 0; i < gw.Spec.Servers.Count; i++) Check($"spec.servers[{i}].bind", gw.Spec.Servers[i].Bind, Listen);
                break;
        }
        return found;
    }
}
