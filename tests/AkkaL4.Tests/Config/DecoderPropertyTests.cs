using System.Text.RegularExpressions;
using AkkaL4.Actors.Config;
using AkkaL4.Messages.Model;
using AkkaL4.Tests.Support;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace AkkaL4.Tests.Config;

/// <summary>
/// Whatever text arrives, decoding and checking report problems as located diagnostics and never
/// throw: random text, and damaged copies of the example manifests.
/// </summary>
[Trait("Category", "Unit")]
public partial class DecoderPropertyTests
{
    private const string Source = "fuzz.yaml";

    private static readonly string[] Examples = Directory
        .EnumerateFiles(Repo.Path("examples"), "*", SearchOption.AllDirectories)
        .Where(f => Path.GetExtension(f) is ".yaml" or ".yml" or ".json")
        .Order(StringComparer.Ordinal)
        .Select(File.ReadAllText)
        .ToArray();

    [GeneratedRegex(@"^fuzz\.yaml:\d+:\d+$")]
    private static partial Regex LocatedRegex();

    /// <summary>Text with a readable rendering, so a failing case can be copied into a regression test.</summary>
    public sealed record Text(string Value)
    {
        public override string ToString() => JsonEncoded(Value);
        private static string JsonEncoded(string s) => System.Text.Json.JsonSerializer.Serialize(s);
    }

    /// <summary>The property itself: everything is reported, located, and nothing is thrown.</summary>
    private static void AssertReportedNotThrown(Text input)
    {
        var decoded = ManifestDecoder.Decode(input.Value, Source);
        var report = ConfigCheck.Check([(Source, input.Value)]);

        Assert.All(decoded.Errors.Concat(report.Errors).Concat(report.Warnings), d =>
        {
            Assert.False(string.IsNullOrEmpty(d.Resource), d.ToString());
            Assert.False(string.IsNullOrEmpty(d.Message), d.ToString());
            Assert.Matches(LocatedRegex(), d.Location ?? "<no location> " + d);
        });
        Assert.All(report.Errors, d => Assert.Equal(Severity.Error, d.Severity));
        Assert.All(report.Warnings, d => Assert.Equal(Severity.Warning, d.Severity));
        // The pipeline keeps every decode error and adds validation errors after them.
        Assert.Equal(decoded.Errors, report.Errors.Take(decoded.Errors.Count));
        Assert.Equal(decoded.Resources.Select(r => r.Resource), report.Resources);
        Assert.All(decoded.Resources, r => Assert.Matches(LocatedRegex(), r.Location));
        if (!report.Ok) Assert.Empty(report.Warnings);
    }

    // ---- generators -------------------------------------------------------------------------

    /// <summary>
    /// Pieces of block-style YAML: keys the model knows, values, indentation, quotes, anchors, comments.
    /// Flow collections, tags and "..." are kept in <see cref="FlowAndTagTokens"/> until the decoder stops
    /// throwing on them (the skipped properties below), so these properties stay deterministic.
    /// </summary>
    private static readonly string[] BlockTokens =
    [
        "apiVersion: networking.istio.io/v1\n", "apiVersion: v1\n", "kind: VirtualService\n", "kind: DestinationRule\n", "kind: Service\n",
        "kind: List\n", "items:\n", "metadata:\n", "  name: a\n", "  namespace: ns\n", "spec:\n", "  hosts:\n", "  - a\n", "  tcp:\n",
        "  - match:\n", "    - port: 80\n", "    - sourceLabels:\n", "        app: x\n", "    route:\n", "    - destination:\n",
        "        host: a\n", "      weight: 5\n", "  trafficPolicy:\n", "    connectionPool:\n", "      tcp:\n", "        connectTimeout: 1.5s\n",
        "a", "b", "1", "10s", "abc", ":", ": ", "- ", "\n", "  ", "    ", "\t", "#", " # c\n", "'", "\"", "''", "\"\\u00e9\"", "\\",
        "&a ", "*a", "&b ", "*b", "|", "|-\n", ">", "---\n", "? ", "<<: ", "'<<': ", "%YAML 1.2\n", "null", "~", "true", "-1",
        "99999999999", "é", "\u00a0", "\r\n", ",", "@", "`", "%",
    ];

    /// <summary>
    /// Flow collections, tags and document-end markers: these reach YamlDotNet code paths that throw
    /// InvalidOperationException/ArgumentException instead of a YamlException.
    /// </summary>
    private static readonly string[] FlowAndTagTokens = ["[", "]", "{", "}", ", ", "!", "!!str ", "!<> ", "!!%5b ", "!custom ", "...\n"];

    private static Gen<Text> TokenText(string[] tokens) =>
        Gen.Elements(tokens).ListOf().Select(parts => new Text(string.Concat(parts)));

    private static Gen<Text> ExampleText => Gen.Elements(Examples).Select(e => new Text(e));

    /// <summary>One damage done to a manifest; every kind keeps to the characters already in it.</summary>
    private enum Damage { DeleteChars, DuplicateChars, SwapChars, DeleteLine, DuplicateLine, MoveLine, Indent, Dedent, TruncateAt }

    private sealed record Edit(Damage Kind, int A, int B, int Length);

