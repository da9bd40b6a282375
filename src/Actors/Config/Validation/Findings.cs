using AkkaL4.Messages.Model;

namespace AkkaL4.Actors.Config.Validation;

/// <summary>Collects the diagnostics about one resource.</summary>
internal sealed class Findings(Resource resource, List<Diagnostic> all)
{
    public Resource Resource { get; } = resource;
    private readonly string _name = resource.Key.ToString();

    public void Error(string field, string message) => all.Add(Diagnostic.Error(_name, field, message));
    public void Warning(string field, string message) => all.Add(Diagnostic.Warning(_name, field, message));
}
