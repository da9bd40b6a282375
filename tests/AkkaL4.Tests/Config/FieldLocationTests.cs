using AkkaL4.Actors.Config;
using AkkaL4.Messages.Model;
using AkkaL4.Tests.Support;

namespace AkkaL4.Tests.Config;

/// <summary>
/// Validation errors and analysis warnings placed at their field's line and column (user9 L1: they gave the resource's
/// first line), in real files of several documents, read the way <c>validate -f</c> reads them.
/// </summary>
[Trait("Category", TestCategories.Unit)]
public sealed class FieldLocationTests : IDisposable
{
    private static readonly string WorldPath = Repo.Path("examples", "seed", "world.yaml");
    private static readonly string MistakesPath = Repo.Path("examples", "seed", "original-mistakes.yaml");
    private readonly string _dir = Directory.CreateTempSubdirectory("akkal4-fields-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string name, string text)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    /// <summary>The text at a <c>file:line:column</c> location, from that column to the line's end.</summary>
    private static string At(string location)
    {
        var parts = location.Split(':');
        var (line, column) = (int.Parse(parts[^2]), int.Parse(parts[^1]));
        return File.ReadAllLines(string.Join(':', parts[..^2]))[line - 1][(column - 1)..];
    }

    private const string Documents = """
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: first}
        spec:
          hosts: [echo-server]
          tcp:
          - route: [{destination: {host: echo-server}}]
        ---
        # the second document: fine too
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata:
          name: second
        spec:
          hosts: [echo-server-2]
          tcp:
          - route:
            - destination: {host: echo-server-2}
        ---
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata:
          name: third
        spec:
          hosts: [echo-server]
          tcp:
          - match: [{port: 9000}]
            route:
            - destination: {host: echo-server}
              weight: 50
            - destination:
                host: echo-server
              weight: -5
        """;

    [Fact]
    public void A_validation_error_in_the_third_document_is_at_its_field_not_at_the_resource()
    {
        var path = Write("three.yaml", Documents);
        var report = ConfigCheck.Check(ManifestFiles.Read([WorldPath, path]));

        var error = Assert.Single(report.Errors);
        Assert.Equal(("VirtualService/default/third", "spec.tcp[0].route[1].weight"), (error.Resource, error.Field));
        Assert.Equal($"{path}:33:7", error.Location);
        Assert.StartsWith("weight: -5", At(error.Location!));
    }

    [Fact]
    public void Every_warning_of_the_seeds_mistakes_is_at_the_key_its_field_path_ends_with()
    {
        var report = ConfigCheck.Check(ManifestFiles.Read([WorldPath, MistakesPath]));

        Assert.True(report.Ok, string.Join("; ", report.Errors));
        Assert.NotEmpty(report.Warnings);
        foreach (var warning in report.Warnings)
        {
            var key = warning.Field.Split('.')[^1];
            Assert.True(key.Length > 0 && !key.EndsWith(']'), $"{warning}: a field path ending in a key");
            Assert.StartsWith($"{key}:", At(warning.Location!));
        }
        var host = Assert.Single(report.Warnings, w => w is { Resource: "DestinationRule/default/echo-destination", Field: "spec.host" });
        Assert.Equal($"{MistakesPath}:13:3", host.Location);
    }

    [Fact]
    public void A_subset_in_a_flow_mapping_is_at_its_key_and_a_list_item_at_the_item()
    {
        var path = Write("flow.yaml", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: flow}
            spec:
              hosts: [echo-server, no-such-service]
              tcp:
              - route: [{destination: {host: echo-server, subset: v9}}]
            """);
        var report = ConfigCheck.Check(ManifestFiles.Read([WorldPath, path]));

        var subset = Assert.Single(report.Warnings, w => w.Field == "spec.tcp[0].route[0].destination.subset");
        Assert.Equal($"{path}:7:47", subset.Location);
        var host = Assert.Single(report.Warnings, w => w.Field == "spec.hosts[1]");
        Assert.Equal($"{path}:5:24", host.Location);
    }

    [Theory]
    [InlineData("spec.tcp[0].route[0].weight", "8:7")] // the key
    [InlineData("spec.tcp[0].route[3]", "6:5")] // past the list's end: the list's key
    [InlineData("spec.hosts", "4:1")] // no such field: the nearest field there is
    [InlineData("metadata.labels.app.kubernetes.io/name", "3:30")] // a key that holds dots (not 'app')
    [InlineData("", "1:1")] // the resource
    public void A_field_path_finds_its_key_or_the_nearest_field_there_is(string path, string position)
    {
        var text = "kind: VirtualService\napiVersion: networking.istio.io/v1\nmetadata: {name: x, labels: {app.kubernetes.io/name: x, app: y}}\nspec:\n  tcp:\n  - route:\n    - destination: {host: a}\n      weight: 5\n";
        var trees = new List<YamlNode>();
        Assert.True(ManifestDecoder.Decode(text, "x.yaml", null, trees).Ok);

        Assert.Equal(position, FieldPositions.Find(Assert.Single(trees), path).ToString());
    }
    /// <summary>
    /// A finding on a field set through an alias is the resource's that uses it: placed at the alias (<c>*route</c>), with
    /// the anchor's line named, not at the anchor, which may be in another resource of the same document (review s11 #1).
    /// </summary>
    [Fact]
    public void A_finding_on_a_field_set_through_an_alias_is_at_the_alias_naming_the_anchor()
    {
        var path = Write("aliases.yaml", """
            apiVersion: v1
            kind: List
            items:
            - apiVersion: networking.istio.io/v1
              kind: VirtualService
              metadata: {name: first}
              spec:
                hosts: [echo-server]
                tcp:
                - route: &route
                  - destination: {host: echo-server, port: {number: 99999}}
            - apiVersion: networking.istio.io/v1
              kind: VirtualService
              metadata: {name: second}
              spec:
                hosts: [echo-server-2]
                tcp:
                - route: *route
            """);
        var report = ConfigCheck.Check(ManifestFiles.Read([WorldPath, path]));

        var first = Assert.Single(report.Errors, e => e.Resource == "VirtualService/default/first");
        Assert.Equal($"{path}:11:49", first.Location);
        Assert.DoesNotContain("alias", first.Message);
        var second = Assert.Single(report.Errors, e => e.Resource == "VirtualService/default/second");
        Assert.Equal("spec.tcp[0].route[0].destination.port.number", second.Field);
        Assert.Equal($"{path}:18:14", second.Location);
        Assert.StartsWith("*route", At(second.Location!));
        Assert.Contains("alias *route", second.Message);
        Assert.Contains("11:49", second.Message);
    }

    /// <summary>A long anchor name is quoted short in the alias note: the positions always show (review2-s11 #8).</summary>
    [Fact]
    public void A_long_alias_name_leaves_the_positions_in_the_message()
    {
        var name = new string('a', 2_000);
        var path = Write("alias-long.yaml", $$$"""
            apiVersion: v1
            kind: List
            items:
            - apiVersion: networking.istio.io/v1
              kind: DestinationRule
              metadata: {name: first}
              spec:
                host: echo-server
                trafficPolicy: &{{{name}}}
                  connectionPool: {tcp: {maxConnections: many}}
            - apiVersion: networking.istio.io/v1
              kind: DestinationRule
              metadata: {name: second}
              spec:
                host: echo-server-2
                trafficPolicy: *{{{name}}}
            """);
        var report = ConfigCheck.Check(ManifestFiles.Read([path]));

        var second = Assert.Single(report.Errors, e => e.Resource == "DestinationRule/default/second");
        Assert.Contains("alias *aaaa", second.Message);
        Assert.Contains("written at ", second.Message);
        Assert.Contains("10:", second.Message);
        Assert.Contains("under anchor &aaaa", second.Message);
        Assert.Contains("at line 9)", second.Message);
        Assert.Contains("(2000 characters)", second.Message);
        Assert.DoesNotContain(new string('a', 100), second.Message);
    }

    /// <summary>A value the decoder refuses inside an aliased mapping: at the alias too, once per resource that uses it.</summary>
    [Fact]
    public void A_decoding_error_inside_an_alias_is_at_the_alias_naming_the_anchor()
    {
        var path = Write("alias-decode.yaml", """
            apiVersion: v1
            kind: List
            items:
            - apiVersion: networking.istio.io/v1
              kind: DestinationRule
              metadata: {name: first}
              spec:
                host: echo-server
                trafficPolicy: &policy
                  connectionPool: {tcp: {maxConnections: many}}
            - apiVersion: networking.istio.io/v1
              kind: DestinationRule
              metadata: {name: second}
              spec:
                host: echo-server-2
                trafficPolicy: *policy
            """);
        var report = ConfigCheck.Check(ManifestFiles.Read([path]));

        var first = Assert.Single(report.Errors, e => e.Resource == "DestinationRule/default/first");
        Assert.Equal($"{path}:10:46", first.Location);
        var second = Assert.Single(report.Errors, e => e.Resource == "DestinationRule/default/second");
        Assert.Equal("spec.trafficPolicy.connectionPool.tcp.maxConnections", second.Field);
        Assert.Equal($"{path}:16:20", second.Location);
        Assert.Contains("alias *policy", second.Message);
        Assert.Contains("10:46", second.Message);
    }

    /// <summary>The same resource twice: reported at the second (the duplicate), naming where the first is (review s11 #2).</summary>
    [Fact]
    public void A_resource_given_twice_is_reported_at_the_second_naming_the_first()
    {
        var one = Write("one.yaml", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: twice}
            spec:
              hosts: [echo-server]
              tcp:
              - route: [{destination: {host: echo-server}}]
            """);
        var two = Write("two.yaml", """
            # the same, edited
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: twice
            spec:
              hosts: [echo-server]
              tcp:
              - route: [{destination: {host: echo-server, port: {number: 0}}}]
            """);
        var report = ConfigCheck.Check(ManifestFiles.Read([WorldPath, one, two]));

        var twice = Assert.Single(report.Errors, e => e.Message.Contains("more than once"));
        Assert.Equal($"{two}:5:3", twice.Location);
        Assert.Contains($"{one}:3:12", twice.Message);
        // The second copy's own mistakes are placed in it too, not in the first.
        var port = Assert.Single(report.Errors, e => e.Field == "spec.tcp[0].route[0].destination.port.number");
        Assert.StartsWith($"{two}:9:", port.Location);
    }
}
