using AkkaL4.Actors.Config;
using AkkaL4.Messages.Model;

namespace AkkaL4.Tests.Config;

/// <summary>
/// The decoder as a user meets it: every problem comes back as one error that names the resource
/// (<c>Kind/ns/name</c>, or <c>document N</c>), the field path and a <c>source:line:column</c>
/// location, and hostile input is refused with one clean error.
/// </summary>
[Trait("Category", "Unit")]
public class ManifestDecoderTests
{
    private const string Source = "t.yaml";

    private static DecodeResult Decode(string text, DecodeLimits? limits = null) => ManifestDecoder.Decode(text, Source, limits);

    private static string Indent(string text) => string.Join("\n", text.Split('\n').Select(l => "  " + l));

    /// <summary>A VirtualService whose spec starts on line 5.</summary>
    private static string Vs(string spec, string apiVersion = "networking.istio.io/v1") =>
        $"apiVersion: {apiVersion}\nkind: VirtualService\nmetadata: {{name: vs, namespace: ns}}\nspec:\n{Indent(spec)}\n";

    private static Diagnostic SingleError(DecodeResult result)
    {
        Assert.Empty(result.Resources);
        return Assert.Single(result.Errors);
    }

    private static void AssertLocated(Diagnostic error) => Assert.Matches(@"^t\.yaml:\d+:\d+$", error.Location ?? "");

    // ---- kinds, versions, fields ------------------------------------------------------------

    [Fact]
    public void An_unknown_kind_is_named_with_a_did_you_mean_hint_and_its_position()
    {
        var error = SingleError(Decode("apiVersion: networking.istio.io/v1\nkind: VirtualServise\nmetadata: {name: a}\nspec: {}\n"));

        Assert.Equal(Severity.Error, error.Severity);
        Assert.Equal("VirtualServise/default/a", error.Resource);
        Assert.Equal("kind", error.Field);
        Assert.Contains("unknown kind 'VirtualServise'", error.Message);
        Assert.Contains("(did you mean 'VirtualService'?)", error.Message);
        Assert.Equal("t.yaml:2:7", error.Location);
    }

    [Fact]
    public void An_unknown_kind_with_no_near_match_lists_the_kinds_that_are_read()
    {
        var error = SingleError(Decode("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {}\n"));

        Assert.Equal("kind", error.Field);
        Assert.DoesNotContain("did you mean", error.Message);
        Assert.Contains("VirtualService, DestinationRule, Gateway, ServiceEntry, WorkloadEntry, Service", error.Message);
    }

    /// <summary>A mesh's manifests carry Istio kinds AkkaL4 does not apply; they were called unknown, as a typo would be.</summary>
    [Theory]
    [InlineData("security.istio.io/v1", "PeerAuthentication", "(security.istio.io)", "(mutual TLS between workloads)")]
    [InlineData("security.istio.io/v1", "AuthorizationPolicy", "(security.istio.io)", "(its allow/deny rules)")]
    [InlineData("networking.istio.io/v1alpha3", "EnvoyFilter", "(networking.istio.io)", "(Envoy configuration patches)")]
    [InlineData("networking.istio.io/v1", "Sidecar", "(networking.istio.io)", "(a sidecar's scope)")]
    [InlineData("", "Sidecar", "(networking.istio.io)", "(a sidecar's scope)")]
    [InlineData("policy.istio.io/v1beta1", "MeshWidePolicy", "(policy.istio.io)", "nothing it asks for is taken")]
    public void An_istio_kind_akkal4_does_not_apply_is_named_as_such_and_rejected(string apiVersion, string kind, string group, string what)
    {
        var error = SingleError(Decode($"apiVersion: {apiVersion}\nkind: {kind}\nmetadata: {{name: a, namespace: foo}}\nspec: {{}}\n"));

        Assert.Equal($"{kind}/foo/a", error.Resource);
        Assert.Equal("kind", error.Field);
        Assert.StartsWith($"kind '{kind}' {group} is an Istio kind AkkaL4 does not apply: it is rejected, not ignored", error.Message);
        Assert.Contains(what, error.Message);
        Assert.EndsWith("which routes by VirtualService, DestinationRule, Gateway, ServiceEntry, WorkloadEntry, Service", error.Message);
        Assert.DoesNotContain("unknown kind", error.Message);
        Assert.Equal("t.yaml:2:7", error.Location);
    }

    [Fact]
    public void A_typo_of_a_kind_in_an_istio_group_is_still_a_typo()
    {
        var error = SingleError(Decode("apiVersion: networking.istio.io/v1\nkind: DestinationRules\nmetadata: {name: a}\nspec: {}\n"));

        Assert.Contains("unknown kind 'DestinationRules' (did you mean 'DestinationRule'?)", error.Message);
    }

