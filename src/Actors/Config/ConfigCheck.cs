using AkkaL4.Actors.Config.Analysis;
using AkkaL4.Actors.Config.Validation;
using AkkaL4.Actors.Routing;
using AkkaL4.Messages.Model;

namespace AkkaL4.Actors.Config;

/// <summary>What decoding, validating and analysing a set of manifests found.</summary>
public sealed record ConfigReport(IReadOnlyList<DecodedResource> Decoded, IReadOnlyList<Diagnostic> Errors, IReadOnlyList<Diagnostic> Warnings)
{
    public bool Ok => Errors.Count == 0;
    public IReadOnlyList<Resource> Resources => Decoded.Select(d => d.Resource).ToList();
}

/// <summary>The pipeline every entry point uses: decode → validate → compile (for errors only) → analyse.</summary>
public static class ConfigCheck
{
    public static ConfigReport Check(IEnumerable<(string Source, string Text)> inputs, DecodeLimits? limits = null)
    {
        var decoded = new List<DecodedResource>();
        var errors = new List<Diagnostic>();
        foreach (var (source, text) in inputs)
        {
            var result = ManifestDecoder.Decode(text, source, limits);
            decoded.AddRange(result.Resources);
            errors.AddRange(result.Errors);
        }
        var resources = decoded.Select(d => d.Resource).ToList();
        var locations = decoded.GroupBy(d => d.Resource.Key.ToString()).ToDictionary(g => g.Key, g => g.First().Location);
        // Capped like the decoder's errors: one resource per line of a 4 MiB input could each have a few.
        var max = (limits ?? DecodeLimits.Default).MaxErrors;
        var findings = ConfigValidator.Validate(resources);
        var invalid = findings.Where(d => d.Severity == Severity.Error).ToList();
        errors.AddRange(invalid.Take(max).Select(d => d with { Location = locations.GetValueOrDefault(d.Resource) }));
        if (invalid.Count > max)
            errors.Add(Diagnostic.Error(invalid[max].Resource, "", $"and {invalid.Count - max} more validation error(s) not shown (at most {max})",
                locations.GetValueOrDefault(invalid[max].Resource)));
        // What validates must also compile: the config writer refuses what the nodes' compiler cannot use.
        if (errors.Count == 0) errors.AddRange(RouteCompiler.Check(resources).Take(max).Select(d => d with { Location = locations.GetValueOrDefault(d.Resource) }));
        // Where Istio only warns the validator warns too; warnings, like analysis, are for a valid configuration.
        var warnings = errors.Count == 0 ? findings.Where(d => d.Severity == Severity.Warning).Concat(ConfigAnalyzer.Analyze(resources)).ToList() : [];
        return new ConfigReport(decoded, errors, warnings.Select(d => d with { Location = locations.GetValueOrDefault(d.Resource) }).ToList());
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
