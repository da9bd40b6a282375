using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using AkkaL4.Actors.Config;
using AkkaL4.Messages.Model;

namespace AkkaL4.Actors.ControlPlane;

/// <summary>
/// The last configuration a node put in force, kept on local disk so the node can route at start even
/// when nothing else is reachable. Written atomically (temporary file, then rename).
/// <para>The file stays YAML (a revision header, then manifests), while inside the cluster a configuration travels and is
/// journaled as typed resources: it is what an operator opens on a node that will not start, and edits by hand at worst
/// (so <see cref="Load"/> validates it). The node encodes it after the revision is in force, off the way to routing by
/// it. Journals of earlier versions hold whole configurations in this form (<see cref="Decode"/> reads them).</para>
/// </summary>
public sealed class LastKnownGood(string directory)
{
    private const string Header = "# akkal4 last-known-good revision ";

    /// <summary>
    /// For text the cluster wrote itself (earlier versions' journals, the configuration this node saved): the admin API's limits bound what a user sends, not the stored sum of many (10,000 Services and
    /// a few more are over 10,000 documents) nor a re-encoding (a few bytes longer).
    /// </summary>
    internal static readonly DecodeLimits Stored = new() { MaxBytes = int.MaxValue, MaxDocuments = int.MaxValue };

    public string Path { get; } = System.IO.Path.Combine(directory, "last-known-good.yaml");

    public void Save(ConfigContent content)
    {
        var parts = Parts(content);
        PrivateFiles.CreateDirectory(directory);
        var temp = Path + ".tmp";
        PrivateFiles.WriteAllBytes(temp, parts);
        File.Move(temp, Path, overwrite: true);
    }

    /// <summary>A whole configuration as text: its revision in a header line, then its manifests.</summary>
    public static string Format(ConfigContent content) => string.Concat(Parts(content).Select(p => Encoding.UTF8.GetString(p)));

    /// <summary>
    /// <see cref="Format"/>'s text as UTF-8, in parts: a configuration by namespace (<see cref="NamespacedResources"/>, as
    /// replicated) is each namespace's manifests, made once per list, so a write of one namespace formats that namespace only.
    /// </summary>
    private static IEnumerable<byte[]> Parts(ConfigContent content) =>
        new[] { Encoding.UTF8.GetBytes(Header + content.Revision.ToString(CultureInfo.InvariantCulture) + "\n") }.Concat(content.Resources is NamespacedResources grouped
            ? grouped.Namespaces.Select(n => Manifests.GetValue(n.Resources, static list => Encoding.UTF8.GetBytes(ManifestEncoder.ToYaml(list))))
            : [Encoding.UTF8.GetBytes(ManifestEncoder.ToYaml(content.Resources))]);

    /// <summary>Each namespace's manifests as UTF-8, by its list (a list is never changed once made), for as long as the list lives.</summary>
    private static readonly ConditionalWeakTable<IReadOnlyList<Resource>, byte[]> Manifests = new();

    /// <summary>
    /// Reads <see cref="Format"/>'s text back, decoded but not validated again: for text the config writer wrote (an
    /// earlier version's journal; it validated and compiled it before journaling). Null with a reason when it does not decode; the revision of the
    /// header whenever there is one (else 0).
    /// </summary>
    public static ConfigContent? Decode(string text, string source, out long revision, out string? problem)
    {
        if (!TryHeader(text, source, out revision, out problem)) return null;
        var decoded = ManifestDecoder.Decode(text, source, Stored);
        if (decoded.Ok) return new ConfigContent(revision, decoded.Resources.Select(d => d.Resource).ToList());
        problem = $"{source} does not decode: {decoded.Errors[0]}";
        return null;
    }

    /// <summary>
    /// Reads <see cref="Format"/>'s text from a file anyone could have edited: validated (under <see cref="Stored"/>'s limits: the
    /// configuration in force is the sum of many writes); null with a reason when it does not read cleanly.
    /// </summary>
    public static ConfigContent? Parse(string text, string source, out string? problem)
    {
        if (!TryHeader(text, source, out var revision, out problem)) return null;
        var report = ConfigCheck.Check([(source, text)], Stored);
        if (!report.Ok)
        {
            problem = $"{source} does not validate: {report.Errors[0]}";
            return null;
        }
        return new ConfigContent(revision, report.Resources);
    }

    private static bool TryHeader(string text, string source, out long revision, out string? problem)
    {
        problem = null;
        var firstLine = text.Split('\n', 2)[0];
        if (firstLine.StartsWith(Header, StringComparison.Ordinal) && long.TryParse(firstLine[Header.Length..], out revision)) return true;
        revision = 0;
        problem = $"{source} has no revision header";
        return false;
    }

    /// <summary>The saved configuration, or null when there is none or it no longer reads cleanly.</summary>
    public ConfigContent? Load(out string? problem)
    {
        problem = null;
        return File.Exists(Path) ? Parse(File.ReadAllText(Path), Path, out problem) : null;
    }
}