    [Fact]
    public void A_missing_kind_is_reported_for_the_document()
    {
        var error = SingleError(Decode("apiVersion: v1\nmetadata: {name: a}\n"));

        Assert.Equal("document 1", error.Resource);
        Assert.Equal("kind", error.Field);
        Assert.Equal("t.yaml:1:1", error.Location);
    }

    [Theory]
    [InlineData("VirtualService", "networking.istio.io/v2", "unknown apiVersion 'networking.istio.io/v2' for VirtualService")]
    [InlineData("VirtualService", "v1", "unknown apiVersion 'v1' for VirtualService")]
    [InlineData("Service", "networking.istio.io/v1", "unknown apiVersion 'networking.istio.io/v1' for Service; expected one of v1")]
    [InlineData("Gateway", "networking.k8s.io/v1", "expected one of networking.istio.io/v1, networking.istio.io/v1beta1, networking.istio.io/v1alpha3")]
    public void An_unknown_api_version_is_rejected_at_the_value(string kind, string apiVersion, string gist)
    {
        var error = SingleError(Decode($"apiVersion: {apiVersion}\nkind: {kind}\nmetadata: {{name: a, namespace: ns}}\n"));

        Assert.Equal($"{kind}/ns/a", error.Resource);
        Assert.Equal("apiVersion", error.Field);
        Assert.Contains(gist, error.Message);
        Assert.Equal("t.yaml:1:13", error.Location);
    }

    [Fact]
    public void A_missing_api_version_is_required()
    {
        var error = SingleError(Decode("kind: Gateway\nmetadata: {name: gw}\n"));

        Assert.Equal("Gateway/default/gw", error.Resource);
        Assert.Equal("apiVersion", error.Field);
        Assert.Contains("apiVersion is required", error.Message);
    }

    [Fact]
    public void An_unknown_field_gets_a_did_you_mean_hint_its_full_path_and_its_key_position()
    {
        var manifest = Vs("hosts: [a]\ntcp:\n- match:\n  - port: 1\n  - sourceLabel: {app: x}\n  route: [{destination: {host: a}}]");

        var error = SingleError(Decode(manifest));

        Assert.Equal("VirtualService/ns/vs", error.Resource);
        Assert.Equal("spec.tcp[0].match[1].sourceLabel", error.Field);
        Assert.Equal("unknown field 'sourceLabel' (did you mean 'sourceLabels'?)", error.Message);
        Assert.Equal("t.yaml:9:7", error.Location);
    }

    [Theory]
    [InlineData("apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspecs: {}", "specs", "spec")]
    [InlineData("apiVersion: v1\nkind: Service\nmetadata: {name: a, namspace: x}", "metadata.namspace", "namespace")]
    [InlineData("apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {clusterIp: 10.0.0.1}", "spec.clusterIp", "clusterIP")]
    [InlineData("apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: a}\nspec: {hosts: [a], tcp: [{route: [{destination: {host: a}, weigth: 5}]}]}", "spec.tcp[0].route[0].weigth", "weight")]
    [InlineData("apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: a}\nspec: {host: a, trafficPolicy: {connectionPool: {tcp: {connectTimout: 1s}}}}", "spec.trafficPolicy.connectionPool.tcp.connectTimout", "connectTimeout")]
    public void Unknown_fields_are_named_with_the_nearest_known_field(string manifest, string field, string suggestion)
    {
        var error = SingleError(Decode(manifest));

        Assert.Equal(field, error.Field);
        Assert.Contains($"(did you mean '{suggestion}'?)", error.Message);
        AssertLocated(error);
    }

    [Fact]
    public void An_unknown_field_far_from_any_known_one_lists_the_known_fields()
    {
        var error = SingleError(Decode(Vs("hosts: [a]\ntcp: [{route: [{destination: {host: a, zzzzzz: 1}}]}]")));

        Assert.Equal("spec.tcp[0].route[0].destination.zzzzzz", error.Field);
        Assert.DoesNotContain("did you mean", error.Message);
        Assert.Contains("known fields: host, subset, port", error.Message);
    }

    // ---- value types ------------------------------------------------------------------------