    private static Gen<Edit> EditGen =>
        from kind in Gen.Elements(Enum.GetValues<Damage>())
        from a in Gen.Choose(0, int.MaxValue)
        from b in Gen.Choose(0, int.MaxValue)
        from length in Gen.Choose(1, 24)
        select new Edit(kind, a, b, length);

    private static string Apply(string text, Edit edit)
    {
        if (text.Length == 0) return text;
        var p = edit.A % text.Length;
        var q = edit.B % text.Length;
        var lines = text.Split('\n').ToList();
        var i = edit.A % lines.Count;
        var j = edit.B % lines.Count;
        switch (edit.Kind)
        {
            case Damage.DeleteChars: return text.Remove(p, Math.Min(edit.Length, text.Length - p));
            case Damage.DuplicateChars: return text.Insert(p, text.Substring(p, Math.Min(edit.Length, text.Length - p)));
            case Damage.SwapChars:
                var chars = text.ToCharArray();
                (chars[p], chars[q]) = (chars[q], chars[p]);
                return new string(chars);
            case Damage.DeleteLine: lines.RemoveAt(i); break;
            case Damage.DuplicateLine: lines.Insert(j, lines[i]); break;
            case Damage.MoveLine:
                var line = lines[i];
                lines.RemoveAt(i);
                lines.Insert(Math.Min(j, lines.Count), line);
                break;
            case Damage.Indent: lines[i] = new string(' ', 1 + edit.Length % 4) + lines[i]; break;
            case Damage.Dedent: lines[i] = lines[i].TrimStart(' '); break;
            case Damage.TruncateAt: return text[..p];
        }
        return string.Join('\n', lines);
    }

    private static Gen<Text> DamagedExample =>
        from example in ExampleText
        from edits in EditGen.ListOf().Resize(6)
        select new Text(edits.Aggregate(example.Value, Apply));

    private static Gen<Text> ExampleWithInsertions(string[] tokens) =>
        from example in ExampleText
        from inserts in Gen.Zip(Gen.Choose(0, int.MaxValue), Gen.Elements(tokens)).NonEmptyListOf().Resize(4)
        select new Text(inserts.Aggregate(example.Value, (text, insert) => text.Insert(insert.Item1 % (text.Length + 1), insert.Item2)));

    /// <summary>The examples concatenated in a random order, as one multi-document stream.</summary>
    private static Gen<Text> ShuffledExamples =>
        from order in Gen.Shuffle(Examples)
        from count in Gen.Choose(1, Examples.Length)
        select new Text(string.Join("\n---\n", order.Take(count)));

    // ---- properties -------------------------------------------------------------------------

    [Property(MaxTest = 400)]
    public Property Damaged_examples_are_reported_not_thrown() =>
        Prop.ForAll(Arb.From(DamagedExample), AssertReportedNotThrown);

    [Property(MaxTest = 400)]
    public Property Random_block_yaml_is_reported_not_thrown() =>
        Prop.ForAll(Arb.From(TokenText(BlockTokens)), AssertReportedNotThrown);

    [Property(MaxTest = 300)]
    public Property Examples_with_block_yaml_inserted_are_reported_not_thrown() =>
        Prop.ForAll(Arb.From(ExampleWithInsertions(BlockTokens)), AssertReportedNotThrown);

    [Property(MaxTest = 100)]
    public Property Examples_in_any_order_and_number_decode_to_the_same_resources() =>
        Prop.ForAll(Arb.From(ShuffledExamples), stream =>
        {
            AssertReportedNotThrown(stream);
            var result = ManifestDecoder.Decode(stream.Value, Source);
            var separately = stream.Value.Split("\n---\n").SelectMany(part => ManifestDecoder.Decode(part, Source).Resources);
            Assert.True(result.Ok, string.Join("; ", result.Errors));
            Assert.Equal(separately.Select(r => r.Resource), result.Resources.Select(r => r.Resource));
        });

    [Property(MaxTest = 400)]
    public Property Random_yaml_with_flow_collections_and_tags_is_reported_not_thrown() =>
        Prop.ForAll(Arb.From(TokenText([.. BlockTokens, .. FlowAndTagTokens, .. FlowAndTagTokens])), AssertReportedNotThrown);

    [Property(MaxTest = 400)]
    public Property Examples_with_flow_indicators_and_tags_inserted_are_reported_not_thrown() =>
        Prop.ForAll(Arb.From(ExampleWithInsertions(FlowAndTagTokens)), AssertReportedNotThrown);

    [Property(MaxTest = 500)]
    public void Arbitrary_strings_are_reported_not_thrown(string? value) => AssertReportedNotThrown(new Text(value ?? ""));

    [Fact]
    public void The_generators_produce_damaged_but_still_decodable_text()
    {
        // Guards the properties against testing nothing: the damage must sometimes leave resources
        // that decode and sometimes produce errors.
        var samples = DamagedExample.Sample(200, 300).Select(t => ManifestDecoder.Decode(t.Value, Source)).ToList();

        Assert.Contains(samples, r => r.Ok && r.Resources.Count > 0);
        Assert.Contains(samples, r => !r.Ok);
        Assert.NotEmpty(Examples);
    }
}
