using System.Text.RegularExpressions;
using AkkaL4.Actors.Config;
using Xunit.Abstractions;

namespace AkkaL4.Tests.Config.IstioParity;

/// <summary>
/// Istio's own validation test tables, translated into manifests (one *.yaml per resource beside this
/// file). Each case is one YAML document headed by comments: <c># case:</c> Istio's test name,
/// <c># istio:</c> Istio's verdict (accept, warn, reject), optionally <c># gist:</c> text our message must
/// contain, and <c># akkal4:</c> where AkkaL4 differs on purpose (every such case is listed in the README).
/// </summary>
[Trait("Category", "Unit")]
public partial class IstioParityTests(ITestOutputHelper output)
{
    /// <summary>The Istio release the tables were translated from; every case file names it.</summary>
    public const string IstioRelease = "1.30.3";
    public const string IstioCommit = "56df41f63e513f834c9a3af33d8aed82d1d961f2";

    public sealed record Case(string File, string Name, string Istio, string? AkkaL4, string? Gist, string Manifest)
    {
        public string Expected => AkkaL4 ?? Istio;
        public override string ToString() => $"{File}: {Name}";
    }

    private static readonly string Directory = Path.Combine(AppContext.BaseDirectory, "Config", "IstioParity");

    [GeneratedRegex(@"^# (case|istio|akkal4|gist):\s*(.*?)\s*$", RegexOptions.Multiline)]
    private static partial Regex HeaderRegex();

    public static IReadOnlyList<Case> All { get; } = Load();

    private static List<Case> Load()
    {
        var cases = new List<Case>();
        foreach (var path in System.IO.Directory.GetFiles(Directory, "*.yaml").Order(StringComparer.Ordinal))
        {
            var file = Path.GetFileName(path);
            var text = File.ReadAllText(path);
            if (!text.Contains($"Istio {IstioRelease} ({IstioCommit})", StringComparison.Ordinal))
                throw new InvalidDataException($"{file} must name the Istio release and commit it was translated from");
            foreach (var doc in Regex.Split(text, @"^---\s*$", RegexOptions.Multiline))
            {
                var headers = HeaderRegex().Matches(doc).ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value);
                if (!headers.TryGetValue("case", out var name)) continue;
                var istio = headers.GetValueOrDefault("istio") ?? throw new InvalidDataException($"{file}: {name}: no '# istio:' verdict");
                var akkal4 = headers.GetValueOrDefault("akkal4");
                foreach (var verdict in new[] { istio, akkal4 })
                    if (verdict is not (null or "accept" or "warn" or "reject"))
                        throw new InvalidDataException($"{file}: {name}: verdict '{verdict}' is not accept, warn or reject");
                if ((akkal4 ?? istio) == "warn" && !headers.ContainsKey("gist"))
                    throw new InvalidDataException($"{file}: {name}: a warn case needs a '# gist:'");
                cases.Add(new Case(file, name, istio, akkal4, headers.GetValueOrDefault("gist"), doc));
            }
        }
        var duplicates = cases.GroupBy(c => c.ToString()).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        if (duplicates.Count > 0) throw new InvalidDataException("case names must be unique per file: " + string.Join(", ", duplicates));
        return cases;
    }

    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var c in All) data.Add(c.File, c.Name);
        return data;
    }

    /// <summary>AkkaL4's verdict on one case, and the findings that led to it.</summary>
    public static (string Verdict, string Findings) Judge(Case c)
    {
        var report = ConfigCheck.Check(c.Manifest, c.File);
        var findings = string.Join("\n", report.Errors.Concat(report.Warnings));
        if (report.Errors.Count > 0)
        {
            // A rejection for some other reason than Istio's is not agreement.
            var forTheReason = c.Gist is null || report.Errors.Any(e => Mentions(e, c.Gist));
            return (forTheReason ? "reject" : "reject (other reason)", findings);
        }
        if (c.Gist is not null && report.Warnings.Any(w => Mentions(w, c.Gist))) return ("warn", findings);
        return ("accept", findings);
    }

    /// <summary>Same verdict as Istio; accepting with a warning of AkkaL4's own still agrees with an Istio "accept".</summary>
    private static bool Agrees(Case c, string verdict) => verdict == c.Istio || (c.Istio == "accept" && verdict == "warn");

    private static bool Mentions(Messages.Model.Diagnostic d, string gist) =>
        d.Message.Contains(gist, StringComparison.OrdinalIgnoreCase) || d.Field.Contains(gist, StringComparison.Ordinal);

    [Theory]
    [MemberData(nameof(Cases))]
    public void Case_gets_istios_verdict(string file, string name)
    {
        var c = All.Single(x => x.File == file && x.Name == name);
        var (verdict, findings) = Judge(c);
        // Istio's "accept" allows AkkaL4's own warnings (an L4 router says more); "warn" needs the gist.
        Assert.True(verdict == c.Expected, $"{c}: expected {c.Expected}{(c.Gist is null ? "" : $" ({c.Gist})")}, got {verdict}\n{findings}");
    }

    [Fact]
    public void Every_intended_difference_is_listed_in_the_readme()
    {
        var root = Path.GetDirectoryName(FindUp("README.md"))!;
        var list = File.ReadAllText(Path.Combine(root, "tests", "AkkaL4.Tests", "Config", "IstioParity", "README.md"));
        var missing = All.Where(c => c.AkkaL4 is not null && !list.Contains($"`{c.File}: {c.Name}`", StringComparison.Ordinal)).ToList();
        Assert.True(missing.Count == 0, "IstioParity/README.md must list these intended differences: " + string.Join(", ", missing));
        // The project README names the Istio release the validator follows and points at the list.
        var readme = File.ReadAllText(Path.Combine(root, "README.md"));
        Assert.Contains($"Istio {IstioRelease}", readme, StringComparison.Ordinal);
        Assert.Contains("tests/AkkaL4.Tests/Config/IstioParity/README.md", readme, StringComparison.Ordinal);
    }

    [Fact]
    public void Agreement_with_istio()
    {
        var agreeing = All.Count(c => Agrees(c, Judge(c).Verdict));
        output.WriteLine($"AkkaL4 agrees with Istio {IstioRelease} on {agreeing} of {All.Count} cases ({100.0 * agreeing / All.Count:0.0}%)");
        // Looser: a rejection for another reason than Istio's counted as agreeing.
        var verdicts = All.Count(c => Agrees(c, Judge(c).Verdict.Replace(" (other reason)", "")));
        output.WriteLine($"  on the verdict alone: {verdicts} of {All.Count} ({100.0 * verdicts / All.Count:0.0}%)");
        foreach (var group in All.GroupBy(c => c.File))
            output.WriteLine($"  {group.Key}: {group.Count(c => Agrees(c, Judge(c).Verdict))}/{group.Count()}");
        // Everything but the intended differences (listed in the README) agrees.
        Assert.Equal(All.Count(c => Agrees(c, c.Expected)), agreeing);
        Assert.True(All.Count >= 300, $"the tables hold {All.Count} cases");
    }

    private static string FindUp(string name)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, name)) && System.IO.Directory.Exists(Path.Combine(dir.FullName, "src")))
                return Path.Combine(dir.FullName, name);
        throw new FileNotFoundException(name);
    }
}