    public static TheoryData<string, string, string> WrongTypes => new()
    {
        { "hosts: [a]\ntcp:\n- match:\n  - port: 1\n  - port: abc\n  route: [{destination: {host: a}}]", "spec.tcp[0].match[1].port", "expected an integer, got 'abc'" },
        { "hosts: [a]\ntcp: [{route: [{destination: {host: {name: a}}}]}]", "spec.tcp[0].route[0].destination.host", "expected a string, got a mapping" },
        { "hosts: [{a: b}]\ntcp: [{route: [{destination: {host: a}}]}]", "spec.hosts[0]", "expected a string, got a mapping" },
        { "hosts: a\ntcp: [{route: [{destination: {host: a}}]}]", "spec.hosts", "expected a list, got 'a'" },
        { "hosts: [a]\ntcp: {route: []}", "spec.tcp", "expected a list, got a mapping" },
        { "hosts: [a]\ntcp: [{route: [{destination: {host: a}, weight: [1]}]}]", "spec.tcp[0].route[0].weight", "expected an integer, got a list" },
        { "hosts: [a]\ntcp: [{match: [{port: 99999999999}], route: [{destination: {host: a}}]}]", "spec.tcp[0].match[0].port", "expected an integer, got '99999999999'" },
        { "hosts: [a]\ntcp: [{match: [{port: 1.5}], route: [{destination: {host: a}}]}]", "spec.tcp[0].match[0].port", "expected an integer, got '1.5'" },
        { "hosts: [a]\ntcp: [{match: [{sourceLabels: [app]}], route: [{destination: {host: a}}]}]", "spec.tcp[0].match[0].sourceLabels", "expected a mapping of strings, got a list" },
        { "hosts: [a]\ntcp: [{match: [{sourceLabels: {app: [x]}}], route: [{destination: {host: a}}]}]", "spec.tcp[0].match[0].sourceLabels.app", "expected a string, got a list" },
        { "hosts: [a]\ntcp: [{route: [{destination: {host: a, port: 80}}]}]", "spec.tcp[0].route[0].destination.port", "expected a mapping, got '80'" },
        { "hosts: [a]\ntcp: [{route: [null]}]", "spec.tcp[0].route[0]", "null entry" },
    };

    [Theory]
    [MemberData(nameof(WrongTypes))]
    public void A_value_of_the_wrong_type_is_reported_at_its_path(string spec, string field, string message)
    {
        var error = SingleError(Decode(Vs(spec)));

        Assert.Equal("VirtualService/ns/vs", error.Resource);
        Assert.Equal(field, error.Field);
        Assert.Equal(message, error.Message);
        AssertLocated(error);
    }

    [Fact]
    public void A_wrong_type_points_at_the_offending_value()
    {
        var error = SingleError(Decode(Vs("hosts: [a]\ntcp:\n- match:\n  - port: 1\n  - port: abc\n  route: [{destination: {host: a}}]")));

        Assert.Equal("t.yaml:9:13", error.Location);
    }

    [Theory]
    [InlineData("apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: a}\nspec: {host: a, trafficPolicy: {loadBalancer: {consistentHash: {useSourceIp: yes}}}}",
        "spec.trafficPolicy.loadBalancer.consistentHash.useSourceIp", "expected true or false, got 'yes'")]
    [InlineData("apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: {name: a}\nspec: {address: 1.1.1.1, ports: {http: abc}}",
        "spec.ports.http", "expected a port number, got 'abc'")]
    [InlineData("apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: {name: a}\nspec: {address: 1.1.1.1, ports: [80]}",
        "spec.ports", "expected a mapping of port names to numbers, got a list")]
    [InlineData("apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: [1]", "spec", "expected a mapping, got a list")]
    [InlineData("apiVersion: v1\nkind: Service\nmetadata: {name: a, labels: {app: {x: y}}}", "metadata.labels.app", "expected a string, got a mapping")]
    public void Wrong_types_in_other_kinds(string manifest, string field, string message)
    {
        var error = SingleError(Decode(manifest));

        Assert.Equal(field, error.Field);
        Assert.Equal(message, error.Message);
        AssertLocated(error);
    }

    [Fact]
    public void Every_error_of_a_document_is_reported_in_one_pass_and_the_resource_is_dropped()
    {
        var result = Decode(Vs("hosts: [a]\ntcp:\n- match: [{port: abc, sourceLabel: {a: b}}]\n  route: [{destination: {host: [a]}, weight: x}]"));

        Assert.Empty(result.Resources);
        Assert.Equal(
            ["spec.tcp[0].match[0].port", "spec.tcp[0].match[0].sourceLabel", "spec.tcp[0].route[0].destination.host", "spec.tcp[0].route[0].weight"],
            result.Errors.Select(e => e.Field).Order(StringComparer.Ordinal));
        Assert.All(result.Errors, e => Assert.Equal("VirtualService/ns/vs", e.Resource));
        Assert.All(result.Errors, AssertLocated);
    }

