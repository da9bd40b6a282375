using System.CommandLine;
using AkkaL4.Actors.Config;
using AkkaL4.Messages.Model;

namespace AkkaL4.Node.Cli;

internal static class ExitCodes
{
    public const int Ok = 0;
    public const int Rejected = 1;
    public const int Usage = 2;
}

/// <summary>Options shared by several verbs, declared once.</summary>
internal static class CommonOptions
{
    /// <summary>The kinds the manifest decoder reads (<see cref="ResourceKinds.Types"/>), as every help text that takes manifests says them.</summary>
    public static string Kinds { get; } =
        string.Join(", ", ResourceKinds.Types.Keys.Select(k => k == ResourceKinds.Service ? "Kubernetes v1 Service" : k));

    public static Option<string[]> Files() => new("--file", "-f")
    {
        Description = $"A manifest file ({Kinds}; kind: List too), a directory of *.yaml/*.yml/*.json (recursive), or - for stdin. Repeatable.",
        Required = true,
        Arity = ArgumentArity.OneOrMore,
    };

    public static Option<string> Output()
    {
        var option = new Option<string>("--output", "-o")
        {
            Description = "Output format: text or json.",
            DefaultValueFactory = _ => "text",
        };
        option.AcceptOnlyFromAmong("text", "json");
        return option;
    }

    public static bool TryReadManifests(string[] paths, out IReadOnlyList<(string Source, string Text)> inputs)
    {
        try
        {
            inputs = ManifestFiles.Read(paths);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"akkal4: {e.Message}");
            inputs = [];
            return false;
        }
    }
}
