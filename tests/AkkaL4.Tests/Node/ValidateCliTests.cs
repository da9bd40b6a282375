using System.Diagnostics;
using System.Text.Json;
using AkkaL4.Messages.Model;
using AkkaL4.Tests.Support;

namespace AkkaL4.Tests.Node;

/// <summary>
/// <c>akkal4 validate</c> run as a real process, the way a user or a CI job runs it: exit codes,
/// the one-finding-per-line text output, the JSON output, and stdin.
/// </summary>
[Trait("Category", "EndToEnd")]
public sealed class ValidateCliTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private const string InvalidManifest = """
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata:
          name: vs
          namespace: default
        spec:
          hosts: [svc]
          tcp:
          - match: [{port: 999}]
          - route: [{destination: {host: svc, subset: V_1}}]
        """;

    private readonly List<string> _tempFiles = [];

    public void Dispose()
    {
        foreach (var file in _tempFiles) File.Delete(file);
    }

    private string TempManifest(string text)
    {
        var path = Path.Combine(Path.GetTempPath(), $"akkal4-cli-{Guid.NewGuid():N}.yaml");
        _tempFiles.Add(path);
        File.WriteAllText(path, text);
        return path;
    }

    private static Task<CliRun> Akkal4(string? stdin, params string[] args) => Akkal4Process.RunAsync(args, stdin, timeout: Timeout);

    [Fact]
    public async Task The_seed_directory_is_valid_and_exits_0()
    {
        var run = await Akkal4(null, "validate", "-f", "examples/seed");

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.DoesNotContain(run.Lines, l => l.StartsWith("error", StringComparison.Ordinal));
        Assert.Contains(run.Lines, l => l.StartsWith("valid: 19 resources", StringComparison.Ordinal));
        Assert.Contains(run.Lines, l => l.StartsWith("warning  DestinationRule/default/echo-destination  spec.host  ", StringComparison.Ordinal));
        Assert.Contains(run.Lines, l => l.StartsWith("warning  VirtualService/default/echo  spec.http  http rules are not applied", StringComparison.Ordinal));
        // Applied at once, the cases hide each other behind echo-by-port: said, not left to mis-route.
        Assert.Contains(run.Lines, l => l.StartsWith("warning  VirtualService/default/echo-by-weight  spec.tcp[0]  this rule can never match: VirtualService default/echo-by-port spec.tcp[0]", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Repeated_files_are_read_together()
    {
        var run = await Akkal4(null, "validate", "-f", "examples/seed/world.yaml", "-f", "examples/seed/original-mistakes.yaml");

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains(run.Lines, l => l.StartsWith("warning  VirtualService/default/echo  spec.http[0].route[0].destination.subset  subset 'prod'", StringComparison.Ordinal));
        Assert.Contains(run.Lines, l => l.StartsWith("valid: 12 resources", StringComparison.Ordinal) && l.EndsWith("4 warnings", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_invalid_file_exits_1_with_one_line_per_error()
    {
        var path = TempManifest(InvalidManifest);

        var run = await Akkal4(null, "validate", "-f", path);

        Assert.True(run.ExitCode == 1, run.ToString());
        Assert.Contains(run.Lines, l => l.StartsWith("error  VirtualService/default/vs  spec.tcp[0].route  TCP route is required", StringComparison.Ordinal));
        Assert.Contains(run.Lines, l => l.StartsWith("error  VirtualService/default/vs  spec.tcp[1].route[0].destination.subset  subset name 'V_1' is invalid", StringComparison.Ordinal));
        Assert.All(run.Lines.Where(l => l.StartsWith("error", StringComparison.Ordinal)),
            l => Assert.Matches(@"^error  VirtualService/default/vs  spec\.\S+  .+ \(at .+:\d+:\d+\)$", l));
        Assert.Equal("invalid: 2 errors, 0 warnings", run.Lines[^1]);
    }

    [Fact]
    public async Task A_decode_error_names_the_field_and_the_position()
    {
        var path = TempManifest("apiVersion: v1\nkind: Service\nmetadata: {name: svc}\nspec:\n  ports:\n  - port: abc\n");

        var run = await Akkal4(null, "validate", "-f", path);

        Assert.True(run.ExitCode == 1, run.ToString());
        Assert.Contains($"error  Service/default/svc  spec.ports[0].port  expected an integer, got 'abc' (at {path}:6:11)", run.Lines);
    }

    [Fact]
    public async Task Json_output_lists_errors_and_warnings()
    {
        var path = TempManifest(InvalidManifest);

        var run = await Akkal4(null, "validate", "-f", path, "-o", "json");

        Assert.True(run.ExitCode == 1, run.ToString());
        using var json = JsonDocument.Parse(run.Stdout);
        var errors = json.RootElement.GetProperty("errors").EnumerateArray().ToList();
        Assert.Equal(JsonValueKind.Array, json.RootElement.GetProperty("warnings").ValueKind);
        Assert.Equal(2, errors.Count);
        Assert.All(errors, e =>
        {
            Assert.Equal("VirtualService/default/vs", e.GetProperty("resource").GetString());
            Assert.StartsWith("spec.tcp[", e.GetProperty("field").GetString());
            Assert.False(string.IsNullOrEmpty(e.GetProperty("message").GetString()));
        });
        Assert.Contains(errors, e => e.GetProperty("field").GetString() == "spec.tcp[0].route" && e.GetProperty("message").GetString() == "TCP route is required");
    }

    [Fact]
    public async Task Json_output_of_a_valid_configuration_has_its_warnings()
    {
        var run = await Akkal4(null, "validate", "-f", "examples/seed", "--output", "json");

        Assert.True(run.ExitCode == 0, run.ToString());
        using var json = JsonDocument.Parse(run.Stdout);
        Assert.Empty(json.RootElement.GetProperty("errors").EnumerateArray());
        var all = json.RootElement.GetProperty("warnings").EnumerateArray().ToList();
        // Besides the original guide's two mistakes: the cases' VirtualServices, all on echo-server at once, hide each other.
        var warnings = all.Where(w => !w.GetProperty("message").GetString()!.StartsWith("this rule can never match: VirtualService default/echo-by-port", StringComparison.Ordinal))
            .Select(w => (w.GetProperty("resource").GetString(), w.GetProperty("field").GetString())).Order().ToList();
        Assert.Equal([("DestinationRule/default/echo-destination", "spec.host"), ("VirtualService/default/echo", "spec.http")], warnings);
        Assert.Equal(5, all.Count - warnings.Count);
    }

    [Fact]
    public async Task A_gateway_server_without_bind_is_a_note_not_a_warning()
    {
        const string gateway = """
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: gw, namespace: istio-system}
            spec:
              selector: {istio: ingressgateway}
              servers:
              - port: {number: 31400, name: tcp, protocol: TCP}
                hosts: ['*']
            """;

        var run = await Akkal4(gateway, "validate", "-f", "-");

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains(run.Lines, l => l.StartsWith("note  Gateway/istio-system/gw  spec.servers[0]  no bind: nodes whose --labels include istio=ingressgateway "
                                                     + "listen on every address of their host (0.0.0.0:31400)", StringComparison.Ordinal));
        Assert.Equal("valid: 1 resource (1 Gateway), 0 warnings", run.Lines[^1]);
        var json = await Akkal4(gateway, "validate", "-f", "-", "-o", "json");
        using var document = JsonDocument.Parse(json.Stdout);
        Assert.Empty(document.RootElement.GetProperty("warnings").EnumerateArray());
        Assert.Equal("spec.servers[0]", Assert.Single(document.RootElement.GetProperty("notes").EnumerateArray()).GetProperty("field").GetString());
    }

    [Fact]
    public async Task Stdin_is_read_with_dash()
    {
        var run = await Akkal4(InvalidManifest, "validate", "-f", "-");

        Assert.True(run.ExitCode == 1, run.ToString());
        Assert.Contains(run.Lines, l => l.StartsWith("error  VirtualService/default/vs  spec.tcp[0].route  TCP route is required (at <stdin>:", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_valid_manifest_on_stdin_exits_0()
    {
        var run = await Akkal4(File.ReadAllText(Repo.Path("examples", "seed", "world.yaml")), "validate", "-f", "-");

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("valid: 10 resources (2 Service, 6 WorkloadEntry, 2 Gateway), 0 warnings", run.Lines[^1]);
    }

    [Fact]
    public async Task A_missing_file_exits_2()
    {
        var missing = Path.Combine(Path.GetTempPath(), $"akkal4-cli-missing-{Guid.NewGuid():N}.yaml");

        var run = await Akkal4(null, "validate", "-f", missing);

        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Contains(missing, run.Stderr);
        Assert.Empty(run.Stdout);
    }

    [Fact]
    public async Task Validate_without_files_exits_2()
    {
        var run = await Akkal4(null, "validate");

        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Contains("--file", run.Stderr);
    }

    [Fact]
    public async Task An_unknown_output_format_exits_2()
    {
        var run = await Akkal4(null, "validate", "-f", "examples/seed", "-o", "xml");

        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Contains("xml", run.Stderr);
    }

    [Fact]
    public async Task Help_exits_0_and_mentions_validate()
    {
        var run = await Akkal4(null, "--help");

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("validate", run.Stdout);
    }

    [Theory]
    [InlineData("--help")]
    [InlineData("validate --help")]
    [InlineData("explain --help")]
    [InlineData("apply --help")]
    [InlineData("diff --help")]
    [InlineData("delete --help")]
    [InlineData("run --help")]
    public async Task Every_help_that_takes_manifests_names_every_kind_the_decoder_reads(string args)
    {
        // The root help once named the five Istio kinds and not the Kubernetes v1 Service that is read too.
        var run = await Akkal4(null, args.Split(' '));

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.All(ResourceKinds.Types.Keys, kind => Assert.Matches($@"\b{kind}\b", run.Stdout));
    }

    [Fact]
    public async Task Validate_help_describes_the_output_and_the_exit_codes()
    {
        var run = await Akkal4(null, "validate", "--help");

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("--file", run.Stdout);
        Assert.Contains("--output", run.Stdout);
        Assert.Contains("Exit code 0 when valid", run.Stdout);
    }
}