    [Fact]
    public void A_document_with_errors_does_not_stop_the_next_one()
    {
        var result = Decode("apiVersion: v1\nkind: Service\nmetadata: {name: bad}\nspec: {ports: [{port: x}]}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: good}\n");

        var error = Assert.Single(result.Errors);
        Assert.Equal("Service/default/bad", error.Resource);
        var decoded = Assert.Single(result.Resources);
        Assert.Equal("Service/default/good", decoded.Resource.Key.ToString());
        Assert.Equal(2, decoded.Document);
        Assert.Equal("t.yaml:6:1", decoded.Location);
    }

    // ---- duplicate keys ---------------------------------------------------------------------

    [Fact]
    public void A_duplicate_key_is_one_error_at_the_second_key()
    {
        var error = SingleError(Decode(Vs("hosts: [a]\nhosts: [b]\ntcp: [{route: [{destination: {host: a}}]}]")));

        Assert.Contains("duplicate key 'hosts'", error.Message);
        Assert.Contains("first at line 5", error.Message);
        Assert.Equal("t.yaml:6:3", error.Location);
    }

    [Fact]
    public void A_duplicate_key_names_its_resource_and_field_and_spares_the_other_documents()
    {
        var good = "apiVersion: v1\nkind: Service\nmetadata: {name: good}\n";
        var result = Decode(good + "---\n" + Vs("hosts: [a]\nhosts: [b]\ntcp: [{route: [{destination: {host: a}}]}]"));

        var error = Assert.Single(result.Errors);
        Assert.Contains(error.Resource, new[] { "VirtualService/ns/vs", "document 2" });
        Assert.Equal("spec.hosts", error.Field);
        Assert.Equal("Service/default/good", Assert.Single(result.Resources).Resource.Key.ToString());
    }

    // ---- metadata and versions --------------------------------------------------------------

    [Theory]
    [InlineData("metadata: {name: a}", "default")]
    [InlineData("metadata: {name: a, namespace: }", "default")]
    [InlineData("metadata: {name: a, namespace: ~}", "default")]
    [InlineData("metadata: {name: a, namespace: foo}", "foo")]
    public void A_missing_namespace_defaults_to_default(string metadata, string ns)
    {
        var result = Decode($"apiVersion: v1\nkind: Service\n{metadata}\n");

        Assert.Empty(result.Errors);
        var resource = Assert.Single(result.Resources).Resource;
        Assert.Equal(ns, resource.Metadata.Namespace);
        Assert.Equal($"Service/{ns}/a", resource.Key.ToString());
    }

    [Fact]
    public void Errors_of_a_resource_without_namespace_name_it_in_default()
    {
        var error = SingleError(Decode("apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {ports: [{port: x}]}\n"));

        Assert.Equal("Service/default/a", error.Resource);
    }

    [Fact]
    public void A_resource_without_a_name_is_named_by_its_document_number()
    {
        var result = Decode("apiVersion: v1\nkind: Service\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Service\nmetadata: {namespace: x}\nspec: {ports: [{port: x}]}\n");

        Assert.Single(result.Resources);
        Assert.Contains(result.Errors, e => e is { Resource: "document 2", Field: "metadata.name" } && e.Message.Contains("required"));
        Assert.Contains(result.Errors, e => e is { Resource: "document 2", Field: "spec.ports[0].port" });
        Assert.All(result.Errors, AssertLocated);
    }

    [Theory]
    [InlineData("metadata: [a]")]
    [InlineData("spec: {}")]
    public void Missing_metadata_is_required(string rest)
    {
        var result = Decode($"apiVersion: v1\nkind: Service\n{rest}\n");

        Assert.Empty(result.Resources);
        Assert.Contains(result.Errors, e => e is { Resource: "document 1", Field: "metadata" });
    }

