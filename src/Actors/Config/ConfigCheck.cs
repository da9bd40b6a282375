using AkkaL4.Actors.Config.Analysis;
using AkkaL4.Actors.Config.Validation;
using AkkaL4.Actors.Routing;
using AkkaL4.Messages.Model;

namespace AkkaL4.Actors.Config;

/// <summary>What decoding, validating and analysing a set of manifests found.</summary>
public sealed record ConfigReport(IReadOnlyList<DecodedResource> Decoded, IReadOnlyList<Diagnostic> Errors, IReadOnlyList<Diagnostic> Warnings)
{
    public bool Ok => Errors.Count == 0;

    /// <summary>Facts about a valid configuration that are no mistake but worth a line (<see cref="ConfigAnalyzer.Notes"/>);
    /// their severity means nothing: printed as notes.</summary>
    public IReadOnlyList<Diagnostic> Notes { get; init; } = [];
    public IReadOnlyList<Resource> Resources => Decoded.Select(d => d.Resource).ToList();

    /// <summary>Where a finding about one of these resources is in their input (<c>source:line:column</c> of its field), else
    /// null: for findings made elsewhere, such as the config writer's over the whole stored configuration.</summary>
    public Func<Diagnostic, string?> Locate { get; init; } = _ => null;
}

/// <summary>The pipeline every entry point uses: decode → validate → compile (for errors only) → analyse.</summary>
public static class ConfigCheck
{
    public static ConfigReport Check(IEnumerable<(string Source, string Text)> inputs, DecodeLimits? limits = null)
    {
        var decoded = new List<DecodedResource>();
        var trees = new List<YamlNode>();
        var errors = new List<Diagnostic>();
        foreach (var (source, text) in inputs)
        {
            var result = ManifestDecoder.Decode(text, source, limits, trees);
            decoded.AddRange(result.Resources);
            errors.AddRange(result.Errors);
        }
        var resources = decoded.Select(d => d.Resource).ToList();
        // A finding is placed at its field in its resource's document: by index for validation (a resource given twice is
        // two, each copy's findings in that copy), by name (the first copy) for findings made over the set.
        var byName = new Dictionary<string, int>();
        for (var i = 0; i < decoded.Count; i++) byName.TryAdd(decoded[i].Resource.Key.ToString(), i);
        Diagnostic Placed(Diagnostic d, int? index)
        {
            if ((index ?? (byName.TryGetValue(d.Resource, out var first) ? first : null)) is not { } i) return d;
            var place = FieldPositions.Find(trees[i], d.Field);
            return d with { Location = $"{decoded[i].Source}:{place.Position}", Message = d.Message + place.Note };
        }
        // Capped like the decoder's errors: one resource per line of a 4 MiB input could each have a few.
        var max = (limits ?? DecodeLimits.Default).MaxErrors;
        var subjects = new List<int>();
        var findings = ConfigValidator.Validate(resources, subjects, i => $"{decoded[i].Source}:{FieldPositions.Find(trees[i], "metadata.name").Position}");
        var invalid = findings.Select((d, i) => (Finding: d, Subject: subjects[i])).Where(x => x.Finding.Severity == Severity.Error).ToList();
        errors.AddRange(invalid.Take(max).Select(x => Placed(x.Finding, x.Subject)));
        if (invalid.Count > max)
            errors.Add(Placed(Diagnostic.Error(invalid[max].Finding.Resource, "", $"and {invalid.Count - max} more validation error(s) not shown (at most {max})"),
                invalid[max].Subject));
        // What validates must also compile: the config writer refuses what the nodes' compiler cannot use.
        if (errors.Count == 0) errors.AddRange(RouteCompiler.Check(resources).Take(max).Select(d => Placed(d, null)));
        // Where Istio only warns the validator warns too; warnings, like analysis, are for a valid configuration.
        var warnings = errors.Count == 0
            ? findings.Select((d, i) => (Finding: d, Subject: subjects[i])).Where(x => x.Finding.Severity == Severity.Warning).Select(x => Placed(x.Finding, x.Subject))
                .Concat(ConfigAnalyzer.Analyze(resources).Select(d => Placed(d, null))).ToList()
            : [];
        var notes = errors.Count == 0 ? ConfigAnalyzer.Notes(resources).Select(d => Placed(d, null)).ToList() : [];
        return new ConfigReport(decoded, errors, warnings) { Locate = d => Placed(d, null).Location, Notes = notes };
    }

    public static ConfigReport Check(string text, string source = "<input>") => Check([(source, text)]);
}

/// <summary>Reads manifest paths the way kubectl -f does: files, directories (recursively, *.yaml, *.yml, *.json), or - for stdin.</summary>
public static class ManifestFiles
{
    private static readonly string[] Extensions = [".yaml", ".yml", ".json"];

    public static IReadOnlyList<(string Source, string Text)> Read(IEnumerable<string> paths, TextReader? stdin = null)
    {
        var inputs = new List<(string, string)>();
        foreach (var path in paths)
        {
            if (path == "-") inputs.Add(("<stdin>", (stdin ?? Console.In).ReadToEnd()));
            else if (Directory.Exists(path))
                inputs.AddRange(Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories)
                    .Where(f => Extensions.Contains(Path.GetExtension(f), StringComparer.OrdinalIgnoreCase))
                    .Order(StringComparer.Ordinal)
                    .Select(f => (f, File.ReadAllText(f))));
            else if (File.Exists(path)) inputs.Add((path, File.ReadAllText(path)));
            else throw new FileNotFoundException($"no such file or directory: {path}", path);
        }
        return inputs;
    }
}