    public static TheoryData<string> IstioSpecs => new()
    {
        "kind: VirtualService\nmetadata: {name: vs, namespace: ns}\nspec:\n  hosts: [a]\n  gateways: [mesh, ns/gw]\n  tcp:\n  - match: [{port: 80, sourceLabels: {app: x}, sourceNamespace: foo, destinationSubnets: [10.0.0.0/8]}]\n    route: [{destination: {host: a, subset: v1, port: {number: 80}}, weight: 80}, {destination: {host: b}, weight: 20}]\n  tls:\n  - match: [{sniHosts: [a.ex.com], port: 443}]\n    route: [{destination: {host: a}}]\n  http:\n  - route: [{destination: {host: a}}]\n    timeout: 5s",
        "kind: DestinationRule\nmetadata: {name: dr}\nspec:\n  host: a\n  trafficPolicy:\n    loadBalancer: {simple: ROUND_ROBIN}\n    connectionPool: {tcp: {maxConnections: 10, connectTimeout: 1.5s, idleTimeout: 1h30m}}\n  subsets: [{name: v1, labels: {version: v1}}]",
        "kind: Gateway\nmetadata: {name: gw, namespace: istio-system}\nspec:\n  selector: {istio: ingress}\n  servers: [{port: {number: 31400, name: tcp, protocol: TCP}, hosts: ['*'], bind: 127.0.0.1}]",
        "kind: ServiceEntry\nmetadata: {name: se}\nspec:\n  hosts: [a.ex.com]\n  addresses: [10.1.0.0/16]\n  ports: [{number: 80, name: tcp, protocol: TCP, targetPort: 8080}]\n  resolution: STATIC\n  endpoints: [{address: 10.1.0.1, ports: {tcp: 8080}, labels: {app: a}}]",
        "kind: WorkloadEntry\nmetadata: {name: we}\nspec: {address: 10.0.0.1, labels: {app: a}, ports: {tcp: 9000}, weight: 3, serviceAccount: sa}",
    };

    [Theory]
    [MemberData(nameof(IstioSpecs))]
    public void The_three_istio_api_versions_decode_identically(string body)
    {
        var decoded = ResourceKinds.IstioVersions.Select(version =>
        {
            var result = Decode($"apiVersion: {version}\n{body}\n");
            Assert.Empty(result.Errors);
            var resource = Assert.Single(result.Resources).Resource;
            Assert.Equal(version, resource.ApiVersion);
            return resource with { ApiVersion = "" };
        }).ToList();

        Assert.Equal(["networking.istio.io/v1", "networking.istio.io/v1beta1", "networking.istio.io/v1alpha3"], ResourceKinds.IstioVersions);
        Assert.Equal(decoded[0], decoded[1]);
        Assert.Equal(decoded[0], decoded[2]);
    }

    // ---- durations --------------------------------------------------------------------------

    private static string DrWithConnectTimeout(string value) =>
        $"apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {{name: dr}}\nspec:\n  host: svc\n  trafficPolicy:\n    connectionPool:\n      tcp:\n        connectTimeout: {value}\n";

    [Theory]
    [InlineData("10s", 10_000_000_000L, "10s")]
    [InlineData("1.5s", 1_500_000_000L, "1.5s")]
    [InlineData("500ms", 500_000_000L, "500ms")]
    [InlineData("1h", 3_600_000_000_000L, "1h")]
    [InlineData("1h30m", 5_400_000_000_000L, "90m")]
    [InlineData("'2m'", 120_000_000_000L, "2m")]
    [InlineData("0.25s", 250_000_000L, "250ms")]
    public void Durations_are_read_exactly(string text, long nanoseconds, string canonical)
    {
        var result = Decode(DrWithConnectTimeout(text));

        Assert.Empty(result.Errors);
        var dr = Assert.IsType<DestinationRule>(Assert.Single(result.Resources).Resource);
        var timeout = dr.Spec.TrafficPolicy?.ConnectionPool?.Tcp?.ConnectTimeout;
        Assert.Equal(new Duration(nanoseconds), timeout);
        Assert.Equal(canonical, timeout.ToString());
    }

    [Theory]
    [InlineData("10", "'10' is not a duration: missing unit")]
    [InlineData("5x", "'5x' is not a duration: unknown unit 'x'")]
    [InlineData("s", "'s' is not a duration")]
    [InlineData("1.5.5s", "bad number")]
    [InlineData("1s5", "missing unit")]
    public void Bad_durations_are_reported_at_the_value(string text, string gist)
    {
        var error = SingleError(Decode(DrWithConnectTimeout(text)));

        Assert.Equal("DestinationRule/default/dr", error.Resource);
        Assert.Equal("spec.trafficPolicy.connectionPool.tcp.connectTimeout", error.Field);
        Assert.Contains(gist, error.Message);
        Assert.Equal("t.yaml:9:25", error.Location);
    }

    [Fact]
    public void A_duration_given_as_a_mapping_is_a_type_error()
    {
        var error = SingleError(Decode(DrWithConnectTimeout("{seconds: 1}")));

        Assert.Equal("spec.trafficPolicy.connectionPool.tcp.connectTimeout", error.Field);
        Assert.Contains("expected a duration such as 10s or 500ms, got a mapping", error.Message);
    }

    [Fact]
    public void A_huge_duration_is_an_error_not_an_exception()
    {
        var error = SingleError(Decode(DrWithConnectTimeout("1000000000000000000000000h")));

        Assert.Equal("spec.trafficPolicy.connectionPool.tcp.connectTimeout", error.Field);
        Assert.Contains("too long", error.Message);
    }

    [Theory]
    [InlineData("'-'")]
    [InlineData("'+'")]
    public void A_bare_sign_is_not_a_duration(string text)
    {
        var error = SingleError(Decode(DrWithConnectTimeout(text)));

        Assert.Equal("spec.trafficPolicy.connectionPool.tcp.connectTimeout", error.Field);
    }

    // ---- JSON and document structure --------------------------------------------------------

    private const string VsYaml = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: a, namespace: ns}\nspec:\n  hosts: [a]\n  tcp: [{route: [{destination: {host: a}, weight: 100}]}]\n";

    private const string VsJson = "{\n\t\"apiVersion\": \"networking.istio.io/v1\",\n\t\"kind\": \"VirtualService\",\n\t\"metadata\": {\"name\": \"a\", \"namespace\": \"ns\"},\n"
                                + "\t\"spec\": {\"hosts\": [\"a\"], \"tcp\": [{\"route\": [{\"destination\": {\"host\": \"a\"}, \"weight\": 100}]}]}\n}\n";

    [Fact]
    public void A_json_object_with_tab_indentation_decodes_like_the_yaml()
    {
        var fromJson = Decode(VsJson);
        var fromYaml = Decode(VsYaml);

        Assert.Empty(fromJson.Errors);
        Assert.Empty(fromYaml.Errors);
        Assert.Equal(Assert.Single(fromYaml.Resources).Resource, Assert.Single(fromJson.Resources).Resource);
    }

    [Fact]
    public void A_json_array_decodes_each_item_with_its_own_location()
    {
        var json = "[\n  {\"apiVersion\": \"v1\", \"kind\": \"Service\", \"metadata\": {\"name\": \"a\"}},\n  {\"apiVersion\": \"v1\", \"kind\": \"Service\", \"metadata\": {\"name\": \"b\", \"namespace\": \"x\"}}\n]";

        var result = Decode(json);

        Assert.Empty(result.Errors);
        Assert.Equal(["Service/default/a", "Service/x/b"], result.Resources.Select(r => r.Resource.Key.ToString()));
        Assert.Equal(["t.yaml:2:3", "t.yaml:3:3"], result.Resources.Select(r => r.Location));
        Assert.All(result.Resources, r => Assert.Equal(1, r.Document));
    }

    [Fact]
    public void A_kubernetes_list_decodes_its_items()
    {
        var json = "{\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": [\n" + VsJson + ",\n{\"apiVersion\": \"v1\", \"kind\": \"Service\", \"metadata\": {\"name\": \"a\", \"namespace\": \"ns\"}}\n]}";
        var yaml = "apiVersion: v1\nkind: List\nitems:\n- " + Indent(VsYaml).TrimStart() + "\n- {apiVersion: v1, kind: Service, metadata: {name: a, namespace: ns}}\n";

        var fromJson = Decode(json);
        var fromYaml = Decode(yaml);

        Assert.Empty(fromJson.Errors);
        Assert.Empty(fromYaml.Errors);
        Assert.Equal(["VirtualService/ns/a", "Service/ns/a"], fromJson.Resources.Select(r => r.Resource.Key.ToString()));
        Assert.Equal(fromYaml.Resources.Select(r => r.Resource), fromJson.Resources.Select(r => r.Resource));
    }

    [Fact]
    public void Errors_inside_json_point_at_their_line_and_column()
    {
        var json = "{\n  \"apiVersion\": \"v1\",\n  \"kind\": \"Service\",\n  \"metadata\": {\"name\": \"a\"},\n  \"spec\": {\"ports\": [{\"port\": \"x\"}]}\n}";

        var error = SingleError(Decode(json));

        Assert.Equal("Service/default/a", error.Resource);
        Assert.Equal("spec.ports[0].port", error.Field);
        Assert.Equal("t.yaml:5:31", error.Location);
    }

    [Fact]
    public void A_list_item_that_is_not_a_mapping_is_an_error_and_the_others_decode()
    {
        var result = Decode("apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Service, metadata: {name: a}}\n- 5\n");

        var error = Assert.Single(result.Errors);
        Assert.Equal("document 1", error.Resource);
        Assert.Contains("must be a mapping", error.Message);
        Assert.Equal("t.yaml:5:3", error.Location);
        Assert.Single(result.Resources);
    }

    [Fact]
    public void Empty_documents_are_skipped_but_keep_document_numbers_true_to_the_file()
    {
        var text = "---\n---\n# only a comment\n---\napiVersion: v1\nkind: Service\nmetadata: {name: s}\n---\n\n---\napiVersion: v1\nkind: Service\nmetadata: {namespace: x}\n---\n~\n---\n";

        var result = Decode(text);

        var decoded = Assert.Single(result.Resources);
        Assert.Equal("Service/default/s", decoded.Resource.Key.ToString());
        Assert.Equal(3, decoded.Document);
        var error = Assert.Single(result.Errors);
        Assert.Equal("document 5", error.Resource);
        Assert.Equal("metadata.name", error.Field);
        AssertLocated(error);
    }

    [Theory]
    [InlineData("")]
    [InlineData("\n\n")]
    [InlineData("# just a comment\n")]
    [InlineData("---\n---\n")]
    [InlineData("null\n")]
    public void Input_without_resources_decodes_to_nothing(string text)
    {
        var result = Decode(text);

        Assert.True(result.Ok);
        Assert.Empty(result.Resources);
    }

    [Theory]
    [InlineData("hello\n", "got 'hello'")]
    [InlineData("- 1\n- 2\n", "got '1'")]
    public void A_document_that_is_not_a_mapping_is_an_error(string text, string gist)
    {
        var result = Decode(text);

        Assert.Empty(result.Resources);
        Assert.All(result.Errors, e => Assert.Equal("document 1", e.Resource));
        Assert.Contains(result.Errors, e => e.Message.Contains("must be a mapping") && e.Message.Contains(gist));
    }

    [Theory]
    // An unclosed [ or { at its bracket (YamlDotNet notices it where the input ends).
    [InlineData("[a\nb: c", "t.yaml:1:1", Source)]
    [InlineData("a: {b\n", "t.yaml:1:4", Source)]
    [InlineData("a: b\n c: d\n", "t.yaml:2:3", Source)]
    [InlineData("key: 'unterminated\n", "t.yaml:1:6", Source)]
    // What the text says before the error names the resource, as other errors do.
    [InlineData("kind: Service\nmetadata: {name: a}\nspec: *nothing\n", "t.yaml:3:7", "Service/default/a")]
    public void A_syntax_error_is_one_error_with_its_position(string text, string location, string resource)
    {
        var error = SingleError(Decode(text));

        Assert.Equal(resource, error.Resource);
        Assert.StartsWith("invalid YAML/JSON: ", error.Message);
        Assert.Equal(location, error.Location);
    }

    [Fact]
    public void Anchors_and_aliases_within_the_limits_are_expanded()
    {
        var result = Decode("apiVersion: v1\nkind: Service\nmetadata: {name: a, labels: &app {app: web}}\nspec: {selector: *app}\n");

        Assert.Empty(result.Errors);
        var service = Assert.IsType<Service>(Assert.Single(result.Resources).Resource);
        Assert.Equal(Labels.Of(("app", "web")), service.Spec.Selector);
        Assert.Equal(service.Metadata.Labels, service.Spec.Selector);
    }

    [Fact]
    public void A_byte_order_mark_is_ignored()
    {
        var result = Decode("\uFEFFapiVersion: v1\nkind: Service\nmetadata: {name: a}\n");

        Assert.Empty(result.Errors);
        Assert.Single(result.Resources);
    }

    // ---- hostile input ----------------------------------------------------------------------

    /// <summary>Runs the decoder off the test thread so a hang fails the test instead of stalling the run.</summary>
    private static async Task<DecodeResult> DecodeWithin(string text, DecodeLimits? limits = null) =>
        await Task.Run(() => Decode(text, limits)).WaitAsync(TimeSpan.FromSeconds(20));

    [Fact]
    public async Task Input_over_the_size_limit_is_refused_before_parsing()
    {
        var limits = new DecodeLimits { MaxBytes = 64 };
        var text = "apiVersion: v1\nkind: Service\nmetadata: {name: a}\n" + new string('#', 40) + "\n";

        var error = SingleError(await DecodeWithin(text, limits));

        Assert.Contains($"input is {System.Text.Encoding.UTF8.GetByteCount(text)} bytes, over the limit of 64", error.Message);
        Assert.StartsWith(Source, error.Location);
    }

    [Fact]
    public async Task The_size_limit_counts_utf8_bytes_and_input_at_the_limit_is_read()
    {
        var text = "apiVersion: v1\nkind: Service\nmetadata: {name: a, labels: {note: é}}\n";
        var bytes = System.Text.Encoding.UTF8.GetByteCount(text);
        Assert.Equal(text.Length + 1, bytes);

        var atLimit = await DecodeWithin(text, new DecodeLimits { MaxBytes = bytes });
        var overLimit = await DecodeWithin(text, new DecodeLimits { MaxBytes = text.Length });

        Assert.Empty(atLimit.Errors);
        Assert.Single(atLimit.Resources);
        Assert.Contains("over the limit", SingleError(overLimit).Message);
    }

    private static string BillionLaughs(int levels)
    {
        var lines = new List<string> { "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]" };
        for (var i = 1; i < levels; i++)
            lines.Add($"l{i}: &l{i} [{string.Join(", ", Enumerable.Repeat($"*l{i - 1}", 10))}]");
        return "apiVersion: v1\nkind: Service\nmetadata:\n  name: a\n  annotations:\n" + string.Join("\n", lines.Select(l => "    " + l)) + "\n";
    }

    [Fact]
    public async Task Billion_laughs_aliases_hit_the_expansion_limit()
    {
        var error = SingleError(await DecodeWithin(BillionLaughs(9)));

        Assert.Equal("Service/default/a", error.Resource);
        Assert.Contains("aliases expand to more than 10000 nodes", error.Message);
        AssertLocated(error);
    }

    [Fact]
    public async Task The_alias_expansion_limit_is_configurable()
    {
        var text = "apiVersion: v1\nkind: Service\nmetadata: {name: a, labels: &l {a: b, c: d}}\nspec: {selector: *l}\n";

        var within = await DecodeWithin(text, new DecodeLimits { MaxAliasExpansion = 5 });
        var over = await DecodeWithin(text, new DecodeLimits { MaxAliasExpansion = 4 });

        Assert.Empty(within.Errors);
        var error = SingleError(over);
        Assert.Contains("aliases expand to more than 4 nodes", error.Message);
        Assert.Equal("t.yaml:4:18", error.Location);
    }

    [Theory]
    [InlineData(100)]
    [InlineData(100_000)]
    public async Task Nesting_deeper_than_the_limit_is_refused(int depth)
    {
        var text = new string('[', depth) + new string(']', depth);

        var error = SingleError(await DecodeWithin(text));

        Assert.Contains("nesting deeper than 64 levels", error.Message);
        Assert.Equal("t.yaml:1:65", error.Location);
    }

    [Fact]
    public async Task Deep_block_mappings_hit_a_configured_depth_limit()
    {
        var text = "apiVersion: v1\nkind: Service\nmetadata:\n  name: a\n  annotations:\n    a:\n      b:\n        c: d\n";

        var error = SingleError(await DecodeWithin(text, new DecodeLimits { MaxDepth = 4 }));
        var fine = await DecodeWithin(text.Replace("    a:\n      b:\n        c: d\n", "    c: d\n"), new DecodeLimits { MaxDepth = 4 });

        Assert.Contains("nesting deeper than 4 levels", error.Message);
        AssertLocated(error);
        Assert.Empty(fine.Errors);
    }

    [Fact]
    public async Task Merge_keys_are_refused()
    {
        var text = "apiVersion: v1\nkind: Service\nmetadata:\n  <<: {name: a, namespace: x}\n";

        var error = SingleError(await DecodeWithin(text));

        Assert.Contains("merge keys (<<) are not supported", error.Message);
        Assert.Equal("t.yaml:4:3", error.Location);
    }

    [Fact]
    public async Task A_quoted_merge_key_is_an_ordinary_key()
    {
        var result = await DecodeWithin("apiVersion: v1\nkind: Service\nmetadata: {name: a, annotations: {'<<': x}}\n");

        Assert.Empty(result.Errors);
        Assert.Equal("x", Assert.Single(result.Resources).Resource.Metadata.Annotations["<<"]);
    }

    [Fact]
    public async Task Too_many_documents_are_refused()
    {
        var text = string.Concat(Enumerable.Repeat("---\napiVersion: v1\nkind: Service\nmetadata: {name: a}\n", 20));

        // The documents before the limit decode; the one error still fails the whole input.
        var error = Assert.Single((await DecodeWithin(text, new DecodeLimits { MaxDocuments = 10 })).Errors);

        Assert.Contains("more than 10 documents", error.Message);
        Assert.Equal("t.yaml:41:1", error.Location);
    }

    [Theory]
    [InlineData("a: [b\nc: d")]
    [InlineData("a: [b, c\nd: e\n")]
    [InlineData("- [a\n- b")]
    [InlineData("spec:\n  hosts:\n  - {echo-server\n  tcp: []\n")]
    [InlineData("!<> x")]
    [InlineData("a: !!%5b b")]
    [InlineData("...\na")]
    public void Malformed_flow_collections_tags_and_document_markers_are_syntax_errors_not_exceptions(string text)
    {
        var error = SingleError(Decode(text));

        Assert.StartsWith("invalid YAML/JSON: ", error.Message);
        AssertLocated(error);
    }
}
